/**
 * ol-boss on loopback with three real local workers (sock): OpenLambda's
 * boss API, the registry they share, affinity under the hash balancer
 * (checked from each worker's own /stats), status codes and headers kept
 * through the boss, a worker killed in the middle of a replay (its calls
 * fail with 502 and are counted, the others are served, it is taken in
 * again when it comes back), scaling, and nothing left behind.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectPath } from '../../common/paths.js';
import { freePortRun } from '../../experiments/worker-process.js';
import { checkBossConfig, defaultBossConfig, type BossConfig } from '../../boss/config.js';
import { buildBoss, type Boss } from '../../boss/server.js';
import { loadConfig } from '../../worker/config.js';
import { makePoolFor } from '../../worker/pools.js';
import { tgz } from './real-worker.js';

const BASE = '/var/lib/ol-lab/ol-min';


/**
 * A stopped worker left no process, cgroup, container or sandbox folder.
 * Counting needs a pool, which makes the worker's root cgroup again: it is
 * closed after, so the count itself leaves nothing either.
 */
async function expectNothingLeft(workerDir: string): Promise<void> {
  const pool = await makePoolFor(loadConfig(workerDir));
  try {
    expect(await pool.census()).toEqual({ processes: 0, cgroups: 0, containers: 0, dirs: 0 });
  } finally {
    await pool.close?.();
  }
}

const LAMBDAS: Record<string, Record<string, string>> = {
  echo: { 'f.py': 'def f(e):\n    return e\n' },
  slow: { 'f.py': 'import time\ndef f(e):\n    time.sleep(0.3)\n    return e\n' },
  teapot: { 'f.py': 'def app(environ, start_response):\n    start_response("418 I\'m a teapot", [("A", "B"), ("Set-Cookie", "x=1"), ("Set-Cookie", "y=2"), ("Content-Type", "text/plain")])\n    return [b"hi\\n"]\n' },
};
const NAMES = ['echo', 'slow', 'teapot', ...Array.from({ length: 9 }, (_, i) => `e${i}`)];

describe('ol-boss with three local workers (sock)', () => {
  let c: BossConfig;
  let boss: Boss;
  let base: string;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('the boss tests need root');
    if (!existsSync(join(BASE, '.ol-lab-base'))) throw new Error(`no base root at ${BASE}; run scripts/setup-host.sh`);
    const dir = mkdtempSync(join(tmpdir(), 'ol-boss-'));
    const port = await freePortRun(3);
    c = checkBossConfig({
      ...defaultBossConfig(dir), port, workers: 3, balancer: 'hash', log_level: 'warn',
      worker: { mem_pool_mb: 1024, policy: 'lru', registry_cache_ms: 0, limits: { mem_mb: 64, pids: 32, cpu_percent: 100, time_limit_ms: 10_000, tmp_mb: 16 } },
    } as unknown as Record<string, unknown>);
    boss = buildBoss(c);
    await boss.start();
    await boss.app.listen({ host: '127.0.0.1', port });
    base = `http://127.0.0.1:${port}`;
    for (const name of NAMES) {
      const r = await fetch(`${base}/registry/${name}`, { method: 'POST', body: new Uint8Array(tgz(LAMBDAS[name] ?? LAMBDAS.echo!)) });
      expect(r.status).toBe(201);
    }
  }, 120_000);

  afterAll(async () => {
    if (!boss) return;
    await boss.close();
    // nothing of any worker is left
    for (let i = 0; i < 3; i++) await expectNothingLeft(join(c.boss_dir, `worker-${i}`));
    expect(readFileSync('/proc/self/mountinfo', 'utf8').includes(c.boss_dir)).toBe(false);
    rmSync(c.boss_dir, { recursive: true, force: true });
  }, 120_000);

  it("answers OpenLambda's status and registry routes", async () => {
    const s = await (await fetch(`${base}/status`)).json();
    expect(s.state).toMatchObject({ starting: 0, running: 3, cleaning: 0, destroying: 0 });
    expect(s.tasks).toMatchObject({ 'worker-0': 0, 'worker-1': 0, 'worker-2': 0 });
    expect((await (await fetch(`${base}/registry`)).json()).sort()).toEqual([...NAMES].sort());
    expect(await (await fetch(`${base}/registry/echo/config`)).json()).toMatchObject({ Triggers: { HTTP: [{ Method: '*' }] } });
  });

  it("keeps the worker's status code, headers and body", async () => {
    const r = await fetch(`${base}/run/teapot/x?y=1`);
    expect(r.status).toBe(418);
    expect(r.headers.get('a')).toBe('B');
    expect(r.headers.get('set-cookie')).toBe('x=1, y=2');
    expect(await r.text()).toBe('hi\n');
    const e = await fetch(`${base}/run/echo`, { method: 'POST', body: '{"k": [1, 2]}' });
    expect([e.status, await e.json()]).toEqual([200, { k: [1, 2] }]);
    const bad = await fetch(`${base}/run/echo`, { method: 'POST', body: 'not json' });
    expect(bad.status).toBe(500);
    expect(await fetch(`${base}/run/nope`).then((x) => x.status)).toBe(404);
  });

  it("hash: each lambda's calls go to one worker, as every worker's own /stats shows", async () => {
    const seen = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++) {
      for (const name of NAMES.filter((n) => n !== 'slow')) {
        const r = await fetch(`${base}/run/${name}`, { method: 'POST', body: '1' });
        expect(r.status).toBeLessThan(500);
        (seen.get(name) ?? seen.set(name, new Set()).get(name)!).add(r.headers.get('x-ol-worker')!);
      }
    }
    for (const [name, ws] of seen) expect(ws.size, name).toBe(1);
    // the workers' own books agree: each lambda's sandboxes live on one worker only
    const kept = await Promise.all(boss.workers.map(async (w) => (await (await fetch(`${w.url}/stats`)).json()).warm as Record<string, number>));
    for (const name of seen.keys()) {
      const on = kept.map((k, i) => (k[name] ? i : -1)).filter((i) => i >= 0);
      expect(on, name).toEqual([Number([...seen.get(name)!][0])]);
    }
    // and the names spread over more than one worker
    expect(new Set([...seen.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
  });

  it('a worker killed mid-replay: its calls fail with 502 and are counted, the rest are served; back, it is taken in', async () => {
    const victim = Number((await fetch(`${base}/run/slow`, { method: 'POST', body: '0' })).headers.get('x-ol-worker'));
    const w = boss.workers[victim]!;
    const others = NAMES.filter((n) => n.startsWith('e'));
    const calls: Promise<number>[] = [];
    for (let i = 0; i < 6; i++) calls.push(fetch(`${base}/run/slow`, { method: 'POST', body: String(i) }).then((r) => r.status));
    for (const n of others) calls.push(fetch(`${base}/run/${n}`, { method: 'POST', body: '1' }).then((r) => r.status));
    await new Promise((r) => setTimeout(r, 100));
    w.proc!.kill('SIGKILL');
    const statuses = await Promise.all(calls);
    const slow = statuses.slice(0, 6), rest = statuses.slice(6);
    expect(slow.filter((s) => s === 502).length).toBeGreaterThan(0);
    // calls to lambdas whose home was not the victim were all served
    const homeOf = async (n: string) => Number((await fetch(`${base}/run/${n}`, { method: 'POST', body: '1' })).headers.get('x-ol-worker'));
    expect(rest.filter((s) => s !== 200 && s !== 502)).toEqual([]);
    const stats = await (await fetch(`${base}/stats`)).json();
    expect(stats.counters.failed_502).toBe(statuses.filter((s) => s === 502).length);
    // taken out within a second; its lambdas go to the next worker meanwhile
    await new Promise((r) => setTimeout(r, 1000));
    expect((await (await fetch(`${base}/status`)).json()).workers[victim].state).toBe('down');
    expect(await homeOf('slow')).not.toBe(victim);
    // a worker started again on its folder (up cleans what the killed one left) is taken in
    const again = spawn(process.execPath, [projectPath('dist', 'worker', 'cli.js'), 'up', '--path', w.dir!], { stdio: 'ignore' });
    try {
      let state = '';
      for (let i = 0; i < 100 && state !== 'running'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = (await (await fetch(`${base}/status`)).json()).workers[victim].state;
      }
      expect(state).toBe('running');
      expect(await homeOf('slow')).toBe(victim);
    } finally {
      again.kill('SIGTERM');
      await new Promise((r) => again.once('exit', r));
    }
  }, 60_000);

  it('scales: POST /scaling/worker_count stops workers down to the count', async () => {
    const r = await fetch(`${base}/scaling/worker_count`, { method: 'POST', body: '2' });
    const s = await r.json();
    expect(s.workers.map((w: { id: string }) => w.id)).toEqual(['worker-0', 'worker-1']);
    expect((await fetch(`${base}/scaling/worker_count`, { method: 'POST', body: 'many' })).status).toBe(400);
    expect((await fetch(`${base}/run/echo`, { method: 'POST', body: '3' })).status).toBe(200);
  }, 60_000);
});

describe('HAProxy in front of three local workers (ol-boss haproxy)', () => {
  it('ch-bl: each lambda on one worker under light load, statuses and headers kept; down leaves nothing', async () => {
    if (process.getuid?.() !== 0) throw new Error('the boss tests need root');
    if (spawnSync('haproxy', ['-v']).status !== 0) throw new Error("no haproxy; run scripts/setup-host.sh");
    const dir = mkdtempSync(join(tmpdir(), 'ol-haproxy-'));
    const port = await freePortRun(3);
    const cli = projectPath('dist', 'boss', 'cli.js');
    const up = spawnSync(process.execPath, [cli, 'haproxy', '--path', dir, '--workers', '3', '--balancer', 'ch-bl', '--detach', '-o', `port=${port}`, '-o', 'log_level="warn"',
      '-o', 'worker.mem_pool_mb=1024', '-o', 'worker.registry_cache_ms=0', '-o', 'worker.policy="lru"', '-o', 'worker.limits.mem_mb=64'], { encoding: 'utf8', timeout: 120_000 });
    try {
      expect(up.status, up.stderr).toBe(0);
      const cfg = readFileSync(join(dir, 'haproxy.cfg'), 'utf8');
      expect(cfg).toMatch(/hash-type consistent\n\s+hash-balance-factor 125/);
      // the workers share the registry in the front's folder
      for (const name of NAMES) {
        const files = LAMBDAS[name] ?? LAMBDAS.echo!;
        execFileSync('mkdir', ['-p', join(dir, 'registry', name)]);
        for (const [f, t] of Object.entries(files)) writeFileSync(join(dir, 'registry', name, f), t);
      }
      const base = `http://127.0.0.1:${port}`;
      const r = await fetch(`${base}/run/teapot`);
      expect([r.status, r.headers.get('a'), await r.text()]).toEqual([418, 'B', 'hi\n']);
      for (let round = 0; round < 3; round++) {
        for (const name of NAMES.filter((n) => n !== 'slow' && n !== 'teapot')) expect((await fetch(`${base}/run/${name}`, { method: 'POST', body: '1' })).status).toBe(200);
      }
      // one call at a time never passes the bound: every lambda's sandboxes live on one worker
      const kept = await Promise.all([1, 2, 3].map(async (i) => (await (await fetch(`http://127.0.0.1:${port + i}/stats`)).json()).warm as Record<string, number>));
      for (const name of NAMES.filter((n) => n !== 'slow')) expect(kept.filter((k) => k[name]).length, name).toBe(1);
      expect(kept.filter((k) => Object.keys(k).length > 0).length).toBeGreaterThan(1);
      // both workers stalled for 600 ms (a busy machine's pause): calls wait, none is refused by HAProxy
      // (with checks given only the 100 ms interval, about half of them got 503 "No server is available")
      const pids = [0, 1, 2].map((i) => Number(readFileSync(join(dir, `worker-${i}`, 'worker.pid'), 'utf8')));
      const calls: Promise<number>[] = [];
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      try {
        for (let k = 0; k < 20; k++) {
          calls.push(fetch(`${base}/run/echo`, { method: 'POST', body: '1' }).then((x) => x.status));
          await new Promise((res) => setTimeout(res, 30));
        }
      } finally {
        for (const pid of pids) process.kill(pid, 'SIGCONT');
      }
      expect(await Promise.all(calls)).toEqual(Array(20).fill(200));
    } finally {
      const down = spawnSync(process.execPath, [cli, 'down', '--path', dir], { encoding: 'utf8', timeout: 120_000 });
      expect(down.status, down.stderr).toBe(0);
    }
    for (let i = 0; i < 3; i++) await expectNothingLeft(join(dir, `worker-${i}`));
    // no haproxy of ours still runs
    const ours = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(join(dir, 'haproxy.cfg')); } catch { return false; }
    });
    expect(ours).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
