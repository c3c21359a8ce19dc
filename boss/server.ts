/**
 * The boss: OpenLambda's boss API over a cluster of ol-workers, placing
 * each request with a core balancer — the same object `ol-sim run
 * --workers` runs.
 *
 * - `/run/<name>[/…]`: forwarded to the worker the balancer picks, over a
 *   kept-alive pool; the worker's status, headers and body come back
 *   intact. A worker that cannot be reached is taken out and the request
 *   answered 502 (counted); the others keep serving.
 * - `GET /status`: OpenLambda's `{state, tasks}`, plus each worker.
 * - `POST /scaling/worker_count` (an integer body): starts or stops local
 *   workers to that count.
 * - `POST /shutdown`: stops the workers it started, then itself.
 * - `/registry/…`: the registry every local worker shares.
 * - `/stats`, `/metrics`: the boss's counters, per worker too.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import { makeRng } from '../common/rng.js';
import { BALANCER_RNG_STREAM, type Balancer } from '../core/balancer.js';
import { createBalancer } from '../core/balancers/index.js';
import { parseRequirement } from '../core/requirements.js';
import { defaultConfig } from '../worker/config.js';
import { Registry, checkName } from '../worker/registry.js';
import { registryRoutes, sendError } from '../worker/server.js';
import { WorkerHandle, forward, startLocalWorker, stopLocalWorker } from './cluster.js';
import type { BossConfig } from './config.js';

export interface Boss {
  app: FastifyInstance;
  workers: WorkerHandle[];
  /** Starts the local workers and adopts the others; reads every worker once. */
  start(): Promise<void>;
  /** Stops reading workers, stops the local ones, closes the server. */
  close(): Promise<void>;
  /** Set by POST /shutdown (the CLI exits on it). */
  onShutdown?: () => void;
}

const FORWARD_TIMEOUT_MS = 15 * 60_000;

export function buildBoss(c: BossConfig, logger: boolean | object = false): Boss {
  const app = Fastify({ logger, bodyLimit: 64 * 2 ** 20 });
  const workers: WorkerHandle[] = [];
  let balancer: Balancer | undefined;
  let poll: NodeJS.Timeout | undefined;
  let closing = false;
  const counters = { requests: 0, forwarded: 0, failed_502: 0, no_worker_503: 0 };
  // trusted as long as the workers trust theirs (their registry_cache_ms), so /run does not read the disk each time
  const cacheMs = typeof c.worker.registry_cache_ms === 'number' ? c.worker.registry_cache_ms : defaultConfig(c.boss_dir).registry_cache_ms;
  const registry = new Registry({ dir: c.registry, codeDir: join(c.boss_dir, 'registry-code'), cacheMs, maxBytes: 50 * 2 ** 20, poolMb: Infinity });
  /** Each code version's package names (a new upload is a new version). */
  const packagesOf = new Map<string, string[]>();

  /** The balancer is built for the cluster's size; rebuilt when scaling changes it. */
  const rebuild = () => {
    balancer = createBalancer(c.balancer, { workers: Math.max(1, workers.length), rng: makeRng(c.seed, BALANCER_RNG_STREAM), options: c.balancer_options });
  };
  const refreshAll = () => Promise.all(workers.map((w) => (w.state === 'stopping' ? undefined : w.refresh(c.health_timeout_ms))));

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((e, _req, reply) => sendError(reply, e));

  const run = async (req: { params: unknown; method: string; url: string; body: unknown; raw: { rawHeaders: string[] } }, reply: import('fastify').FastifyReply) => {
    counters.requests++;
    const name = (req.params as { name: string }).name;
    try {
      checkName(name);
      if (closing) throw new OlError('OL_ERR_SHUTDOWN', 'the boss is shutting down');
      const code = await registry.get(name).catch(() => undefined);
      const key = `${name}@${code?.version ?? ''}`;
      let packages = packagesOf.get(key);
      if (!packages) packagesOf.set(key, (packages = (code?.requirements ?? []).map((r) => parseRequirement(r).name)));
      const k = balancer!.pick({ fn: name, memMb: code?.config.limits.mem_mb ?? 0, packages }, workers);
      if (k < 0) {
        counters.no_worker_503++;
        throw new OlError('OL_ERR_SHUTDOWN', 'no worker is available: every worker is down or stopping');
      }
      const w = workers[k]!;
      w.inFlight++;
      w.forwarded++;
      counters.forwarded++;
      try {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const r = await forward(w, req.method, req.url, req.raw.rawHeaders, body, FORWARD_TIMEOUT_MS);
        w.answered++;
        return reply.code(r.status).headers({ ...r.headers, 'x-ol-worker': String(k) }).send(r.body);
      } catch (e) {
        w.failed++;
        counters.failed_502++;
        w.healthy = false;
        if (w.state === 'running') w.state = 'down';
        throw new OlError('OL_ERR_CRASH', `worker ${k} (${w.url}) did not answer: ${(e as Error).message}`);
      } finally {
        w.inFlight--;
      }
    } catch (e) {
      return sendError(reply, e);
    }
  };
  for (const url of ['/run/:name', '/run/:name/*']) app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url, handler: run });

  const status = () => {
    const count = (s: string) => workers.filter((w) => w.state === s).length;
    const tasks: Record<string, number> = { 'total tasks': counters.forwarded };
    const live = workers.filter((w) => w.state === 'running' || w.state === 'starting');
    tasks['task/worker'] = live.length ? Math.floor(live.reduce((a, w) => a + w.inFlight, 0) / live.length) : 0;
    for (const w of workers) tasks[w.id] = w.inFlight;
    return {
      state: { starting: count('starting'), running: count('running'), cleaning: 0, destroying: count('stopping'), down: count('down') },
      tasks,
      balancer: c.balancer,
      workers: workers.map((w) => ({ id: w.id, url: w.url, state: w.state, healthy: w.healthy, local: Boolean(w.proc), in_flight: w.inFlight, forwarded: w.forwarded, failed: w.failed, free_mb: w.freeMb })),
    };
  };
  app.get('/status', async () => status());
  app.get('/stats', async () => ({ counters: { ...counters }, balancer: c.balancer, workers: status().workers }));
  app.get('/metrics', async (_req, reply) => {
    const out: string[] = [];
    for (const [k, v] of Object.entries(counters)) out.push(`# TYPE ol_boss_${k}_total counter`, `ol_boss_${k}_total ${v}`);
    out.push('# TYPE ol_boss_worker_forwarded_total counter');
    for (const w of workers) out.push(`ol_boss_worker_forwarded_total{worker="${w.index}"} ${w.forwarded}`);
    out.push('# TYPE ol_boss_worker_failed_total counter');
    for (const w of workers) out.push(`ol_boss_worker_failed_total{worker="${w.index}"} ${w.failed}`);
    out.push('# TYPE ol_boss_worker_in_flight gauge');
    for (const w of workers) out.push(`ol_boss_worker_in_flight{worker="${w.index}"} ${w.inFlight}`);
    out.push('# TYPE ol_boss_worker_up gauge');
    for (const w of workers) out.push(`ol_boss_worker_up{worker="${w.index}"} ${w.healthy ? 1 : 0}`);
    return reply.type('text/plain; version=0.0.4').send(out.join('\n') + '\n');
  });

  const local = () => workers.filter((w) => w.proc);
  const scaleTo = async (n: number) => {
    const have = local();
    if (n > have.length) {
      for (let i = have.length; i < n; i++) workers.push(await startLocalWorker(c, i));
    } else {
      for (const w of have.slice(n)) {
        await stopLocalWorker(w);
        workers.splice(workers.indexOf(w), 1);
      }
    }
    workers.forEach((w, i) => (w.index = i));
    rebuild();
  };
  app.post('/scaling/worker_count', async (req, reply) => {
    const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8').trim() : '';
    const n = Number(text);
    if (!/^\d+$/.test(text) || n > 64) return reply.code(400).type('text/plain').send('body of post to /scaling/worker_count should be an int from 0 to 64\n');
    await scaleTo(n);
    return status();
  });
  app.post('/shutdown', async (_req, reply) => {
    setImmediate(() => boss.onShutdown?.());
    return reply.send({ shutdown: true });
  });
  registryRoutes(app, registry, 50);

  const boss: Boss = {
    app,
    workers,
    async start() {
      for (const url of c.adopt) workers.push(new WorkerHandle(workers.length, url.replace(/\/$/, '')));
      await scaleTo(c.workers);
      await refreshAll();
      const tick = () => {
        poll = setTimeout(() => void refreshAll().finally(() => { if (!closing) tick(); }), c.view_refresh_ms);
      };
      tick();
    },
    async close() {
      closing = true;
      clearTimeout(poll);
      await Promise.all(local().map((w) => stopLocalWorker(w)));
      for (const w of workers) w.close();
      await app.close();
    },
  };
  rebuild();
  return boss;
}
