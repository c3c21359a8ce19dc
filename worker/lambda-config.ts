/**
 * A lambda's `ol.yaml`, read as OpenLambda reads it — `triggers.http[].method`
 * (any case; `*` for all), `environment`, `reuse-sandbox` — plus what ol-lab
 * adds: `limits` (per-lambda memory, time, pids and CPU, overriding the
 * worker's defaults). A missing file, or one without `triggers.http`, means
 * every method, no variables, sandboxes reused, the worker's limits.
 * OpenLambda's `triggers.cron` and `triggers.kafka` are refused with the
 * reason (ol-worker runs HTTP triggers only), as is any key it does not know.
 *
 * ```yaml
 * triggers:
 *   http:
 *     - method: POST
 * environment:
 *   GREETING: hello
 * reuse-sandbox: true
 * limits:
 *   mem_mb: 128
 *   time_limit_ms: 2000
 * ```
 */
import { parse } from 'yaml';
import { OlError } from '../common/errors.js';
import type { SandboxLimits } from './config.js';

export interface LambdaConfig {
  /** Allowed HTTP methods as ol.yaml spells them; `*` allows all. */
  methods: string[];
  environment: Record<string, string>;
  /** false: each sandbox serves one request and is destroyed (OpenLambda's `reuse-sandbox`). */
  reuseSandbox: boolean;
  limits: Partial<SandboxLimits>;
}

export const DEFAULT_LAMBDA_CONFIG: LambdaConfig = { methods: ['*'], environment: {}, reuseSandbox: true, limits: {} };

const KEYS = ['triggers', 'environment', 'reuse-sandbox', 'limits'];

const LIMIT_KEYS: Record<string, { min: number; integer: boolean }> = {
  mem_mb: { min: 8, integer: false },
  time_limit_ms: { min: 1, integer: false },
  pids: { min: 4, integer: true },
  cpu_percent: { min: 1, integer: false },
  tmp_mb: { min: 1, integer: false },
};

/** Parses and checks ol.yaml text; errors name the lambda, file and field. */
export function parseLambdaConfig(text: string, where: string, poolMb: number): LambdaConfig {
  const bad = (field: string, why: string): never => {
    throw new OlError('OL_ERR_BAD_REQUEST', `${where}: field "${field}" ${why}`);
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new OlError('OL_ERR_BAD_REQUEST', `${where}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return DEFAULT_LAMBDA_CONFIG;
  if (typeof doc !== 'object' || Array.isArray(doc)) bad('(root)', 'must be a mapping');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!KEYS.includes(k)) bad(k, `is not known (known: ${KEYS.join(', ')})`);
  let methods = ['*'];
  if (d.triggers !== undefined && d.triggers !== null) {
    const t = d.triggers as Record<string, unknown>;
    if (typeof t !== 'object' || Array.isArray(t)) bad('triggers', 'must be a mapping');
    for (const k of Object.keys(t)) {
      if (k === 'cron' || k === 'kafka') bad(`triggers.${k}`, `is an OpenLambda trigger that ol-worker does not run (it serves HTTP triggers only); remove it, or call the lambda over HTTP from a ${k === 'cron' ? 'scheduler' : 'consumer'} of your own`);
      else if (k !== 'http') bad(`triggers.${k}`, 'is not known (known: http)');
    }
    if (t.http !== undefined && t.http !== null) {
      if (!Array.isArray(t.http)) bad('triggers.http', 'must be a list of {method: …}');
      const list = (t.http as unknown[]).map((h, i) => {
        if (typeof h !== 'object' || h === null || Array.isArray(h)) bad(`triggers.http[${i}]`, 'must be a mapping {method: …}');
        for (const k of Object.keys(h as object)) if (k !== 'method') bad(`triggers.http[${i}].${k}`, 'is not known (known: method)');
        const m = (h as Record<string, unknown>).method;
        if (typeof m !== 'string' || m.trim() === '') bad(`triggers.http[${i}].method`, `cannot be empty (an HTTP method such as POST, any case, or "*"), got ${JSON.stringify(m)}`);
        const v = (m as string).trim();
        if (!/^(\*|[A-Za-z]+)$/.test(v)) bad(`triggers.http[${i}].method`, `must be an HTTP method (letters, any case) or "*", got ${JSON.stringify(m)}`);
        return v;
      });
      if (list.length > 0) methods = list;
    }
  }
  let reuseSandbox = true;
  if (d['reuse-sandbox'] !== undefined && d['reuse-sandbox'] !== null) {
    if (typeof d['reuse-sandbox'] !== 'boolean') bad('reuse-sandbox', `must be true or false, got ${JSON.stringify(d['reuse-sandbox'])}`);
    reuseSandbox = d['reuse-sandbox'] as boolean;
  }
  const environment: Record<string, string> = {};
  if (d.environment !== undefined && d.environment !== null) {
    if (typeof d.environment !== 'object' || d.environment === null || Array.isArray(d.environment)) bad('environment', 'must be a mapping of NAME: value');
    for (const [k, v] of Object.entries(d.environment as object)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) bad(`environment.${k}`, 'is not a valid variable name');
      if (typeof v === 'object' && v !== null) bad(`environment.${k}`, 'must be a string, number or boolean');
      environment[k] = String(v);
    }
  }
  const limits: Partial<SandboxLimits> = {};
  if (d.limits !== undefined) {
    if (typeof d.limits !== 'object' || d.limits === null) bad('limits', 'must be a mapping');
    for (const [k, v] of Object.entries(d.limits as object)) {
      const spec = LIMIT_KEYS[k];
      if (!spec) bad(`limits.${k}`, `is not known (known: ${Object.keys(LIMIT_KEYS).join(', ')})`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < spec!.min || (spec!.integer && !Number.isInteger(v))) {
        bad(`limits.${k}`, `must be ${spec!.integer ? 'a whole number' : 'a number'} >= ${spec!.min}, got ${JSON.stringify(v)}`);
      }
      (limits as Record<string, number>)[k] = v as number;
    }
    if (limits.mem_mb !== undefined && limits.mem_mb > poolMb) bad('limits.mem_mb', `${limits.mem_mb} MB is more than the worker's whole memory pool (${poolMb} MB)`);
  }
  return { methods, environment, reuseSandbox, limits };
}

/** Whether `method` may call the lambda (any case, as OpenLambda compares). */
export function methodAllowed(c: LambdaConfig, method: string): boolean {
  const m = method.toUpperCase();
  return c.methods.some((x) => x === '*' || x.toUpperCase() === m);
}

/**
 * The config as OpenLambda's `GET /registry/<name>/config` gives it
 * (`Triggers`, `Environment`, `ReuseSandbox`), for its clients.
 */
export function openLambdaConfig(c: LambdaConfig): { Triggers: { HTTP: { Method: string }[]; Cron: null; Kafka: null }; Environment: Record<string, string>; ReuseSandbox: boolean } {
  return { Triggers: { HTTP: c.methods.map((m) => ({ Method: m })), Cron: null, Kafka: null }, Environment: { ...c.environment }, ReuseSandbox: c.reuseSandbox };
}
