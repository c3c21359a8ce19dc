/** Options shared by `run` and `sweep`, and their conversion to a config. */
import type { Argv } from 'yargs';
import { badConfig } from '../../common/errors.js';
import type { OpenTraceOptions } from '../../traces/index.js';
import type { SimConfig } from '../config.js';

export function simOptions<T>(y: Argv<T>) {
  return y
    .option('trace', { type: 'string', demandOption: true, describe: 'trace: format:path or a path (formats: csv, jsonl, azure2019, azure2021, gen)' })
    .option('cores', { type: 'string', default: '2', describe: 'CPU cores, or "infinite" (no contention, as FaasCache)' })
    .option('profile', { type: 'string', describe: 'cost profile JSON (default: the bundled sim/profiles/default.json)' })
    .option('seed', { type: 'number', default: 1, describe: 'the run\'s one seed' })
    .option('queue', { choices: ['wait', 'drop'] as const, default: 'wait' as const, describe: 'an invocation with no memory waits (FIFO) or is dropped' })
    .option('sandbox-concurrency', { type: 'number', default: 1, describe: 'requests one sandbox serves at once' })
    .option('paused-mem', { type: 'number', describe: 'footprint of a paused sandbox, MB (OpenLambda downsize_paused_mem)' })
    .option('cold-from-trace', { type: 'boolean', default: false, describe: 'cold start = trace Maximum - Average (azure2019) or init_ms, as FaasCache' })
    .option('create-lanes', { type: 'string', default: 'infinite', describe: 'sandbox creations that proceed at once (infinite: no limit)' })
    .option('create-on-cpu', { type: 'boolean', default: false, describe: 'sandbox creation is CPU work shared with handlers, not a pure delay' })
    .option('cpu-slice-ms', { type: 'number', default: 0, describe: 'CPU time slice, ms: while jobs wait for a core, each running one keeps it this long at most (ol-exp calibrate measures it); 0: fluid processor sharing' })
    .option('policy-opt', { type: 'string', array: true, default: [] as string[], describe: 'policy option key=value (see ol-sim policies)' })
    .option('arrivals', { choices: ['uniform', 'poisson', 'faascache'] as const, default: 'uniform' as const, describe: 'azure2019: spread of a minute\'s invocations (faascache: at i·60/k s, FaasCache-sim\'s placement)' })
    .option('drop-single', { type: 'boolean', default: false, describe: 'azure2019: leave out functions invoked only once in the day (FaasCache-sim\'s filter)' })
    .option('evict-to', { choices: ['shortfall', 'full'] as const, default: 'shortfall' as const, describe: 'a cold start that does not fit evicts until the shortfall is free, or until the new sandbox\'s full size is freed (FaasCache-sim)' })
    .option('flush-on-fail', { type: 'boolean', default: false, describe: 'when room cannot be made, evict every idle sandbox before giving up (FaasCache-sim; use with --queue drop)' })
    .option('zero-costs', { type: 'boolean', default: false, describe: 'every sandbox operation costs nothing, whatever the profile (FaasCache-sim)' })
    .option('duration', { choices: ['average', 'sample'] as const, default: 'average' as const, describe: 'azure2019: execution time = Average, or sampled from percentiles' })
    .option('functions', { type: 'number', describe: 'azure2019: keep the N most-invoked functions' })
    .option('minutes', { type: 'string', describe: 'azure2019: minutes A:B of the day (1-based), or N for 1:N' })
    .option('mem-mb', { type: 'number', default: 256, describe: 'azure2021: memory of every function, MB' })
    .option('skip-bad', { type: 'boolean', default: false, describe: 'count and skip malformed trace lines instead of stopping' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of the table' })
    .option('compat', { choices: ['faascache'] as const, describe: 'faascache: FaasCache-sim\'s semantics and counts exactly, on an azure2019 sample (docs/SIMULATOR.md)' });
}

export interface SimArgs {
  trace: string;
  cores: string;
  profile?: string;
  seed: number;
  queue: 'wait' | 'drop';
  sandboxConcurrency: number;
  pausedMem?: number;
  coldFromTrace: boolean;
  createOnCpu: boolean;
  createLanes: string;
  cpuSliceMs?: number;
  policyOpt: string[];
  arrivals: 'uniform' | 'poisson' | 'faascache';
  dropSingle: boolean;
  evictTo: 'shortfall' | 'full';
  flushOnFail: boolean;
  zeroCosts: boolean;
  duration: 'average' | 'sample';
  functions?: number;
  minutes?: string;
  memMb: number;
  skipBad: boolean;
  json: boolean;
  compat?: 'faascache';
}

export function parseCores(s: string): number {
  if (/^(inf|infinite|infinity)$/i.test(s)) return Infinity;
  const n = Number(s);
  if (!(n > 0) || !Number.isFinite(n)) badConfig('cores', `must be a number > 0 or "infinite", got ${JSON.stringify(s)}`);
  return n;
}

export function parsePolicyOpts(items: string[], flag = 'policy-opt'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) {
    const m = /^([A-Za-z][A-Za-z0-9]*)=(.+)$/.exec(it);
    if (!m) badConfig(flag, `expected key=value, got ${JSON.stringify(it)}`);
    const v = Number(m[2]);
    if (!Number.isFinite(v)) badConfig(`${flag} ${m[1]}`, `needs a number, got ${JSON.stringify(m[2])}`);
    out[m[1]!] = v;
  }
  return out;
}

function parseMinutes(s: string | undefined): [number, number] | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)(?::(\d+))?$/.exec(s.trim());
  if (!m) badConfig('minutes', `expected A:B or N, got ${JSON.stringify(s)}`);
  return m[2] === undefined ? [1, Number(m[1])] : [Number(m[1]), Number(m[2])];
}

export function toConfig(a: SimArgs, policy: string, memoryMb: number): Partial<SimConfig> {
  return {
    policy,
    memoryMb,
    cores: parseCores(a.cores),
    queue: a.queue,
    sandboxConcurrency: a.sandboxConcurrency,
    pausedMemMb: a.pausedMem ?? null,
    coldFromTrace: a.coldFromTrace,
    createOnCpu: a.createOnCpu,
    createLanes: /^inf/i.test(a.createLanes) ? Infinity : Number(a.createLanes),
    cpuSliceMs: a.cpuSliceMs ?? 0,
    seed: a.seed,
    policyOptions: parsePolicyOpts(a.policyOpt),
    evictTo: a.evictTo ?? 'shortfall',
    flushOnFail: a.flushOnFail ?? false,
    zeroCosts: a.zeroCosts ?? false,
  };
}

export function toTraceOptions(a: SimArgs): OpenTraceOptions {
  const o: OpenTraceOptions = {
    arrivals: a.arrivals, duration: a.duration, skipBad: a.skipBad, memMb: a.memMb, seed: a.seed, coldFromTrace: a.coldFromTrace,
  };
  if (a.functions !== undefined) o.functions = a.functions;
  if (a.dropSingle) o.dropSingle = true;
  const minutes = parseMinutes(a.minutes);
  if (minutes) o.minutes = minutes;
  return o;
}

/** A progress line on stderr when stdout and stderr are terminals; a no-op otherwise. */
export function progress(enabled: boolean): { update(done: number, total: number, label: string): void; end(): void } {
  if (!enabled || !process.stdout.isTTY || !process.stderr.isTTY) return { update() {}, end() {} };
  let last = 0;
  const t0 = performance.now();
  return {
    update(done, total, label) {
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const width = 30;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      const secs = (now - t0) / 1000;
      process.stderr.write(`\r[${bar}] ${(100 * frac).toFixed(0).padStart(3)}% ${label} ${secs.toFixed(1)} s `);
    },
    end() {
      process.stderr.write('\r' + ' '.repeat(80) + '\r');
    },
  };
}
