/**
 * Lambdas written for OpenLambda run unchanged on ol-worker, on both
 * backends: functions, WSGI and ASGI apps in plain Python, a Flask app
 * whose packages come through requirements.txt and the package cache, and
 * OpenLambda's request semantics (empty body, a body that is not JSON,
 * methods without ol.yaml, `reuse-sandbox`, `.env`, `OL_ENTRY_FILE`), its
 * registry routes and its stat names. The lambdas are ol-lab's own, in the
 * shapes of OpenLambda's examples. Needs root, the base root and the Docker
 * engine with the ol-min image (scripts/setup-host.sh); Flask comes from
 * Debian's python3-flask, packed into wheels as a package index would
 * serve them.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repackWheels } from '../../experiments/wheels.js';
import { defaultConfig, type WorkerConfig } from '../../worker/config.js';
import type { Worker } from '../../worker/server.js';
import { prerequisites, startWorker, stopWorker, tgz } from './real-worker.js';

const DEBIAN = '/usr/lib/python3/dist-packages';

/** Debian's Flask and what it needs, with the dependencies Debian's metadata leaves out. */
const FLASK = [
  { name: 'Flask', version: '2.2.2', paths: [`${DEBIAN}/flask`], requires: ['Werkzeug>=2.2.2', 'Jinja2>=3.0', 'itsdangerous>=2.0', 'click>=8.0'] },
  { name: 'Werkzeug', version: '2.2.2', paths: [`${DEBIAN}/werkzeug`], requires: ['MarkupSafe>=2.1.1'] },
  { name: 'Jinja2', version: '3.1.2', paths: [`${DEBIAN}/jinja2`], requires: ['MarkupSafe>=2.0'] },
  { name: 'MarkupSafe', version: '2.1.2', paths: [`${DEBIAN}/markupsafe`] },
  { name: 'itsdangerous', version: '2.1.2', paths: [`${DEBIAN}/itsdangerous`] },
  { name: 'click', version: '8.1.3', paths: [`${DEBIAN}/click`] },
];

/** Lambdas as folders: file name → text. */
const LAMBDAS: Record<string, Record<string, string>> = {
  echo: { 'f.py': 'def f(event):\n    return event\n' },
  'env-test': {
    'f.py': 'import os\ndef f(event):\n    return {k: os.environ.get(k) for k in ("MY_ENV_VAR1", "MY_ENV_VAR2", "FROM_DOTENV")}\n',
    'ol.yaml': 'environment:\n  MY_ENV_VAR1: "production"\n  MY_ENV_VAR2: enabled\n',
    '.env': 'FROM_DOTENV=ignored because ol.yaml sets the environment\n',
  },
  dotenv: {
    'f.py': 'import os\ndef f(event):\n    return [os.environ.get("A"), os.environ.get("B")]\n',
    '.env': '# the lambda\'s own environment\nA=1\nB="two words"\n',
  },
  // OpenLambda's flask-test shape, without Flask: a WSGI app in plain Python, in a file OL_ENTRY_FILE names
  'wsgi-entry': {
    'ol.yaml': 'environment:\n  OL_ENTRY_FILE: app.py\n',
    'app.py': [
      'import json',
      'def app(environ, start_response):',
      '    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))',
      '    out = {"method": environ["REQUEST_METHOD"], "script": environ["SCRIPT_NAME"], "path": environ["PATH_INFO"],',
      '           "query": environ["QUERY_STRING"], "trace": environ.get("HTTP_X_TRACE"), "body": body.decode()}',
      '    start_response("418 I\'m a teapot", [("A", "B"), ("Content-Type", "application/json"), ("Set-Cookie", "x=1"), ("Set-Cookie", "y=2")])',
      '    return [json.dumps(out).encode()]',
    ].join('\n') + '\n',
  },
  'wsgi-named': {
    'ol.yaml': 'environment:\n  OL_WSGI_ENTRY: application\n',
    'f.py': 'def application(environ, start_response):\n    start_response("200 OK", [("Content-Type", "text/plain")])\n    yield b"named "\n    yield environ["PATH_INFO"].encode()\n',
  },
  // an ASGI app in plain Python, found as `app` because its __call__ is a coroutine
  'asgi-app': {
    'f.py': [
      'import json',
      'class App:',
      '    async def __call__(self, scope, receive, send):',
      '        msg = await receive()',
      '        out = {"method": scope["method"], "root": scope["root_path"], "path": scope["path"],',
      '               "query": scope["query_string"].decode(), "trace": dict(scope["headers"]).get(b"x-trace", b"").decode(),',
      '               "body": msg["body"].decode()}',
      '        await send({"type": "http.response.start", "status": 201, "headers": [(b"x-kind", b"asgi"), (b"content-type", b"application/json")]})',
      '        await send({"type": "http.response.body", "body": json.dumps(out).encode(), "more_body": True})',
      '        await send({"type": "http.response.body", "body": b""})',
      'app = App()',
    ].join('\n') + '\n',
  },
  'asgi-named': {
    'ol.yaml': 'environment:\n  OL_ASGI_ENTRY: handler\n',
    'f.py': 'async def handler(scope, receive, send):\n    await send({"type": "http.response.start", "status": 200, "headers": []})\n    await send({"type": "http.response.body", "body": b"named asgi"})\n',
  },
  'asgi-broken': { 'f.py': 'async def app(scope, receive, send):\n    raise RuntimeError("asgi app failed")\n' },
  // OpenLambda's flask-test: 418 with header A: B
  'flask-test': {
    'requirements.txt': 'flask\n',
    'f.py': [
      'from flask import Flask, request',
      'app = Flask(__name__)',
      '@app.route("/")',
      'def hi():',
      '    return "hi\\n", 418, {"A": "B"}',
      '@app.route("/echo/<word>", methods=["GET", "POST"])',
      'def echo(word):',
      '    return {"word": word, "q": request.args.get("q"), "body": request.get_data(as_text=True)}',
    ].join('\n') + '\n',
  },
  'no-reuse': { 'f.py': 'import os\ndef f(event):\n    return os.getpid()\n', 'ol.yaml': 'reuse-sandbox: false\n' },
  'post-only': { 'f.py': 'def f(event):\n    return event\n', 'ol.yaml': 'triggers:\n  http:\n    - method: "POST"\n' },
};



for (const backend of ['sock', 'docker'] as const) {
  describe(`OpenLambda's lambdas and semantics, ${backend} backend`, () => {
    let w: Worker;
    let base: string;
    let c: WorkerConfig;
    let wheels: string;

    beforeAll(async () => {
      const missing = prerequisites(backend, { [join(DEBIAN, 'flask')]: "Debian's python3-flask; run scripts/setup-host.sh" });
      if (missing) throw new Error(missing);
      const dir = mkdtempSync(join(tmpdir(), 'ol-compat-'));
      wheels = join(dir, 'wheels');
      repackWheels(wheels, FLASK);
      chmodSync(dir, 0o755);
      chmodSync(wheels, 0o755);
      c = { ...defaultConfig(dir), sandbox: backend, mem_pool_mb: 2048, registry_cache_ms: 0, package_index: wheels };
      c.limits = { ...c.limits, mem_mb: 128, time_limit_ms: 20_000 };
      // half the lambdas as registry folders, half uploaded as OpenLambda's clients do
      const names = Object.keys(LAMBDAS);
      for (const name of names.filter((_, i) => i % 2 === 0)) {
        mkdirSync(join(c.registry, name), { recursive: true });
        for (const [f, t] of Object.entries(LAMBDAS[name]!)) writeFileSync(join(c.registry, name, f), t);
      }
      ({ w, base } = await startWorker(c));
      for (const name of names.filter((_, i) => i % 2 === 1)) {
        const r = await fetch(`${base}/registry/${name}`, { method: 'POST', body: new Uint8Array(tgz(LAMBDAS[name]!)), headers: { 'content-type': 'application/octet-stream' } });
        expect(r.status, await r.clone().text()).toBe(201);
      }
    }, 120_000);

    afterAll(() => stopWorker(w, c, true), 60_000);

    it('f(event): a JSON body is the event, an empty body is {}, a body that is not JSON fails in the runtime', async () => {
      const hello = await fetch(`${base}/run/echo`, { method: 'POST', body: JSON.stringify('hello world') });
      expect(await hello.json()).toBe('hello world');
      const empty = await fetch(`${base}/run/echo`, { method: 'POST' });
      expect([empty.status, await empty.json()]).toEqual([200, {}]);
      const bad = await fetch(`${base}/run/echo`, { method: 'POST', body: 'not json' });
      expect(bad.status).toBe(500);
      expect(await bad.text()).toMatch(/Traceback[\s\S]*JSONDecodeError/);
      // no ol.yaml: every method
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) expect((await fetch(`${base}/run/echo`, { method })).status, method).toBe(200);
      const get = await fetch(`${base}/run/post-only`);
      expect(get.status).toBe(405);
      expect(await get.text()).toBe('HTTP method not allowed. Sent: GET, Allowed: [POST]\n');
    });

    it("environment: ol.yaml's replaces .env; a lambda's own .env is read when ol.yaml sets none", async () => {
      expect(await (await fetch(`${base}/run/env-test`, { method: 'POST' })).json()).toEqual({ MY_ENV_VAR1: 'production', MY_ENV_VAR2: 'enabled', FROM_DOTENV: null });
      expect(await (await fetch(`${base}/run/dotenv`, { method: 'POST' })).json()).toEqual(['1', 'two words']);
    });

    it('a WSGI app in the file OL_ENTRY_FILE names: its path, query, headers and raw body in; its status and headers out', async () => {
      const r = await fetch(`${base}/run/wsgi-entry/a/b%20c?x=1&y=2`, { method: 'PUT', body: 'raw <bytes>', headers: { 'x-trace': 't-1' } });
      expect(r.status).toBe(418);
      expect(r.headers.get('a')).toBe('B');
      expect(r.headers.get('set-cookie')).toBe('x=1, y=2');
      expect(await r.json()).toEqual({ method: 'PUT', script: '/run/wsgi-entry', path: '/a/b c', query: 'x=1&y=2', trace: 't-1', body: 'raw <bytes>' });
      const root = await (await fetch(`${base}/run/wsgi-entry`)).json();
      expect(root).toMatchObject({ method: 'GET', path: '/', query: '', body: '' });
      const named = await fetch(`${base}/run/wsgi-named/p/q`);
      expect([named.status, await named.text()]).toEqual([200, 'named /p/q']);
    });

    it('ASGI apps: found by their coroutine __call__, or named by OL_ASGI_ENTRY; a failing one is a 500 with the traceback', async () => {
      const r = await fetch(`${base}/run/asgi-app/x/y?z=3`, { method: 'POST', body: 'not json either', headers: { 'x-trace': 'a-1' } });
      expect(r.status).toBe(201);
      expect(r.headers.get('x-kind')).toBe('asgi');
      expect(await r.json()).toEqual({ method: 'POST', root: '/run/asgi-app', path: '/x/y', query: 'z=3', trace: 'a-1', body: 'not json either' });
      // the app keeps serving from the same sandbox (one event loop for its life)
      expect((await fetch(`${base}/run/asgi-app`)).headers.get('x-ol-start')).not.toBe('cold');
      expect(await (await fetch(`${base}/run/asgi-named`)).text()).toBe('named asgi');
      const broken = await fetch(`${base}/run/asgi-broken`);
      expect(broken.status).toBe(500);
      expect(await broken.text()).toMatch(/RuntimeError: asgi app failed/);
    });

    it("OpenLambda's flask-test: Flask from requirements.txt through the package cache; 418 with header A: B", async () => {
      const before = (await (await fetch(`${base}/stats`)).json())['pull-package.cnt'] as number;
      const r = await fetch(`${base}/run/flask-test`);
      expect(r.status, await r.clone().text()).toBe(418);
      expect(r.headers.get('a')).toBe('B');
      expect(await r.text()).toBe('hi\n');
      const e = await fetch(`${base}/run/flask-test/echo/abc?q=1`, { method: 'POST', body: 'payload' });
      expect(await e.json()).toEqual({ word: 'abc', q: '1', body: 'payload' });
      // Flask and its five dependencies, each pulled once (OpenLambda's counter name)
      const stats = await (await fetch(`${base}/stats`)).json();
      expect(stats['pull-package.cnt'] - before).toBe(6);
    }, 120_000);

    it('reuse-sandbox: false gives every call a sandbox of its own', async () => {
      const starts: (string | null)[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${base}/run/no-reuse`, { method: 'POST' });
        expect(r.status).toBe(200);
        starts.push(r.headers.get('x-ol-start'));
      }
      expect(starts).toEqual(['cold', 'cold', 'cold']);
      // none is kept once it has answered
      await new Promise((r) => setTimeout(r, 300));
      expect((await (await fetch(`${base}/stats`)).json()).counters.sandboxes_destroyed).toBeGreaterThanOrEqual(3);
    });

    it("the registry answers as OpenLambda's: config shape, the code as a .tar.gz, listing and delete", async () => {
      const cfg = await (await fetch(`${base}/registry/post-only/config`)).json();
      expect(cfg).toMatchObject({ Triggers: { HTTP: [{ Method: 'POST' }], Cron: null, Kafka: null }, Environment: {}, ReuseSandbox: true });
      const code = await fetch(`${base}/registry/wsgi-entry`);
      expect(code.status).toBe(200);
      const listing = execFileSync('tar', ['-tzf', '-'], { input: Buffer.from(await code.arrayBuffer()) }).toString().split('\n').filter(Boolean).sort();
      expect(listing).toEqual(['app.py', 'ol.yaml']);
      expect(await (await fetch(`${base}/registry`)).json()).toEqual(Object.keys(LAMBDAS).sort());
    });
  });
}

/** The memory cgroup folder of a sandbox (sock: under the worker's root; docker: the container's), v1 or v2. */
function sandboxMemoryDir(c: WorkerConfig, lambda: string): string | undefined {
  if (c.sandbox === 'docker') {
    const id = execFileSync('docker', ['ps', '-q', '--filter', `label=ol-lab.lambda=${lambda}`, '--filter', `label=ol-lab.worker=${c.worker_dir}`], { encoding: 'utf8' }).trim().split('\n')[0];
    if (!id) return undefined;
    const pid = execFileSync('docker', ['inspect', '-f', '{{.State.Pid}}', id], { encoding: 'utf8' }).trim();
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
    return line ? join('/sys/fs/cgroup/memory', line.split(':')[2]!) : undefined;
  }
  for (const base of [join('/sys/fs/cgroup/memory', c.cgroup_root), join('/sys/fs/cgroup', c.cgroup_root), join('/sys/fs/cgroup/unified', c.cgroup_root)]) {
    if (!existsSync(base)) continue;
    const d = readdirSync(base).find((e) => e.endsWith(`-${lambda}`));
    if (d) return join(base, d);
  }
  return undefined;
}

function limitMb(dir: string): number {
  const v1 = join(dir, 'memory.limit_in_bytes');
  const text = readFileSync(existsSync(v1) ? v1 : join(dir, 'memory.max'), 'utf8').trim();
  return Number(text) / 2 ** 20;
}

for (const backend of ['sock', 'docker'] as const) {
  describe(`downsize_paused_mem, ${backend} backend`, () => {
    let w: Worker;
    let base: string;
    let c: WorkerConfig;

    beforeAll(async () => {
      const missing = prerequisites(backend);
      if (missing) throw new Error(missing);
      const dir = mkdtempSync(join(tmpdir(), 'ol-downsize-'));
      c = { ...defaultConfig(dir), sandbox: backend, policy: 'openlambda', downsize_paused_mem: true, mem_pool_mb: 1024, registry_cache_ms: 0 };
      c.limits = { ...c.limits, mem_mb: 128 };
      mkdirSync(join(c.registry, 'holder'), { recursive: true });
      // holds 24 MB between calls; a call may take `grow` MB more for its own length
      writeFileSync(join(c.registry, 'holder', 'f.py'), 'buf = bytearray(24 * 2**20)\ndef f(e):\n    tmp = bytearray(e.get("grow", 0) * 2**20)\n    return len(buf) + len(tmp)\n');
      ({ w, base } = await startWorker(c));
    }, 60_000);

    afterAll(() => stopWorker(w, c, true), 60_000);

    const stats = async () => (await (await fetch(`${base}/stats`)).json()) as { counters: Record<string, number>; gauges: Record<string, number> };
    const downsized = async (n: number) => {
      for (let i = 0; i < 200; i++) {
        if ((await stats()).counters.downsized! >= n) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`not downsized ${n} times`);
    };

    it("a paused sandbox's limit drops to what it uses, the pool counts that, and unpausing restores the limit first", async () => {
      const r = await fetch(`${base}/run/holder`, { method: 'POST' });
      expect([r.status, await r.json()]).toEqual([200, 24 * 2 ** 20]);
      await downsized(1);
      const s = await stats();
      const dir = sandboxMemoryDir(c, 'holder')!;
      expect(dir).toBeDefined();
      // the books hold what the kernel's limit says, far below the 128 MB the sandbox had
      expect(s.gauges.sandboxes_paused).toBe(1);
      expect(s.gauges.paused_mem_mb).toBe(limitMb(dir));
      expect(s.gauges.paused_mem_mb).toBeGreaterThan(24);
      expect(s.gauges.paused_mem_mb).toBeLessThan(100);
      expect(s.gauges.mem_reserved_mb).toBe(s.gauges.paused_mem_mb + s.gauges.zygote_mem_mb);
      // a call that needs 64 MB more than it held: the limit is back at 128 MB before it runs
      const g = await fetch(`${base}/run/holder`, { method: 'POST', body: JSON.stringify({ grow: 64 }) });
      expect(g.headers.get('x-ol-start')).toBe('unpaused');
      expect([g.status, await g.json()]).toEqual([200, (24 + 64) * 2 ** 20]);
      await downsized(2);
      expect((await stats()).gauges.paused_mem_mb).toBe(limitMb(sandboxMemoryDir(c, 'holder')!));
    });
  });
}
