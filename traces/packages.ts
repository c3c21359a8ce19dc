/**
 * Package usage files: which packages each lambda (trace function) loads,
 * how often it is called, and what its packages cost to import and
 * install. `ol-exp fit-tree` fits import-cache trees to them; `ol-sim run
 * --packages` prices cold starts with them.
 *
 * JSON Lines, one object a line: `{"lambda": name, "packages": [...],
 * "calls"?: n, "import_ms"?: {pkg: ms}, "install_ms"?: {pkg: ms}}`. A
 * worker's records.jsonl is one too: every line is one call, and cold
 * starts name the packages.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import { normalizeName } from '../core/requirements.js';

/** One lambda's packages and how often it was called. */
export interface Usage {
  lambda: string;
  packages: string[];
  calls: number;
}

/**
 * Reads usage lines (JSON Lines): `{"lambda", "packages": [...], "calls"?}`,
 * worker records (lines with `lambda`, and `packages` on cold starts) count
 * one call each. Errors name the file and line.
 */
export function readUsage(file: string): { usage: Usage[]; importMs: Map<string, number>; installMs: Map<string, number> } {
  if (!existsSync(file)) throw new OlError('OL_ERR_CONFIG', `package usage file ${file} does not exist`);
  const pkgs = new Map<string, string[]>();
  const calls = new Map<string, number>();
  const importMs = new Map<string, number>();
  const installMs = new Map<string, number>();
  let lineNo = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    lineNo++;
    if (!line.trim()) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch (e) {
      throw new OlError('OL_ERR_TRACE_LINE', `${file}:${lineNo}: not JSON (${(e as Error).message})`);
    }
    if (typeof o.lambda !== 'string' || !o.lambda) throw new OlError('OL_ERR_TRACE_LINE', `${file}:${lineNo}: "lambda" must be a name`);
    if (o.packages !== undefined) {
      if (!Array.isArray(o.packages) || o.packages.some((p) => typeof p !== 'string')) {
        throw new OlError('OL_ERR_TRACE_LINE', `${file}:${lineNo}: "packages" must be a list of package names`);
      }
      pkgs.set(o.lambda, [...new Set((o.packages as string[]).map(normalizeName))].sort());
    }
    const n = o.calls === undefined ? 1 : o.calls;
    if (typeof n !== 'number' || !(n >= 0)) throw new OlError('OL_ERR_TRACE_LINE', `${file}:${lineNo}: "calls" must be a number >= 0`);
    calls.set(o.lambda, (calls.get(o.lambda) ?? 0) + n);
    for (const [field, into] of [['import_ms', importMs], ['install_ms', installMs]] as const) {
      const m = o[field];
      if (m === undefined) continue;
      if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new OlError('OL_ERR_TRACE_LINE', `${file}:${lineNo}: "${field}" must map package names to ms`);
      for (const [k, v] of Object.entries(m)) {
        if (typeof v !== 'number' || !(v >= 0)) throw new OlError('OL_ERR_TRACE_LINE', `${file}:${lineNo}: ${field} of ${k} must be a number >= 0`);
        into.set(normalizeName(k), v);
      }
    }
  }
  const usage = [...pkgs].map(([lambda, packages]) => ({ lambda, packages, calls: calls.get(lambda) ?? 0 }));
  return { usage, importMs, installMs };
}

/** Import costs from a JSON file `{name: ms}` or a worker's package cache folder (`packages_dir`). */
export function readImportCosts(path: string): Map<string, number> {
  if (!existsSync(path)) throw new OlError('OL_ERR_CONFIG', `import costs ${path} do not exist`);
  const out = new Map<string, number>();
  if (statSync(path).isDirectory()) {
    for (const f of readdirSync(path).filter((f) => f.endsWith('.json'))) {
      try {
        const p = JSON.parse(readFileSync(join(path, f), 'utf8')) as { name?: string; importMs?: number | null };
        if (p.name && typeof p.importMs === 'number') out.set(normalizeName(p.name), Math.max(out.get(normalizeName(p.name)) ?? 0, p.importMs));
      } catch {
        /* not a package description */
      }
    }
    return out;
  }
  let o: unknown;
  try {
    o = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new OlError('OL_ERR_CONFIG', `import costs ${path}: ${(e as Error).message}`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new OlError('OL_ERR_CONFIG', `import costs ${path}: must be an object {package: ms}`);
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'number' || !(v >= 0)) throw new OlError('OL_ERR_CONFIG', `import costs ${path}: ${k} must be a number of ms >= 0`);
    out.set(normalizeName(k), v);
  }
  return out;
}

