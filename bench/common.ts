/** What the benchmarks share: percentiles, HTTP to loopback, a worker process, the report file, the exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeUnlessMounted } from '../common/fs.js';
import { projectPath } from '../common/paths.js';

/** The q-th percentile (nearest rank) of xs, in any order (common/stats.ts). */
export { percentileOf as pct } from '../common/stats.js';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP request (POST with a JSON body unless the options say otherwise), kept-alive connections. */
export function request(opts: http.RequestOptions, body = '1'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, ...opts }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `ol-worker up` on loopback:port with `-o` overrides; resolves once /status answers. */
export async function startWorker(dir: string, port: number, over: string[] = []): Promise<ChildProcess> {
  const p = spawn(process.execPath, [projectPath('dist', 'worker', 'cli.js'), 'up', '--path', dir, '-o', `port=${port}`, '-o', 'log_level="warn"', ...over.flatMap((o) => ['-o', o])], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 300; i++) {
    try {
      const r = await request({ host: '127.0.0.1', port, path: '/status', method: 'GET' }, '');
      if (r.status === 200) return p;
    } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  p.kill('SIGKILL');
  throw new Error('worker did not start');
}

/** SIGTERM to a worker this benchmark started, and wait for it. */
export async function stop(p: ChildProcess): Promise<void> {
  p.kill('SIGTERM');
  await new Promise((r) => p.once('exit', r));
}

/** Writes the Markdown a benchmark printed to bench-out/<name>.md. */
export function writeReport(name: string, lines: string[]): void {
  mkdirSync(projectPath('bench-out'), { recursive: true });
  writeFileSync(projectPath('bench-out', `${name}.md`), lines.join('\n') + '\n');
  process.stdout.write(`\nwritten to bench-out/${name}.md\n`);
}

const temps: string[] = [];
process.once('exit', () => {
  for (const d of temps) {
    if (!removeUnlessMounted(d)) process.stderr.write(`left ${d}: something is still mounted under it\n`);
  }
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

/** A temporary folder for this benchmark run, removed when it exits (unless a mount is left under it). */
export function benchTemp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

/** Runs a benchmark's main: exit 0 when it is done (workers' agents would keep the process alive), 1 with the stack on failure. */
export function runMain(main: () => Promise<void>): void {
  main().then(() => process.exit(0), (e) => {
    process.stderr.write(String(e?.stack ?? e) + '\n');
    process.exit(1);
  });
}

/**
 * Takes `name value` out of `args` (the scripts' own command lines):
 * the value, or undefined if the option is absent; `missing` is called
 * when the option is last with no value.
 */
export function takeOption(args: string[], name: string, missing: (why: string) => never): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined) missing(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}
