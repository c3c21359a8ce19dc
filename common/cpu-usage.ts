/**
 * CPU time from /proc (Linux): the whole machine's busy time and one
 * process's own, in ms. The harness samples both during a replay
 * (`cpu.csv`) and the calibration measures costs with the first.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc's CPU times (100 on every Linux this runs on). */
const TICK_MS = 10;

/** CPU time the whole machine has spent busy (every CPU, user + system + interrupts + steal), ms. */
export function machineBusyMs(stat = readFileSync('/proc/stat', 'utf8')): number {
  const f = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/);
  if (f[0] !== 'cpu' || f.length < 8) throw new Error(`/proc/stat: unexpected first line ${JSON.stringify(f.join(' '))}`);
  const v = f.slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: all but idle and iowait
  return (v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + (v[7] ?? 0)) * TICK_MS;
}

/**
 * CPU time (user + system) process `pid` has used, ms; undefined once it
 * has gone. `stat`: the text of /proc/<pid>/stat, for tests.
 */
export function processCpuMs(pid: number, stat?: string): number | undefined {
  let s = stat;
  if (s === undefined) {
    try {
      s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return undefined;
    }
  }
  // the command name may hold spaces and parentheses: fields start after the last ')'
  const f = s.slice(s.lastIndexOf(')') + 2).trim().split(/\s+/);
  const utime = Number(f[11]), stime = Number(f[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`/proc/${pid}/stat: unexpected contents ${JSON.stringify(s.slice(0, 200))}`);
  return (utime + stime) * TICK_MS;
}
