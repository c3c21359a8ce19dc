/**
 * The package cache and the import cache on the real sock backend, nothing
 * mocked: wheels are built here (no PyPI), installed by pip in installer
 * sandboxes, imported by zygotes, and lambdas are forked from them. Needs
 * root and the base root (scripts/setup-host.sh).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWheels } from '../../experiments/wheels.js';
import { defaultConfig, type WorkerConfig } from '../../worker/config.js';
import { makePoolFor } from '../../worker/pools.js';
import { buildApp, type Worker } from '../../worker/server.js';

const BASE = '/var/lib/ol-lab/ol-min';

const TREE = {
  packages: [],
  children: [
    { packages: ['heavy-a'], children: [{ packages: ['extra-c'], children: [] }] },
    { packages: ['dep-b', 'solo-d'], children: [] },
    { packages: ['bad-e'], children: [] },
  ],
};

const USES = 'import os, sys\ndef f(e):\n    mods = sorted(m for m in ("heavy_a", "dep_b", "extra_c", "solo_d") if m in sys.modules)\n    return {"mods": mods, "pid": os.getpid()}\n';

const LAMBDAS: Record<string, { f: string; req?: string }> = {
  la: { f: 'import heavy_a\n' + USES, req: 'heavy-a\n' },
  la2: { f: 'import heavy_a\n' + USES, req: '# same packages, another lambda\nheavy_a\n' },
  lac: { f: 'import heavy_a, extra_c\n' + USES, req: 'heavy-a\nextra-c\n' },
  lb: { f: 'import dep_b\n' + USES, req: 'dep-b\n' },
  lpin: { f: 'import heavy_a\n' + USES, req: 'heavy-a\ndep-b==1.0\n' },
  none: { f: USES },
  broken: { f: USES, req: 'no-such-package\n' },
  badimport: { f: 'import bad_e\n' + USES, req: 'bad-e\n' },
  // the first request of a forked sandbox travels behind its fork request
  counts: { f: 'import os\nCALLS = []\ndef f(e):\n    if e.get("die"):\n        os._exit(3)\n    if e.get("raise"):\n        raise ValueError("refused on purpose")\n    CALLS.append(e)\n    return {"calls": CALLS, "pid": os.getpid()}\n' },
  sleepy: { f: 'import time\ndef f(e):\n    time.sleep(e.get("s", 0))\n    return e\n' },
  // what a sandbox sees of its process: nothing may be left of the spare's rehearsal of a start
  inside: {
    f: 'import os, socket, sys\ndef f(e):\n    return {"env": dict(os.environ), "path": sys.path, "host": socket.gethostname(),\n'
      + '            "file": sys.modules["f"].__file__, "nobytecode": sys.dont_write_bytecode, "uid": os.getuid()}\n',
  },
};

function ready(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(join(BASE, 'usr/lib/python3/dist-packages/pip/__init__.py'))) return `no base root with pip at ${BASE}; run scripts/setup-host.sh`;
  return undefined;
}

describe('package cache and zygotes (sock backend)', () => {
  let w: Worker;
  let c: WorkerConfig;
  const run = async (name: string, body: unknown = {}) => {
    const r = await w.app.inject({ method: 'POST', url: `/run/${name}`, payload: JSON.stringify(body) });
    return { status: r.statusCode, text: r.body, start: r.headers['x-ol-start'] };
  };
  const stats = async () => (await w.app.inject({ url: '/stats' })).json() as { counters: Record<string, number>; gauges: Record<string, number> };
  const records = () => readFileSync(c.record_path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const coldOf = (name: string) => records().filter((r) => r.lambda === name && r.start === 'cold');

  beforeAll(async () => {
    const missing = ready();
    if (missing) throw new Error(missing);
    const dir = mkdtempSync(join(tmpdir(), 'ol-zyg-'));
    const wheels = join(dir, 'wheels');
    buildWheels(wheels, [
      { name: 'heavy-a', importMs: 120, requires: ['dep-b>=1.0', 'never-there; python_version < "3"'] },
      { name: 'dep-b', importMs: 5 },
      { name: 'extra-c', importMs: 30, topLevel: false },
      { name: 'solo-d' },
      { name: 'bad-e', extra: 'raise ImportError("bad-e is broken on purpose")\n' },
    ]);
    writeFileSync(join(dir, 'tree.json'), JSON.stringify(TREE));
    c = {
      ...defaultConfig(dir), mem_pool_mb: 2048, package_index: wheels, import_tree: join(dir, 'tree.json'), record: true, zygote_mem_mb: 96,
      limits: { ...defaultConfig(dir).limits, mem_mb: 128, time_limit_ms: 5000 },
    };
    for (const [name, l] of Object.entries(LAMBDAS)) {
      mkdirSync(join(c.registry, name), { recursive: true });
      writeFileSync(join(c.registry, name, 'f.py'), l.f);
      if (l.req) writeFileSync(join(c.registry, name, 'requirements.txt'), l.req);
    }
    w = buildApp({ config: c, pool: await makePoolFor(c) });
  }, 60_000);

  afterAll(async () => {
    await w?.app.close();
  });

  it('installs a lambda\'s packages and their dependencies once, then forks it from the deepest zygote it may use', async () => {
    const r = await run('la');
    expect(r.status, r.text).toBe(200);
    // forked from node 0.0 (heavy-a): the zygote imported heavy_a and with it dep_b; solo_d was never imported
    expect(JSON.parse(r.text).mods).toEqual(['dep_b', 'heavy_a']);
    let s = await stats();
    expect(s.counters.package_installs).toBe(2); // heavy-a, then dep-b>=1.0 from its METADATA; the marker excluded never-there
    expect(s.counters.package_install_failures).toBe(0);
    expect(s.counters.zygote_forks).toBe(1);
    expect(s.counters.zygotes_created).toBe(2); // the root, then node 0.0 forked from it
    expect(coldOf('la')[0]).toMatchObject({ zygote: '0.0', packages: ['heavy-a', 'dep-b'] });
    const installed = (w.manager.packages!.list()).map((p) => [p.key, p.requires]);
    expect(installed).toEqual([['dep-b>=1.0', []], ['heavy-a', ['dep-b>=1.0']]]);
    // the import of heavy-a (120 ms of CPU in the wheel) was timed in a fresh interpreter
    const heavy = w.manager.packages!.list().find((p) => p.key === 'heavy-a')!;
    expect(heavy.importMs).toBeGreaterThan(100);

    // another lambda with the same packages: all cache hits, no new install, no new zygote
    const hitsBefore = s.counters.package_cache_hits;
    expect((await run('la2')).status).toBe(200);
    s = await stats();
    expect(s.counters.package_installs).toBe(2);
    expect(s.counters.package_cache_hits).toBeGreaterThan(hitsBefore);
    expect(s.counters.zygotes_created).toBe(2);
    expect(coldOf('la2')[0]).toMatchObject({ zygote: '0.0' });
  }, 60_000);

  it('goes down the tree as far as the lambda\'s packages allow, and never further', async () => {
    const ac = await run('lac');
    expect(ac.status, ac.text).toBe(200);
    expect(coldOf('lac')[0]).toMatchObject({ zygote: '0.0.0' });
    expect(JSON.parse(ac.text).mods).toEqual(['dep_b', 'extra_c', 'heavy_a']);
    // dep-b alone: node 0.1 also wants solo-d, node 0.0 heavy-a: the root it is
    const b = await run('lb');
    expect(b.status, b.text).toBe(200);
    expect(coldOf('lb')[0]).toMatchObject({ zygote: '0' });
    expect(JSON.parse(b.text).mods).toEqual(['dep_b']);
    // no packages at all: the root zygote
    expect((await run('none')).status).toBe(200);
    expect(coldOf('none')[0]).toMatchObject({ zygote: '0', packages: [] });
  }, 60_000);

  it('does not fork from a zygote whose installed version the lambda did not ask for', async () => {
    // lpin pins dep-b==1.0; node 0.0 imported the dep-b>=1.0 folder: a different install, so the root zygote
    const r = await run('lpin');
    expect(r.status, r.text).toBe(200);
    expect(coldOf('lpin')[0]).toMatchObject({ zygote: '0', packages: ['heavy-a', 'dep-b'] });
    // its f.py imported heavy_a itself; nothing imported dep_b, as the 0.0 zygote would have
    expect(JSON.parse(r.text).mods).toEqual(['heavy_a']);
  }, 60_000);

  it('a forked sandbox starts clean: its own environment, path, hostname and handler, nothing of the spare', async () => {
    const r = await run('inside');
    expect(r.status).toBe(200);
    expect(coldOf('inside')[0]).toMatchObject({ zygote: '0' });
    const got = JSON.parse(r.text) as { env: Record<string, string>; path: string[]; host: string; file: string; nobytecode: boolean; uid: number };
    expect(got.env).toEqual({ PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp' });
    expect(got.path[0]).toBe('/handler');
    expect(got.path.some((p) => p.includes('rehearsal'))).toBe(false);
    expect(got.host).toBe('inside');
    expect(got.file).toBe('/handler/f.py');
    expect(got.nobytecode).toBe(false);
    expect(got.uid).not.toBe(0);
  }, 60_000);

  it('a forked sandbox serves the request it was made for exactly once; a failure on it is reported as on any call', async () => {
    const before = (await stats()).counters.zygote_forks;
    const first = await run('counts', { n: 1 });
    expect(first.status, first.text).toBe(200);
    expect(first.start).toBe('cold');
    const second = await run('counts', { n: 2 });
    expect(second.start).not.toBe('cold'); // the same sandbox
    expect(JSON.parse(second.text)).toEqual({ calls: [{ n: 1 }, { n: 2 }], pid: JSON.parse(first.text).pid });
    expect((await stats()).counters.zygote_forks).toBe(before + 1);
    // busy so the next request needs a new sandbox: it raises on its first request
    const [busy, raised] = await Promise.all([run('counts', { n: 3 }), run('counts', { raise: true })]);
    expect(busy.status).toBe(200);
    expect(raised.status).toBe(500);
    expect(raised.text).toMatch(/ValueError: refused on purpose/);
    // every sandbox is busy again; the new one ends its own process on its first request
    const [, , died] = await Promise.all([run('counts', { n: 4 }), run('counts', { n: 5 }), run('counts', { die: true })]);
    expect(died.status, died.text).toBe(502);
    expect(died.text).toMatch(/died while handling the request/);
    const after = await run('counts', { n: 6 });
    expect(after.status, after.text).toBe(200);
    expect((await stats()).counters.zygote_fallbacks).toBe(0);
  }, 60_000);

  it('a cold start while the last forked sandbox is still on its first request is forked at once, not after it', async () => {
    // the zygote makes the next spare after a new sandbox's first answer, or sooner if a fork request waits
    const before = (await stats()).counters;
    const long = run('sleepy', { s: 1.5 }); // a cold start: its sandbox's first request takes 1.5 s
    await new Promise((r) => setTimeout(r, 300));
    const t = performance.now();
    const r = await run('sleepy', { s: 0 }); // the only sandbox is busy: a cold start
    const ms = performance.now() - t;
    expect(r.status, r.text).toBe(200);
    expect(r.start).toBe('cold');
    expect(ms).toBeLessThan(1000); // not held until the long first request (1.5 s) is answered
    expect((await long).status).toBe(200);
    const after = (await stats()).counters;
    expect(after.zygote_forks - before.zygote_forks).toBe(2);
    expect(after.zygote_fallbacks).toBe(before.zygote_fallbacks);
  }, 60_000);

  it('a zygote that died is made again on the next cold start', async () => {
    const z = readdirSync(join(c.worker_dir, 'sandboxes')).find((d) => d.startsWith('zygote-0.0-'))!;
    expect(z).toBeDefined();
    const procs = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/sys/fs/cgroup']
      .map((m) => join(m, c.cgroup_root, z, 'cgroup.procs')).find((p) => existsSync(p))!;
    for (const pid of readFileSync(procs, 'utf8').split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    const before = await stats();
    // a fresh lambda so the request is a cold start
    mkdirSync(join(c.registry, 'la3'), { recursive: true });
    writeFileSync(join(c.registry, 'la3', 'f.py'), LAMBDAS.la!.f);
    writeFileSync(join(c.registry, 'la3', 'requirements.txt'), 'heavy-a\n');
    const r = await run('la3');
    expect(r.status, r.text).toBe(200);
    const after = await stats();
    expect(after.counters.zygote_deaths).toBe(before.counters.zygote_deaths! + 1);
    expect(after.counters.zygotes_created).toBe(before.counters.zygotes_created! + 1);
    expect(coldOf('la3')[0]).toMatchObject({ zygote: '0.0' });
    // and the sandboxes forked from the dead zygote still serve
    expect((await run('la')).status).toBe(200);
  }, 60_000);

  it('a package that cannot be installed fails its lambda only, with the package named', async () => {
    const r = await run('broken');
    expect(r.status).toBe(500);
    expect(r.text).toMatch(/lambda broken: package no-such-package could not be installed/);
    expect(r.text).toMatch(/pip exited/);
    expect((await stats()).counters.package_install_failures).toBeGreaterThanOrEqual(1);
    expect((await run('la')).status).toBe(200);
  }, 60_000);

  it('a package that breaks on import: the zygote of its node is skipped, the handler reports the import error', async () => {
    const before = await stats();
    const r = await run('badimport');
    expect(r.status).toBe(500);
    expect(r.text).toMatch(/bad-e is broken on purpose/);
    const after = await stats();
    expect(after.counters.zygote_failures).toBe(before.counters.zygote_failures! + 1);
    expect((await run('none')).status).toBe(200);
  }, 60_000);
});

describe('zygotes under memory pressure (sock backend)', () => {
  let w: Worker;
  let c: WorkerConfig;
  const run = async (name: string) => (await w.app.inject({ method: 'POST', url: `/run/${name}`, payload: '{}' }));
  const stats = async () => (await w.app.inject({ url: '/stats' })).json() as { counters: Record<string, number>; gauges: Record<string, number> };

  beforeAll(async () => {
    const missing = ready();
    if (missing) throw new Error(missing);
    const dir = mkdtempSync(join(tmpdir(), 'ol-zyg-mem-'));
    const wheels = join(dir, 'wheels');
    buildWheels(wheels, [{ name: 'heavy-a', importMs: 20 }]);
    writeFileSync(join(dir, 'tree.json'), JSON.stringify({ packages: [], children: [{ packages: ['heavy-a'], children: [] }] }));
    // room for the two zygotes (96 MB each) and one 128 MB sandbox, not two
    c = {
      ...defaultConfig(dir), mem_pool_mb: 384, record: true, package_index: wheels, import_tree: join(dir, 'tree.json'), zygote_mem_mb: 96, policy: 'lru',
      limits: { ...defaultConfig(dir).limits, mem_mb: 128, time_limit_ms: 10_000 },
    };
    const SLOW = 'import time\ndef f(e):\n    time.sleep(1.5)\n    return 1\n';
    for (const [name, req] of [['slow-a', 'heavy-a\n'], ['slow-b', '']] as const) {
      mkdirSync(join(c.registry, name), { recursive: true });
      writeFileSync(join(c.registry, name, 'f.py'), (req ? 'import heavy_a\n' : '') + SLOW);
      if (req) writeFileSync(join(c.registry, name, 'requirements.txt'), req);
    }
    w = buildApp({ config: c, pool: await makePoolFor(c) });
  }, 60_000);

  afterAll(async () => {
    await w?.app.close();
  });

  it('a zygote gives its memory back when no idle sandbox is left to evict; its lambdas fall back to the root zygote', async () => {
    expect((await run('slow-a')).statusCode).toBe(200);
    expect((await stats()).gauges.zygotes).toBe(2);
    // slow-b takes the memory of slow-a's idle sandbox (evicted); 300 ms later slow-a needs 128 MB
    // with nothing idle left: the leaf zygote (node 0.0) goes, and there is no room to make it again
    const [a, b] = await Promise.all([run('slow-b'), (async () => { await new Promise((r) => setTimeout(r, 300)); return run('slow-a'); })()]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    const s = await stats();
    expect(s.counters.evictions).toBe(1);
    expect(s.counters.zygote_evictions).toBe(1);
    expect(s.counters.zygote_no_memory).toBe(1);
    expect(s.gauges.zygotes).toBe(1);
    expect(s.gauges.mem_reserved_mb).toBeLessThanOrEqual(384);
    const cold = readFileSync(c.record_path, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.lambda === 'slow-a' && r.start === 'cold');
    expect(cold.map((r) => r.zygote)).toEqual(['0.0', '0']);
  }, 60_000);
});


describe('many sandboxes forked from one zygote (sock backend)', () => {
  let w: Worker;
  const N = 60;

  beforeAll(async () => {
    const missing = ready();
    if (missing) throw new Error(missing);
    const dir = mkdtempSync(join(tmpdir(), 'ol-zyg-many-'));
    // 64 MB of pool for the zygote; each fork leaves about 2.2 MB charged to the zygote's cgroup
    // (pages the two share), so a cgroup limit of zygote_mem_mb would be reached before the 30th
    const c = { ...defaultConfig(dir), mem_pool_mb: 16_000, zygote_mem_mb: 64, policy: 'lru', limits: { ...defaultConfig(dir).limits, mem_mb: 32 } };
    for (let i = 0; i < N; i++) {
      mkdirSync(join(c.registry, `n${i}`), { recursive: true });
      writeFileSync(join(c.registry, `n${i}`, 'f.py'), 'def f(e):\n    return e\n');
    }
    w = buildApp({ config: c, pool: await makePoolFor(c) });
  }, 60_000);

  afterAll(async () => {
    await w?.app.close();
  });

  it('the zygote survives 60 live forked sandboxes: none falls back, none waits for a new zygote', async () => {
    for (let i = 0; i < N; i++) {
      const r = await w.app.inject({ method: 'POST', url: `/run/n${i}`, payload: String(i) });
      expect(r.statusCode).toBe(200);
      expect(r.body).toBe(String(i));
    }
    const s = (await w.app.inject({ url: '/stats' })).json() as { counters: Record<string, number> };
    expect(s.counters.zygote_forks).toBe(N);
    expect(s.counters.zygotes_created).toBe(1);
    expect(s.counters.zygote_deaths ?? 0).toBe(0);
    expect(s.counters.zygote_fallbacks ?? 0).toBe(0);
  }, 120_000);
});
