/**
 * A run directory, as `ol-exp real` and `ol-exp sim` write it and
 * `ol-exp compare` reads it: `run.json` (what was run), `invocations.csv`
 * (one row per invocation) and `memory.csv` (memory in use over time).
 * Readers check every row and name the file and line of a bad one; a run
 * stopped early (Ctrl-C) is marked incomplete and still readable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import { resolveBalancerOptions } from '../core/balancers/index.js';

export interface RunInfo {
  tool: 'ol-exp';
  kind: 'real' | 'sim';
  olLabVersion: string;
  planSha256: string;
  traceSha256: string;
  trace: string;
  plan: Record<string, unknown>;
  seed: number;
  policy: string;
  memoryMb: number;
  backend?: string;
  profile?: unknown;
  cores?: number | string;
  /** sim: sandbox creation modelled as CPU work (ol-exp sim --create-on-cpu). */
  createOnCpu?: boolean;
  /** One of several repetitions (experiments/repeats.ts): its number, and for a simulator replication the seed it used; absent for number 0. */
  repeat?: { index: number; seed?: number };
  /** sim: destroys as CPU work too (on with createOnCpu since destroys were measured to be CPU work). */
  destroyOnCpu?: boolean;
  /** sim: first touches priced by the host's free memory (sim/free-memory.ts; ol-exp sim --free-memory). */
  freeMemory?: boolean;
  /** sim: the time slice the cores were shared in, ms (ol-exp sim --cpu-slice); 0: processor sharing. */
  cpuSliceMs?: number;
  /** sim: the freeze a call waited for (ol-exp sim --freeze-wait), ms idle and per runnable job per core; absent: none. */
  freezeWait?: { idleMs: number; loadMs: number };
  /** sim: the calibrated response wake added to latencies (ol-exp sim --response-wake). */
  responseWake?: boolean;
  machine: unknown;
  /** real: what first touches of memory cost just before the replay, before its worker started (experiments/memory-warmth.ts; RealOptions.warmthProbe). */
  memoryWarmth?: import('./memory-warmth.js').MemoryWarmth;
  /** real: how busy other work kept the machine just before the replay and during it (common/cpu-usage.ts BusyMeter). */
  busy?: MachineBusy;
  complete: boolean;
  invocations: number;
  functions: { name: string; lambda: string; memMb: number; invocations: number }[];
  notes: string[];
  /** A cluster run (ol-exp real/sim --workers N --balancer B): its settings; absent for one worker. */
  cluster?: ClusterSettings;
}

/**
 * What a cluster run was: `front` the real front (the boss, or HAProxy with
 * the same rule) or, for a simulation, the front it stands for; the
 * balancer with its options resolved; how often the front reads its
 * workers. A simulation also records the hop it charged.
 */
export interface ClusterSettings {
  workers: number;
  balancer: string;
  balancerOptions: Record<string, number>;
  front: 'boss' | 'haproxy';
  viewRefreshMs: number;
  hopMs?: number;
  /** sim: the cores all workers share (as the real cluster's share one machine's); absent: each worker had its own. */
  sharedCores?: number | 'infinite';
}

/** What a run records of the cluster it was asked for: the balancer's options resolved, the boss's defaults (front boss, view read every 100 ms) filled in. */
export function clusterSettings(c: { workers: number; balancer: string; balancerOptions?: Record<string, number>; front?: 'boss' | 'haproxy'; viewRefreshMs?: number }): ClusterSettings {
  return {
    workers: c.workers, balancer: c.balancer, balancerOptions: resolveBalancerOptions(c.balancer, c.balancerOptions),
    front: c.front ?? 'boss', viewRefreshMs: c.viewRefreshMs ?? 100,
  };
}

/** Other work (not the experiment's processes) in cores and as a share of the machine's cores; flagged at or above BUSY_SHARE_FLAG. */
export interface MachineBusy {
  cores: number;
  before?: { otherCores: number; share: number; wallMs: number };
  during: { otherCores: number; share: number; peakShare: number };
  flagged: boolean;
}

export interface InvocationRow {
  inv: number;
  fn: string;
  arrivalMs: number;
  latencyMs: number;
  start: string;
  status: number;
  /** A cluster run: the worker that served it (-1: none, the front failed it). */
  worker?: number;
}

export const INVOCATION_HEADER = 'inv,fn,arrival_ms,sent_ms,done_ms,latency_ms,start,status';
/** A cluster run's invocations.csv: one more column, the worker that served each (empty: none did). */
export const CLUSTER_INVOCATION_HEADER = `${INVOCATION_HEADER},worker`;
/** `memory.csv`, one row a second: the pool's memory in use (a real run: the worker's /stats gauge). */
export const MEMORY_HEADER = ['t_ms', 'used_mb'];
/**
 * `cpu.csv`, one row a second: busy cores over the second before `t_ms`, of
 * the machine (/proc/stat; a simulation: its CPU model), and of the worker
 * process and the client (a real run that started its worker), and of
 * other work, what the machine did that was not the experiment's (a real
 * run; common/cpu-usage.ts BusyMeter).
 */
export const CPU_HEADER = ['t_ms', 'machine_cores', 'worker_cores', 'client_cores', 'other_cores'];

/** The first two columns of a time series (memory.csv, cpu.csv), rows that hold numbers there; none if the file is absent. */
function readSeries(path: string): [number, number][] {
  if (!existsSync(path)) return [];
  const out: [number, number][] = [];
  for (const l of readFileSync(path, 'utf8').split('\n').slice(1)) {
    const [t, v] = l.split(',').map((x) => (x === '' ? NaN : Number(x)));
    if (Number.isFinite(t) && Number.isFinite(v)) out.push([t!, v!]);
  }
  return out;
}

export function readRun(dir: string): { info: RunInfo; rows: InvocationRow[]; memory: { t: number; mb: number }[]; cpu: { t: number; cores: number }[] } {
  const infoPath = join(dir, 'run.json');
  if (!existsSync(infoPath)) throw new OlError('OL_ERR_CONFIG', `${dir} is not a run directory (no run.json)`);
  let info: RunInfo;
  try {
    info = JSON.parse(readFileSync(infoPath, 'utf8'));
  } catch (e) {
    throw new OlError('OL_ERR_CONFIG', `${infoPath} is not valid JSON (${(e as Error).message}); the run may have been cut short`);
  }
  if (info.tool !== 'ol-exp' || !info.planSha256) throw new OlError('OL_ERR_CONFIG', `${infoPath} is not an ol-exp run record`);
  const known = new Set(info.functions.map((f) => f.name));
  const invPath = join(dir, 'invocations.csv');
  if (!existsSync(invPath)) throw new OlError('OL_ERR_CONFIG', `${dir} has no invocations.csv`);
  const lines = readFileSync(invPath, 'utf8').split('\n');
  const clustered = info.cluster !== undefined;
  const header = clustered ? CLUSTER_INVOCATION_HEADER : INVOCATION_HEADER;
  if (lines[0] !== header) throw new OlError('OL_ERR_TRACE_FORMAT', `${invPath}:1: expected header ${header}${clustered ? ' (run.json says this is a cluster run)' : ''}`);
  const cols = clustered ? 9 : 8;
  const rows: InvocationRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '') continue;
    const f = l.split(',');
    const bad = (field: string, why: string) => new OlError('OL_ERR_TRACE_LINE', `${invPath}:${i + 1}: field "${field}": ${why}${i === lines.length - 1 ? ' (the last line: the file may be truncated)' : ''}`);
    if (f.length !== cols) throw bad('(line)', `has ${f.length} of ${cols} columns`);
    if (!known.has(f[1]!)) throw bad('fn', `function ${JSON.stringify(f[1])} is not in the run's run.json`);
    const num = (k: number, name: string) => {
      const v = f[k] === '' ? NaN : Number(f[k]);
      if (f[k] !== '' && !Number.isFinite(v)) throw bad(name, `${JSON.stringify(f[k])} is not a number`);
      return v;
    };
    const row: InvocationRow = { inv: num(0, 'inv'), fn: f[1]!, arrivalMs: num(2, 'arrival_ms'), latencyMs: num(5, 'latency_ms'), start: f[6]!, status: num(7, 'status') };
    if (clustered) {
      const w = f[8] === '' ? -1 : num(8, 'worker');
      if (!(Number.isInteger(w) && w >= -1 && w < info.cluster!.workers)) throw bad('worker', `${JSON.stringify(f[8])} is not a worker of this ${info.cluster!.workers}-worker cluster`);
      row.worker = w;
    }
    rows.push(row);
  }
  const memory = readSeries(join(dir, 'memory.csv')).map(([t, mb]) => ({ t, mb }));
  // runs recorded before cpu.csv existed have none
  const cpu = readSeries(join(dir, 'cpu.csv')).map(([t, cores]) => ({ t, cores }));
  return { info, rows, memory, cpu };
}

