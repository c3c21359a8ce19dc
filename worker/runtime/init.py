# ol-lab sandbox runtime: sets a SOCK-style lean container up and serves one
# lambda over HTTP on a Unix socket.
#
# Run by the worker as `python3 -I -S init.py CONFIG_JSON` (root, on the
# host). Modes ("mode" in the config):
#
# sock     A fresh sandbox: join its cgroups, unshare the mount, pid, ipc,
#          uts and network namespaces, fork (the child is pid 1 of the new
#          pid namespace), build the root from bind mounts (base root
#          read-only, code at /handler read-only, scratch at /host
#          read-write, each package at /packages/<key> read-only, private
#          /tmp, /proc, /dev), bring up loopback, chroot, drop to an
#          unprivileged user, import the handler and serve.
# plain    The docker backend: Docker did the isolation; import and serve.
# zygote   A root zygote (SOCK's import cache): the same lean container but
#          without a pid namespace of its own and without dropping root; it
#          imports its packages, then serves fork requests on /host/fork.sock.
# install  The package installer: a lean container that runs pip for one
#          requirement into /host (the new package's folder), with a local
#          wheel folder, if any, at /handler; then reports the package's
#          metadata. It has the network only when the index is a URL.
# measure  Times the import of a package's modules in a fresh interpreter.
#
# A fork request is one JSON line: a sandbox config as for `sock` (host
# paths) on /host/fork.sock, or a child zygote's ("mode": "zygote") on
# /host/zygote.sock. The zygote's child (for sandboxes a spare cloned ahead
# of time) goes back to the host's mount namespace (through a descriptor
# the root zygote kept), joins the new cgroups, unshares a mount namespace,
# binds the new root, chroots and goes on as a fresh sandbox would, minus
# the interpreter start and the imports the zygote already did. (A spare
# unshares its mount namespace and mounts the base root and /proc while it
# waits; the request adds the lambda's own parts.) It answers
# on the request's connection, as fresh sandboxes do on stdout: "ready" or
# "error " + JSON with the reason. A sandbox's fork request may be followed
# on its connection by the first HTTP request, which the sandbox serves as
# soon as it is ready, on that same connection.
import os
import sys

cfg_text = sys.argv[1]
OUT = None          # where ready / error go: stdout, or a fork request's connection
HOST_MNT = None     # a zygote's descriptor of the host's mount namespace
TAKEN_W = None      # a spare's pipe to its zygote: a byte once it is a sandbox, closed after its first answer
AHEAD = b''         # a forked sandbox's first request, sent right behind its fork request
PREPARED = None     # (root, base): where a spare mounted which base root ahead (prepare_root)
BASE_PATH = list(sys.path)
SYS_CLONE = {'x86_64': 56, 'aarch64': 220}
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x20000000, 0x40000000


def say(line):
    if OUT is None:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()
    else:
        OUT.sendall((line + '\n').encode())


def fail(msg):
    try:
        say('error ' + msg.replace('\n', '\\n'))
    finally:
        os._exit(3)


def libc():
    import ctypes
    return ctypes, ctypes.CDLL(None, use_errno=True)


def check(ret, what):
    if ret != 0:
        import ctypes
        fail('setup: %s: %s' % (what, os.strerror(ctypes.get_errno())))


def join_cgroups(cfg):
    pid = str(os.getpid())
    for path in cfg['cgroupProcs']:
        try:
            with open(path, 'w') as f:
                f.write(pid)
        except OSError as e:
            why = os.strerror(e.errno)
            fail('setup: joining cgroup %s: %s' % (path, why))


def isolate(cfg, pidns, extra=CLONE_NEWNS):
    """Unshares the namespaces (not the mount one); with pidns, forks so the child is pid 1 of a new one."""
    _, c = libc()
    flags = CLONE_NEWUTS | CLONE_NEWIPC | extra
    if not cfg.get('network'):
        flags |= CLONE_NEWNET
    if pidns:
        flags |= CLONE_NEWPID
    check(c.unshare(flags), 'unshare')
    if pidns:
        child = os.fork()
        if child:
            # outside the new pid namespace: wait for pid 1 and mirror its exit
            if OUT is not None:
                OUT.close()
            while True:
                try:
                    _, status = os.waitpid(child, 0)
                    break
                except ChildProcessError:
                    os._exit(0)
                except InterruptedError:
                    continue
            os._exit(os.waitstatus_to_exitcode(status) & 0xff)


def unshare_mounts():
    _, c = libc()
    check(c.unshare(CLONE_NEWNS), 'unshare the mount namespace')


def loopback_up():
    """Loopback only: brings lo up in this process's new network namespace."""
    import _socket
    import fcntl
    import struct
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    ifr = struct.pack('16sH14x', b'lo', 0)
    flags = struct.unpack('16sH14x', fcntl.ioctl(s.fileno(), 0x8913, ifr))[1]
    fcntl.ioctl(s.fileno(), 0x8914, struct.pack('16sH14x', b'lo', flags | 0x1 | 0x40))
    s.close()


MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18


def mounter(c, strict=True):
    """mount(2) through ctypes; strict: a failure ends the process with the reason, else returns False."""
    def mount(src, tgt, fstype, flags, data=None):
        ret = c.mount(src.encode() if src else None, tgt.encode(), fstype.encode() if fstype else None,
                      flags, data.encode() if data else None)
        if strict:
            check(ret, 'mount %s on %s' % (src or fstype, tgt))
        return ret == 0
    return mount


def base_root(mount, base, root, proc):
    """In a new mount namespace: the base root read-only at `root`, and a /proc of this pid namespace."""
    # nothing mounted here leaks out; it all vanishes with the namespace
    return (mount(None, '/', None, MS_REC | MS_PRIVATE)
            and mount(base, root, None, MS_BIND)
            and mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
            and (not proc or mount('proc', root + '/proc', 'proc', MS_NOSUID | MS_NODEV)))


def prepare_root(c, cfg):
    """A spare's part of its sandbox's root, done while it waits: a mount
    namespace of its own with the base root and /proc mounted on the
    zygote's (empty, on the host) root directory. Returns that path, or None
    if a step failed (the sandbox then builds its whole root, as a fresh one)."""
    if c.unshare(CLONE_NEWNS) != 0:
        return None
    root = cfg['root']
    return root if base_root(mounter(c, strict=False), cfg['base'], root, proc=True) else None


def build_root(cfg, proc=True, lo=True, prepared=None):
    """Binds the sandbox's root together and chroots into it (as root).

    `prepared`: where a spare already mounted the base root and /proc
    (prepare_root), in the mount namespace it is in; else a new mount
    namespace was just unshared and everything is mounted at cfg['root']."""
    _, c = libc()
    mount = mounter(c)
    if prepared:
        root = prepared
    else:
        root = cfg['root']
        base_root(mount, cfg['base'], root, proc)
    for src, dst, ro in cfg['binds']:
        tgt = root + dst
        if not os.path.exists(tgt):
            fail('setup: mount point %s is missing in the base root' % dst)
        mount(src, tgt, None, MS_BIND)
        mount(None, tgt, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (MS_RDONLY if ro else 0))
    # packages: a tmpfs of mount points, then each package read-only on its own
    pkgs = cfg.get('packages', [])
    if pkgs:
        mount('tmpfs', root + '/packages', 'tmpfs', MS_NOSUID | MS_NODEV, 'size=64k,mode=755')
        for src, key in pkgs:
            tgt = root + '/packages/' + key
            os.mkdir(tgt)
            mount(src, tgt, None, MS_BIND)
            mount(None, tgt, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_RDONLY)
        mount(None, root + '/packages', None, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY, 'size=64k,mode=755')
    mount('tmpfs', root + '/tmp', 'tmpfs', MS_NOSUID | MS_NODEV, 'size=%dm,mode=1777' % cfg['tmpMb'])
    # /dev comes with the base root: `ol-worker init` leaves only null, zero, full, random, urandom

    if not cfg.get('network') and lo:
        loopback_up()

    host = cfg.get('hostname', 'sandbox').encode()
    check(c.sethostname(host, len(host)), 'sethostname')
    os.chroot(root)
    os.chdir('/')


def drop_privileges(cfg):
    os.setgroups([])
    os.setgid(cfg['gid'])
    os.setuid(cfg['uid'])


def python_path(cfg, handler):
    sys.path[:] = ([handler] if handler else []) + list(cfg.get('pythonPath', [])) + BASE_PATH


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
        fail(json.dumps(traceback.format_exc()))
    say('ready')
    # a fork request's connection becomes the worker's first connection to the handler
    global OUT
    first, OUT = OUT, None
    if TAKEN_W is not None:
        # this spare is taken: the zygote owes a successor (made once the first request is answered)
        try:
            os.write(TAKEN_W, b't')
        except OSError:
            pass
    serve(srv, handler, json, first, AHEAD)


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


# A taken spare's successor is cloned once the new sandbox has answered
# its first request, or SPARE_DELAY_S after it was taken if that takes
# longer, or at once when another fork request is waiting. A clone in four
# new namespaces and its rehearsal take several ms of CPU; cloned the moment
# the sandbox was ready, they competed on these 2 cores with its first call
# and the replies to the worker and the client: side by side, forked cold
# starts 30 ms apart were 25-30% faster with the successor made after.
SPARE_DELAY_S = 0.01

SANDBOX_NS = CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID
ZYGOTE_NS = CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET


def zygote_serve(cfg):
    """After the zygote's imports: keep spare children ready for sandboxes, fork child zygotes.

    A spare is cloned ahead of need, already in its own pid, network, ipc
    and uts namespaces and back in the host's mount namespace, and waits in
    accept() on /host/fork.sock. Each spare holds the write end of a pipe
    whose read end the zygote watches: the spare writes a byte on it once
    its sandbox is ready, and closes it once the sandbox has answered its
    first request (dying closes it too); the zygote clones the successor
    then, off the critical path (see SPARE_DELAY_S for the other cases).
    Child zygotes (no pid namespace of
    their own: their children must outlive them) are asked for on
    /host/zygote.sock and cloned on request.
    """
    import json
    import select
    import signal
    import time
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the kernel
    python_path(cfg, None)
    try:
        for name in cfg.get('imports', []):
            __import__(name)
    except BaseException:
        import traceback
        fail(json.dumps(traceback.format_exc()))
    srv = listen('/host/fork.sock')
    zsrv = listen('/host/zygote.sock')
    import gc
    gc.freeze()   # the collector leaves the zygote's objects alone: fewer pages copied after a fork
    # each spare's pipe: 'waiting' (in accept), 'taken' (a sandbox now; its
    # successor not made yet) or 'replaced' (successor made)
    pipes = {}
    for _ in range(max(1, int(cfg.get('spares', 1)))):
        pipes[spare(srv, zsrv, pipes, cfg)] = 'waiting'
    say('ready')
    global OUT
    if OUT is not None:
        OUT.close()
        OUT = None
    delay = cfg.get('spareDelay', SPARE_DELAY_S)
    due = None
    while True:
        taken = [r for r, st in pipes.items() if st == 'taken']
        # while successors are owed, a fork request waiting on srv makes them now
        ready, _, _ = select.select(list(pipes) + [zsrv] + ([srv] if taken else []), [], [],
                                    max(0.0, due - time.monotonic()) if taken else None)
        for r in ready:
            if r is zsrv or r is srv:
                continue
            try:
                word = os.read(r, 1)
            except OSError:
                word = b''
            if word:
                # its spare is a sandbox now: a successor is owed
                if pipes[r] == 'waiting':
                    pipes[r] = 'taken'
                    taken.append(r)
                    due = due or time.monotonic() + delay
                continue
            # the sandbox answered its first request, or the spare died
            os.close(r)
            if pipes.pop(r) != 'replaced':
                pipes[spare(srv, zsrv, pipes, cfg)] = 'waiting'
                if r in taken:
                    taken.remove(r)
        if taken and (srv in ready or time.monotonic() >= due):
            for r in taken:
                pipes[r] = 'replaced'
                pipes[spare(srv, zsrv, pipes, cfg)] = 'waiting'
            taken = []
        if not taken:   # kept equal to the pipes in state 'taken'
            due = None
        if zsrv in ready:
            try:
                fd, _ = zsrv._accept()
            except OSError:
                continue
            import _socket
            conn = _socket.socket(fileno=fd)
            try:
                req, _ = read_request(conn)
            except (OSError, ValueError):
                conn.close()
                continue
            if clone(ZYGOTE_NS):
                conn.close()
                continue
            for s in (srv, zsrv):
                s.close()
            for r in pipes:
                os.close(r)
            forked(req, conn)


def spare(srv, zsrv, watch, zcfg):
    """Clones a spare child that waits for one sandbox request; returns the pipe end to watch."""
    r, w = os.pipe()
    if clone(SANDBOX_NS):
        os.close(w)
        return r
    zsrv.close()
    for fd in list(watch) + [r]:
        os.close(fd)
    _, c = libc()
    # back to the host's view of the files, where the new root's parts are
    check(c.setns(HOST_MNT, CLONE_NEWNS), 'setns to the host mount namespace')
    os.chdir('/')
    rehearse(c)
    global PREPARED
    root = prepare_root(c, zcfg) if zcfg.get('base') else None
    PREPARED = (root, zcfg['base']) if root else None
    while True:
        try:
            fd, _ = srv._accept()
            break
        except InterruptedError:
            continue
    srv.close()
    import _socket
    conn = _socket.socket(fileno=fd)
    try:
        req, ahead = read_request(conn)
    except (OSError, ValueError):
        os._exit(0)
    forked(req, conn, w, ahead)


def rehearse(c):
    """A spare's dress rehearsal of a sandbox start, while it waits for one.

    A clone shares the zygote's pages until it writes them; each first write
    then copies a page, and on a virtual machine each such fault can cost
    tens of microseconds: a few hundred of them made up most of a forked
    start (reading the request, joining cgroups, clearing the environment,
    the handler's import). The spare runs the same code paths now on
    stand-ins, off the critical path, so the pages they write are its own
    before a request arrives; only pages the start really touches are
    copied, so the zygote's memory stays shared otherwise.
    """
    import _socket
    import json
    import signal
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    loopback_up()   # for real: the spare already has the sandbox's network namespace
    host = b'spare'
    c.sethostname(host, len(host))   # its own uts namespace; the sandbox names it again
    c.mount(b'none', b'/proc/ol-lab-rehearsal/none', None, 0, None)   # fails (no such path): ctypes' call path only
    os.environ.clear()
    os.environ.update({'OL_REHEARSAL': '1'})
    json.loads(json.dumps({'mode': 'sock', 'cgroupProcs': ['/dev/null'], 'binds': [['/', '/handler', True]], 'env': {}}))
    with open('/dev/null', 'w') as f:
        f.write(str(os.getpid()))
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.bind('\0ol-rehearsal-%d' % os.getpid())   # abstract: this spare's own network namespace
    s.listen(1)
    s.close()
    bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True   # no __pycache__ in the worker's own tree
    here = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), 'rehearsal')
    sys.path.insert(0, here)
    try:
        handler = __import__('f').f
        # one call through the request loop, on a socket pair
        ours, theirs = _socket.socketpair()
        theirs.sendall(b'POST /run/rehearsal HTTP/1.1\r\nContent-Length: 10\r\n\r\n{"a": [1]}')
        theirs.shutdown(_socket.SHUT_WR)
        serve_connection(ours, handler, json)
        theirs.recv(65536)
        theirs.close()
    finally:
        sys.modules.pop('f', None)
        sys.path.remove(here)
        sys.path_importer_cache.pop(here, None)
        sys.dont_write_bytecode = bytecode
        os.environ.clear()


def clone(flags):
    """fork(), but the child starts in new namespaces: clone(2) with Python's own fork hooks."""
    import ctypes
    nr = SYS_CLONE.get(os.uname().machine)
    if nr is None:
        # no clone number known here: fork, unshare, and fork again for the pid namespace
        if os.fork():
            return 1
        isolate({'network': not flags & CLONE_NEWNET}, pidns=bool(flags & CLONE_NEWPID), extra=0)
        return 0
    api = ctypes.PyDLL(None, use_errno=True)   # PyDLL: the GIL stays held, as in os.fork
    api.PyOS_BeforeFork()
    pid = api.syscall(nr, flags | 17, 0, 0, 0, 0)   # SIGCHLD (17) to the parent
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(ctypes.get_errno(), 'clone: ' + os.strerror(ctypes.get_errno()))
    return pid


def forked(cfg, conn, taken_w=None, ahead=b''):
    """In a zygote's child: become the sandbox (or child zygote) cfg describes.

    A spare (taken_w: its pipe to the zygote) is already in the host's mount
    namespace; it tells the zygote it was taken once it is ready, and closes
    the pipe, asking for its successor, once it has answered its first
    request: a clone running meanwhile would slow it down (a process joining
    a v1 cgroup waits for forks in progress, and the two compete for cores).
    `ahead`: what came after the request line (a first HTTP request).
    """
    global OUT, AHEAD
    OUT = conn
    AHEAD = ahead
    import signal
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if taken_w is None:
        _, c = libc()
        # back to the host's view of the files, where the new root's parts are
        check(c.setns(HOST_MNT, CLONE_NEWNS), 'setns to the host mount namespace')
        os.chdir('/')
    join_cgroups(cfg)
    global TAKEN_W
    TAKEN_W = taken_w
    zygote = cfg.get('mode') == 'zygote'
    prepared = PREPARED[0] if PREPARED and not zygote and cfg.get('base') == PREPARED[1] else None
    if not prepared:
        unshare_mounts()
    build_root(cfg, proc=not zygote, lo=taken_w is None, prepared=prepared)
    if zygote:
        zygote_serve(cfg)
    os.close(HOST_MNT)
    drop_privileges(cfg)
    serve_lambda(cfg)


def install(cfg):
    """pip install --no-deps one requirement into /host; print its metadata."""
    import json
    import subprocess
    import time
    drop_privileges(cfg)
    os.environ.clear()
    os.environ.update({'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': '/tmp', 'PIP_NO_INPUT': '1'})
    cmd = ['/usr/bin/python3', '-m', 'pip', 'install', '--no-deps', '--no-cache-dir', '--disable-pip-version-check',
           '--no-warn-script-location', '--target', '/host']
    cmd += cfg['indexArgs']
    cmd.append(cfg['requirement'])
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ms = (time.perf_counter() - t) * 1000
    out = r.stdout.decode(errors='replace')
    if r.returncode != 0:
        fail(json.dumps('pip exited with %d:\n%s' % (r.returncode, out[-3000:])))
    infos = [d for d in os.listdir('/host') if d.endswith('.dist-info')]
    if not infos:
        # pip installed nothing: the requirement's marker excluded it
        say('result ' + json.dumps({'skipped': True, 'pip_ms': ms, 'log': out[-1000:]}))
        return
    info = '/host/' + infos[0]
    from email.parser import Parser
    with open(info + '/METADATA', encoding='utf-8', errors='replace') as f:
        meta = Parser().parse(f, headersonly=True)
    sys.path.append('/usr/lib/python3/dist-packages')
    from pip._vendor.packaging.requirements import Requirement
    extras = cfg.get('extras', [])
    requires = []
    for spec in meta.get_all('Requires-Dist') or []:
        req = Requirement(spec)
        if req.marker is not None and not any(req.marker.evaluate({'extra': e}) for e in [''] + extras):
            continue
        requires.append(str(req.name) + ('[%s]' % ','.join(sorted(req.extras)) if req.extras else '') + str(req.specifier))
    top = []
    if os.path.exists(info + '/top_level.txt'):
        top = [l.strip() for l in open(info + '/top_level.txt') if l.strip()]
    else:
        for entry in sorted(os.listdir('/host')):
            if entry.endswith(('.dist-info', '.data')) or entry.startswith(('_', '.')) or entry == 'bin':
                continue
            if entry.endswith('.py'):
                top.append(entry[:-3])
            elif os.path.isdir('/host/' + entry):
                top.append(entry)
    say('result ' + json.dumps({'name': meta['Name'], 'version': meta['Version'], 'requires': requires,
                                'top_level': top, 'pip_ms': ms}))


def measure(cfg):
    """Times `import` of modules in fresh interpreters (median of cfg['runs'])."""
    import json
    import subprocess
    drop_privileges(cfg)
    code = ('import sys,time;sys.path[:0]=%r;t=time.perf_counter()\nfor m in %r: __import__(m)\n'
            'print((time.perf_counter()-t)*1000)') % (cfg['pythonPath'], cfg['modules'])
    runs = []
    for _ in range(cfg.get('runs', 3)):
        r = subprocess.run(['/usr/bin/python3', '-I', '-S', '-c', code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env={'PATH': '/usr/bin:/bin', 'HOME': '/tmp'})
        if r.returncode != 0:
            fail(json.dumps('importing %s failed:\n%s' % (', '.join(cfg['modules']), r.stdout.decode(errors='replace')[-3000:])))
        runs.append(float(r.stdout.decode().strip().splitlines()[-1]))
    runs.sort()
    say('result ' + json.dumps({'import_ms': runs[len(runs) // 2]}))


def reply(conn, status, reason, body, ctype):
    head = 'HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n' % (status, reason, ctype, len(body))
    conn.sendall(head.encode() + body)
    global TAKEN_W
    if TAKEN_W is not None:
        # a forked sandbox's first answer is out: now the zygote may clone the next spare
        os.close(TAKEN_W)
        TAKEN_W = None


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


def main():
    global HOST_MNT
    import json
    cfg = json.loads(cfg_text)
    mode = cfg.get('mode', 'sock')
    if mode == 'plain':
        serve_lambda(cfg)
    join_cgroups(cfg)
    if mode == 'zygote':
        # kept for the children: they bind their roots from host paths
        HOST_MNT = os.open('/proc/self/ns/mnt', os.O_RDONLY)
        isolate(cfg, pidns=False)
        build_root(cfg, proc=False)
        zygote_serve(cfg)
    isolate(cfg, pidns=True)
    build_root(cfg)
    if mode == 'install':
        install(cfg)
    elif mode == 'measure':
        measure(cfg)
    else:
        drop_privileges(cfg)
        serve_lambda(cfg)


main()
