/**
 * Parity of placement (root, scripts/setup-host.sh): one scripted sequence
 * of requests through the real boss over three real workers, and through
 * the simulated cluster, must land on the same workers, call by call, for
 * balancers that read each part of the view: in-flight counts
 * (least-loaded, pasch, p2c with its random draws), free memory
 * (openwhisk) and warm sandboxes (hermod).
 *
 * The sequence is built so both sides see the same state at every pick:
 * requests 700 ms apart, each either answered at once or held past the end
 * of the sequence; pools of 256 MB so memory runs short; no zygotes. The
 * boss reads its workers every 50 ms and the simulated front at every
 * arrival, so each pick sees the state the previous calls left. A
 * difference is then a rule one side applies and the other does not:
 * exactly what the promise of one decision code forbids.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeUnlessMounted } from '../../common/fs.js';
import { checkBossConfig, defaultBossConfig } from '../../boss/config.js';
import { buildBoss } from '../../boss/server.js';
import { freePortRun } from '../../experiments/worker-process.js';
import { ClusterSimulator } from '../../sim/cluster.js';
import { resolveSimConfig } from '../../sim/config.js';
import { compileProfile, constantProfile } from '../../sim/profile.js';
import { newBatch } from '../../traces/types.js';
import { prerequisites } from './real-worker.js';

const LAMBDAS = [
  { name: 'p0', memMb: 64 }, { name: 'p1', memMb: 128 }, { name: 'p2', memMb: 64 }, { name: 'p3', memMb: 96 }, { name: 'p4', memMb: 64 },
];
const HOLD_S = 14;
const GAP_MS = 700;
/** (lambda, held) in order: held ones answer after the whole sequence. */
const SEQUENCE: [number, boolean][] = [
  [0, true], [1, false], [0, false], [2, true], [3, false], [1, true], [4, false], [0, false], [2, false],
  [3, true], [4, false], [1, false], [0, true], [2, false], [3, false], [4, true], [1, false], [0, false],
];
const SRC = 'import time\ndef f(e):\n    time.sleep(e.get("hold", 0))\n    return e\n';
const POOL_MB = 256;

const dir = mkdtempSync(join(tmpdir(), 'ol-par-'));
afterAll(() => removeUnlessMounted(dir));

function simulatedPicks(balancer: string): number[] {
  const functions = LAMBDAS.map((l) => ({ name: l.name }));
  const b = newBatch(SEQUENCE.length);
  SEQUENCE.forEach(([fn, held], k) => {
    b.t[k] = k * GAP_MS;
    b.fn[k] = fn;
    b.dur[k] = held ? HOLD_S * 1000 : 1;
    b.mem[k] = LAMBDAS[fn]!.memMb;
  });
  b.length = SEQUENCE.length;
  const config = resolveSimConfig({ policy: 'lru', memoryMb: POOL_MB, cores: Infinity, queue: 'wait', seed: 1 });
  const picks: number[] = [];
  const sim = new ClusterSimulator(config, compileProfile(constantProfile({})), functions, {
    balancer, workers: [0, 1, 2].map(() => ({ memoryMb: POOL_MB, cores: Infinity })), hopMs: 0, viewRefreshMs: 10,
    onPlace: (_k, w) => picks.push(w),
  });
  sim.run([b]);
  return picks;
}

function post(port: number, name: string, body: string): Promise<{ status: number; worker: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/run/${name}`, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, worker: Number(res.headers['x-ol-worker'] ?? -1) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function realPicks(balancer: string): Promise<number[]> {
  const d = join(dir, balancer.slice(0, 2));
  const c = checkBossConfig({
    ...defaultBossConfig(d), port: await freePortRun(3), workers: 3, balancer, seed: 1, view_refresh_ms: 50, log_level: 'warn',
    worker: { mem_pool_mb: POOL_MB, policy: 'lru', import_cache: false, registry_cache_ms: 0, limits: { mem_mb: 64, time_limit_ms: 60_000 } },
  } as unknown as Record<string, unknown>);
  for (const l of LAMBDAS) {
    mkdirSync(join(c.registry, l.name), { recursive: true });
    writeFileSync(join(c.registry, l.name, 'f.py'), SRC);
    writeFileSync(join(c.registry, l.name, 'ol.yaml'), `limits:\n  mem_mb: ${l.memMb}\n`);
  }
  const boss = buildBoss(c);
  await boss.start();
  await boss.app.listen({ host: '127.0.0.1', port: c.port });
  try {
    const answers: Promise<{ status: number; worker: number }>[] = [];
    const t0 = performance.now();
    for (const [k, [fn, held]] of SEQUENCE.entries()) {
      const wait = t0 + k * GAP_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const p = post(c.port, LAMBDAS[fn]!.name, JSON.stringify({ hold: held ? HOLD_S : 0 }));
      answers.push(p);
      // a call answered at once is done well before the next slot, unless it waits for memory held by
      // others: then it is in flight at the next pick, as in the simulation (never awaited past its slot)
      if (!held) await Promise.race([p, new Promise((r) => setTimeout(r, GAP_MS / 2))]);
    }
    const got = await Promise.all(answers);
    expect(got.map((g) => g.status)).toEqual(SEQUENCE.map(() => 200));
    return got.map((g) => g.worker);
  } finally {
    await boss.close();
  }
}

describe('the real boss and the simulated front place alike (sock, needs root)', () => {
  for (const balancer of ['least-loaded', 'openwhisk', 'hermod', 'pasch', 'p2c']) {
    it(`${balancer}: the same worker for every call of the sequence`, async () => {
      const why = prerequisites('sock');
      if (why) throw new Error(why);
      const sim = simulatedPicks(balancer);
      expect(sim).toHaveLength(SEQUENCE.length);
      // the scenario exercises the balancer: more than one worker is chosen
      expect(new Set(sim).size).toBeGreaterThan(1);
      expect((await realPicks(balancer)).join(' ')).toBe(sim.join(' '));
    }, 90_000);
  }
});
