#!/usr/bin/env node
/**
 * `ol-worker`: init, up, down, status. Errors ol-lab raises on purpose
 * become one line and exit code 2.
 */
import { spawn } from 'node:child_process';
import { openSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { cliErrors } from '../common/cli.js';
import { OlError } from '../common/errors.js';
import { runningPid, stopPid } from '../common/pidfile.js';
import { loadConfig } from './config.js';
import { makePoolFor } from './pools.js';

const { fail, usage } = cliErrors('ol-worker');

const pidFile = (dir: string) => join(resolve(dir), 'worker.pid');

const readPid = (dir: string) => runningPid(pidFile(dir));

async function up(dir: string, overrides: string[], detach: boolean): Promise<void> {
  const c = loadConfig(dir, overrides);
  const running = readPid(dir);
  if (running) throw new OlError('OL_ERR_CONFIG', `a worker (pid ${running}) is already running in ${c.worker_dir}; "ol-worker down --path ${dir}" first`);
  if (detach) {
    const log = openSync(join(c.worker_dir, 'worker.log'), 'a');
    const args = [process.argv[1]!, 'up', '--path', c.worker_dir, ...overrides.flatMap((o) => ['-o', o])];
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    const url = `http://${c.host === '0.0.0.0' ? '127.0.0.1' : c.host}:${c.port}/status`;
    for (let i = 0; i < 600; i++) {
      if (child.exitCode !== null) throw new OlError('OL_ERR_CONFIG', `the worker exited at start (code ${child.exitCode}); see ${join(c.worker_dir, 'worker.log')}`);
      try {
        const r = await fetch(url);
        if (r.ok) {
          process.stdout.write(`worker running (pid ${child.pid}) at http://${c.host}:${c.port}; log in ${join(c.worker_dir, 'worker.log')}\n`);
          return;
        }
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new OlError('OL_ERR_CONFIG', `the worker did not answer ${url} within 60 s; see ${join(c.worker_dir, 'worker.log')}`);
  }
  const pool = await makePoolFor(c);
  const left = await pool.cleanup();
  const { buildApp } = await import('./server.js');
  const w = buildApp({ config: c, pool, logger: { level: c.log_level } });
  if (left.processes + left.cgroups + left.containers + left.dirs > 0) {
    w.app.log.warn(left, 'removed what an earlier worker left behind');
  }
  writeFileSync(pidFile(dir), `${process.pid}\n`);
  let closing = false;
  const stop = async (sig: string) => {
    if (closing) return;
    closing = true;
    w.app.log.info(`${sig}: shutting down`);
    await w.app.close();
    rmSync(pidFile(dir), { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  try {
    await w.app.listen({ host: c.host, port: c.port });
  } catch (e) {
    // nothing of this worker may stay behind: its zygotes, its root cgroups, its pid file
    closing = true;
    await w.app.close().catch(() => {});
    rmSync(pidFile(dir), { force: true });
    throw new OlError('OL_ERR_CONFIG', `cannot listen on ${c.host}:${c.port} (${(e as Error).message}); choose another port in ${join(dir, 'config.json')}`);
  }
}

async function down(dir: string): Promise<void> {
  const pid = readPid(dir);
  if (!pid) {
    process.stdout.write(`no worker running in ${resolve(dir)}\n`);
    return;
  }
  await stopPid(pid, 'worker', 30_000);
  process.stdout.write(`worker ${pid} stopped\n`);
}

async function status(dir: string): Promise<void> {
  const c = loadConfig(dir);
  const pid = readPid(dir);
  if (!pid) {
    process.stdout.write(`stopped (${c.worker_dir})\n`);
    process.exitCode = 3;
    return;
  }
  const r = await fetch(`http://${c.host === '0.0.0.0' ? '127.0.0.1' : c.host}:${c.port}/stats`).then((x) => x.json()).catch(() => undefined);
  process.stdout.write(`running, pid ${pid}, http://${c.host}:${c.port}, backend ${c.sandbox}, policy ${c.policy}\n`);
  if (r) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
}

await yargs(hideBin(process.argv))
  .scriptName('ol-worker')
  .usage('$0 <command> [options]\n\nAn OpenLambda-compatible worker running Python lambdas in SOCK-style or Docker sandboxes.')
  .option('path', { type: 'string', default: 'ol-worker', describe: 'worker directory' })
  .command('init', 'write the worker directory and config.json; build the base root filesystem and the ol-min image', {}, async (a) => {
    const { initWorker } = await import('./init.js');
    initWorker(a.path as string);
  })
  .command('up', 'start the worker (foreground, or --detach)', (y) => y
    .option('o', { type: 'string', array: true, default: [] as string[], describe: 'override a config field: key=value' })
    .option('detach', { type: 'boolean', default: false, describe: 'run in the background; return once it answers' }),
  (a) => up(a.path as string, a.o as string[], a.detach as boolean))
  .command('down', 'stop the worker (SIGTERM; it destroys its sandboxes)', {}, (a) => down(a.path as string))
  .command('status', 'is it running, and its /stats', {}, (a) => status(a.path as string))
  .demandCommand(1, 'name a command: init, up, down or status')
  .strict()
  .help()
  .version(false)
  .fail(usage)
  .parseAsync()
  .catch(fail);


