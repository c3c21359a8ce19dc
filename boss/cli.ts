#!/usr/bin/env node
/**
 * `ol-boss`: up, down, status. `up` starts the boss and its local workers
 * (or adopts running ones); `down` stops them all and leaves nothing
 * behind. Errors ol-lab raises on purpose become one line and exit code 2.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { cliErrors } from '../common/cli.js';
import { OlError } from '../common/errors.js';
import { runningPid, stopPid } from '../common/pidfile.js';
import { WorkerHandle, startLocalWorker, stopLocalWorker } from './cluster.js';
import { loadBossConfig, type BossConfig } from './config.js';
import { haproxyConfig } from './haproxy.js';
import { buildBoss } from './server.js';

const { fail, usage } = cliErrors('ol-boss');
const pidFile = (dir: string) => join(resolve(dir), 'boss.pid');

const readPid = (dir: string) => runningPid(pidFile(dir));

interface UpArgs { path: string; workers?: number; balancer?: string; worker: string[]; detach: boolean; o: string[] }

/** What `up` runs in front of the workers: the boss, or HAProxy. */
interface Front {
  start(): Promise<void>;
  close(): Promise<void>;
  log(msg: string): void;
  onShutdown?: () => void;
}

function bossFront(c: BossConfig): Front {
  const boss = buildBoss(c, { level: c.log_level });
  const f: Front = {
    async start() {
      boss.onShutdown = () => f.onShutdown?.();
      await boss.start();
      try {
        await boss.app.listen({ host: c.host, port: c.port });
      } catch (e) {
        throw new OlError('OL_ERR_CONFIG', `cannot listen on ${c.host}:${c.port} (${(e as Error).message}); choose another port (-o port=…)`);
      }
    },
    close: () => boss.close(),
    log: (m) => boss.app.log.info(m),
  };
  return f;
}

/** HAProxy over the workers: the boss's local workers and adopted ones, then `haproxy -db` on the configuration. */
function haproxyFront(c: BossConfig): Front {
  const workers: WorkerHandle[] = [];
  let proxy: ChildProcess | undefined;
  return {
    async start() {
      for (const url of c.adopt) workers.push(new WorkerHandle(workers.length, url.replace(/\/$/, '')));
      for (let i = 0; i < c.workers; i++) workers.push(await startLocalWorker(c, i));
      const cfg = join(c.boss_dir, 'haproxy.cfg');
      writeFileSync(cfg, haproxyConfig({ port: c.port, host: c.host, balancer: c.balancer, balancerOptions: c.balancer_options, workers: workers.map((w) => `${w.host}:${w.port}`) }));
      const check = spawnSync('haproxy', ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
      if (check.error) throw new OlError('OL_ERR_CONFIG', `cannot run haproxy (${check.error.message}); install Debian's haproxy (scripts/setup-host.sh does)`);
      if (check.status !== 0) throw new OlError('OL_ERR_CONFIG', `haproxy refused ${cfg}: ${check.stderr || check.stdout}`);
      proxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
      for (let i = 0; i < 200; i++) {
        if (proxy.exitCode !== null) throw new OlError('OL_ERR_CONFIG', `haproxy exited at start (code ${proxy.exitCode}); is port ${c.port} free?`);
        try {
          if ((await fetch(`http://${c.host}:${c.port}/status`)).ok) return;
        } catch { /* starting */ }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new OlError('OL_ERR_CONFIG', `haproxy did not answer on ${c.host}:${c.port} within 10 s`);
    },
    async close() {
      const p = proxy;
      if (p && p.exitCode === null && p.signalCode === null) {
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await gone;
      }
      await Promise.all(workers.map((w) => stopLocalWorker(w)));
    },
    log: (m) => process.stderr.write(`ol-boss: ${m}\n`),
  };
}

async function up(a: UpArgs, front: 'boss' | 'haproxy' = 'boss'): Promise<void> {
  const dir = resolve(a.path);
  mkdirSync(dir, { recursive: true });
  const overrides = [...a.o];
  if (a.workers !== undefined) overrides.push(`workers=${a.workers}`);
  if (a.balancer !== undefined) overrides.push(`balancer=${JSON.stringify(a.balancer)}`);
  if (a.worker.length) overrides.push(`adopt=${JSON.stringify(a.worker)}`);
  const c = loadBossConfig(dir, overrides);
  const running = readPid(dir);
  if (running) throw new OlError('OL_ERR_CONFIG', `a boss (pid ${running}) is already running in ${dir}; "ol-boss down --path ${dir}" first`);
  if (a.detach) {
    const log = openSync(join(dir, 'boss.log'), 'a');
    const args = [process.argv[1]!, front === 'boss' ? 'up' : 'haproxy', '--path', dir, ...overrides.flatMap((o) => ['-o', o])];
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    for (let i = 0; i < 1200; i++) {
      if (child.exitCode !== null) throw new OlError('OL_ERR_CONFIG', `the boss exited at start (code ${child.exitCode}); see ${join(dir, 'boss.log')}`);
      try {
        if ((await fetch(`http://${c.host}:${c.port}/status`)).ok) {
          process.stdout.write(`boss running (pid ${child.pid}) at http://${c.host}:${c.port}; log in ${join(dir, 'boss.log')}\n`);
          return;
        }
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new OlError('OL_ERR_CONFIG', `the boss did not answer within 120 s; see ${join(dir, 'boss.log')}`);
  }
  const f = front === 'boss' ? bossFront(c) : haproxyFront(c);
  writeFileSync(pidFile(dir), `${process.pid}\n`);
  let closing = false;
  const stop = async (why: string) => {
    if (closing) return;
    closing = true;
    f.log(`${why}: stopping the workers and the front`);
    await f.close().catch((e) => f.log(`stopping failed: ${(e as Error).message}`));
    rmSync(pidFile(dir), { force: true });
    process.exit(0);
  };
  f.onShutdown = () => void stop('POST /shutdown');
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  try {
    await f.start();
  } catch (e) {
    closing = true;
    await f.close().catch(() => {});
    rmSync(pidFile(dir), { force: true });
    throw e;
  }
}

async function down(path: string): Promise<void> {
  const pid = readPid(path);
  if (!pid) {
    process.stdout.write(`no boss running in ${resolve(path)}\n`);
    return;
  }
  await stopPid(pid, 'boss', 60_000);
  process.stdout.write(`boss ${pid} stopped\n`);
}

async function status(path: string): Promise<void> {
  const c = loadBossConfig(path);
  const pid = readPid(path);
  if (!pid) {
    process.stdout.write(`no boss running in ${resolve(path)}\n`);
    return;
  }
  const s = await (await fetch(`http://${c.host}:${c.port}/status`)).json();
  process.stdout.write(`boss ${pid} at http://${c.host}:${c.port}\n${JSON.stringify(s, null, 2)}\n`);
}

await yargs(hideBin(process.argv))
  .scriptName('ol-boss')
  .option('path', { type: 'string', default: 'boss', describe: 'the boss\'s folder (boss.json, worker-<i>/ folders, the shared registry)' })
  .command('up', 'start the boss and its workers (or adopt running ones)', (y) => y
    .option('workers', { type: 'number', describe: 'local workers to start (ports after the boss\'s)' })
    .option('balancer', { type: 'string', describe: 'placement (ol-sim balancers lists them); default round-robin' })
    .option('worker', { type: 'string', array: true, default: [] as string[], describe: 'adopt a worker already running at this URL' })
    .option('detach', { type: 'boolean', default: false, describe: 'run in the background; log to <path>/boss.log' })
    .option('o', { type: 'string', array: true, default: [] as string[], describe: 'boss setting key=value (port, balancer_options.c, view_refresh_ms, worker.mem_pool_mb, …)' }),
  (a) => up(a as unknown as UpArgs).catch(fail))
  .command('haproxy', 'run HAProxy (Debian\'s) in front of the workers instead of the boss: round-robin, least-loaded, hash or ch-bl', (y) => y
    .option('workers', { type: 'number', describe: 'local workers to start (ports after the front\'s)' })
    .option('balancer', { type: 'string', describe: 'round-robin, least-loaded, hash or ch-bl' })
    .option('worker', { type: 'string', array: true, default: [] as string[], describe: 'a worker already running at this URL' })
    .option('detach', { type: 'boolean', default: false, describe: 'run in the background; log to <path>/boss.log' })
    .option('o', { type: 'string', array: true, default: [] as string[], describe: 'setting key=value (port, balancer_options.c, worker.mem_pool_mb, …)' }),
  (a) => up(a as unknown as UpArgs, 'haproxy').catch(fail))
  .command('down', 'stop the boss and the workers it started', {}, (a) => down(a.path as string).catch(fail))
  .command('status', 'the boss\'s workers and their state', {}, (a) => status(a.path as string).catch(fail))
  .demandCommand(1, 'name a command: up, down or status')
  .strict()
  .help()
  .version(false)
  .fail(usage)
  .parseAsync();
