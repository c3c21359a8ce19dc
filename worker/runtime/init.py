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
# the runtime's parts, by job (ol_runtime/), imported now: a sandbox serves from inside its own root,
# where this folder is not. Not under a plain name (a lambda may have a module called state or jobs),
# and no bytecode written into the worker's tree.
BASE_PATH = list(sys.path)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ol_runtime import state  # noqa: E402
from ol_runtime.http_loop import serve_lambda  # noqa: E402
from ol_runtime.isolation import build_root, drop_privileges, isolate, join_cgroups  # noqa: E402
from ol_runtime.jobs import install, measure  # noqa: E402
from ol_runtime.zygote import zygote_serve  # noqa: E402
del sys.path[0]
sys.dont_write_bytecode = False
state.BASE_PATH = BASE_PATH


def main():
    import json
    cfg = json.loads(cfg_text)
    mode = cfg.get('mode', 'sock')
    if mode == 'plain':
        serve_lambda(cfg)
    join_cgroups(cfg)
    if mode == 'zygote':
        # kept for the children: they bind their roots from host paths
        state.HOST_MNT = os.open('/proc/self/ns/mnt', os.O_RDONLY)
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
