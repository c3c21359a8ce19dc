#!/usr/bin/env node
// Replays the checks of OpenLambda's scripts/test.py and scripts/boss_test.py against
// ol-worker, with OpenLambda's own examples/ unchanged, taken from a checkout of
// OpenLambda that you give (nothing of OpenLambda's is in this repository):
//
//   node scripts/openlambda-checks.mjs /path/to/open-lambda [sock|docker]
//
// Needs root, `npm run build` and scripts/setup-host.sh. Without a package index, the
// Flask family the examples pin is packed from Debian's python3-flask under each pinned
// version and served as a folder of wheels. Prints one line per check.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync, readFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { repackWheels } = await import(join(ROOT, 'dist/experiments/wheels.js'));
const { defaultConfig } = await import(join(ROOT, 'dist/worker/config.js'));
const CLI = join(ROOT, 'dist/worker/cli.js');
if (!process.argv[2] || !existsSync(join(process.argv[2], 'examples'))) {
  console.error('usage: node scripts/openlambda-checks.mjs <OpenLambda checkout> [sock|docker]');
  process.exit(2);
}
const EX = join(resolve(process.argv[2]), 'examples');
const backend = process.argv[3] ?? 'sock';
const TMP = mkdtempSync(join(tmpdir(), 'ol-olchecks-'));
process.on('exit', () => rmSync(TMP, { recursive: true, force: true }));
const DEB = '/usr/lib/python3/dist-packages';
const dir = mkdtempSync(join(TMP, 'w-'));
chmodSync(dir, 0o755);
const wheels = join(dir, 'wheels');
// every pinned version of Flask's family the examples ask for, packed from Debian's code under that label
const pins = new Map();
const names = ['echo', 'hello', 'hello2', 'env-test', 'fbomb', 'max_mem_alloc', 'flask-test', 'flask-entry-test', 'wsgi-entry-test', 'wsgi-post-echo', 'wsgi-test', 'lambda-config-test', 'version', 'timeout'];
for (const n of names) {
  try { for (const l of readFileSync(join(EX, n, 'requirements.txt'), 'utf8').split('\n')) { const m = /^([A-Za-z0-9_.-]+)==([^\s;]+)/.exec(l.trim()); if (m) pins.set(`${m[1].toLowerCase()}==${m[2]}`, [m[1].toLowerCase(), m[2]]); } } catch {}
}
const mod = { flask: 'flask', werkzeug: 'werkzeug', jinja2: 'jinja2', markupsafe: 'markupsafe', itsdangerous: 'itsdangerous', click: 'click', blinker: 'blinker' };
repackWheels(wheels, [...pins.values()].filter(([n]) => mod[n]).map(([n, v]) => ({ name: n, version: v, paths: [join(DEB, mod[n])] })));
chmodSync(wheels, 0o755);
const { freePort } = await import(join(ROOT, 'dist/experiments/worker-process.js'));
const port = await freePort();
const c = { ...defaultConfig(dir), port, sandbox: backend, log_level: 'warn', package_index: wheels, registry_cache_ms: 1000 };
c.limits = { ...c.limits, mem_mb: 128, pids: 32 };
writeFileSync(join(dir, 'config.json'), JSON.stringify(c, null, 2));
mkdirSync(c.registry, { recursive: true });
for (const n of names) cpSync(join(EX, n), join(c.registry, n), { recursive: true });
const w = spawn(process.execPath, [CLI, 'up', '--path', dir], { stdio: 'inherit' });
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 200; i++) { try { if ((await fetch(`${base}/status`)).ok) break; } catch {} await new Promise((r) => setTimeout(r, 50)); }
const run = async (name, body, init = {}) => fetch(`${base}/run/${name}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body), ...init });
const checks = [];
const check = async (name, fn) => { try { await fn(); checks.push([name, 'pass']); } catch (e) { checks.push([name, 'FAIL: ' + String(e.message).slice(0, 300)]); } };
const eq = (a, b, what) => { if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`); };
const stats = async () => (await fetch(`${base}/stats`)).json();
await check('install_tests (echo, pull-package.cnt)', async () => { eq(await (await run('echo', 'hello world')).json(), 'hello world', 'echo'); eq((await stats())['pull-package.cnt'] ?? 0, 0, 'installs'); });
await check('hello, hello2', async () => { for (const n of ['hello', 'hello2']) { const r = await run(n, {}); if (r.status !== 200) throw new Error(`${n} ${r.status} ${await r.text()}`); } });
await check('fork_bomb', async () => { const r = await (await run('fbomb', { times: 64 })).text(); const n = Number(r); if (!(n >= 1 && n <= 32)) throw new Error(`forked ${r}`); });
await check('max_mem_alloc', async () => { const r = Number(await (await run('max_mem_alloc', null)).text()); if (!(r >= 128 - 16 && r <= 128)) throw new Error(`allocated ${r} MB of 128`); });
await check('flask_test', async () => { const r = await fetch(`${base}/run/flask-test`); eq([r.status, r.headers.get('a'), await r.text()], [418, 'B', 'hi\n'], 'flask-test'); });
await check('wsgi_post_echo_test', async () => { for (const [b, t] of [['hello world', 'text/plain'], ['{"key": "value"}', 'application/json']]) { const r = await fetch(`${base}/run/wsgi-post-echo`, { method: 'POST', body: b, headers: { 'content-type': t } }); eq([r.status, await r.text()], [200, b], 'echo'); } });
await check('flask_entry_test', async () => { const r = await fetch(`${base}/run/flask-entry-test`); eq([r.status, await r.text()], [200, 'Hello from app.py!\n'], 'index'); const i = await (await fetch(`${base}/run/flask-entry-test/info`)).json(); eq(i.entry_file, 'app.py', 'info'); });
await check('wsgi_entry_test', async () => { const r = await fetch(`${base}/run/wsgi-entry-test`); eq([r.status, await r.text()], [200, 'Hello from my_wsgi_app!\n'], 'index'); const i = await (await fetch(`${base}/run/wsgi-entry-test/info`)).json(); eq([i.entry_point, i.entry_file], ['my_wsgi_app', 'main.py'], 'info'); });
await check('wsgi-test (/home template, /home/button, 404 handler)', async () => { const h = await fetch(`${base}/run/wsgi-test/home`); const t = await h.text(); if (h.status !== 200 || !/<html/i.test(t)) throw new Error(`${h.status} ${t.slice(0, 100)}`); const b = await fetch(`${base}/run/wsgi-test/home/button`); eq([b.status, await b.text()], [200, 'You clicked the button!\n'], 'button'); const n = await fetch(`${base}/run/wsgi-test/nope`); const nt = await n.text(); if (n.status !== 404 || !nt.includes('/run/wsgi-test/nope')) throw new Error(`${n.status} ${nt}`); });
await check('test_http_method_restrictions', async () => { const r = await fetch(`${base}/run/lambda-config-test`, { method: 'POST' }); eq([r.status, r.headers.get('a'), await r.text()], [418, 'B', 'hi\n'], 'POST'); const p = await fetch(`${base}/run/lambda-config-test`, { method: 'PUT' }); eq([p.status, await p.text()], [405, 'HTTP method not allowed. Sent: PUT, Allowed: [GET POST]\n'], 'PUT'); });
await check('env_test', async () => { const r = await (await run('env-test', {})).json(); const want = { MY_ENV_VAR: 'Hello from environment', DATABASE_URL: 'postgresql://user:pass@localhost/db', DEBUG_MODE: 'true', API_KEY: 'secret-key-789', CUSTOM_PATH: '/usr/local/bin' }; for (const [k, v] of Object.entries(want)) eq(r.configured_env_vars?.[k], v, k); if (!r.all_env_vars) throw new Error('no all_env_vars'); });
await check('update_code (version, registry_cache_ms 1 s)', async () => {
  for (let pos = 0; pos < 3; pos++) {
    const d = mkdtempSync(join(TMP, 'v-')); writeFileSync(join(d, 'f.py'), `def f(event):\n    return ${pos}\n`);
    execFileSync('tar', ['-czf', join(c.registry, 'version.tar.gz'), '-C', d, 'f.py']); rmSync(join(c.registry, 'version'), { recursive: true, force: true }); rmSync(d, { recursive: true });
    const t = Date.now();
    for (;;) { const n = Number(await (await run('version', null)).text()); if (n < pos - 1) throw new Error(`saw ${n} at ${pos}`); if ((Date.now() - t) / 1000 > 1 + 1) throw new Error(`took ${Date.now() - t} ms`); if (n === pos) break; await new Promise((r) => setTimeout(r, 20)); }
  }
});
await check('stress_one_lambda (8 clients, 5 s)', async () => {
  const end = Date.now() + 5000; let n = 0;
  await Promise.all(Array.from({ length: 8 }, async (_, k) => { let pos = k * 1e6; while (Date.now() < end) { const t = await (await run('echo', pos)).text(); if (t !== String(pos)) throw new Error(`echo ${t}`); pos++; n++; } }));
  checks.push(['  stress_one_lambda requests/s', (n / 5).toFixed(0)]);
});
await check('ping_test (1000 /status)', async () => { const t = Date.now(); for (let i = 0; i < 1000; i++) await fetch(`${base}/status`); checks.push(['  pings/s', (1000 / ((Date.now() - t) / 1000)).toFixed(0)]); });
await check('boss_test: upload, config shape, invoke, delete', async () => {
  const d = mkdtempSync(join(TMP, 'b-')); writeFileSync(join(d, 'f.py'), 'def f(event):\n    return "boss"\n'); writeFileSync(join(d, 'ol.yaml'), 'triggers:\n  http:\n    - method: "POST"\n');
  const tgz = execFileSync('tar', ['-czf', '-', '-C', d, 'f.py', 'ol.yaml']); rmSync(d, { recursive: true });
  const up = await fetch(`${base}/registry/bosslambda`, { method: 'POST', body: tgz, headers: { 'content-type': 'application/octet-stream' } }); if (!up.ok) throw new Error(`upload ${up.status}`);
  const cfg = await (await fetch(`${base}/registry/bosslambda/config`)).json();
  eq({ Triggers: cfg.Triggers, Environment: cfg.Environment, ReuseSandbox: cfg.ReuseSandbox }, { Triggers: { HTTP: [{ Method: 'POST' }], Cron: null, Kafka: null }, Environment: {}, ReuseSandbox: true }, 'config');
  eq(await (await run('bosslambda', undefined)).json(), 'boss', 'invoke');
  const del = await fetch(`${base}/registry/bosslambda`, { method: 'DELETE' }); if (!del.ok) throw new Error('delete');
  if ((await (await fetch(`${base}/registry`)).json()).includes('bosslambda')) throw new Error('still listed');
});
await check('install_tests counter after Flask lambdas (pull-package.cnt)', async () => { checks.push(['  pull-package.cnt', String((await stats())['pull-package.cnt'])]); });
spawnSync(process.execPath, [CLI, 'down', '--path', dir]);
await new Promise((r) => w.once('exit', r));
for (const [n, r] of checks) console.log(`${backend}\t${n}\t${r}`);
process.exitCode = checks.some(([, r]) => r.startsWith('FAIL')) ? 1 : 0;
