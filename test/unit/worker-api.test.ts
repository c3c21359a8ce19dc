/** Routes and the lambda manager, through app.inject() with a fake sandbox backend. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig, type WorkerConfig } from '../../worker/config.js';
import { buildApp, type Worker } from '../../worker/server.js';
import { FakePool } from '../fake-pool.js';

let open: Worker[] = [];
afterEach(async () => {
  for (const w of open) await w.app.close();
  open = [];
});

function setup(over: Partial<WorkerConfig> = {}, lambdas: Record<string, string> = {}, yamls: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ol-wapi-'));
  const c = { ...defaultConfig(dir), registry_cache_ms: 0, ...over };
  for (const [name, src] of Object.entries(lambdas)) {
    mkdirSync(join(c.registry, name), { recursive: true });
    writeFileSync(join(c.registry, name, 'f.py'), src);
    if (yamls[name]) writeFileSync(join(c.registry, name, 'ol.yaml'), yamls[name]!);
  }
  const pool = new FakePool();
  const w = buildApp({ config: c, pool });
  open.push(w);
  return { w, pool, c, dir };
}

function tgz(files: Record<string, string>, extra: string[] = []): Buffer {
  const d = mkdtempSync(join(tmpdir(), 'ol-tgz-'));
  for (const [n, t] of Object.entries(files)) {
    mkdirSync(join(d, n, '..'), { recursive: true });
    writeFileSync(join(d, n), t);
  }
  return execFileSync('tar', ['-czf', '-', '-C', d, ...extra, ...Object.keys(files)]);
}

describe('worker HTTP API (fake sandboxes)', () => {
  it('status, run cold then warm (paused and unpaused by openlambda), stats and metrics', async () => {
    const { w, pool } = setup({}, { echo: '# fake: echo\n' });
    expect((await w.app.inject({ method: 'GET', url: '/status' })).body).toBe('ready\n');
    const r1 = await w.app.inject({ method: 'POST', url: '/run/echo', payload: '{"x":1}', headers: { 'content-type': 'application/json' } });
    expect(r1.statusCode).toBe(200);
    expect(r1.json()).toEqual({ x: 1 });
    expect(r1.headers['x-ol-start']).toBe('cold');
    await new Promise((r) => setTimeout(r, 20));
    const r2 = await w.app.inject({ method: 'POST', url: '/run/echo', payload: '[2]' });
    expect(r2.headers['x-ol-start']).toBe('unpaused');
    const stats = (await w.app.inject({ method: 'GET', url: '/stats' })).json();
    expect(stats.counters).toMatchObject({ requests: 2, cold: 1, unpaused: 1 });
    expect(stats.stages.total.count).toBe(2);
    const metrics = (await w.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^ol_requests_total 2$/m);
    expect(metrics).toMatch(/ol_stage_ms\{stage="handler",quantile="0.5"\}/);
    await w.app.close();
    open = [];
    // lifecycle order: create first, destroy last
    const id = pool.events[0]!.split(' ')[1];
    const mine = pool.events.filter((e) => e.endsWith(` ${id}`)).map((e) => e.split(' ')[0]);
    expect(mine[0]).toBe('create');
    expect(mine.at(-1)).toBe('destroy');
    expect(mine.filter((e) => e === 'destroy')).toHaveLength(1);
    expect(pool.live).toBe(0);
  });

  it('handler exceptions give 500 with the traceback; the lambda keeps working', async () => {
    const { w } = setup({}, { bad: '# fake: error\n' });
    const r = await w.app.inject({ method: 'POST', url: '/run/bad', payload: '{}' });
    expect(r.statusCode).toBe(500);
    expect(r.body).toMatch(/Traceback[\s\S]*ValueError: boom/);
  });

  it('a time limit kills the sandbox with 504; a crash is 502; OOM is 507; the next call gets a fresh sandbox', async () => {
    const { w, pool } = setup({ limits: { ...defaultConfig('/x').limits, time_limit_ms: 30 } }, { slow: '# fake: sleep 200\n', dies: '# fake: crash\n', hog: '# fake: oom\n', ok: '# fake: echo\n' });
    const t = await w.app.inject({ method: 'POST', url: '/run/slow', payload: '{}' });
    expect(t.statusCode).toBe(504);
    expect(t.body).toMatch(/lambda slow ran past its time limit of 30 ms; its sandbox was killed/);
    const c = await w.app.inject({ method: 'POST', url: '/run/dies', payload: '{}' });
    expect(c.statusCode).toBe(502);
    expect(c.body).toMatch(/the sandbox of lambda dies died/);
    const o = await w.app.inject({ method: 'POST', url: '/run/hog', payload: '{}' });
    expect(o.statusCode).toBe(507);
    expect(o.body).toMatch(/lambda hog ran out of memory \(limit 256 MB\)/);
    const again = await w.app.inject({ method: 'POST', url: '/run/dies', payload: '{}' });
    expect(again.statusCode).toBe(502);
    expect((await w.app.inject({ method: 'POST', url: '/run/ok', payload: '1' })).statusCode).toBe(200);
    expect(pool.created).toBe(5);
    expect(pool.live).toBe(1);
  });

  it('bad requests: names, JSON, unknown lambdas, methods, broken lambdas', async () => {
    const { w } = setup({}, { echo: '# fake: echo\n', getonly: '# fake: echo\n', broken: '# fake: badimport\n' }, { getonly: 'triggers:\n  http:\n    - method: GET\n' });
    expect((await w.app.inject({ method: 'POST', url: '/run/bad%20name', payload: '{}' })).statusCode).toBe(400);
    // as OpenLambda: a body that is not JSON reaches the runtime, whose decoding fails with the traceback
    const j = await w.app.inject({ method: 'POST', url: '/run/echo', payload: '{"x":' });
    expect(j.statusCode).toBe(500);
    expect(j.body).toMatch(/JSONDecodeError/);
    // an empty body is the event {}
    expect((await w.app.inject({ method: 'POST', url: '/run/echo' })).json()).toEqual({});
    const u = await w.app.inject({ method: 'POST', url: '/run/nope', payload: '{}' });
    expect(u.statusCode).toBe(404);
    expect(u.body).toMatch(/no lambda named nope/);
    const m = await w.app.inject({ method: 'POST', url: '/run/getonly', payload: '{}' });
    expect(m.statusCode).toBe(405);
    expect(m.body).toBe('HTTP method not allowed. Sent: POST, Allowed: [GET]\n');
    expect((await w.app.inject({ method: 'GET', url: '/run/getonly' })).statusCode).toBe(200);
    const b = await w.app.inject({ method: 'POST', url: '/run/broken', payload: '{}' });
    expect(b.statusCode).toBe(500);
    expect(b.body).toMatch(/failed to start:\nTraceback: SyntaxError/);
  });

  it('memory pool: evicts idle sandboxes for new ones; queues when all are busy; 429 past queue_limit', async () => {
    const { w, pool } = setup({ mem_pool_mb: 512, queue_limit: 1, policy: 'lru' }, { a: '# fake: sleep 60\n', b: '# fake: sleep 60\n', c: '# fake: echo\n' });
    // two busy 256 MB sandboxes fill the pool; a third waits; a fourth of the same lambda is refused
    const ra = w.app.inject({ method: 'POST', url: '/run/a', payload: '{}' });
    const rb = w.app.inject({ method: 'POST', url: '/run/b', payload: '{}' });
    await new Promise((r) => setTimeout(r, 20));
    const rc = w.app.inject({ method: 'POST', url: '/run/c', payload: '{}' });
    await new Promise((r) => setTimeout(r, 5));
    const rc2 = await w.app.inject({ method: 'POST', url: '/run/c', payload: '{}' });
    expect(rc2.statusCode).toBe(429);
    expect(rc2.body).toMatch(/lambda c has 1 requests waiting \(queue_limit 1\)/);
    const [a, b, c] = await Promise.all([ra, rb, rc]);
    expect([a.statusCode, b.statusCode, c.statusCode]).toEqual([200, 200, 200]);
    expect(c.headers['x-ol-start']).toBe('cold');
    const s = (await w.app.inject({ method: 'GET', url: '/stats' })).json();
    expect(s.counters.evictions).toBe(1);
    expect(s.counters.queued).toBe(1);
    expect(s.gauges.mem_used_mb).toBeLessThanOrEqual(512);
    expect(pool.live).toBe(2);
  });

  it('with record on, every invocation appends one JSON line', async () => {
    const { w, c } = setup({ record: true }, { e: '# fake: echo\n', bad: '# fake: error\n' });
    await w.app.inject({ method: 'POST', url: '/run/e', payload: '{}' });
    await w.app.inject({ method: 'POST', url: '/run/e', payload: '{}' });
    await w.app.inject({ method: 'POST', url: '/run/bad', payload: '{}' });
    await w.app.inject({ method: 'POST', url: '/run/nope', payload: '{}' });
    const lines = readFileSync(c.record_path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.lambda, l.start, l.status])).toEqual([['e', 'cold', 200], ['e', 'unpaused', 200], ['bad', 'cold', 500], ['nope', 'failed', 404]]);
    const base = ['arrival_ms', 'create_ms', 'handler_ms', 'lambda', 'queue_ms', 'start', 'status', 'total_ms', 'unpause_ms'];
    for (const l of lines) {
      // cold starts also say which packages the sandbox mounted (none here)
      expect(Object.keys(l).sort()).toEqual(l.start === 'cold' ? [...base, 'packages'].sort() : base);
      expect(l.total_ms).toBeGreaterThanOrEqual(l.handler_ms);
    }
    expect(lines[0].create_ms).toBeGreaterThan(0);
  });

  it('under memory pressure every queued request is served exactly once', async () => {
    for (const policy of ['openlambda', 'lru', 'gdsf']) {
      const { w } = setup({ mem_pool_mb: 768, queue_limit: 1000, policy }, { a: '# fake: sleep 7\n', b: '# fake: sleep 3\n', c: '# fake: sleep 11\n', d: '# fake: echo\n' });
      const names = ['a', 'b', 'c', 'd'];
      const rs = await Promise.all(Array.from({ length: 120 }, (_, i) => w.app.inject({ method: 'POST', url: `/run/${names[(i * 7) % 4]}`, payload: String(i) })));
      expect(rs.map((r) => r.statusCode).filter((c) => c !== 200), policy).toEqual([]);
      const s = (await w.app.inject({ method: 'GET', url: '/stats' })).json();
      expect(s.counters.cold + s.counters.warm + s.counters.unpaused, policy).toBe(120);
      expect(s.gauges.queue_length).toBe(0);
      expect(s.gauges.sandboxes_busy).toBe(0);
      expect(s.gauges.mem_used_mb).toBeLessThanOrEqual(768);
    }
  });

  it('ttl policy expires idle sandboxes on the wall clock', async () => {
    const { w, pool } = setup({ policy: 'ttl', policy_options: { keepAliveMs: 50 } }, { e: '# fake: echo\n' });
    await w.app.inject({ method: 'POST', url: '/run/e', payload: '{}' });
    expect(pool.live).toBe(1);
    await new Promise((r) => setTimeout(r, 150));
    expect(pool.live).toBe(0);
    expect((await w.app.inject({ method: 'GET', url: '/stats' })).json().counters.expirations).toBe(1);
  });

  it('registry: upload (201), list, config, run, re-upload picks up new code, delete', async () => {
    const { w } = setup({});
    const up = await w.app.inject({ method: 'POST', url: '/registry/hello', payload: tgz({ 'f.py': '# fake: echo\n', 'ol.yaml': 'environment:\n  A: "1"\nlimits:\n  mem_mb: 64\n' }) });
    expect(up.statusCode).toBe(201);
    expect((await w.app.inject({ method: 'GET', url: '/registry/' })).json()).toEqual(['hello']);
    const cfg = (await w.app.inject({ method: 'GET', url: '/registry/hello/config' })).json();
    expect(cfg).toMatchObject({ name: 'hello', methods: ['*'], environment: { A: '1' }, limits: { mem_mb: 64 } });
    // OpenLambda's fields, for its clients
    expect(cfg).toMatchObject({ Triggers: { HTTP: [{ Method: '*' }], Cron: null, Kafka: null }, Environment: { A: '1' }, ReuseSandbox: true });
    // the code itself, as a .tar.gz
    const got = await w.app.inject({ method: 'GET', url: '/registry/hello' });
    expect(got.statusCode).toBe(200);
    expect(got.headers['content-type']).toBe('application/gzip');
    const listing = execFileSync('tar', ['-tzf', '-'], { input: got.rawPayload }).toString().split('\n').filter(Boolean).sort();
    expect(listing).toEqual(['f.py', 'ol.yaml']);
    expect((await w.app.inject({ method: 'POST', url: '/run/hello', payload: '5' })).json()).toBe(5);
    const up2 = await w.app.inject({ method: 'POST', url: '/registry/hello', payload: tgz({ 'f.py': '# fake: error\n' }) });
    expect(up2.json().version).not.toBe(up.json().version);
    expect((await w.app.inject({ method: 'POST', url: '/run/hello', payload: '5' })).statusCode).toBe(500);
    expect((await w.app.inject({ method: 'DELETE', url: '/registry/hello' })).statusCode).toBe(200);
    expect((await w.app.inject({ method: 'DELETE', url: '/registry/hello' })).statusCode).toBe(404);
    expect((await w.app.inject({ method: 'POST', url: '/run/hello', payload: '5' })).statusCode).toBe(404);
  });

  it('registry: bad uploads get 4xx with the reason and change nothing', async () => {
    const { w, c } = setup({ registry_max_mb: 0.05 }, { keep: '# fake: echo\n' });
    const cases: [Buffer, RegExp, number][] = [
      [tgz({ 'g.py': 'x' }), /no f\.py at its top level/, 400],
      [tgz({ 'f.py': 'x', 'ol.yaml': 'environment:\n  OL_ENTRY_FILE: app.py\n' }), /no app\.py at its top level \(named by OL_ENTRY_FILE\)/, 400],
      [tgz({ 'f.py': 'x', 'ol.yaml': 'environment:\n  OL_ENTRY_FILE: ../x.py\n' }), /OL_ENTRY_FILE must name a \.py file/, 400],
      [tgz({ 'f.py': 'x', 'ol.yaml': 'triggers:\n  cron:\n    - schedule: "* * * * *"\n' }), /field "triggers\.cron" is an OpenLambda trigger that ol-worker does not run/, 400],
      [tgz({ 'f.py': 'x', 'ol.yaml': 'reuse-sandbox: maybe\n' }), /field "reuse-sandbox" must be true or false/, 400],
      [tgz({ 'f.py': 'x', 'ol.yaml': 'triggers:\n  http:\n    - method: ""\n' }), /field "triggers\.http\[0\]\.method" cannot be empty/, 400],
      [Buffer.from('not a tarball'), /not a gzip file/, 400],
      [tgz({ 'f.py': 'x', 'ol.yaml': 'limits:\n  mem_mb: -1\n' }), /ol\.yaml: field "limits\.mem_mb" must be a number >= 8/, 400],
      [tgz({ 'f.py': 'x', 'requirements.txt': '# pinned\nnumpy==1.26.4\n\n-e git+https://example.invalid/x\n' }), /upload of lambda keep: requirements\.txt line 4: "-e git\+https:\/\/example\.invalid\/x" is not a requirement/, 400],
      [tgz({ 'f.py': 'x'.repeat(200_000) }), /unpacks to more than/, 413],
    ];
    for (const [body, re, code] of cases) {
      const r = await w.app.inject({ method: 'POST', url: '/registry/keep', payload: body });
      expect(r.statusCode, String(re)).toBe(code);
      expect(r.body, String(re)).toMatch(re);
    }
    // absolute paths and links out of the archive
    const d = mkdtempSync(join(tmpdir(), 'ol-evil-'));
    writeFileSync(join(d, 'f.py'), 'x');
    execFileSync('ln', ['-s', '/etc/passwd', join(d, 'pw')]);
    const evil = execFileSync('tar', ['-czf', '-', '-C', d, 'f.py', 'pw']);
    const r = await w.app.inject({ method: 'POST', url: '/registry/keep', payload: evil });
    expect(r.statusCode).toBe(400);
    expect(r.body).toMatch(/link "pw" points outside the archive/);
    const abs = execFileSync('tar', ['-czPf', '-', join(d, 'f.py')]);
    const r2 = await w.app.inject({ method: 'POST', url: '/registry/keep', payload: abs });
    expect(r2.statusCode).toBe(400);
    expect(r2.body).toMatch(/absolute path/);
    for (const bad of ['%2E%2E', 'a%20b', 'a%2Fb', '..']) {
      const code = (await w.app.inject({ method: 'POST', url: `/registry/${bad}`, payload: tgz({ 'f.py': 'x' }) })).statusCode;
      expect(code >= 400 && code < 500, `${bad}: ${code}`).toBe(true);
    }
    expect((await w.app.inject({ method: 'POST', url: '/run/keep', payload: '1' })).statusCode).toBe(200);
    expect(execFileSync('ls', [c.registry]).toString().trim()).toBe('keep');
  });
});

describe("OpenLambda's request semantics and ol.yaml (fake sandboxes)", () => {
  it('a lambda without ol.yaml takes every method; methods in ol.yaml match in any case', async () => {
    const { w } = setup({}, { any: '# fake: echo\n', lower: '# fake: echo\n' }, { lower: 'triggers:\n  http:\n    - method: get\n    - method: Post\n' });
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const) {
      expect((await w.app.inject({ method, url: '/run/any/x?y=1' })).statusCode, method).toBe(200);
    }
    expect((await w.app.inject({ method: 'GET', url: '/run/lower' })).statusCode).toBe(200);
    expect((await w.app.inject({ method: 'POST', url: '/run/lower', payload: '1' })).statusCode).toBe(200);
    const put = await w.app.inject({ method: 'PUT', url: '/run/lower', payload: '1' });
    expect(put.statusCode).toBe(405);
    expect(put.body).toBe('HTTP method not allowed. Sent: PUT, Allowed: [get Post]\n');
    expect((await w.app.inject({ method: 'GET', url: '/registry/lower/config' })).json()).toMatchObject({ Triggers: { HTTP: [{ Method: 'get' }, { Method: 'Post' }] } });
  });

  it('reuse-sandbox: false gives every request a sandbox of its own, destroyed when it answers', async () => {
    const { w, pool } = setup({ policy: 'lru' }, { once: '# fake: echo\n', kept: '# fake: echo\n' }, { once: 'reuse-sandbox: false\n' });
    const starts: string[] = [];
    for (let i = 0; i < 3; i++) starts.push((await w.app.inject({ method: 'POST', url: '/run/once', payload: '1' })).headers['x-ol-start'] as string);
    expect(starts).toEqual(['cold', 'cold', 'cold']);
    await new Promise((r) => setTimeout(r, 10));
    expect(pool.live).toBe(0);
    for (let i = 0; i < 2; i++) await w.app.inject({ method: 'POST', url: '/run/kept', payload: '1' });
    expect(pool.live).toBe(1);
    expect((await w.app.inject({ method: 'GET', url: '/registry/once/config' })).json()).toMatchObject({ ReuseSandbox: false, reuse_sandbox: false });
  });

  it("the lambda's own .env is its environment unless ol.yaml sets one; OL_ENTRY_FILE names the entry", async () => {
    const { w, pool } = setup({});
    const up = await w.app.inject({ method: 'POST', url: '/registry/app', payload: tgz({ 'main.py': '# fake: echo\n', '.env': 'OL_ENTRY_FILE=main.py\nGREETING="hi there"\n' }) });
    expect(up.statusCode, up.body).toBe(201);
    expect((await w.app.inject({ method: 'GET', url: '/run/app' })).statusCode).toBe(200);
    expect(pool.specs.at(-1)!.env).toEqual({ OL_ENTRY_FILE: 'main.py', GREETING: 'hi there' });
    const cfg = (await w.app.inject({ method: 'GET', url: '/registry/app/config' })).json();
    expect(cfg).toMatchObject({ entry: 'main.py' });
    const up2 = await w.app.inject({ method: 'POST', url: '/registry/app2', payload: tgz({ 'f.py': '# fake: echo\n', '.env': 'A=1\n', 'ol.yaml': 'environment:\n  B: "2"\n' }) });
    expect(up2.statusCode, up2.body).toBe(201);
    await w.app.inject({ method: 'GET', url: '/run/app2' });
    expect(pool.specs.at(-1)!.env).toEqual({ B: '2' });
  });

  it("the client's target, query and headers reach the sandbox; the handler's status and headers come back", async () => {
    const { w, pool } = setup({}, { web: '# fake: echo\n' });
    pool.reply = (req) => ({ status: 418, contentType: 'text/html', headers: ['A', 'B', 'Set-Cookie', 'x=1', 'Set-Cookie', 'y=2', 'Transfer-Encoding', 'chunked'], body: Buffer.from(`${req.method} ${req.path}`) });
    const r = await w.app.inject({ method: 'PUT', url: '/run/web/a/b?q=1', headers: { 'x-trace': 't1' }, payload: 'raw, not JSON' });
    expect(r.statusCode).toBe(418);
    expect(r.body).toBe('PUT /run/web/a/b?q=1');
    expect(r.headers).toMatchObject({ a: 'B', 'set-cookie': ['x=1', 'y=2'], 'content-type': 'text/html' });
    expect(r.headers['transfer-encoding']).toBeUndefined();
    const sent = pool.requests.at(-1)!;
    expect(sent.body.toString()).toBe('raw, not JSON');
    expect(sent.headers).toContain('x-trace');
  });

  it("OpenLambda's stat names are there too, beside ol-lab's", async () => {
    const { w } = setup({}, { echo: '# fake: echo\n' });
    await w.app.inject({ method: 'POST', url: '/run/echo', payload: '1' });
    await w.app.inject({ method: 'POST', url: '/run/echo', payload: '1' });
    const s = (await w.app.inject({ method: 'GET', url: '/stats' })).json();
    expect(s['pull-package.cnt']).toBe(0);
    expect(s['LambdaFunc.Invoke.cnt']).toBe(2);
    expect(s['Create().cnt']).toBe(1);
    expect(typeof s['LambdaFunc.Invoke.ms-avg']).toBe('number');
    expect(s.counters.requests).toBe(2);
  });
});
