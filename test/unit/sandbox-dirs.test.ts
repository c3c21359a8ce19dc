import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SandboxDirs, SOCKET_PATH_MAX } from '../../worker/sandbox/dirs.js';

describe('sandbox folder names', () => {
  const tail = join('scratch', 'zygote.sock');

  it('are the sandbox id where the socket path fits', () => {
    const d = new SandboxDirs('/var/lib/ol/sandboxes', tail);
    expect(d.path('12-echo')).toBe('/var/lib/ol/sandboxes/12-echo');
  });

  it('are shortened, distinct, and keep every socket path within the kernel\'s limit where the id is too long', () => {
    const parent = '/tmp/ol-lab-test-abcdef/ol-real-ghijkl/sandboxes';
    const d = new SandboxDirs(parent, tail);
    const id = `7-${'a-lambda-whose-name-is-long-'.repeat(3)}`.slice(0, 64);
    const a = d.path(id), b = d.path(id);
    expect(a).not.toBe(b);
    for (const p of [a, b]) {
      expect(Buffer.byteLength(join(p, tail))).toBeLessThanOrEqual(SOCKET_PATH_MAX);
      expect(basename(p).startsWith('7-a-lambda-whose')).toBe(true);
    }
    expect(Buffer.byteLength(join(a, tail))).toBe(SOCKET_PATH_MAX); // as much of the id as fits
  });

  it('a pool folder too long for any socket under it is refused, naming it', () => {
    const parent = '/tmp/' + 'deep/'.repeat(16) + 'sandboxes';
    expect(() => new SandboxDirs(parent, tail)).toThrow(/the sandbox folder \/tmp\/deep\/.*sandboxes is too long \(\d+ bytes\).*107 bytes/);
  });
});
