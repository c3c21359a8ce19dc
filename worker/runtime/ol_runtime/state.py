"""The runtime process's shared state: where its ready or error line goes,
what a zygote kept of the host, what a forked sandbox was sent ahead; and
the two ways out (say, fail)."""
import os
import sys

OUT = None          # where ready / error go: stdout, or a fork request's connection
HOST_MNT = None     # a zygote's descriptor of the host's mount namespace
TAKEN_W = None      # a spare's pipe to its zygote: a byte once it is a sandbox, closed after its first answer
AHEAD = b''         # a forked sandbox's first request, sent right behind its fork request
PREPARED = None     # (root, base): where a spare mounted which base root ahead (prepare_root)
BASE_PATH = []      # the interpreter's own sys.path, set by init.py before the runtime's folder was added


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
