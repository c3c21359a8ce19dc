/** A daemon's pid file and the process it names: whether it runs, and stopping it. */
import { readFileSync } from 'node:fs';
import { OlError } from './errors.js';

/** Whether `pid` runs: a process that exited but was not yet reaped by its parent (a zombie) does not. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ...", comm may hold spaces and parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The pid a pid file names, if that process runs. */
export function runningPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    return alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM to `pid`, then waits until it is gone; an error naming `what` after `timeoutMs`. */
export async function stopPid(pid: number, what: string, timeoutMs: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    if (!alive(pid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new OlError('OL_ERR_CONFIG', `${what} ${pid} did not stop within ${timeoutMs / 1000} s of SIGTERM`);
}
