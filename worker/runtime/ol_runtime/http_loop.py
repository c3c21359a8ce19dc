"""The lambda's side: its environment and handler import, and the small
HTTP/1.1 loop that serves the worker's requests on the sandbox's socket
(one request at a time, as OpenLambda's runtime)."""
import os
import sys

from . import state


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
    srv.listen(64)
    return srv


def serve_lambda(cfg):
    """The last steps of every sandbox: environment, handler import, serve."""
    import json
    os.environ.clear()
    os.environ.update(cfg.get('env', {}))
    os.environ.setdefault('PATH', '/usr/local/bin:/usr/bin:/bin')
    os.environ.setdefault('HOME', '/tmp')
    python_path(cfg, cfg.get('handlerDir', '/handler'))
    srv = listen(cfg['socket'])
    sys.modules.pop('f', None)
    try:
        handler = __import__('f').f
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
    serve(srv, handler, json, first, state.AHEAD)


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


def reply(conn, status, reason, body, ctype):
    head = 'HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n' % (status, reason, ctype, len(body))
    conn.sendall(head.encode() + body)
    if state.TAKEN_W is not None:
        # a forked sandbox's first answer is out: now the zygote may clone the next spare
        os.close(state.TAKEN_W)
        state.TAKEN_W = None


def serve(srv, handler, json, conn=None, ahead=b''):
    """Serves the worker's connections one after another (`conn` first, if given, with `ahead` already read from it)."""
    import _socket
    while True:
        if conn is None:
            fd, _ = srv._accept()
            conn = _socket.socket(fileno=fd)
        serve_connection(conn, handler, json, ahead)
        conn, ahead = None, b''


def serve_connection(conn, handler, json, buf=b''):
    """HTTP/1.1 requests on one connection, in turn, until the worker closes it (`buf`: bytes already read)."""
    try:
        while True:
            # one request: headers, then Content-Length bytes of body
            while b'\r\n\r\n' not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            head, buf = buf.split(b'\r\n\r\n', 1)
            length = 0
            for line in head.split(b'\r\n')[1:]:
                k, _, v = line.partition(b':')
                if k.strip().lower() == b'content-length':
                    length = int(v.strip())
            while len(buf) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            body, buf = buf[:length], buf[length:]
            try:
                event = json.loads(body) if body.strip() else None
            except ValueError as e:
                reply(conn, 400, 'Bad Request', ('request body is not valid JSON: %s' % e).encode(), 'text/plain')
                continue
            try:
                result = handler(event)
                out = json.dumps(result).encode()
            except BaseException:
                import traceback
                reply(conn, 500, 'Internal Server Error', traceback.format_exc().encode(), 'text/plain')
                continue
            reply(conn, 200, 'OK', out, 'application/json')
    except (EOFError, OSError):
        pass
    finally:
        conn.close()
