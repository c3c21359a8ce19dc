#!/usr/bin/env node
/**
 * Runs vitest with the given arguments in a folder of the run's own
 * ($TMPDIR for every test and every process they start), then removes
 * whatever the run left there: workers, sandboxes, cgroups, containers,
 * mounts (worker/sweep.ts). The sweep runs however vitest ends, also on
 * Ctrl-C or SIGTERM: vitest runs in a process group of its own, so the
 * runner gets the signal, stops that group and then sweeps.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { sweep } = await import(join(root, 'dist/worker/sweep.js'));
const vitest = join(root, 'node_modules/vitest/vitest.mjs');

const dir = mkdtempSync(join(tmpdir(), 'ol-lab-test-'));
const child = spawn(process.execPath, [vitest, 'run', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  detached: true,
  env: { ...process.env, TMPDIR: dir, OL_LAB_TEST_DIR: dir },
});

let stopping = null;
const stop = (sig) => {
  if (stopping) return;
  stopping = sig;
  console.error(`\ntest run: ${sig}: stopping the tests, then removing what they started`);
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
  // vitest gets a few seconds to end its workers itself; then the group is killed
  setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000).unref();
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGHUP', () => stop('SIGHUP'));

const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
// whatever is left of vitest's group (its forks, workers the tests started) goes first
try { process.kill(-child.pid, 'SIGKILL'); } catch { /* group empty */ }
const left = await sweep(dir);
if (left.total > 0) console.error(`test run: removed what the tests left behind: ${JSON.stringify(left)}`);
process.exit(stopping ? 130 : code);
