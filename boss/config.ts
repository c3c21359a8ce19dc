/**
 * The boss's configuration (`<dir>/boss.json`, `-o key=value` overrides):
 * where it listens (port 5000 by default, as OpenLambda's boss; its local
 * workers on the ports after it), how it places requests, how often it
 * reads its workers, and what each local worker's config gets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { badConfig } from '../common/errors.js';
import { resolveBalancerOptions } from '../core/balancers/index.js';

export interface BossConfig {
  boss_dir: string;
  host: string;
  port: number;
  /** Local workers started by `up` (their ports follow the boss's). */
  workers: number;
  /** Workers already running elsewhere, adopted by URL (tests: loopback only). */
  adopt: string[];
  balancer: string;
  balancer_options: Record<string, number>;
  /** The balancer's random draws (random, p2c, openwhisk's fallback): the same seed as ol-sim's draws the same numbers. */
  seed: number;
  /** How often each worker's /stats is read (free memory, warm sandboxes, health), ms. */
  view_refresh_ms: number;
  /** A worker whose /stats does not answer within this is taken out, ms. */
  health_timeout_ms: number;
  /** The registry every local worker shares (and the boss's /registry serves). */
  registry: string;
  /** Fields each local worker's config.json gets (mem_pool_mb, sandbox, policy, limits, …). */
  worker: Record<string, unknown>;
  log_level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export function defaultBossConfig(dir: string): BossConfig {
  const d = resolve(dir);
  return {
    boss_dir: d, host: '127.0.0.1', port: 5000, workers: 0, adopt: [], balancer: 'round-robin', balancer_options: {}, seed: 1,
    view_refresh_ms: 100, health_timeout_ms: 500, registry: join(d, 'registry'), worker: {}, log_level: 'info',
  };
}

/** Parses `key=value` (value as JSON when it parses, else a string) into a nested object path. */
export function applyOverride(c: Record<string, unknown>, kv: string): void {
  const i = kv.indexOf('=');
  if (i <= 0) badConfig('-o', `expected key=value, got ${JSON.stringify(kv)}`);
  const keys = kv.slice(0, i).split('.');
  let v: unknown = kv.slice(i + 1);
  try {
    v = JSON.parse(v as string);
  } catch { /* a plain string */ }
  let o = c;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[keys.at(-1)!] = v;
}

/** boss.json in `dir` (if any), then the overrides, checked; errors name the field. */
export function loadBossConfig(dir: string, overrides: string[] = []): BossConfig {
  const c = defaultBossConfig(dir) as unknown as Record<string, unknown>;
  const file = join(resolve(dir), 'boss.json');
  if (existsSync(file)) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      badConfig('boss.json', `${file} is not valid JSON (${(e as Error).message})`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) badConfig('boss.json', `${file} must hold an object`);
    Object.assign(c, doc);
  }
  for (const o of overrides) applyOverride(c, o);
  return checkBossConfig(c);
}

export function checkBossConfig(raw: Record<string, unknown>): BossConfig {
  const known = Object.keys(defaultBossConfig('.'));
  for (const k of Object.keys(raw)) if (!known.includes(k)) badConfig(k, `is not a boss setting (known: ${known.join(', ')})`);
  const c = raw as unknown as BossConfig;
  const int = (k: keyof BossConfig, min: number, max = Infinity) => {
    const v = c[k] as unknown;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) badConfig(k, `must be a whole number from ${min}${max < Infinity ? ` to ${max}` : ''}, got ${JSON.stringify(v)}`);
  };
  int('port', 1, 65535);
  int('workers', 0, 64);
  int('view_refresh_ms', 10);
  int('seed', 0, 2 ** 32 - 1);
  int('health_timeout_ms', 10);
  if (!Array.isArray(c.adopt) || c.adopt.some((u) => typeof u !== 'string' || !/^https?:\/\/[^/\s]+\/?$/.test(u))) badConfig('adopt', `must be a list of worker URLs such as http://127.0.0.1:5001, got ${JSON.stringify(c.adopt)}`);
  if (c.workers + c.adopt.length === 0) badConfig('workers', 'the boss needs workers: start some (workers: N) or adopt running ones (adopt: [URL, …])');
  if (c.port + c.workers > 65535) badConfig('port', `leaves no room for ${c.workers} workers on the ports after it`);
  c.balancer_options = resolveBalancerOptions(String(c.balancer), (c.balancer_options ?? {}) as Record<string, number>);
  if (typeof c.worker !== 'object' || c.worker === null || Array.isArray(c.worker)) badConfig('worker', 'must be an object of worker settings');
  for (const k of ['port', 'registry', 'worker_dir']) if (k in c.worker) badConfig(`worker.${k}`, 'is set by the boss for each worker');
  if (typeof c.registry !== 'string' || !c.registry.startsWith('/')) badConfig('registry', `must be an absolute folder, got ${JSON.stringify(c.registry)}`);
  return c;
}
