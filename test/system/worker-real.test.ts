/**
 * The real worker on real sandboxes, on both backends: nothing mocked.
 * Needs root, the base root filesystem and the Docker engine with the
 * ol-min image (scripts/setup-host.sh, which .ci/run calls). Faults it must
 * survive, isolation, 100 concurrent clients, and recovery after SIGKILL.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectPath } from '../../common/paths.js';
import { freePort } from '../../experiments/worker-process.js';
import { makePoolFor } from '../../worker/pools.js';
import { defaultConfig, type WorkerConfig } from '../../worker/config.js';
import type { Worker } from '../../worker/server.js';
import { prerequisites, startWorker, stopWorker } from './real-worker.js';

/** A lambda name long enough that its sandbox's id fills the 64 characters a sandbox id may have. */
const LONG_NAME = 'a-lambda-whose-name-is-long-'.repeat(3);

const LAMBDAS: Record<string, string> = {
  echo: 'def f(e):\n    return e\n',
  env: 'import os\ndef f(e):\n    return os.environ.get("GREETING")\n',
  raises: 'def f(e):\n    raise ValueError("bad input: %r" % (e,))\n',
  loop: 'def f(e):\n    while True:\n        pass\n',
  hog: 'def f(e):\n    x = []\n    for i in range(64):\n        x.append(bytearray(32 * 1024 * 1024))\n    return len(x)\n',
  bomb: 'import os, time\ndef f(e):\n    n = 0\n    try:\n        while True:\n            if os.fork() == 0:\n                time.sleep(60)\n                os._exit(0)\n            n += 1\n    except OSError as err:\n        return {"forks": n, "error": str(err)}\n',
  quit: 'import os\ndef f(e):\n    os._exit(7)\n',
  syntax: 'def f(e)\n    return 1\n',
  // its sandbox's folder name would put the worker's socket path past the kernel's 107 bytes
  [LONG_NAME]: 'def f(e):\n    return e\n',
  iso: [
    'import os, socket',
    'def attempt(fn):',
    '    try:',
    '        fn()',
    '        return "allowed"',
    '    except Exception as e:',
    '        return type(e).__name__',
    'def f(e):',
    '    out = {}',
    '    out["tcp_loopback_host"] = attempt(lambda: socket.create_connection(("127.0.0.1", e["port"]), timeout=1))',
    '    out["tcp_other"] = attempt(lambda: socket.create_connection(("10.0.0.1", 80), timeout=1))',
    '    out["write_root"] = attempt(lambda: open("/etc/x", "w"))',
    '    out["write_handler"] = attempt(lambda: open("/handler/x", "w"))',
    '    out["read_other_code"] = attempt(lambda: open(e["other_code"]).read())',
    '    out["read_other_scratch"] = attempt(lambda: os.listdir(e["other_scratch"]))',
    '    out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())',
    '    out["uid"] = os.getuid()',
    '    open("/tmp/ok", "w").write("ok")',
    '    open("/host/ok", "w").write("ok")',
    '    return out',
  ].join('\n') + '\n',
};


async function post(base: string, name: string, body: unknown): Promise<{ status: number; text: string; start?: string }> {
  const r = await fetch(`${base}/run/${name}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: r.status, text: await r.text(), start: r.headers.get('x-ol-start') ?? undefined };
}

function workerDir(over: Partial<WorkerConfig>): WorkerConfig {
  const dir = mkdtempSync(join(tmpdir(), 'ol-real-'));
  const c: WorkerConfig = { ...defaultConfig(dir), ...over, limits: { ...defaultConfig(dir).limits, ...(over.limits ?? {}) } };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c, null, 2));
  for (const [name, src] of Object.entries(LAMBDAS)) {
    mkdirSync(join(c.registry, name), { recursive: true });
    writeFileSync(join(c.registry, name, 'f.py'), src);
  }
  writeFileSync(join(c.registry, 'env', 'ol.yaml'), 'environment:\n  GREETING: hello from ol.yaml\n');
  writeFileSync(join(c.registry, 'hog', 'ol.yaml'), 'limits:\n  mem_mb: 96\n');
  return c;
}

for (const backend of ['sock', 'docker'] as const) {
  describe(`real worker, ${backend} backend`, () => {
    let w: Worker;
    let base: string;
    let c: WorkerConfig;

    beforeAll(async () => {
      const missing = prerequisites(backend);
      if (missing) throw new Error(missing);
      c = workerDir({ sandbox: backend, mem_pool_mb: 3072, queue_limit: 200, limits: { mem_mb: 128, pids: 32, cpu_percent: 100, time_limit_ms: 1500, tmp_mb: 16 } });
      ({ w, base } = await startWorker(c));
    });

    afterAll(() => stopWorker(w, c));

    it('runs a lambda: cold, then from its kept sandbox; environment from ol.yaml', async () => {
      const a = await post(base, 'echo', { n: 1 });
      expect(a).toMatchObject({ status: 200, start: 'cold' });
      expect(JSON.parse(a.text)).toEqual({ n: 1 });
      const b = await post(base, 'echo', [1, 2]);
      expect(b.status).toBe(200);
      expect(['warm', 'unpaused']).toContain(b.start);
      expect(JSON.parse((await post(base, 'env', null)).text)).toBe('hello from ol.yaml');
    });

    it('a lambda whose long name makes a long sandbox id is served (socket paths stay within the kernel\'s limit)', async () => {
      const a = await post(base, LONG_NAME, { long: true });
      expect(a).toMatchObject({ status: 200, start: 'cold' });
      expect(JSON.parse(a.text)).toEqual({ long: true });
    });

    it('a handler exception is a 500 with the traceback; a broken lambda too', async () => {
      const r = await post(base, 'raises', 'x');
      expect(r.status).toBe(500);
      expect(r.text).toMatch(/Traceback \(most recent call last\)[\s\S]*ValueError: bad input: 'x'/);
      const s = await post(base, 'syntax', 1);
      expect(s.status).toBe(500);
      expect(s.text).toMatch(/SyntaxError/);
    });

    it('an infinite loop is killed at its time limit; the lambda and the others keep working', async () => {
      const t0 = performance.now();
      const [loop, other] = await Promise.all([post(base, 'loop', 1), (async () => { await new Promise((r) => setTimeout(r, 300)); return post(base, 'echo', 'meanwhile'); })()]);
      expect(loop.status).toBe(504);
      expect(loop.text).toMatch(/lambda loop ran past its time limit of 1500 ms; its sandbox was killed/);
      expect(performance.now() - t0).toBeLessThan(1500 + 2500);
      expect(other.status).toBe(200);
      expect((await post(base, 'loop', 2)).status).toBe(504);
    });

    it('a memory hog is killed by its cgroup with an out-of-memory reason', async () => {
      const r = await post(base, 'hog', 1);
      expect(r.status).toBe(507);
      expect(r.text).toMatch(/lambda hog ran out of memory \(limit 96 MB\)/);
      expect((await post(base, 'echo', 'after hog')).status).toBe(200);
    });

    it('a fork bomb stops at the pids limit', async () => {
      const r = await post(base, 'bomb', 1);
      expect(r.status).toBe(200);
      const out = JSON.parse(r.text);
      expect(out.forks).toBeLessThan(32);
      expect(out.error).toMatch(/Resource temporarily unavailable/);
      expect((await post(base, 'echo', 'after bomb')).status).toBe(200);
    });

    it('a handler that kills its own Python gets an error reply, then a fresh sandbox', async () => {
      const r = await post(base, 'quit', 1);
      expect(r.status).toBe(502);
      expect(r.text).toMatch(/the sandbox of lambda quit died while handling the request/);
      const again = await post(base, 'quit', 1);
      expect(again.status).toBe(502);
      expect(again.start).toBeUndefined();
      const stats = await (await fetch(`${base}/stats`)).json();
      expect(stats.counters.crashes).toBe(2);
    });

    it('isolation: no network, read-only root and code, no other lambda\'s files, no host processes', async () => {
      await post(base, 'echo', 'make a scratch dir');
      const otherCode = (await (await fetch(`${base}/registry/echo/config`)).json()) as { version: string };
      const r = await post(base, 'iso', {
        port: Number(new URL(base).port),
        other_code: join(c.worker_dir, 'code', `echo-${otherCode.version}`, 'f.py'),
        other_scratch: join(c.worker_dir, 'sandboxes'),
      });
      expect(r.status).toBe(200);
      const o = JSON.parse(r.text);
      expect(o.tcp_loopback_host).not.toBe('allowed');
      expect(o.tcp_other).not.toBe('allowed');
      expect(o.write_root).toBe('OSError');
      expect(o.write_handler).toBe('OSError');
      expect(o.read_other_code).not.toBe('allowed');
      expect(o.read_other_scratch).not.toBe('allowed');
      expect(o.uid).toBe(65534);
      expect(o.pids.length).toBeLessThanOrEqual(2);
    });

    it('100 concurrent clients on one lambda for 10 s: every request answered once', async () => {
      const until = performance.now() + 10_000;
      const sent = new Set<string>();
      const got: string[] = [];
      const bad: string[] = [];
      await Promise.all(Array.from({ length: 100 }, async (_, k) => {
        for (let i = 0; performance.now() < until; i++) {
          const id = `c${k}-${i}`;
          sent.add(id);
          const r = await post(base, 'echo', { id });
          if (r.status !== 200) bad.push(`${id}: ${r.status} ${r.text.slice(0, 100)}`);
          else got.push(JSON.parse(r.text).id);
        }
      }));
      expect(bad).toEqual([]);
      expect(got.length).toBe(sent.size);
      expect(new Set(got).size).toBe(got.length);
      expect(new Set(got)).toEqual(sent);
    }, 60_000);
  });
}

describe.each(['sock', 'docker'] as const)('recovery after SIGKILL (%s backend)', (backend) => {
  it('up after a killed worker removes its processes, cgroups, containers and sandbox dirs', async () => {
    const missing = prerequisites(backend);
    if (missing) throw new Error(missing);
    const port = await freePort();
    const c = workerDir({ port, log_level: 'warn', sandbox: backend });
    const cli = projectPath('dist', 'worker', 'cli.js');
    const start = async (): Promise<ChildProcess> => {
      const p = spawn(process.execPath, [cli, 'up', '--path', c.worker_dir], { stdio: 'ignore' });
      for (let i = 0; i < 200; i++) {
        try { if ((await fetch(`http://127.0.0.1:${port}/status`)).ok) return p; } catch { /* starting */ }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('worker did not start');
    };
    const pool = await makePoolFor(c);
    const first = await start();
    for (const l of ['echo', 'env', 'raises']) expect((await post(`http://127.0.0.1:${port}`, l, 1)).status).toBeLessThan(501);
    // the zygote clones its next spare just after a new sandbox answers: wait until nothing more is starting
    let running = await pool.census();
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const again = await pool.census();
      if (JSON.stringify(again) === JSON.stringify(running)) break;
      running = again;
    }
    // sock: three sandboxes forked from the root zygote, and the zygote
    const extra = backend === 'sock' ? 1 : 0;
    expect(backend === 'sock' ? running.cgroups : running.containers).toBe(3 + extra);
    expect(running.processes).toBeGreaterThanOrEqual(3 + extra);
    expect(running.dirs).toBe(3 + extra);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const leaked = await pool.census();
    expect(leaked).toEqual(running); // the sandboxes outlive their worker...
    const second = await start();
    expect(await pool.census()).toEqual({ processes: 0, cgroups: 0, containers: 0, dirs: 0 }); // ...until up cleans them
    expect((await post(`http://127.0.0.1:${port}`, 'echo', 'back')).status).toBe(200);
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    expect(await pool.census()).toEqual({ processes: 0, cgroups: 0, containers: 0, dirs: 0 });
    // a worker that cannot listen (its port taken) says so and leaves nothing behind, its root cgroups included
    const roots = () => ['cpu', 'memory', 'freezer', 'pids', 'unified'].map((h) => join('/sys/fs/cgroup', h, c.cgroup_root)).filter((d) => existsSync(d));
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
    try {
      const r = spawnSync(process.execPath, [cli, 'up', '--path', c.worker_dir], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(.*EADDRINUSE`));
      expect(roots()).toEqual([]);
      expect(existsSync(join(c.worker_dir, 'worker.pid'))).toBe(false);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  }, 90_000);
});
