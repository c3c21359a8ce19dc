# ol-lab sandbox runtime: sets a SOCK-style lean container up and serves one
# lambda over HTTP on a Unix socket.
#
# Run by the worker as `python3 -I -S init.py CONFIG_JSON` (root, on the
# host) for the sock backend: it joins its cgroups, unshares the mount, pid,
# ipc, uts and network namespaces, forks (the child is pid 1 of the new pid
# namespace), builds the root from bind mounts (base root read-only, code at
# /handler read-only, scratch at /host read-write, private /tmp, /proc,
# /dev), brings up loopback, chroots, drops to an unprivileged user, imports
# the handler and serves. The docker backend runs it with "mode": "plain":
# Docker did the isolation, so it only imports and serves.
#
# It prints one line on stdout when ready ("ready") or when the handler
# cannot be imported ("error " + JSON with the traceback), then serves
# requests one at a time (as OpenLambda's Python runtime does).
import os
import sys

cfg_text = sys.argv[1]


def fail(msg):
    sys.stdout.write('error ' + msg.replace('\n', '\\n') + '\n')
    sys.stdout.flush()
    os._exit(3)


def setup_sock(cfg):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def check(ret, what):
        if ret != 0:
            e = ctypes.get_errno()
            fail('setup: %s: %s' % (what, os.strerror(e)))

    # join the cgroups first, so everything below is limited and accounted
    pid = str(os.getpid())
    for path in cfg['cgroupProcs']:
        with open(path, 'w') as f:
            f.write(pid)

    CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x20000000, 0x40000000
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET), 'unshare')
    child = os.fork()
    if child:
        # outside the new pid namespace: wait for pid 1 and mirror its exit
        _, status = os.waitpid(child, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xff)

    MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18

    def mount(src, tgt, fstype, flags, data=None):
        check(libc.mount(src.encode() if src else None, tgt.encode(), fstype.encode() if fstype else None,
                         flags, data.encode() if data else None), 'mount %s on %s' % (src or fstype, tgt))

    root = cfg['root']
    # nothing mounted here leaks out; it all vanishes with the namespace
    mount(None, '/', None, MS_REC | MS_PRIVATE)
    mount(cfg['base'], root, None, MS_BIND)
    mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
    for src, dst, ro in cfg['binds']:
        tgt = root + dst
        mount(src, tgt, None, MS_BIND)
        mount(None, tgt, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (MS_RDONLY if ro else 0))
    mount('tmpfs', root + '/tmp', 'tmpfs', MS_NOSUID | MS_NODEV, 'size=%dm,mode=1777' % cfg['tmpMb'])
    mount('proc', root + '/proc', 'proc', MS_NOSUID | MS_NODEV)
    mount('tmpfs', root + '/dev', 'tmpfs', MS_NOSUID, 'size=64k,mode=755')
    for dev in ('null', 'zero', 'random', 'urandom'):
        open(root + '/dev/' + dev, 'w').close()
        mount('/dev/' + dev, root + '/dev/' + dev, None, MS_BIND)

    # loopback only: bring lo up in the new network namespace
    import _socket
    import fcntl
    import struct
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    ifr = struct.pack('16sH14x', b'lo', 0)
    flags = struct.unpack('16sH14x', fcntl.ioctl(s.fileno(), 0x8913, ifr))[1]
    fcntl.ioctl(s.fileno(), 0x8914, struct.pack('16sH14x', b'lo', flags | 0x1 | 0x40))
    s.close()

    host = cfg.get('hostname', 'sandbox').encode()
    check(libc.sethostname(host, len(host)), 'sethostname')
    os.chroot(root)
    os.chdir('/')
    os.setgroups([])
    os.setgid(cfg['gid'])
    os.setuid(cfg['uid'])


def main():
    import json
    cfg = json.loads(cfg_text)
    if cfg.get('mode', 'sock') == 'sock':
        setup_sock(cfg)
    os.environ.clear()
    os.environ.update(cfg.get('env', {}))
    os.environ.setdefault('PATH', '/usr/local/bin:/usr/bin:/bin')
    os.environ.setdefault('HOME', '/tmp')
    for p in reversed(cfg.get('pythonPath', [])):
        sys.path.insert(0, p)
    sys.path.insert(0, cfg.get('handlerDir', '/handler'))
    import _socket
    sock_path = cfg['socket']
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    srv = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(64)
    try:
        handler = __import__('f').f
    except BaseException:
        import traceback
        fail(json.dumps(traceback.format_exc()))
    sys.stdout.write('ready\n')
    sys.stdout.flush()
    serve(srv, handler, json)


def reply(conn, status, reason, body, ctype):
    head = 'HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n' % (status, reason, ctype, len(body))
    conn.sendall(head.encode() + body)


def serve(srv, handler, json):
    import _socket
    while True:
        fd, _ = srv._accept()
        conn = _socket.socket(fileno=fd)
        buf = b''
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


main()
