/**
 * `npm run bench:warm`: OpenLambda's `stress_one_lambda` against ol-worker
 * on each backend, side by side in one run: --clients concurrent clients
 * (default 1,4,8) call one echo lambda back to back for --seconds each
 * (default 5, after 1 s untimed), under the `openlambda` policy, which
 * pauses a sandbox as soon as it is idle, so nearly every call unpauses
 * its sandbox first and pauses it after.
 *
 * Backends: sock; docker pausing through the engine's API (what OpenLambda
 * does, `docker_pause: api`); docker writing the container's cgroup
 * freezer (`docker_pause: freezer`, the default). Prints requests per
 * second, p50 and p99 latency, and each docker row's throughput as a share
 * of sock's. The worker runs as its own process, the clients in this one,
 * on the same cores. Needs root and scripts/setup-host.sh. Writes
 * bench-out/warm-path.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo } from '../common/machine.js';
import { freePort } from '../experiments/worker-process.js';
import { defaultConfig } from '../worker/config.js';
import { benchTemp, pct, request, runMain, startWorker, stop, writeReport } from './common.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const SECONDS = Number(arg('seconds', '5'));
const CLIENTS = arg('clients', '1,4,8').split(',').map(Number);
const POLICY = arg('policy', 'openlambda');

const BACKENDS = [
  { name: 'sock', over: ['sandbox="sock"'] },
  { name: 'docker, pause through the API', over: ['sandbox="docker"', 'docker_pause="api"'] },
  { name: 'docker, cgroup freezer', over: ['sandbox="docker"', 'docker_pause="freezer"'] },
];

interface Row { backend: string; clients: number; rps: number; p50: number; p99: number; }

async function load(port: number, clients: number, seconds: number): Promise<{ n: number; lat: number[] }> {
  const lat: number[] = [];
  let n = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    let pos = c * 1_000_000;
    while (performance.now() < end) {
      const t = performance.now();
      const r = await request({ host: '127.0.0.1', port, path: '/run/echo' }, String(pos));
      if (r.status !== 200 || r.text !== String(pos)) throw new Error(`echo answered ${r.status} ${r.text.slice(0, 200)}`);
      lat.push(performance.now() - t);
      n++;
      pos++;
    }
  }));
  return { n, lat };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const b of BACKENDS) {
    for (const clients of CLIENTS) {
      const dir = benchTemp('ol-warm-');
      const c = defaultConfig(dir);
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...c, policy: POLICY, mem_pool_mb: 8192, limits: { ...c.limits, mem_mb: 64 } }, null, 2));
      mkdirSync(join(c.registry, 'echo'), { recursive: true });
      writeFileSync(join(c.registry, 'echo', 'f.py'), 'def f(event):\n    return event\n');
      const port = await freePort();
      const w = await startWorker(dir, port, b.over);
      try {
        await load(port, clients, 1);
        const { n, lat } = await load(port, clients, SECONDS);
        rows.push({ backend: b.name, clients, rps: n / SECONDS, p50: pct(lat, 50), p99: pct(lat, 99) });
        process.stderr.write(`${b.name}, ${clients} clients: ${(n / SECONDS).toFixed(0)} requests/s\n`);
      } finally {
        await stop(w);
      }
    }
  }
  const sock = new Map(rows.filter((r) => r.backend === 'sock').map((r) => [r.clients, r.rps]));
  const m = await machineInfo();
  const lines = [
    `# Warm path: OpenLambda's stress_one_lambda, ${POLICY} policy (${new Date().toISOString().slice(0, 10)}, ${m.cpu}, ${m.cores} cores, ${SECONDS} s per row)`,
    '',
    '| backend | clients | requests/s | p50 ms | p99 ms | throughput / sock |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.backend} | ${r.clients} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.rps / sock.get(r.clients)!).toFixed(2)} |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  writeReport('warm-path', lines);
}

runMain(main);
