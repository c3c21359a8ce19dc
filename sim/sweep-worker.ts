/** A worker thread of `ol-sim sweep`: runs the simulations it is sent. */
import { parentPort } from 'node:worker_threads';
import { simulate, type RunSpec } from './run.js';

export interface SweepJob {
  id: number;
  spec: Omit<RunSpec, 'hooks' | 'onBatch' | 'machine'> & { trace: string };
}

export interface SweepRow {
  policy: string;
  memoryMb: number;
  /** A cluster cell's balancer and worker count (memoryMb is then per worker). */
  balancer?: string;
  workers?: number;
  imbalance?: number;
  invocations: number;
  coldStarts: number;
  coldStartPct: number;
  dropped: number;
  droppedPct: number;
  queued: number;
  evictions: number;
  p50Ms: number;
  p99Ms: number;
  usedMbSeconds: number;
  idleMbSeconds: number;
  traceSha256: string;
  wallMs: number;
}

export type SweepReply = { id: number; ok: true; row: SweepRow } | { id: number; ok: false; message: string; code?: string };

parentPort?.on('message', async (job: SweepJob) => {
  try {
    const out = await simulate({ ...job.spec, machine: false });
    const r = out.summary.results;
    const c = out.summary.cluster;
    const row: SweepRow = {
      policy: out.summary.config.policy, memoryMb: c ? c.perWorker[0]!.memoryMb : out.summary.config.memoryMb,
      ...(c ? { balancer: c.balancer, workers: c.workers, imbalance: c.imbalance } : {}),
      invocations: r.invocations,
      coldStarts: r.coldStarts, coldStartPct: r.coldStartPct, dropped: r.dropped, droppedPct: r.droppedPct, queued: r.queued,
      evictions: r.evictions, p50Ms: r.latencyMs.p50, p99Ms: r.latencyMs.p99, usedMbSeconds: r.memory.usedMbSeconds,
      idleMbSeconds: r.memory.idleMbSeconds, traceSha256: out.summary.trace.sha256, wallMs: Math.round(out.wallMs),
    };
    parentPort!.postMessage({ id: job.id, ok: true, row } satisfies SweepReply);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, ok: false, message: (e as Error).message, code: (e as { code?: string }).code } satisfies SweepReply);
  }
});
