"""Isolation: joining cgroups, new namespaces, the root bound together
from host paths and chrooted into, loopback, dropping privileges, and
clone(2) into new namespaces."""
import os

from . import state

SYS_CLONE = {'x86_64': 56, 'aarch64': 220}
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18


def libc():
    import ctypes
    return ctypes, ctypes.CDLL(None, use_errno=True)


def check(ret, what):
    if ret != 0:
        import ctypes
        state.fail('setup: %s: %s' % (what, os.strerror(ctypes.get_errno())))


def join_cgroups(cfg):
    pid = str(os.getpid())
    for path in cfg['cgroupProcs']:
        try:
            with open(path, 'w') as f:
                f.write(pid)
        except OSError as e:
            why = os.strerror(e.errno)
            state.fail('setup: joining cgroup %s: %s' % (path, why))


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
            if state.OUT is not None:
                state.OUT.close()
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
            state.fail('setup: mount point %s is missing in the base root' % dst)
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
