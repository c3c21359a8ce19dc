import { describe, expect, it } from 'vitest';
import { isOlError } from '../../common/errors.js';
import type { SandboxView } from '../../core/policy.js';
import { createPolicy, evictionPolicies, resolvePolicyOptions } from '../../core/policies/index.js';
import { HistogramPolicy } from '../../core/policies/hist.js';
import { makeRng } from '../../common/rng.js';

function sb(id: number, fnId: number, memMb = 100, coldStartMs = 10): SandboxView {
  return { id, fnId, fn: `f${fnId}`, memMb, state: 'idle', createdAt: 0, lastUsedAt: 0, uses: 0, coldStartMs, policySlot: undefined };
}
const ctx = { capacityMb: 1000, rng: makeRng(1, 'p') };

describe('policy registry', () => {
  it('an unknown name fails with the list of valid names', () => {
    try {
      createPolicy('nope', ctx);
      expect.unreachable();
    } catch (e) {
      expect(isOlError(e, 'OL_ERR_UNKNOWN_NAME')).toBe(true);
      expect((e as Error).message).toBe(`unknown policy "nope"; valid policy names: ${Object.keys(evictionPolicies).sort().join(', ')}`);
    }
  });

  it('rejects unknown and out-of-range options, naming them', () => {
    expect(() => resolvePolicyOptions('ttl', { keepAlive: 5 })).toThrow(/policy option keepAlive: policy ttl has options keepAliveMs/);
    expect(() => resolvePolicyOptions('ttl', { keepAliveMs: -1 })).toThrow(/keepAliveMs: must be >= 0/);
    expect(resolvePolicyOptions('ttl')).toEqual({ keepAliveMs: 600_000 });
  });

  it('every policy cites a source and describes itself', () => {
    for (const [name, f] of Object.entries(evictionPolicies)) {
      expect(f.describe.length, name).toBeGreaterThan(10);
      expect(f.source.length, name).toBeGreaterThan(10);
    }
  });
});

describe('lru', () => {
  it('evicts the least recently idled sandbox and forgets busy ones', () => {
    const p = createPolicy('lru', ctx);
    const [a, b, c] = [sb(0, 0), sb(1, 1), sb(2, 2)];
    for (const s of [a, b, c]) { p.onCreate(s, 0); p.onBusy(s, 0); }
    p.onIdle(a, 1, 'finished'); p.onIdle(b, 2, 'finished'); p.onIdle(c, 3, 'finished');
    expect(p.victim(4)).toBe(a);
    p.onBusy(a, 4);
    expect(p.victim(4)).toBe(b);
    p.onDestroy(b, 5, 'evicted');
    expect(p.victim(5)).toBe(c);
  });
});

describe('gdsf', () => {
  it('priority = clock + frequency x cost / size, and the clock rises to each victim', () => {
    const p = createPolicy('gdsf', ctx);
    // f0: 3 calls, cost 30, 100 MB -> 0.9 ; f1: 1 call, cost 100, 50 MB -> 2 ; f2: 1 call, cost 10, 100 MB -> 0.1
    const a = sb(0, 0, 100, 30), b = sb(1, 1, 50, 100), c = sb(2, 2, 100, 10);
    p.onInvoke(0, 0); p.onInvoke(0, 0); p.onInvoke(0, 0); p.onInvoke(1, 0); p.onInvoke(2, 0);
    for (const s of [a, b, c]) { p.onCreate(s, 0); p.onBusy(s, 0); p.onIdle(s, 1, 'finished'); }
    expect(p.victim(2)).toBe(c);
    p.onDestroy(c, 2, 'evicted');
    expect(p.stats().clock).toBeCloseTo(0.1, 12);
    expect(p.victim(2)).toBe(a);
    p.onDestroy(a, 2, 'evicted');
    expect(p.stats().clock).toBeCloseTo(0.9, 12);
    // a new idle sandbox of f2 now ranks at clock + 1 x 10/100 = 1.0, below b's 2
    const d = sb(3, 2, 100, 10);
    p.onInvoke(2, 3); p.onCreate(d, 3); p.onBusy(d, 3); p.onIdle(d, 4, 'finished');
    expect(p.victim(5)).toBe(d);
  });
});

describe('hist', () => {
  const opts = resolvePolicyOptions('hist');

  function feed(p: HistogramPolicy, gapsMin: number[]) {
    const s = sb(0, 0);
    p.onCreate(s, 0);
    let t = 0;
    p.onInvoke(0, t); p.onBusy(s, t); t += 1; p.onIdle(s, t, 'finished');
    for (const g of gapsMin) {
      t += g * 60_000;
      p.onInvoke(0, t); p.onBusy(s, t); t += 1; p.onIdle(s, t, 'finished');
    }
  }

  it('falls back to the fixed keep-alive with too few idle times', () => {
    const p = new HistogramPolicy(opts);
    feed(p, [10, 10]);
    expect(p.windows(0)).toEqual({ prewarmMs: 0, keepAliveMs: 4 * 3_600_000, kind: 'few' });
  });

  it('pre-warms from the head and keeps alive to the tail, with 10% margins', () => {
    const p = new HistogramPolicy(opts);
    // idle times all 30.x minutes: head = tail = bin 30 -> pre-warm floor(30 min x 0.9) = 27 min;
    // keep-alive = ceil(31 min x 1.1) - 27 min = 34.1 - 27 = 7.1 min
    feed(p, Array(20).fill(30));
    const w = p.windows(0);
    expect(w.kind).toBe('histogram');
    expect(w.prewarmMs).toBe(27 * 60_000);
    expect(w.keepAliveMs).toBe(Math.ceil(31 * 60_000 * 1.1) - 27 * 60_000);
  });

  it('treats a flat histogram as not representative', () => {
    const p = new HistogramPolicy({ ...opts, cvThreshold: 1000 });
    feed(p, Array(20).fill(30));
    expect(p.windows(0).kind).toBe('flat');
  });

  it('counts idle times past the range and falls back when they dominate', () => {
    const p = new HistogramPolicy(opts);
    feed(p, Array(10).fill(300)); // 5 h > 4 h range
    expect(p.windows(0).kind).toBe('oob');
  });
});

describe('openlambda', () => {
  it('pauses every idle sandbox, evicts in pause order, wants 20% free', () => {
    const p = createPolicy('openlambda', ctx);
    expect(p.freeTargetMb).toBe(200);
    const a = sb(0, 0), b = sb(1, 1);
    for (const s of [a, b]) { p.onCreate(s, 0); p.onBusy(s, 0); }
    expect(p.onIdle(b, 1, 'finished')).toEqual({ pause: true, keepAliveMs: Infinity });
    p.onIdle(a, 2, 'finished');
    expect(p.victim(3)).toBe(b);
  });
});

describe('rand, freq, size', () => {
  it('rand picks among idle sandboxes only, reproducibly', () => {
    const pick = () => {
      const p = createPolicy('rand', { capacityMb: 1000, rng: makeRng(9, 'r') });
      const s = [0, 1, 2, 3].map((i) => sb(i, i));
      for (const x of s) { p.onCreate(x, 0); p.onBusy(x, 0); p.onIdle(x, 1, 'finished'); }
      p.onBusy(s[2]!, 2);
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push(p.victim(3)!.id);
      return out;
    };
    const a = pick();
    expect(a).toEqual(pick());
    expect(a).not.toContain(2);
  });

  it('freq evicts the least-invoked function; size the largest sandbox', () => {
    const f = createPolicy('freq', ctx), z = createPolicy('size', ctx);
    f.onInvoke(0, 0); f.onInvoke(0, 0); f.onInvoke(1, 0);
    const idle = (p: typeof f) => {
      const a = sb(0, 0, 100), b = sb(1, 1, 500);
      for (const s of [a, b]) { p.onCreate(s, 0); p.onBusy(s, 0); p.onIdle(s, 1, 'finished'); }
      return [a, b] as const;
    };
    const [fa, fb] = idle(f);
    expect(f.victim(2)).toBe(fb); // f1 was invoked once, f0 twice
    expect(fa).toBeDefined();
    const [, zb] = idle(z);
    expect(z.victim(2)).toBe(zb); // 500 MB goes before 100 MB
  });
});
