/**
 * `npm run bench:engine`: does the Docker engine's sandbox creation slow
 * down as it holds more containers? The docker backend's pool (the
 * worker's own code) creates --held containers one after another (default
 * 200), pausing each as the `openlambda` policy pauses idle sandboxes, and
 * times every creation; every --every of them (default 20) it also times 4
 * creations at once, then destroys those 4. Prints the median creation
 * time per band of containers held, a least-squares slope (ms per
 * container held), and the 4-at-once times; writes bench-out/engine.md.
 *
 * Needs root, dockerd and the ol-min image (scripts/setup-host.sh). Every
 * container it made is removed at the end, also when it fails or is
 * interrupted (Ctrl-C).
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import { machineInfo } from '../common/machine.js';
import { median } from '../common/stats.js';
import { defaultConfig } from '../worker/config.js';
import { makePoolFor } from '../worker/pools.js';
import type { SandboxSpec } from '../worker/sandbox/api.js';
import { benchTemp, runMain, writeReport } from './common.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};

/** MemAvailable, MB (the machine's memory state as the containers pile up). */
function availableMb(): number {
  const m = /MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function main(): Promise<void> {
  const held = Number(arg('held', '200')), every = Number(arg('every', '20'));
  for (const [k, v] of [['held', held], ['every', every]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new OlError('OL_ERR_CONFIG', `--${k}: a whole number >= 1, got "${arg(k, '')}"`);
  }
  const dir = benchTemp('ol-engine-'), code = benchTemp('ol-engine-code-');
  writeFileSync(join(code, 'f.py'), 'def f(event):\n    return event\n');
  chmodSync(code, 0o755); // the sandbox user must read it
  const pool = await makePoolFor({ ...defaultConfig(dir), sandbox: 'docker' });
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= (async () => {
    await pool.cleanup();
    await pool.close?.();
  })());
  // the containers outlive this process unless removed: on Ctrl-C, remove them before exiting
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(sig);
    process.once(sig, () => { void cleanup().finally(() => process.exit(130)); });
  }
  const spec = (id: string): SandboxSpec => ({ id, lambda: 'engine', codeDir: code, env: {}, memoryMb: 64, pids: 32, cpuPercent: 100, tmpMb: 16 });
  const creates: { held: number; ms: number }[] = [];
  const together: { held: number; ms: number; availMb: number }[] = [];
  const lines: string[] = [];
  const say = (s = '') => { lines.push(s); process.stdout.write(s + '\n'); };
  const m = await machineInfo();
  const avail0 = availableMb();
  try {
    for (let i = 0; i <= held; i++) {
      if (i % every === 0 || i === held) {
        const t = performance.now();
        const four = await Promise.all([0, 1, 2, 3].map((k) => pool.create(spec(`x${i}-${k}`))));
        together.push({ held: i, ms: performance.now() - t, availMb: availableMb() });
        for (const sb of four) await sb.destroy('benchmark');
      }
      if (i === held) break;
      const t = performance.now();
      const sb = await pool.create(spec(`h${i}`));
      creates.push({ held: i, ms: performance.now() - t });
      await sb.pause();
    }
  } finally {
    await cleanup();
  }
  say('## Docker engine: creation time against containers held (`npm run bench:engine`)');
  say();
  say(`Machine: ${m.cpu}, ${m.cores} logical cores, ${Math.round(m.memTotalMb / 1024)} GiB, ${m.os}, Node ${m.node}. Run ${new Date().toISOString().slice(0, 10)}.`);
  say(`${held} containers created one at a time through the docker backend's pool and paused; MemAvailable ${avail0} MB before, ${together.at(-1)!.availMb} MB at the end.`);
  say();
  say('| containers held | creations | median ms | min ms | max ms |');
  say('|---|---:|---:|---:|---:|');
  for (let lo = 0; lo < held; lo += every) {
    const xs = creates.filter((c) => c.held >= lo && c.held < lo + every).map((c) => c.ms);
    say(`| ${lo}-${Math.min(held, lo + every) - 1} | ${xs.length} | ${median(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)} | ${Math.max(...xs).toFixed(1)} |`);
  }
  const n = creates.length, mx = creates.reduce((a, c) => a + c.held, 0) / n, my = creates.reduce((a, c) => a + c.ms, 0) / n;
  const sxx = creates.reduce((a, c) => a + (c.held - mx) ** 2, 0);
  const slope = sxx > 0 ? creates.reduce((a, c) => a + (c.held - mx) * (c.ms - my), 0) / sxx : NaN;
  say();
  say(`Least-squares slope: ${slope.toFixed(3)} ms per container held (mean ${my.toFixed(1)} ms).`);
  say();
  say('| containers held | 4 creations at once, ms | MemAvailable MB |');
  say('|---|---:|---:|');
  for (const t of together) say(`| ${t.held} | ${t.ms.toFixed(1)} | ${t.availMb} |`);
  writeReport('engine', lines);
}

runMain(main);
