/**
 * The worker's HTTP API, compatible with OpenLambda's so its clients work:
 * `/run/<name>[/…]`, `/status`, `/stats`, `/metrics` and the registry
 * routes. `buildApp` returns the fastify app without listening (tests use
 * `app.inject()`); `ol-worker up` calls `listen`.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { join } from 'node:path';
import { OlError, isOlError } from '../common/errors.js';
import type { WorkerConfig } from './config.js';
import { openLambdaConfig } from './lambda-config.js';
import { LambdaManager } from './manager.js';
import { hopByHop } from './sandbox/runtime-client.js';
import { Registry, checkName } from './registry.js';
import type { SandboxPool } from './sandbox/api.js';
import { WorkerStats } from './stats.js';

export interface BuildOptions {
  config: WorkerConfig;
  pool: SandboxPool;
  /** fastify logger option (pino); false in tests. */
  logger?: boolean | object;
}

export interface Worker {
  app: FastifyInstance;
  manager: LambdaManager;
  registry: Registry;
  stats: WorkerStats;
}

export function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  if (isOlError(e)) return reply.code(e.statusCode).type('text/plain; charset=utf-8').send(`${e.message}\n`);
  const fe = e as { statusCode?: number; code?: string; message?: string };
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return reply.code(fe.statusCode).type('text/plain; charset=utf-8').send(`${fe.message ?? 'bad request'}\n`);
  }
  reply.log.error({ err: e }, 'unexpected error');
  return reply.code(500).type('text/plain; charset=utf-8').send(`internal error: ${(e as Error)?.message ?? String(e)}\n`);
}

/** The handler's reply headers for fastify: hop-by-hop ones dropped, repeated names (Set-Cookie) kept as lists. */
function replyHeaders(flat: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    if (hopByHop(k)) continue;
    const prev = out[k];
    out[k] = prev === undefined ? flat[i + 1]! : Array.isArray(prev) ? [...prev, flat[i + 1]!] : [prev, flat[i + 1]!];
  }
  return out;
}

/**
 * The registry routes (OpenLambda's): list, upload, download, delete and
 * config. The worker serves its own registry with them, and the boss the
 * registry its workers share.
 */
export function registryRoutes(app: FastifyInstance, registry: Registry, maxMb: number): void {
  app.get('/registry', async () => registry.list());
  app.get('/registry/', async () => registry.list());
  app.post('/registry/:name', { bodyLimit: Math.round(maxMb * 2 ** 20) + 1 }, async (req, reply) => {
    try {
      const name = (req.params as { name: string }).name;
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (body.length === 0) throw new OlError('OL_ERR_BAD_REQUEST', 'the body must be a .tar.gz with the lambda\'s entry file (f.py unless ol.yaml sets OL_ENTRY_FILE), and optionally ol.yaml, requirements.txt, .env');
      const code = await registry.put(name, body);
      return reply.code(201).send({ name: code.name, version: code.version });
    } catch (e) {
      return sendError(reply, e);
    }
  });
  app.delete('/registry/:name', async (req, reply) => {
    try {
      const name = (req.params as { name: string }).name;
      if (!registry.delete(name)) throw new OlError('OL_ERR_NO_LAMBDA', `no lambda named ${name} in the registry`);
      return reply.send({ deleted: name });
    } catch (e) {
      return sendError(reply, e);
    }
  });
  app.get('/registry/:name', async (req, reply) => {
    try {
      const name = (req.params as { name: string }).name;
      const gz = await registry.archive(name);
      return reply.type('application/gzip').header('content-disposition', `attachment; filename="${name}.tar.gz"`).send(gz);
    } catch (e) {
      return sendError(reply, e);
    }
  });
  app.get('/registry/:name/config', async (req, reply) => {
    try {
      const code = await registry.get((req.params as { name: string }).name);
      // OpenLambda's fields first, for its clients; ol-lab's beside them
      return reply.send({
        ...openLambdaConfig(code.config),
        name: code.name, version: code.version, entry: code.entry, methods: code.config.methods, environment: code.config.environment,
        reuse_sandbox: code.config.reuseSandbox, limits: code.config.limits, requirements: code.requirements,
      });
    } catch (e) {
      return sendError(reply, e);
    }
  });
}

export function buildApp(o: BuildOptions): Worker {
  const c = o.config;
  const app = Fastify({ logger: o.logger ?? false, bodyLimit: Math.round(c.body_limit_mb * 2 ** 20) });
  const stats = new WorkerStats();
  const registry = new Registry({
    dir: c.registry, codeDir: join(c.worker_dir, 'code'), cacheMs: c.registry_cache_ms,
    maxBytes: Math.round(c.registry_max_mb * 2 ** 20), poolMb: c.mem_pool_mb,
  });
  const manager = new LambdaManager({ config: c, pool: o.pool, registry, stats, log: app.log });

  // every body arrives raw; /run checks it is JSON, /registry that it is a tar.gz
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((e, _req, reply) => sendError(reply, e));
  app.setNotFoundHandler((req, reply) => reply.code(404).type('text/plain').send(`no route ${req.method} ${req.url}\n`));

  app.get('/status', async (_req, reply) => reply.type('text/plain').send('ready\n'));
  // `warm`: kept (idle or paused) sandboxes per lambda, for a cluster front's view of this worker
  app.get('/stats', async () => ({ ...stats.toJSON(manager.gauges()), warm: manager.warmByLambda() }));
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(stats.prometheus(manager.gauges())));

  const run = async (req: { params: unknown; method: string; url: string; body: unknown; raw: { rawHeaders: string[] } }, reply: FastifyReply) => {
    const name = (req.params as { name: string }).name;
    try {
      checkName(name);
      // the body goes to the sandbox as it came: an f(event) handler's runtime decodes it as
      // JSON (an empty body is {}), a WSGI or ASGI app reads it raw
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const r = await manager.invoke(name, { method: req.method, path: req.url, headers: req.raw.rawHeaders, body });
      reply.code(r.status);
      if (r.headers) reply.headers(replyHeaders(r.headers));
      return reply.header('x-ol-start', r.start).type(r.contentType).send(r.body);
    } catch (e) {
      return sendError(reply, e);
    }
  };
  for (const url of ['/run/:name', '/run/:name/*']) {
    app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url, handler: run });
  }

  registryRoutes(app, registry, c.registry_max_mb);

  // Stopping: the manager and the backend stop before the server waits for its open requests (so
  // a request waiting on an install or a queue is answered 503 at once instead of holding the
  // stop up), and every reply from then on closes its connection (a kept-alive connection
  // would otherwise keep the server, and the worker's process, from closing).
  let closing = false;
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('preClose', async () => {
    closing = true;
    await manager.close();
    app.log.debug('stopping: every sandbox is gone');
    await o.pool.close?.();
    app.log.debug('stopping: the backend is closed');
    // every request has its answer now; a client that keeps an idle connection open (or does not
    // read its reply) must not keep the worker alive: idle connections go now, the rest within 1 s
    const server = app.server as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
    server.closeIdleConnections?.();
    setTimeout(() => server.closeAllConnections?.(), 1000).unref();
  });
  return { app, manager, registry, stats };
}
