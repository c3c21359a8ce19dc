/**
 * A fork request to a zygote whose listen backlog is full: the connect is
 * refused with EAGAIN (a burst of cold starts, each asking the zygote for a
 * fork at once), nothing reached the zygote, and the worker tries again
 * until it is accepted instead of failing the call (a grid replay lost 10
 * calls this way, 2026-12-06). Any other failure stays final.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeUnlessMounted } from '../../common/fs.js';
import { sendFirst } from '../../worker/sandbox/sock.js';

const dir = mkdtempSync(join(tmpdir(), 'ol-fork-backlog-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  removeUnlessMounted(dir);
});

// a listener with the smallest backlog that accepts nothing for `delay` s, then answers each line with "ready"
const LISTENER = `
import socket, sys, threading, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(0)
print('listening', flush=True)
time.sleep(float(sys.argv[2]))
def serve(c):
    f = c.makefile('rb')
    if f.readline(): c.sendall(b'ready\\n')
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

function listen(path: string, delayS: number): Promise<void> {
  const c = spawn('python3', ['-c', LISTENER, path, String(delayS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  return new Promise((resolve, reject) => {
    c.stdout!.once('data', () => resolve());
    c.once('exit', (code) => reject(new Error(`listener exited (${code})`)));
  });
}

/** Connects until the backlog refuses one (EAGAIN); how many were refused before that. */
async function fill(path: string): Promise<number> {
  for (let k = 0; k < 50; k++) {
    const code = await new Promise<string | undefined>((resolve) => {
      const c = createConnection(path);
      c.once('connect', () => { c.destroy(); resolve(undefined); }); // queued: it holds a backlog place until accepted
      c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    });
    if (code === 'EAGAIN') return k;
    if (code) throw new Error(`connect: ${code}`);
  }
  throw new Error('the backlog never filled');
}

describe('a fork request refused by a full backlog', () => {
  it('is sent again until the listener takes it', async () => {
    const path = join(dir, 'fork.sock');
    await listen(path, 0.4);
    expect(await fill(path)).toBeGreaterThanOrEqual(1);
    const t = performance.now();
    const got = await sendFirst(path, Buffer.from('{"fork": 1}\n'), 'sandbox 1 of lambda f');
    expect(performance.now() - t).toBeGreaterThan(100); // it waited for the listener, refused meanwhile
    expect(got.rest.length).toBe(0);
    got.conn.destroy();
  });

  it('gives up at once on any other failure, and when the zygote is gone', async () => {
    await expect(sendFirst(join(dir, 'none.sock'), Buffer.from('x\n'), 'sandbox 2 of lambda f')).rejects.toThrow(/sandbox 2 of lambda f broke the connection \(connect ENOENT/);
    const path = join(dir, 'fork2.sock');
    await listen(path, 30);
    await fill(path);
    await expect(sendFirst(path, Buffer.from('x\n'), 'sandbox 3 of lambda f', () => false)).rejects.toThrow(/connect EAGAIN/);
  });
});
