"""WSGI (PEP 3333) and ASGI 3.0 apps behind the sandbox's HTTP loop.

The request's target is `/run/<name>[/path][?query]`: the app sees
`/run/<name>` as its root (SCRIPT_NAME, root_path) and the rest as its path,
with the query string, the client's headers and the raw body. The app's
status, headers and body come back as the app set them, except the
framing: the loop always sends the whole body with its own Content-Length,
so an app never decides where a reply ends on the worker's connection.
Anything the app raises before its response has started is a 500 with the
traceback, as for an f(event) handler.

Only imported by lambdas that are apps, so an f(event) sandbox pays for none
of it."""
import sys

# headers that frame a reply on one connection: the loop sets these itself
FRAMING = ('content-length', 'transfer-encoding', 'connection', 'keep-alive')

_LOOP = None


def split_target(target):
    """`/run/<name>/a/b?q=1` -> ('/run/<name>', '/a/b', 'q=1'): the app's root, its path (percent-decoded,
    '/' at the root, as OpenLambda gives it to WSGI and ASGI apps alike) and the query string."""
    from urllib.parse import unquote
    path, _, query = target.partition('?')
    parts = path.split('/', 3)              # ['', 'run', name, rest]
    root = '/'.join(parts[:3])
    rest = '/' + parts[3] if len(parts) > 3 else '/'
    return root, unquote(rest, 'latin-1'), query


def parse_head(lines):
    """The request line and header lines (bytes) -> method, target, version, [(name, value)]."""
    method, target, version = lines[0].decode('latin-1').split(' ', 2)
    headers = []
    for line in lines[1:]:
        k, _, v = line.decode('latin-1').partition(':')
        headers.append((k.strip(), v.strip()))
    return method, target, version, headers


def failure():
    import traceback
    return 500, 'Internal Server Error', [('Content-Type', 'text/plain')], traceback.format_exc().encode()


def checked(status, reason, headers, body):
    """The app's response, unless a header would break the reply's framing (then a 500 saying which)."""
    for k, v in headers:
        if not isinstance(k, str) or not isinstance(v, str) or '\r' in k or '\n' in k or ':' in k or '\r' in v or '\n' in v:
            msg = 'the app set the header %r: %r, which cannot be sent (names and values are strings without CR, LF; names without ":")' % (k, v)
            return 500, 'Internal Server Error', [('Content-Type', 'text/plain')], msg.encode()
    if not 100 <= status <= 999 or '\r' in reason or '\n' in reason:
        return 500, 'Internal Server Error', [('Content-Type', 'text/plain')], ('the app answered with the status %r %r' % (status, reason)).encode()
    return status, reason, headers, body


def call_wsgi(app, lines, body):
    """Runs a WSGI app on one request; returns (status, reason, headers, body)."""
    import io
    method, target, version, headers = parse_head(lines)
    root, path, query = split_target(target)
    host = next((v for k, v in headers if k.lower() == 'host'), 'localhost')
    name, _, port = host.partition(':')
    environ = {
        'REQUEST_METHOD': method, 'SCRIPT_NAME': root, 'PATH_INFO': path, 'QUERY_STRING': query,
        'SERVER_NAME': name, 'SERVER_PORT': port or '80', 'SERVER_PROTOCOL': version,
        'CONTENT_LENGTH': str(len(body)),
        'wsgi.version': (1, 0), 'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(body), 'wsgi.errors': sys.stderr,
        'wsgi.multithread': False, 'wsgi.multiprocess': False, 'wsgi.run_once': False,
    }
    for k, v in headers:
        key = k.upper().replace('-', '_')
        if key == 'CONTENT_TYPE':
            environ[key] = v
        elif key != 'CONTENT_LENGTH':
            key = 'HTTP_' + key
            environ[key] = environ[key] + ',' + v if key in environ else v
    started = []
    written = []

    def start_response(status, response_headers, exc_info=None):
        if exc_info and started and written:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, list(response_headers)]
        return written.append

    try:
        result = app(environ, start_response)
        try:
            for chunk in result:
                if chunk:
                    written.append(chunk)
        finally:
            if hasattr(result, 'close'):
                result.close()
        if not started:
            raise RuntimeError('the WSGI app returned without calling start_response')
    except BaseException:
        return failure()
    status, response_headers = started
    code, _, reason = str(status).partition(' ')
    try:
        code = int(code)
    except ValueError:
        code = 0
    return checked(code, reason or 'OK', response_headers, b''.join(written))


def call_asgi(app, lines, body):
    """Runs an ASGI 3.0 app on one HTTP request (one event loop kept for the sandbox's life);
    returns (status, reason, headers, body)."""
    global _LOOP
    import asyncio
    method, target, version, headers = parse_head(lines)
    root, path, query = split_target(target)
    scope = {
        'type': 'http', 'asgi': {'version': '3.0', 'spec_version': '2.3'},
        'http_version': version.partition('/')[2] or '1.1', 'method': method, 'scheme': 'http',
        'path': path, 'raw_path': target.partition('?')[0].encode('latin-1'),
        'query_string': query.encode('latin-1'), 'root_path': root,
        'headers': [(k.lower().encode('latin-1'), v.encode('latin-1')) for k, v in headers],
        'client': None, 'server': None,
    }
    out = {'status': None, 'headers': [], 'body': []}
    sent = [False]

    async def receive():
        if not sent[0]:
            sent[0] = True
            return {'type': 'http.request', 'body': body, 'more_body': False}
        return {'type': 'http.disconnect'}

    async def send(message):
        t = message['type']
        if t == 'http.response.start':
            out['status'] = int(message['status'])
            out['headers'] = [(k.decode('latin-1'), v.decode('latin-1')) for k, v in message.get('headers', [])]
        elif t == 'http.response.body':
            out['body'].append(bytes(message.get('body', b'')))

    try:
        if _LOOP is None:
            _LOOP = asyncio.new_event_loop()
        _LOOP.run_until_complete(app(scope, receive, send))
        if out['status'] is None:
            raise RuntimeError('the ASGI app returned without sending http.response.start')
    except BaseException:
        if out['status'] is None:
            return failure()
    from http import HTTPStatus
    try:
        reason = HTTPStatus(out['status']).phrase
    except ValueError:
        reason = 'Unknown'
    return checked(out['status'], reason, out['headers'], b''.join(out['body']))
