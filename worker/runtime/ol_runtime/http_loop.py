"""The lambda's side: its environment and entry import, and the small
HTTP/1.1 loop that serves the worker's requests on the sandbox's socket
(one request at a time, as OpenLambda's runtime): an f(event) function, or
a WSGI or ASGI app (web.py)."""
import os
import sys

from . import state, web


def python_path(cfg, handler):
    sys.path[:] = ([handler] if handler else []) + list(cfg.get('pythonPath', [])) + state.BASE_PATH


def listen(path):
    import _socket
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    srv.bind(path)
    # as deep as the kernel allows (net.core.somaxconn): a zygote's fork socket takes every cold start of a
    # burst at once, and a full backlog refuses a connect with EAGAIN (a replay's burst met 64)
    srv.listen(_socket.SOMAXCONN)
    return srv


def load_entry(json):
    """The lambda's entry, as OpenLambda's runtime finds it: the module
    OL_ENTRY_FILE names (f.py by default), then OL_WSGI_ENTRY or
    OL_ASGI_ENTRY if set, else `f` as a function, else `app` (ASGI when it
    or its __call__ is a coroutine function, WSGI otherwise).
    Returns (kind, callable)."""
    entry_file = os.environ.get('OL_ENTRY_FILE', 'f.py')
    if not entry_file.endswith('.py'):
        raise ValueError('OL_ENTRY_FILE must end with .py, got %r' % entry_file)
    name = entry_file[:-3]
    sys.modules.pop(name, None)
    module = __import__(name)
    wsgi = os.environ.get('OL_WSGI_ENTRY')
    asgi = os.environ.get('OL_ASGI_ENTRY')
    if wsgi:
        return 'wsgi', getattr(module, wsgi)
    if asgi:
        return 'asgi', getattr(module, asgi)
    if hasattr(module, 'f'):
        return 'func', module.f
    if hasattr(module, 'app'):
        app = module.app
        import inspect
        if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(getattr(app, '__call__', None)):
            return 'asgi', app
        return 'wsgi', app
    raise ValueError('%s defines neither f (a function of the event) nor app (a WSGI or ASGI app); '
                     'set OL_WSGI_ENTRY or OL_ASGI_ENTRY to name another' % entry_file)


def serve_lambda(cfg):
    """The last steps of every sandbox: environment, handler import, serve."""
    import json
    os.environ.clear()
    os.environ.update(cfg.get('env', {}))
    os.environ.setdefault('PATH', '/usr/local/bin:/usr/bin:/bin')
    os.environ.setdefault('HOME', '/tmp')
    python_path(cfg, cfg.get('handlerDir', '/handler'))
    srv = listen(cfg['socket'])
    try:
        entry = load_entry(json)
    except BaseException:
        import traceback
        state.fail(json.dumps(traceback.format_exc()))
    state.say('ready')
    # a fork request's connection becomes the worker's first connection to the handler
    first, state.OUT = state.OUT, None
    if state.TAKEN_W is not None:
        # this spare is taken: the zygote owes a successor (made once the first request is answered)
        try:
            os.write(state.TAKEN_W, b't')
        except OSError:
            pass
    serve(srv, entry, json, first, state.AHEAD)


def read_request(conn):
    """A fork request's JSON line; returns it and what came after it (a first HTTP request sent ahead)."""
    import json
    buf = b''
    while b'\n' not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buf += chunk
    line, _, rest = buf.partition(b'\n')
    return json.loads(line), rest


def reply(conn, status, reason, body, ctype, headers=None):
    head = 'HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n' % (status, reason, ctype, len(body))
    if headers:
        head += ''.join('%s: %s\r\n' % h for h in headers)
    conn.sendall(head.encode('latin-1') + b'\r\n' + body)
    if state.TAKEN_W is not None:
        # a forked sandbox's first answer is out: now the zygote may clone the next spare
        os.close(state.TAKEN_W)
        state.TAKEN_W = None


def serve(srv, entry, json, conn=None, ahead=b''):
    """Serves the worker's connections one after another (`conn` first, if given, with `ahead` already read from it)."""
    import _socket
    while True:
        if conn is None:
            fd, _ = srv._accept()
            conn = _socket.socket(fileno=fd)
        serve_connection(conn, entry, json, ahead)
        conn, ahead = None, b''


def serve_connection(conn, entry, json, buf=b''):
    """HTTP/1.1 requests on one connection, in turn, until the worker closes it (`buf`: bytes already read)."""
    kind, handler = entry
    try:
        while True:
            # one request: headers, then Content-Length bytes of body
            while b'\r\n\r\n' not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            head, buf = buf.split(b'\r\n\r\n', 1)
            lines = head.split(b'\r\n')
            length = 0
            for line in lines[1:]:
                k, _, v = line.partition(b':')
                if k.strip().lower() == b'content-length':
                    length = int(v.strip())
            while len(buf) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            body, buf = buf[:length], buf[length:]
            if kind == 'func':
                call_function(conn, handler, json, body)
            else:
                status, reason, headers, out = (web.call_wsgi if kind == 'wsgi' else web.call_asgi)(handler, lines, body)
                ctype = 'text/plain'
                rest = []
                for k, v in headers:
                    lk = k.lower()
                    if lk == 'content-type':
                        ctype = v
                    elif lk not in web.FRAMING:
                        rest.append((k, v))
                reply(conn, status, reason, out, ctype, rest)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def call_function(conn, handler, json, body):
    """An f(event) handler: the body decoded as JSON (empty: {}), the result encoded; any failure, the
    body's decoding included, is a 500 with the traceback (OpenLambda's answers)."""
    try:
        event = json.loads(body) if body else {}
        out = json.dumps(handler(event)).encode()
    except BaseException:
        import traceback
        reply(conn, 500, 'Internal Server Error', traceback.format_exc().encode(), 'text/plain')
        return
    reply(conn, 200, 'OK', out, 'application/json')
