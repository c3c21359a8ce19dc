/**
 * Each balancer on hand-worked cases: which worker, in order, with the
 * loads, free memory and warm sandboxes given. Hash-based ones are checked
 * against the rule (home = hash mod n, the ring's clockwise order) with the
 * hash computed here, then on what happens around the home.
 */
import { describe, expect, it } from 'vitest';
import { HashRing, keyHash, type PlacementRequest, type WorkerView } from '../../core/balancer.js';
import { balancers, createBalancer } from '../../core/balancers/index.js';
import { coprimeSteps } from '../../core/balancers/openwhisk.js';
import { ImportTree } from '../../core/import-tree.js';
import { makeRng } from '../../common/rng.js';

/** Workers with the given in-flight loads; `down` unhealthy; free memory and warm counts as given. */
function views(loads: number[], o: { down?: number[]; free?: number[]; warm?: Record<number, string[]> } = {}): WorkerView[] {
  return loads.map((l, i) => ({
    index: i, healthy: !(o.down ?? []).includes(i), inFlight: l, freeMb: o.free?.[i] ?? 1024,
    warm: (fn: string) => ((o.warm?.[i] ?? []).includes(fn) ? 1 : 0),
  }));
}

const req = (fn: string, packages: string[] = [], memMb = 128): PlacementRequest => ({ fn, memMb, packages });

/** A stand-in rng returning the given draws in turn. */
function draws(...xs: number[]) {
  let i = 0;
  return () => xs[i++ % xs.length]!;
}

describe('balancers', () => {
  it('round-robin: each healthy worker in turn, skipping a down one', () => {
    const b = createBalancer('round-robin', { workers: 3, rng: makeRng(1, 't') });
    const w = views([0, 0, 0]);
    expect([0, 1, 2, 3].map(() => b.pick(req('f'), w))).toEqual([0, 1, 2, 0]);
    const down = views([0, 0, 0], { down: [2] });
    expect([0, 1, 2].map(() => b.pick(req('f'), down))).toEqual([1, 0, 1]);
    expect(b.pick(req('f'), views([0, 0], { down: [0, 1] }))).toBe(-1);
  });

  it('random: uniform over the healthy ones', () => {
    const b = createBalancer('random', { workers: 3, rng: draws(0.5, 0.1, 0.9, 0.6) });
    const w = views([0, 0, 0]);
    expect([b.pick(req('f'), w), b.pick(req('f'), w), b.pick(req('f'), w)]).toEqual([1, 0, 2]);
    // 0.6 over the two healthy (0 and 2): the second
    expect(b.pick(req('f'), views([0, 0, 0], { down: [1] }))).toBe(2);
  });

  it('least-loaded: fewest in flight; ties go round-robin', () => {
    const b = createBalancer('least-loaded', { workers: 3, rng: makeRng(1, 't') });
    expect(b.pick(req('f'), views([3, 1, 1]))).toBe(1);
    expect(b.pick(req('f'), views([3, 1, 1]))).toBe(2); // the tie, from the cursor after 1
    expect(b.pick(req('f'), views([3, 1, 1]))).toBe(1);
    expect(b.pick(req('f'), views([0, 1, 1], { down: [0] }))).toBe(2); // the cursor is past 1: the tie goes to 2
  });

  it('p2c: two distinct draws, fewer in flight wins, the first on a tie', () => {
    // draws 0.0 -> worker 0, 0.6 of the other two -> worker 2 (index 1 skipped past 0)
    const b = createBalancer('p2c', { workers: 3, rng: draws(0.0, 0.6) });
    expect(b.pick(req('f'), views([5, 2, 1]))).toBe(2);
    const c = createBalancer('p2c', { workers: 3, rng: draws(0.7, 0.0) }); // worker 2, then worker 0
    expect(c.pick(req('f'), views([5, 2, 1]))).toBe(2);
    expect(c.pick(req('f'), views([1, 2, 1]))).toBe(2); // tie: the first draw
    expect(c.pick(req('f'), views([1, 2, 1], { down: [0, 2] }))).toBe(1);
    // given the front's sums: all healthy, the same draws pick the same workers without listing them; some down, as without
    const rng = makeRng(9, 'p2c-totals');
    const given = createBalancer('p2c', { workers: 12, rng: makeRng(2, 't') }), bare = createBalancer('p2c', { workers: 12, rng: makeRng(2, 't') });
    for (let i = 0; i < 400; i++) {
      const down = i % 2 ? [] : Array.from({ length: 12 }, (_, k) => k).filter(() => rng() < 0.3);
      const ws = views(Array.from({ length: 12 }, () => Math.floor(rng() * 6)), { down });
      const totals = { healthy: 12 - down.length, inFlight: ws.reduce((a, w) => a + (w.healthy ? w.inFlight : 0), 0) };
      expect(given.pick(req('f'), ws, totals), `pick ${i}`).toBe(bare.pick(req('f'), ws));
    }
  });

  it("hash: the name's home, the same every time; a down home passes to the next healthy", () => {
    const b = createBalancer('hash', { workers: 5, rng: makeRng(1, 't') });
    const home = keyHash('resize-image') % 5;
    expect(b.pick(req('resize-image'), views([9, 9, 9, 9, 9]))).toBe(home);
    expect(b.pick(req('resize-image'), views([0, 0, 0, 0, 0], { down: [home] }))).toBe((home + 1) % 5);
    // names spread: 200 names land on every one of 5 workers
    const seen = new Set(Array.from({ length: 200 }, (_, i) => b.pick(req(`fn-${i}`), views([0, 0, 0, 0, 0]))));
    expect(seen.size).toBe(5);
  });

  it('ch-bl: the first worker clockwise within ceil(c x average), the new request counted', () => {
    const b = createBalancer('ch-bl', { workers: 3, rng: makeRng(1, 't') });
    const order = new HashRing(3, 100).walk(keyHash('thumb'));
    expect(order.sort()).toEqual([0, 1, 2].sort());
    const [first, second, third] = new HashRing(3, 100).walk(keyHash('thumb')) as [number, number, number];
    const loads = (a: number, b2: number, c: number) => {
      const l = [0, 0, 0];
      l[first] = a; l[second] = b2; l[third] = c;
      return views(l);
    };
    // total 6, bound ceil(1.25 x 7 / 3) = 3: the home (3) would go to 4; the next (1) takes it
    expect(b.pick(req('thumb'), loads(3, 1, 2))).toBe(second);
    // home at 2 stays within 3
    expect(b.pick(req('thumb'), loads(2, 0, 4))).toBe(first);
    // both past the bound: the third
    expect(b.pick(req('thumb'), loads(4, 4, 0))).toBe(third);
    // c = 2: bound ceil(2 x 9 / 3) = 6, so the hot home keeps it
    const loose = createBalancer('ch-bl', { workers: 3, rng: makeRng(1, 't'), options: { c: 2 } });
    expect(loose.pick(req('thumb'), loads(5, 1, 2))).toBe(first);
    // the walk against the ring built by hand: points hash(w<i>#<v>) sorted, clockwise from the key's hash, each worker once
    const pts = Array.from({ length: 20 * 100 }, (_, j) => [keyHash(`w${Math.floor(j / 100)}#${j % 100}`), Math.floor(j / 100)] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 0; i < 200; i++) {
      const h = keyHash(`key${i}`);
      const at = pts.findIndex((p) => p[0] >= h);
      const want: number[] = [];
      for (let j = 0; j < pts.length; j++) {
        const w = pts[((at < 0 ? 0 : at) + j) % pts.length]![1];
        if (!want.includes(w)) want.push(w);
      }
      expect(new HashRing(20, 100).walk(h)).toEqual(want);
    }
    // the rule, written with the ring's walk, on random loads and health over 20 workers
    const rng = makeRng(5, 'ch-bl');
    const ring = new HashRing(20, 100), big = createBalancer('ch-bl', { workers: 20, rng: makeRng(1, 't') });
    for (let i = 0; i < 500; i++) {
      const ws = views(Array.from({ length: 20 }, () => Math.floor(rng() * 10)), { down: Array.from({ length: 20 }, (_, k) => k).filter(() => rng() < 0.2) });
      const up = ws.filter((w) => w.healthy);
      const bound = Math.ceil((1.25 * (up.reduce((a, w) => a + w.inFlight, 0) + 1)) / up.length);
      const order = ring.walk(keyHash(`fn${i}`)).filter((k) => ws[k]!.healthy);
      const want = up.length === 0 ? -1 : order.find((k) => ws[k]!.inFlight + 1 <= bound) ?? order[0]!;
      expect(big.pick(req(`fn${i}`), ws)).toBe(want);
    }
    // a front that reuses one request object per lambda (the simulated front): ch-bl keeps the walk's start in
    // it, and picks as with a new object at every call
    const kept = new Map<string, PlacementRequest>();
    for (let i = 0; i < 500; i++) {
      const name = `fn${Math.floor(rng() * 7)}`;
      const ws = views(Array.from({ length: 20 }, () => Math.floor(rng() * 10)));
      const r = kept.get(name) ?? kept.set(name, req(name)).get(name)!;
      expect(big.pick(r, ws), name).toBe(big.pick(req(name), ws));
      expect(r.memo, name).toBe(ring.position(keyHash(name)));
    }
  });

  it('openwhisk: home, then co-prime steps to the first with room; else random', () => {
    expect(coprimeSteps(4)).toEqual([1, 3]);
    expect(coprimeSteps(6)).toEqual([1, 5]);
    expect(coprimeSteps(5)).toEqual([1, 2, 3]);
    const n = 5;
    const b = createBalancer('openwhisk', { workers: n, rng: draws(0.99) });
    const h = keyHash('etl');
    const home = h % n;
    const step = coprimeSteps(n)[h % 3]!;
    const free = [1024, 1024, 1024, 1024, 1024];
    expect(b.pick(req('etl', [], 256), views([0, 0, 0, 0, 0], { free }))).toBe(home);
    free[home] = 100;
    expect(b.pick(req('etl', [], 256), views([0, 0, 0, 0, 0], { free }))).toBe((home + step) % n);
    // nobody has room: a random healthy worker (0.99: the last)
    expect(b.pick(req('etl', [], 256), views([0, 0, 0, 0, 0], { free: [0, 0, 0, 0, 0] }))).toBe(4);
  });

  it('pasch: two candidates for the largest package, the less loaded; past the threshold, the least loaded', () => {
    const n = 7;
    const b = createBalancer('pasch', { workers: n, rng: makeRng(1, 't'), options: { threshold: 3 } });
    const a = keyHash('1:numpy') % n, c = keyHash('2:numpy') % n;
    const loads = [2, 2, 2, 2, 2, 2, 2];
    loads[a] = 2; loads[c] = 1;
    expect(b.pick(req('f1', ['numpy', 'six']), views(loads))).toBe(a === c ? a : c);
    // a lambda keyed by the same largest package goes to the same candidates
    expect(b.pick(req('f2', ['numpy']), views(loads))).toBe(a === c ? a : c);
    const hot = [3, 3, 3, 3, 3, 3, 0];
    hot[a] = 5; hot[c] = 4;
    expect(b.pick(req('f1', ['numpy']), views(hot))).toBe(6);
  });

  it('hermod: under the threshold pack (warm first, then the busiest); all full, the least loaded', () => {
    const b = createBalancer('hermod', { workers: 3, rng: makeRng(1, 't') }); // threshold 2
    expect(b.pick(req('f'), views([1, 0, 1], { warm: { 2: ['f'] } }))).toBe(2);
    expect(b.pick(req('f'), views([1, 0, 1]))).toBe(0);
    expect(b.pick(req('f'), views([2, 0, 1], { warm: { 0: ['f'] } }))).toBe(2); // the warm one is full
    expect(b.pick(req('f'), views([3, 2, 4]))).toBe(1);
  });

  it('zygote-hash: lambdas forking from one zygote share a worker; no node below the root: by name', () => {
    const tree = new ImportTree({ packages: [], children: [{ packages: ['numpy'], children: [{ packages: ['pandas'] }] }, { packages: ['flask'] }] });
    const n = 4;
    const b = createBalancer('zygote-hash', { workers: n, rng: makeRng(1, 't'), tree });
    const w = views([0, 0, 0, 0]);
    expect(b.pick(req('a', ['numpy', 'pandas', 'scipy']), w)).toBe(keyHash('node:0.0.0') % n);
    expect(b.pick(req('b', ['pandas', 'numpy']), w)).toBe(keyHash('node:0.0.0') % n);
    expect(b.pick(req('c', ['numpy']), w)).toBe(keyHash('node:0.0') % n);
    expect(b.pick(req('d', ['requests']), w)).toBe(keyHash('fn:d') % n);
    const none = createBalancer('zygote-hash', { workers: n, rng: makeRng(1, 't') });
    expect(none.pick(req('a', ['numpy']), w)).toBe(keyHash('fn:a') % n);
  });

  it('every balancer reads exactly the parts of the view it declares (the simulated front relies on it)', () => {
    const tree = new ImportTree({ packages: [], children: [{ packages: ['numpy'], children: [{ packages: ['pandas'] }] }, { packages: ['flask'] }] });
    const rng = makeRng(11, 'reads');
    const pkgs = [[], ['numpy'], ['numpy', 'pandas'], ['flask'], ['requests']];
    for (const [name, f] of Object.entries(balancers)) {
      const read = new Set<string>();
      const n = 5;
      const b = createBalancer(name, { workers: n, rng: makeRng(1, name), tree });
      for (let i = 0; i < 400; i++) {
        const ws: WorkerView[] = Array.from({ length: n }, (_, k) => {
          const load = Math.floor(rng() * 12), free = Math.floor(rng() * 1024), warm = rng() < 0.5 ? 1 : 0;
          return {
            index: k, healthy: rng() < 0.9,
            get inFlight() { read.add('inFlight'); return load; },
            set inFlight(_v: number) { throw new Error('a balancer wrote a view'); },
            get freeMb() { read.add('freeMb'); return free; },
            set freeMb(_v: number) { throw new Error('a balancer wrote a view'); },
            warm: () => { read.add('warm'); return warm; },
          };
        });
        b.pick(req(`fn${i % 37}`, pkgs[i % pkgs.length]!, 128 + (i % 5) * 128), ws);
      }
      expect([...read].sort(), name).toEqual([...(f.reads ?? [])].sort());
    }
  });

  it('the registry: every entry describes itself and its source; names and options are checked', () => {
    expect(Object.keys(balancers)).toEqual(['round-robin', 'random', 'least-loaded', 'p2c', 'hash', 'ch-bl', 'openwhisk', 'pasch', 'hermod', 'zygote-hash']);
    for (const f of Object.values(balancers)) {
      expect(f.describe.length).toBeGreaterThan(10);
      expect(f.source.length).toBeGreaterThan(5);
    }
    expect(() => createBalancer('nearest', { workers: 2, rng: makeRng(1, 't') })).toThrow(/balancer.*nearest/);
    expect(() => createBalancer('ch-bl', { workers: 2, rng: makeRng(1, 't'), options: { c: 0.5 } })).toThrow(/balancer option c.*>= 1/);
    expect(() => createBalancer('hash', { workers: 2, rng: makeRng(1, 't'), options: { c: 1 } })).toThrow(/balancer hash has no options/);
    expect(() => createBalancer('hash', { workers: 0, rng: makeRng(1, 't') })).toThrow(/workers/);
  });
});
