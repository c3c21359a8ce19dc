/**
 * A lambda's `ol.yaml`, as OpenLambda reads it (`triggers.http[].method`),
 * plus what ol-lab adds: `environment` (variables for the handler) and
 * `limits` (per-lambda memory, time, pids and CPU, overriding the worker's
 * defaults). A missing file means: every method, no variables, the
 * worker's limits.
 *
 * ```yaml
 * triggers:
 *   http:
 *     - method: POST
 * environment:
 *   GREETING: hello
 * limits:
 *   mem_mb: 128
 *   time_limit_ms: 2000
 * ```
 */
import { parse } from 'yaml';
import { OlError } from '../common/errors.js';
import type { SandboxLimits } from './config.js';

export interface LambdaConfig {
  /** Allowed HTTP methods; `*` allows all. */
  methods: string[];
  environment: Record<string, string>;
  limits: Partial<SandboxLimits>;
}

export const DEFAULT_LAMBDA_CONFIG: LambdaConfig = { methods: ['*'], environment: {}, limits: {} };

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
  for (const k of Object.keys(d)) if (!['triggers', 'environment', 'limits'].includes(k)) bad(k, 'is not known (known: triggers, environment, limits)');
  let methods = ['*'];
  if (d.triggers !== undefined) {
    const t = d.triggers as Record<string, unknown>;
    if (typeof t !== 'object' || t === null) bad('triggers', 'must be a mapping');
    if (t.http !== undefined) {
      if (!Array.isArray(t.http)) bad('triggers.http', 'must be a list of {method: …}');
      methods = (t.http as unknown[]).map((h, i) => {
        const m = (h as Record<string, unknown> | null)?.method;
        if (typeof m !== 'string' || !/^(\*|[A-Z]+)$/.test(m)) bad(`triggers.http[${i}].method`, `must be an HTTP method in capitals or "*", got ${JSON.stringify(m)}`);
        return m as string;
      });
    }
  }
  const environment: Record<string, string> = {};
  if (d.environment !== undefined) {
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
  return { methods, environment, limits };
}

/** Whether `method` may call the lambda. */
export function methodAllowed(c: LambdaConfig, method: string): boolean {
  return c.methods.includes('*') || c.methods.includes(method);
}
