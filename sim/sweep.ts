/**
 * A grid of simulations (policies × memory sizes) spread over worker
 * threads, one simulation per thread at a time. Results come back in grid
 * order whatever order the threads finish in.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { OlError, badConfig } from '../common/errors.js';
import { balancerFactory } from '../core/balancers/index.js';
import { policyFactory } from '../core/policies/index.js';
import type { RunSpec } from './run.js';
import type { SweepJob, SweepReply, SweepRow } from './sweep-worker.js';

/** Parses `start:end:step` or `a,b,c` (MB). */
export function parseMemoryList(s: string): number[] {
  const range = /^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$/.exec(s);
  let out: number[];
  if (range) {
    const [a, b, step] = [Number(range[1]), Number(range[2]), Number(range[3])];
    if (!(step > 0) || b < a) badConfig('memory', `range ${s} needs start <= end and step > 0`);
    out = [];
    for (let m = a; m <= b + 1e-9; m += step) out.push(Math.round(m * 1e6) / 1e6);
  } else {
    out = s.split(',').map((x) => Number(x.trim()));
  }
  if (out.length === 0 || out.some((m) => !(m > 0))) badConfig('memory', `expected start:end:step or a list of MB > 0, got ${JSON.stringify(s)}`);
  if (out.length > 10_000) badConfig('memory', `${out.length} sizes is too many (at most 10,000)`);
  return out;
}

/** A cluster axis of a sweep: balancers x worker counts (memory is then per worker). */
export interface ClusterAxes {
  balancers: string[];
  workers: number[];
  hopMs?: number;
  viewRefreshMs?: number;
}

/** Runs every (policy, memory) cell, or every (balancer, workers, policy, memory) cell with `cluster`; `onDone` reports progress. */
export async function sweep(
  base: Omit<RunSpec, 'hooks' | 'onBatch' | 'machine'> & { trace: string },
  policies: string[],
  memories: number[],
  jobs = availableParallelism(),
  onDone?: (done: number, total: number) => void,
  cluster?: ClusterAxes,
): Promise<SweepRow[]> {
  for (const p of policies) policyFactory(p);
  if (cluster) for (const b of cluster.balancers) balancerFactory(b);
  const plain = policies.flatMap((policy) => memories.map((memoryMb) => ({ policy, memoryMb, balancer: '', workers: 0 })));
  const cells = cluster ? cluster.balancers.flatMap((balancer) => cluster.workers.flatMap((workers) => plain.map((c) => ({ ...c, balancer, workers })))) : plain;
  const rows: SweepRow[] = new Array(cells.length);
  const workerUrl = new URL('./sweep-worker.js', import.meta.url);
  const n = Math.max(1, Math.min(jobs, cells.length));
  let next = 0;
  let done = 0;
  let firstError: OlError | Error | undefined;
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
    const w = new Worker(workerUrl);
    const send = () => {
      if (next >= cells.length || firstError) {
        void w.terminate().then(() => resolve());
        return;
      }
      const id = next++;
      const c = cells[id]!;
      const spec = { ...base, config: { ...base.config, policy: c.policy, memoryMb: c.memoryMb } };
      const job: SweepJob = {
        id,
        spec: c.workers > 0
          ? { ...spec, cluster: { balancer: c.balancer, workers: Array.from({ length: c.workers }, () => ({})), ...(cluster!.hopMs !== undefined ? { hopMs: cluster!.hopMs } : {}), viewRefreshMs: cluster!.viewRefreshMs ?? 100 } }
          : spec,
      };
      w.postMessage(job);
    };
    w.on('message', (m: SweepReply) => {
      if (m.ok) rows[m.id] = m.row;
      else firstError ??= m.code ? new OlError(m.code as never, m.message) : new Error(m.message);
      onDone?.(++done, cells.length);
      send();
    });
    w.on('error', (e) => { firstError ??= e; reject(e); });
    send();
  })));
  if (firstError) throw firstError;
  return rows;
}
