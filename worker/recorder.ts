/**
 * The worker's per-invocation records (`record: true`): one JSON line each
 * in `record_path`, what the harness compares with the simulator's
 * invocations and what `ol-exp fit-tree` reads.
 */
import { appendFileSync } from 'node:fs';

/** How a request got its sandbox. */
export type StartKind = 'warm' | 'unpaused' | 'cold';

/** One invocation's record (with `record` on, one JSON line each). */
export interface InvocationRecord {
  lambda: string;
  arrival_ms: number;
  start: StartKind | 'failed';
  queue_ms: number;
  create_ms: number;
  unpause_ms: number;
  handler_ms: number;
  total_ms: number;
  status: number;
  /** Installed packages of the lambda (its closure), by name. */
  packages?: string[];
  /** On a cold start: the import-cache node its sandbox was forked from; null when it started fresh. */
  zygote?: string | null;
}

export class Recorder {
  constructor(readonly path: string | undefined, readonly log?: { error(obj: unknown, msg?: string): void }) {}

  /** Appends one record (nothing when recording is off); a write error is logged, never thrown. */
  write(rec: InvocationRecord): void {
    if (!this.path) return;
    try {
      appendFileSync(this.path, JSON.stringify(rec) + '\n');
    } catch (e) {
      this.log?.error({ err: e }, `cannot append to ${this.path}`);
    }
  }
}
