/**
 * `ol-exp calibrate --hop`: what a cluster front adds to a call. One worker
 * with a warm noop lambda, and `ol-boss up` adopting it; warm calls go
 * alternately straight to the worker and through the boss, one at a time
 * with a pause between, so both see the same machine moment by moment. The
 * hop is the median of the paired differences (through − straight), the
 * simulator's `--hop-ms` default (profile `extra.hopMs`); every difference
 * is kept (`extra.hopSamples`).
 *
 * It measures the boss's path on loopback: a front on another machine adds
 * the network's round trip, which a researcher gives with `--hop-ms`.
 */
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import { removeUnlessMounted } from '../common/fs.js';
import { median } from '../common/stats.js';
import { call, NOOP } from './calibrate.js';
import { spawnFront, spawnWorker } from './worker-process.js';

const GAP_MS = 10;

export interface HopFigures {
  /** Median of the paired differences, ms (never below 0). */
  hopMs: number;
  /** Each pair's difference, ms (may be negative: noise). */
  hopSamples: number[];
  /** Medians of the two sides, ms. */
  straightMs: number;
  throughMs: number;
}

export async function measureHop(o: { backend: 'sock' | 'docker'; n: number; log: (s: string) => void }): Promise<HopFigures> {
  if (!(Number.isInteger(o.n) && o.n >= 5)) throw new OlError('OL_ERR_CONFIG', `hop samples: a whole number >= 5, got ${o.n}`);
  o.log(`the hop through ol-boss (${o.n} pairs of warm calls, straight and through the boss)`);
  const w = await spawnWorker({ sandbox: o.backend, policy: 'lru', mem_pool_mb: 1024, limits: { mem_mb: 64 } }, [{ name: 'hop', src: NOOP }]);
  const dir = mkdtempSync(join(tmpdir(), 'ol-exp-hop-'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    const front = await spawnFront('boss', dir, ['workers=0', `adopt=${JSON.stringify([w.base.origin])}`, 'log_level="warn"', `registry=${JSON.stringify(join(w.dir, 'registry'))}`], 0);
    try {
      // warm the sandbox and both connection pools
      for (let i = 0; i < 5; i++) {
        await call(w.base, 'hop', '1', agent);
        await call(front.base, 'hop', '1', agent);
      }
      const diffs: number[] = [], straight: number[] = [], through: number[] = [];
      for (let i = 0; i < o.n; i++) {
        // alternate which goes first, so neither side always follows a pause
        const first = i % 2 === 0;
        const a = first ? await call(w.base, 'hop', '1', agent) : 0;
        await new Promise((r) => setTimeout(r, GAP_MS));
        const b = await call(front.base, 'hop', '1', agent);
        await new Promise((r) => setTimeout(r, GAP_MS));
        const s = first ? a : await call(w.base, 'hop', '1', agent);
        await new Promise((r) => setTimeout(r, GAP_MS));
        straight.push(s);
        through.push(b);
        diffs.push(Math.round((b - s) * 1000) / 1000);
      }
      const hopMs = Math.max(0, Math.round(median(diffs) * 1000) / 1000);
      o.log(`  straight ${median(straight).toFixed(2)} ms, through the boss ${median(through).toFixed(2)} ms: hop ${hopMs.toFixed(3)} ms`);
      return { hopMs, hopSamples: diffs, straightMs: median(straight), throughMs: median(through) };
    } finally {
      await front.stop();
    }
  } finally {
    agent.destroy();
    await w.stop();
    removeUnlessMounted(dir);
  }
}
