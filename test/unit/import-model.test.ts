/**
 * The import-cache model of the simulator, Forklift's fit, and the parsers
 * they share with the worker, against cases worked by hand.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fitTree, treeGain } from '../../experiments/fit-tree.js';
import { resolveSimConfig } from '../../sim/config.js';
import { ImportCacheModel } from '../../sim/import-cache.js';
import { compileProfile, constantProfile } from '../../sim/profile.js';
import { makeRng } from '../../common/rng.js';
import { simulate } from '../../sim/run.js';
import { Simulator } from '../../sim/simulator.js';
import { ArrayTraceSource } from '../../traces/memory.js';
import { readUsage } from '../../traces/packages.js';
import { validateTree } from '../../core/import-tree.js';
import { loadTree } from '../../traces/tree-file.js';
import { parseRequirement } from '../../core/requirements.js';
import { requirementKey } from '../../worker/packages.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'ol-imp-'));

describe('requirements', () => {
  it('parses names, extras, specs and markers, and keys them by their normal form', () => {
    expect(parseRequirement('Foo_Bar[b,a] >= 1.0, <2 ; python_version >= "3"')).toEqual({ name: 'foo-bar', extras: ['a', 'b'], spec: '>=1.0,<2', marker: 'python_version >= "3"' });
    expect(requirementKey(parseRequirement('Foo.Bar==1.0'))).toBe('foo-bar==1.0');
    expect(requirementKey(parseRequirement('foo'))).toBe('foo');
    expect(requirementKey(parseRequirement('foo; sys_platform == "win32"'))).toMatch(/^foo;[0-9a-f]{8}$/);
  });

  it('refuses what pip would not take, naming the line', () => {
    expect(() => parseRequirement('-e .', 'lambda x: requirements.txt line 2')).toThrow(/lambda x: requirements.txt line 2: "-e \." is not a requirement/);
    expect(() => parseRequirement('foo == ', 'here')).toThrow(/version spec/);
    expect(() => parseRequirement('git+https://example.invalid/x.git')).toThrow(/not a requirement/);
  });
});

describe('import-cache trees', () => {
  it('checks tree files and names the bad node', () => {
    expect(() => validateTree({ packages: [], children: [{ packages: 'numpy' }] }, 'tree.json')).toThrow(/tree.json: node root.0: "packages" must be a list/);
    expect(() => validateTree([], 'tree.json')).toThrow(/node root must be an object/);
    const d = tmp();
    writeFileSync(join(d, 'bad.json'), '{"packages": [');
    expect(() => loadTree(join(d, 'bad.json'))).toThrow(/import_tree .*bad.json/);
    expect(loadTree('')).toEqual({ packages: [], children: [] });
  });
});

describe('the simulator\'s import-cache model, worked by hand', () => {
  // create 10 + runtime start 20 = a fresh sandbox of 30 ms; a fork 5 ms
  const costs = compileProfile({ ...constantProfile({ create: 10, runtimeStart: 20 }), costs: { ...constantProfile({ create: 10, runtimeStart: 20 }).costs, fork: { kind: 'constant', ms: 5 } } });
  const importMs = (p: string) => ({ a: 100, b: 50 })[p] ?? 0;
  const installMs = (p: string) => ({ a: 1000 })[p] ?? 0;
  const tree = { packages: [], children: [{ packages: ['a'], children: [] }] };
  const fresh = () => 30;

  it('prices installs once, zygote creation on the critical path, and the imports a zygote saves', () => {
    let reserved = 0;
    const reserve = (mb: number) => { reserved += mb; return true; };
    const m = new ImportCacheModel({ tree, fnPackages: [['a', 'b'], ['a'], undefined], importMs, installMs, fork: costs.fork!, zygoteMb: 64, rng: makeRng(1, 't') });
    // f0 at 0: install a (1000), root zygote 1000..1030, node 0.0 forked 1030 + 5 + import a 100 = 1135, fork 5, import b 50
    expect(m.coldStartMs(0, 0, fresh, reserve)).toBe(1190);
    expect(reserved).toBe(128);
    // f1 at 10 s: node 0.0 is ready, nothing to import
    expect(m.coldStartMs(1, 10_000, fresh, reserve)).toBe(5);
    // f2 (no packages) at 1 s, while nothing is pending: the root zygote, a fork
    expect(m.coldStartMs(2, 1_000, fresh, reserve)).toBe(1030 - 1000 + 5);
    expect(m.nodeOf(0)).toBe('0.0');
    expect(m.nodeOf(2)).toBe('0');
    expect(m.stats()).toMatchObject({ zygoteForks: 3, freshStarts: 0, zygotesCreated: 2, packageInstalls: 2, importMsSaved: 200 });
  });

  it('without memory for zygotes, or without a tree, sandboxes start fresh and import everything', () => {
    const noMem = new ImportCacheModel({ tree, fnPackages: [['a', 'b']], importMs, installMs, fork: costs.fork!, zygoteMb: 64, rng: makeRng(1, 't') });
    expect(noMem.coldStartMs(0, 0, fresh, () => false)).toBe(1000 + 30 + 150);
    expect(noMem.stats()).toMatchObject({ freshStarts: 1, zygoteNoMemory: 1 });
    const noTree = new ImportCacheModel({ fnPackages: [['a', 'b']], importMs, installMs, fork: costs.fork!, zygoteMb: 64, rng: makeRng(1, 't') });
    expect(noTree.coldStartMs(0, 0, fresh, () => true)).toBe(1180);
    expect(noTree.coldStartMs(0, 5000, fresh, () => true)).toBe(180); // installed now
  });

  it('inside a simulation: latency and pool memory follow the model', () => {
    const rows = [{ t: 0, fn: 'f0', dur: 1, mem: 100 }, { t: 10_000, fn: 'f1', dur: 1, mem: 100 }];
    const src = new ArrayTraceSource(rows);
    const m = new ImportCacheModel({ tree, fnPackages: [['a', 'b'], ['a']], importMs, installMs, fork: costs.fork!, zygoteMb: 64, rng: makeRng(1, 't') });
    const sim = new Simulator(resolveSimConfig({ policy: 'lru', memoryMb: 400, cores: 2 }), costs, src.functions, {}, m);
    const r = sim.run(src.batches());
    expect(r.latency.max).toBe(1191);
    expect(r.latency.min).toBe(6);
    expect(r.peakUsedMb).toBe(100 + 100 + 128); // two sandboxes and two zygotes
    expect(r.startup).toMatchObject({ zygoteForks: 2, zygotesCreated: 2 });
  });

  it('zygotes give their memory back when no idle sandbox is left: a leaf first; the next cold start that wants it uses the ancestor', () => {
    // pool 300 MB, zygotes 64 MB, sandboxes 100 MB; destroys cost 7 ms; 4 cores (no CPU contention)
    const c7 = compileProfile({ ...constantProfile({ create: 10, runtimeStart: 20, destroy: 7 }), costs: { ...constantProfile({ create: 10, runtimeStart: 20, destroy: 7 }).costs, fork: { kind: 'constant', ms: 5 } } });
    const rows = [
      { t: 0, fn: 'f0', dur: 20_000, mem: 100 }, // packages a: root + node 0.0 (128 MB), busy until 21.19 s
      { t: 2_000, fn: 'f1', dur: 1, mem: 100 }, // no packages: 72 MB free, no idle sandbox: node 0.0 goes (a leaf), fork from the root
      { t: 3_000, fn: 'f2', dur: 1, mem: 100 }, // packages a: f1's idle sandbox goes, not the root; no room to make 0.0 again: the root it is
    ];
    const src = new ArrayTraceSource(rows);
    const m = new ImportCacheModel({ tree, fnPackages: [['a'], [], ['a']], importMs, installMs, fork: c7.fork!, zygoteMb: 64, rng: makeRng(1, 't') });
    const sim = new Simulator(resolveSimConfig({ policy: 'lru', memoryMb: 300, cores: 4 }), c7, src.functions, {}, m);
    const r = sim.run(src.batches());
    expect(r.perFunction[1]!.latency.max).toBe(7 + 5 + 1); // the zygote's destroy, a fork, the call
    expect(r.perFunction[2]!.latency.max).toBe(7 + 5 + 100 + 1); // f1's destroy, a fork from the root, import a, the call
    expect(r.evictions).toBe(1);
    expect(r.startup).toMatchObject({ zygotesCreated: 2, zygoteEvictions: 1, zygoteNoMemory: 1, zygoteForks: 3, freshStarts: 0 });
    expect(m.tree!.evictableCount(30_000) * m.zygoteMb).toBe(64); // the root is left
  });

  it('ol-sim\'s run reads the package usage and tree files, and says which lambdas it could not place', async () => {
    const d = tmp();
    writeFileSync(join(d, 'usage.jsonl'), [
      JSON.stringify({ lambda: 'f0', packages: ['a', 'b'], import_ms: { a: 100, b: 50 }, install_ms: { a: 1000 } }),
      JSON.stringify({ lambda: 'f1', packages: ['A'] }),
      JSON.stringify({ lambda: 'elsewhere', packages: ['a'] }),
    ].join('\n') + '\n');
    writeFileSync(join(d, 'tree.json'), JSON.stringify(tree));
    const profile = { ...costs.profile };
    const run = (zygotes?: string) => simulate({
      trace: new ArrayTraceSource([{ t: 0, fn: 'f0', dur: 1, mem: 100 }, { t: 10_000, fn: 'f1', dur: 1, mem: 100 }]),
      config: { policy: 'lru', memoryMb: 400, cores: 2 }, profile, machine: false,
      imports: { packages: join(d, 'usage.jsonl'), zygotes, zygoteMb: 64 },
    });
    const withTree = await run(join(d, 'tree.json'));
    expect(withTree.result.latency.max).toBe(1191);
    expect(withTree.summary.results.importCache).toMatchObject({ zygoteForks: 2, freshStarts: 0 });
    expect(withTree.summary.trace.notes.join('\n')).toMatch(/1 lambdas of .*usage.jsonl are not in the trace/);
    const without = await run(undefined);
    expect(without.result.latency.max).toBe(1181);
    expect(without.result.latency.min).toBe(131); // f1: fresh 30 + import a 100, plus 1 ms of work
  });

  it('refuses a usage file that matches no function, and names bad lines', async () => {
    const d = tmp();
    writeFileSync(join(d, 'u.jsonl'), '{"lambda": "zz", "packages": ["a"]}\n');
    await expect(simulate({ trace: new ArrayTraceSource([{ t: 0, fn: 'f0', dur: 1, mem: 100 }]), config: { policy: 'lru', memoryMb: 400 }, machine: false, imports: { packages: join(d, 'u.jsonl') } }))
      .rejects.toThrow(/none of its 1 lambdas is a function of the trace/);
    writeFileSync(join(d, 'bad.jsonl'), '{"lambda": "f0", "packages": ["a"]}\n{"lambda": "f1", "packages": "a"}\n');
    expect(() => readUsage(join(d, 'bad.jsonl'))).toThrow(/bad.jsonl:2: "packages" must be a list/);
  });
});

describe('Forklift\'s fit', () => {
  const usage = [
    { lambda: 'x', packages: ['numpy', 'pandas'], calls: 10 },
    { lambda: 'y', packages: ['numpy'], calls: 5 },
    { lambda: 'z', packages: ['requests'], calls: 100 },
  ];
  const cost = (p: string) => ({ numpy: 100, pandas: 300, requests: 20 })[p] ?? 0;

  it('splits where calls × import time is largest, best first, and stops at the node budget', () => {
    // gains at the root: numpy 15×100 = 1500, pandas 10×300 = 3000, requests 100×20 = 2000
    const t2 = fitTree(usage, cost, 2);
    expect(t2.children.map((c) => [c.packages, c.gain_ms])).toEqual([[['pandas'], 3000]]);
    // next: requests 2000 at the root, numpy 1000 under pandas (x), numpy 500 at the root (y)
    const t4 = fitTree(usage, cost, 4);
    expect(t4.children.map((c) => c.packages[0])).toEqual(['pandas', 'requests']);
    expect(t4.children[0]!.children.map((c) => [c.packages, c.gain_ms, c.calls])).toEqual([[['numpy'], 1000, 10]]);
    const t9 = fitTree(usage, cost, 9);
    expect(t9.children.map((c) => c.packages[0])).toEqual(['pandas', 'requests', 'numpy']); // only 5 nodes gain anything
    expect(treeGain(t9, usage, cost)).toBe(10 * 400 + 5 * 100 + 100 * 20);
    expect(treeGain(t2, usage, cost)).toBe(10 * 300);
  });

  it('reads worker records: each line one call, cold starts name the packages', () => {
    const d = tmp();
    writeFileSync(join(d, 'records.jsonl'), [
      { lambda: 'x', start: 'cold', packages: ['numpy', 'pandas'] }, { lambda: 'x', start: 'warm' }, { lambda: 'x', start: 'warm' },
      { lambda: 'y', start: 'cold', packages: [] },
    ].map((o) => JSON.stringify(o)).join('\n') + '\n');
    expect(readUsage(join(d, 'records.jsonl')).usage).toEqual([{ lambda: 'x', packages: ['numpy', 'pandas'], calls: 3 }, { lambda: 'y', packages: [], calls: 1 }]);
  });
});
