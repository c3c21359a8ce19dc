/**
 * The parity test: one scripted sequence of arrivals (with crashes and
 * memory pressure) through the simulator and through the worker's lambda
 * manager (a fake sandbox backend whose operations take their time on a
 * virtual clock), for every registered policy, with zygotes off and on.
 * Both sides must make the same decisions, event by event and at the same
 * times: which sandbox serves each request, which is created, which
 * victims, pause / keep / expire, hand-over, queue order, zygote evictions.
 * If either side changes a rule alone, the two streams part. A short
 * hand-made script checks one rule the seeded one does not reach: the
 * most recently idle sandbox serves, also after an eviction.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRng } from '../../common/rng.js';
import { VirtualClock } from '../../core/clock.js';
import { evictionPolicies } from '../../core/policies/index.js';
import type { PoolDecision } from '../../core/pool.js';
import { resolveSimConfig } from '../../sim/config.js';
import { ImportCacheModel } from '../../sim/import-cache.js';
import { compileProfile, constantProfile } from '../../sim/profile.js';
import { Simulator } from '../../sim/simulator.js';
import { ArrayTraceSource, type InvocationRow } from '../../traces/memory.js';
import { defaultConfig } from '../../worker/config.js';
import { LambdaManager } from '../../worker/manager.js';
import { Registry } from '../../worker/registry.js';
import type { CleanupReport, RuntimeReply, Sandbox, SandboxPool, SandboxSpec } from '../../worker/sandbox/api.js';
import type { SockZygote } from '../../worker/sandbox/sock.js';
import { WorkerStats } from '../../worker/stats.js';

/** Costs on both sides: a fresh sandbox (and the root zygote) 10.25 ms, a fork 3.5 ms, everything else free. */
const CREATE_MS = 10.25;
const FORK_MS = 3.5;
const ZYGOTE_MB = 60;
const POOL_MB = 520;
const FNS: Record<string, number> = { a: 100, b: 150, c: 200, d: 120, e: 250 };

interface Step extends InvocationRow { crash: boolean }

/** A seeded script: bursts that overflow the pool (queueing, hand-overs), lulls (keep-alive expiries), crashes. */
function script(seed: number, n = 90): Step[] {
  const rng = makeRng(seed, 'parity');
  const names = Object.keys(FNS);
  const out: Step[] = [];
  let t = 0.5;
  for (let i = 0; i < n; i++) {
    t += i % 30 < 22 ? rng() * 12 : 80 + rng() * 400; // bursts, then lulls
    const fn = names[Math.floor(Math.pow(rng(), 1.6) * names.length)]!; // skewed popularity
    out.push({ t, fn, dur: 5 + rng() * 60, mem: FNS[fn]!, crash: rng() < 0.06 });
  }
  // a timer-driven function, every ~90 ms: what hist learns to pre-warm
  for (let p = 3.3; p < t; p += 85 + rng() * 10) out.push({ t: p, fn: 'd', dur: 2 + rng(), mem: FNS.d!, crash: false });
  return out.sort((x, y) => x.t - y.t);
}

/** Policy options that make keep-alive and pre-warming happen within a short script. */
const OPTIONS: Record<string, Record<string, number>> = {
  ttl: { keepAliveMs: 150 },
  hist: { binMs: 10, rangeMs: 600, minSamples: 3, fallbackKeepAliveMs: 200 },
};

const fmt = (t: number) => t.toFixed(6);
/**
 * Whether the drain's head holds the queue depends on how long a destroy
 * takes (the simulator's zero-cost destroy frees memory at once; the
 * worker's settles a moment later): a cost-model matter, so `hold` lines
 * are left out. What follows a hold (the head's cold start, or a hand-over
 * to it) is compared.
 */
const decision = (kind: PoolDecision) => kind !== 'hold';
const line = (t: number, k: PoolDecision, fn: string, sb: number, seq: number) => `${fmt(t)} ${k} ${fn} sb${sb} #${seq}`;

function simulate(steps: Step[], policy: string, zygotes: boolean): string[] {
  const log: string[] = [];
  const src = new ArrayTraceSource(steps.map(({ t, fn, dur, mem }) => ({ t, fn, dur, mem })));
  const base = constantProfile({ create: CREATE_MS, runtimeStart: 0, unpause: 0, destroy: 0, warmDispatch: 0, pause: 0 });
  const costs = compileProfile({ ...base, costs: { ...base.costs, fork: { kind: 'constant', ms: FORK_MS } } });
  const config = resolveSimConfig({ policy, policyOptions: OPTIONS[policy] ?? {}, memoryMb: POOL_MB, cores: Infinity, seed: 1 });
  const model = zygotes
    ? new ImportCacheModel({ tree: { packages: [], children: [] }, fnPackages: [], importMs: () => 0, installMs: () => 0, fork: costs.fork!, zygoteMb: ZYGOTE_MB, rng: makeRng(1, 't') })
    : undefined;
  let sim!: Simulator;
  sim = new Simulator(config, costs, src.functions, {
    crashes: (inv) => steps[inv]!.crash,
    decisions: (k, fn, sb, seq) => { if (decision(k)) log.push(line(sim.clock.now(), k, fn, sb, seq)); },
  }, model);
  sim.run(src.batches());
  return log;
}

/** A sandbox backend whose every operation takes its time on the virtual clock. */
class ClockedPool implements SandboxPool {
  readonly name = 'sock' as const;
  live = 0;
  constructor(readonly clock: VirtualClock) {}
  on(): void {}
  #after(ms: number): Promise<void> {
    return new Promise((r) => this.clock.schedule(this.clock.now() + ms, r));
  }
  async runJob(): Promise<unknown> {
    throw new Error('no jobs in the parity test');
  }
  async createZygote(spec: { id: string }): Promise<SockZygote> {
    await this.#after(CREATE_MS);
    let alive = true;
    return { id: spec.id, alive: () => alive, destroy: async () => { alive = false; } } as unknown as SockZygote;
  }
  async create(spec: SandboxSpec & { zygote?: unknown }): Promise<Sandbox> {
    await this.#after(spec.zygote ? FORK_MS : CREATE_MS);
    this.live++;
    const pool = this;
    let dead = false;
    return {
      id: spec.id, lambda: spec.lambda, socketPath: '/nonexistent', createMs: 0,
      async invoke({ body }: { body: Buffer }): Promise<RuntimeReply> {
        const req = JSON.parse(body.toString()) as { dur: number; crash: boolean };
        await pool.#after(req.dur);
        if (req.crash) {
          dead = true;
          throw new Error('connection reset');
        }
        return { status: 200, contentType: 'application/json', body: Buffer.from('{}') };
      },
      async pause() {},
      async unpause() {},
      async diagnose() { return dead ? 'exited' : 'alive'; },
      async destroy() { pool.live--; },
    };
  }
  async cleanup(): Promise<CleanupReport> { return { processes: 0, cgroups: 0, containers: 0, dirs: 0 }; }
  async census(): Promise<CleanupReport> { return { processes: this.live, cgroups: 0, containers: 0, dirs: 0 }; }
}

/** Lets every promise and file operation that the last event started settle, without moving the virtual clock. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function work(steps: Step[], policy: string, zygotes: boolean): Promise<{ log: string[]; live: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ol-parity-'));
  dirs.push(dir);
  const clock = new VirtualClock();
  const c = {
    ...defaultConfig(dir), policy, policy_options: OPTIONS[policy] ?? {}, mem_pool_mb: POOL_MB, queue_limit: 1e9,
    registry_cache_ms: 1e15, import_cache: zygotes, zygote_mem_mb: ZYGOTE_MB,
  };
  c.limits = { ...c.limits, time_limit_ms: 1e9 };
  for (const [name, mem] of Object.entries(FNS)) {
    mkdirSync(join(c.registry, name), { recursive: true });
    writeFileSync(join(c.registry, name, 'f.py'), 'def f(event):\n    return event\n');
    writeFileSync(join(c.registry, name, 'ol.yaml'), `limits:\n  mem_mb: ${mem}\n`);
  }
  const registry = new Registry({ dir: c.registry, codeDir: join(dir, 'code'), cacheMs: 1e15, maxBytes: 1e9, poolMb: POOL_MB, now: () => clock.now() });
  for (const name of Object.keys(FNS)) await registry.get(name); // loaded before the script: no file I/O inside it
  const pool = new ClockedPool(clock);
  const log: string[] = [];
  const m = new LambdaManager({
    config: c, pool, registry, stats: new WorkerStats(), clock, rng: makeRng(1, 'sim/policy'),
    decisions: (k, fn, sb, seq) => { if (decision(k)) log.push(line(clock.now(), k, fn, sb, seq)); },
  });
  const calls: Promise<unknown>[] = [];
  let done = 0;
  for (const s of steps) {
    while (clock.peekTime() < s.t) {
      clock.step();
      await settle();
    }
    clock.advanceTo(s.t);
    calls.push(m.invoke(s.fn, { method: 'POST', path: '/', body: Buffer.from(JSON.stringify({ dur: s.dur, crash: s.crash })) }).catch((e) => e).finally(() => done++));
    await settle();
  }
  // as the simulator: run until the last request is answered, no further
  while (done < calls.length) {
    if (!clock.step()) throw new Error(`${calls.length - done} requests never finished`);
    await settle();
  }
  await Promise.all(calls);
  const upTo = log.length; // the shutdown's destroys are not the simulator's business
  await m.close();
  return { log: log.slice(0, upTo), live: pool.live };
}

describe('parity: the simulator and the worker make the same decisions', () => {
  const steps = script(7);

  it('the script exercises every kind of decision it is meant to', () => {
    const kinds = new Set(simulate(steps, 'openlambda', true).map((l) => l.split(' ')[1]));
    for (const k of ['cold', 'unpause', 'queue', 'handover', 'evict', 'pause', 'zygote-evict', 'destroy']) expect(kinds, k).toContain(k);
    const ttl = new Set(simulate(steps, 'ttl', false).map((l) => l.split(' ')[1]));
    for (const k of ['warm', 'idle', 'expire', 'evict', 'handover']) expect(ttl, k).toContain(k);
    const hist = new Set(simulate(steps, 'hist', false).map((l) => l.split(' ')[1]));
    for (const k of ['unload', 'prewarm']) expect(hist, k).toContain(k);
  });

  it('a request takes the most recently idle sandbox, also after an older one of its function was evicted (lru)', async () => {
    // three sandboxes of a go idle in turn; e evicts the oldest of them; a's next call takes the newest
    const hand: Step[] = [
      { t: 1, fn: 'a', dur: 10, mem: FNS.a!, crash: false },
      { t: 1, fn: 'a', dur: 20, mem: FNS.a!, crash: false },
      { t: 1, fn: 'a', dur: 30, mem: FNS.a!, crash: false },
      { t: 100, fn: 'e', dur: 5, mem: FNS.e!, crash: false },
      { t: 200, fn: 'a', dur: 5, mem: FNS.a!, crash: false },
    ];
    const sim = simulate(hand, 'lru', false);
    const real = await work(hand, 'lru', false);
    expect(real.log).toEqual(sim);
    expect(sim.filter((l) => / (evict|warm) /.test(l)).map((l) => l.split(' ').slice(1).join(' '))).toEqual(['evict a sb0 #-1', 'warm a sb2 #4']);
  });

  for (const policy of Object.keys(evictionPolicies)) {
    for (const zygotes of [false, true]) {
      it(`${policy}, zygotes ${zygotes ? 'on' : 'off'}`, async () => {
        const sim = simulate(steps, policy, zygotes);
        const real = await work(steps, policy, zygotes);
        expect(sim.length).toBeGreaterThan(steps.length);
        // the first decision where they part, with its neighbours, is what a failure shows
        const k = sim.findIndex((l, i) => l !== real.log[i]);
        const at = k < 0 ? Math.min(sim.length, real.log.length) : k;
        expect(real.log.slice(Math.max(0, at - 6), at + 4)).toEqual(sim.slice(Math.max(0, at - 6), at + 4));
        expect(real.log).toEqual(sim);
        expect(real.live).toBe(0);
      });
    }
  }
});
