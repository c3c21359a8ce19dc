/** Removing the temporary folders ol-lab makes, safely. */
import { readFileSync, rmSync } from 'node:fs';

/**
 * Removes `dir` and everything in it, unless something is mounted under it
 * (a worker that died without unmounting its sandboxes): a recursive delete
 * must never walk into a bind mount of the host's files. True if removed.
 */
export function removeUnlessMounted(dir: string): boolean {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '');
  if (mounts.some((m) => m === dir || m.startsWith(dir + '/'))) return false;
  rmSync(dir, { recursive: true, force: true });
  return true;
}
