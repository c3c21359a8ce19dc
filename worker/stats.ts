/**
 * The worker's counters and per-stage latencies, served as JSON (`/stats`)
 * and in Prometheus text format (`/metrics`). Stages: queue (waiting for
 * memory or a sandbox), create (a cold start's sandbox creation), unpause,
 * handler (the round trip to the runtime), total (arrival to reply),
 * install (one package into the package cache), zygote (making one zygote).
 */
import { LatencyHistogram } from '../common/histogram.js';

export const STAGES = ['queue', 'create', 'unpause', 'evict', 'handler', 'total', 'install', 'zygote'] as const;
export type Stage = (typeof STAGES)[number];

/** OpenLambda's timer names for ol-lab's stages. */
const OL_TIMERS: [string, Stage][] = [
  ['LambdaFunc.Invoke', 'total'], ['LambdaInstance-RoundTrip', 'handler'], ['Create()', 'create'],
  ['Unpause()', 'unpause'], ['pull-package', 'install'], ['evict', 'evict'],
];
/** OpenLambda's timer names for events ol-lab counts without timing. */
const OL_COUNTS: [string, string][] = [['Destroy()', 'sandboxes_destroyed'], ['Pause()', 'pauses'], ['ImportCache.Create', 'zygote_forks']];

export class WorkerStats {
  readonly counters: Record<string, number> = {
    requests: 0, cold: 0, warm: 0, unpaused: 0, queued: 0, rejected_queue_full: 0,
    handler_errors: 0, timeouts: 0, oom_kills: 0, crashes: 0, start_failures: 0,
    sandboxes_created: 0, sandboxes_destroyed: 0, evictions: 0, expirations: 0, pauses: 0, downsized: 0, prewarms: 0,
    package_installs: 0, package_cache_hits: 0, package_install_failures: 0,
    zygotes_created: 0, zygote_forks: 0, zygote_fallbacks: 0, zygote_deaths: 0, zygote_evictions: 0, zygote_failures: 0, zygote_no_memory: 0,
  };
  readonly #stages = new Map<Stage, LatencyHistogram>(STAGES.map((s) => [s, new LatencyHistogram(10)]));

  count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }

  time(stage: Stage, ms: number): void {
    this.#stages.get(stage)!.record(Math.max(0, ms));
  }

  /**
   * JSON for `/stats`: ol-lab's counters, gauges and stages, and beside them
   * the flat `<name>.cnt` / `<name>.ms-avg` entries OpenLambda's worker
   * reports under its own timer names, for clients and tests written
   * against OpenLambda (its test script reads `pull-package.cnt`).
   */
  toJSON(gauges: Record<string, number>): Record<string, unknown> {
    const stages: Record<string, unknown> = {};
    for (const [k, h] of this.#stages) {
      stages[k] = { count: h.count, mean_ms: h.count ? h.mean : 0, p50_ms: h.count ? h.percentile(50) : 0, p99_ms: h.count ? h.percentile(99) : 0 };
    }
    return { ...this.openLambda(), counters: { ...this.counters }, gauges, stages };
  }

  /** OpenLambda's names for what ol-lab measures (its `common.T0` timers; ms-avg in whole ms, as OpenLambda's). */
  openLambda(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, stage] of OL_TIMERS) {
      const h = this.#stages.get(stage)!;
      out[`${name}.cnt`] = h.count;
      if (h.count) out[`${name}.ms-avg`] = Math.floor(h.mean);
    }
    for (const [name, counter] of OL_COUNTS) out[`${name}.cnt`] = this.counters[counter] ?? 0;
    return out;
  }

  /** Prometheus text exposition for `/metrics`. */
  prometheus(gauges: Record<string, number>): string {
    const out: string[] = [];
    for (const [k, v] of Object.entries(this.counters)) {
      out.push(`# TYPE ol_${k}_total counter`, `ol_${k}_total ${v}`);
    }
    for (const [k, v] of Object.entries(gauges)) out.push(`# TYPE ol_${k} gauge`, `ol_${k} ${v}`);
    out.push('# HELP ol_stage_ms Latency of each request stage, milliseconds', '# TYPE ol_stage_ms summary');
    for (const [k, h] of this.#stages) {
      for (const q of [0.5, 0.9, 0.99]) out.push(`ol_stage_ms{stage="${k}",quantile="${q}"} ${h.count ? h.percentile(q * 100) : 0}`);
      out.push(`ol_stage_ms_sum{stage="${k}"} ${h.sum}`, `ol_stage_ms_count{stage="${k}"} ${h.count}`);
    }
    return out.join('\n') + '\n';
  }
}
