"""The import cache's zygotes: a zygote keeps spare children ready in new
namespaces, each rehearsing a sandbox start while it waits; a fork request
turns a spare into a sandbox (or clones a child zygote)."""
import os
import sys

from . import state
from .http_loop import listen, python_path, read_request, serve_connection, serve_lambda
from .isolation import (CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, build_root, check, clone,
                        drop_privileges, join_cgroups, libc, loopback_up, prepare_root, unshare_mounts)

# A taken spare's successor is cloned once the new sandbox has answered
# its first request, or SPARE_DELAY_S after it was taken if that takes
# longer, or at once when another fork request is waiting. A clone in four
# new namespaces and its rehearsal take CPU; cloned the moment the sandbox
# was ready, they competed with its first call and the replies to the
# worker and the client (side by side, forked cold starts were faster with
# the successor made after: docs/notebook/2026-11-benchmark-rounds.md).
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
        state.fail(json.dumps(traceback.format_exc()))
    srv = listen('/host/fork.sock')
    zsrv = listen('/host/zygote.sock')
    import gc
    gc.freeze()   # the collector leaves the zygote's objects alone: fewer pages copied after a fork
    # each spare's pipe: 'waiting' (in accept), 'taken' (a sandbox now; its
    # successor not made yet) or 'replaced' (successor made)
    pipes = {}
    for _ in range(max(1, int(cfg.get('spares', 1)))):
        pipes[spare(srv, zsrv, pipes, cfg)] = 'waiting'
    state.say('ready')
    if state.OUT is not None:
        state.OUT.close()
        state.OUT = None
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
    check(c.setns(state.HOST_MNT, CLONE_NEWNS), 'setns to the host mount namespace')
    os.chdir('/')
    rehearse(c)
    root = prepare_root(c, zcfg) if zcfg.get('base') else None
    state.PREPARED = (root, zcfg['base']) if root else None
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
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'rehearsal')
    sys.path.insert(0, here)
    try:
        entry = ('func', __import__('f').f)
        # one call through the request loop, on a socket pair
        ours, theirs = _socket.socketpair()
        theirs.sendall(b'POST /run/rehearsal HTTP/1.1\r\nContent-Length: 10\r\n\r\n{"a": [1]}')
        theirs.shutdown(_socket.SHUT_WR)
        serve_connection(ours, entry, json)
        theirs.recv(65536)
        theirs.close()
    finally:
        sys.modules.pop('f', None)
        sys.path.remove(here)
        sys.path_importer_cache.pop(here, None)
        sys.dont_write_bytecode = bytecode
        os.environ.clear()


def forked(cfg, conn, taken_w=None, ahead=b''):
    """In a zygote's child: become the sandbox (or child zygote) cfg describes.

    A spare (taken_w: its pipe to the zygote) is already in the host's mount
    namespace; it tells the zygote it was taken once it is ready, and closes
    the pipe, asking for its successor, once it has answered its first
    request: a clone running meanwhile would slow it down (a process joining
    a v1 cgroup waits for forks in progress, and the two compete for cores).
    `ahead`: what came after the request line (a first HTTP request).
    """
    state.OUT = conn
    state.AHEAD = ahead
    import signal
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if taken_w is None:
        _, c = libc()
        # back to the host's view of the files, where the new root's parts are
        check(c.setns(state.HOST_MNT, CLONE_NEWNS), 'setns to the host mount namespace')
        os.chdir('/')
    join_cgroups(cfg)
    state.TAKEN_W = taken_w
    zygote = cfg.get('mode') == 'zygote'
    prepared = state.PREPARED[0] if state.PREPARED and not zygote and cfg.get('base') == state.PREPARED[1] else None
    if not prepared:
        unshare_mounts()
    build_root(cfg, proc=not zygote, lo=taken_w is None, prepared=prepared)
    if zygote:
        zygote_serve(cfg)
    os.close(state.HOST_MNT)
    drop_privileges(cfg)
    serve_lambda(cfg)
