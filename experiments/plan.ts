/**
 * A replay plan: one trace expanded into concrete invocations (arrival,
 * function, execution time, memory), compressed in time by `timeScale` and
 * in work by `durationScale`, and in memory by `memScale`. `ol-exp real` and `ol-exp sim` both run from
 * the same plan, so they see exactly the same invocations; its hash is what
 * `ol-exp compare` checks before it compares two runs.
 */
import { createHash } from 'node:crypto';
import { OlError, badConfig } from '../common/errors.js';
import { makeRng, zipfSampler } from '../common/rng.js';
import { openTrace, type OpenTraceOptions } from '../traces/index.js';
import type { TreeNodeSpec } from '../core/import-tree.js';
import { loadTree } from '../traces/tree-file.js';
import { fitTree } from './fit-tree.js';

export interface PlanOptions {
  trace: string;
  traceOptions: OpenTraceOptions;
  /** Wall time = trace time / timeScale. */
  timeScale: number;
  /** Execution time = trace execution time × durationScale. */
  durationScale: number;
  seed: number;
  /** Smallest sandbox memory, MB (a Python runtime needs some). */
  minMemMb: number;
  /** Memory = trace memory × memScale (before the minimum). */
  memScale: number;
  /** Synthetic Python packages the functions import (0: none); see {@link PlanPackages}. */
  packages?: number;
  /** Median import time of a synthetic package, ms of CPU. */
  importMs?: number;
  /** The import-cache tree: '' (the worker's default, a root zygote), a tree JSON path, or `fit:N` (Forklift on this plan, N nodes). */
  zygotes?: string;
  /** The real worker forks sandboxes from zygotes (and the simulator models it); false: fresh sandboxes. */
  importCache?: boolean;
}

/**
 * The plan's synthetic packages: `olpkg-<j>`, each importing in a
 * log-normal time around `importMs` (sigma 0.5); every function imports one
 * to three of them, drawn by Zipf popularity (exponent 1), so some packages
 * are shared widely and most by few. Seeded by the plan's seed.
 */
export interface PlanPackages {
  catalog: { name: string; importMs: number }[];
  /** Each function's packages (by plan function index). */
  fnPackages: string[][];
  /** The import-cache tree both sides use. */
  tree: TreeNodeSpec;
}

export interface PlanFunction {
  name: string;
  /** Lambda name in the worker's registry. */
  lambda: string;
  memMb: number;
  invocations: number;
}

export interface Plan {
  options: PlanOptions;
  functions: PlanFunction[];
  n: number;
  /** Arrival, ms after the replay starts (scaled). */
  t: Float64Array;
  fn: Int32Array;
  /** Work, ms of one core (scaled). */
  dur: Float64Array;
  mem: Float64Array;
  spanMs: number;
  traceSha256: string;
  planSha256: string;
  notes: string[];
  packages?: PlanPackages;
}

export const MAX_PLAN = 5_000_000;

export function buildPlan(o: PlanOptions): Plan {
  if (!(o.timeScale > 0)) badConfig('time-scale', `must be > 0, got ${o.timeScale}`);
  if (!(o.durationScale > 0)) badConfig('duration-scale', `must be > 0, got ${o.durationScale}`);
  if (!(o.memScale > 0)) badConfig('mem-scale', `must be > 0, got ${o.memScale}`);
  const src = openTrace(o.trace, { ...o.traceOptions, seed: o.seed });
  let t = new Float64Array(1 << 16), fn = new Int32Array(1 << 16), dur = new Float64Array(1 << 16), mem = new Float64Array(1 << 16);
  let n = 0;
  let t0 = NaN;
  for (const b of src.batches()) {
    if (n + b.length > MAX_PLAN) throw new OlError('OL_ERR_CONFIG', `the trace has more than ${MAX_PLAN.toLocaleString('en-US')} invocations; a replay plan is held in memory: choose fewer functions or minutes`);
    if (n + b.length > t.length) {
      const cap = Math.max(t.length * 2, n + b.length);
      const g = <T extends Float64Array | Int32Array>(a: T): T => { const x = new (a.constructor as new (k: number) => T)(cap); x.set(a); return x; };
      t = g(t); fn = g(fn); dur = g(dur); mem = g(mem);
    }
    for (let i = 0; i < b.length; i++) {
      if (Number.isNaN(t0)) t0 = b.t[i]!;
      t[n] = (b.t[i]! - t0) / o.timeScale;
      fn[n] = b.fn[i]!;
      dur[n] = b.dur[i]! * o.durationScale;
      mem[n] = Math.max(o.minMemMb, Math.ceil(b.mem[i]! * o.memScale));
      n++;
    }
  }
  if (n === 0) throw new OlError('OL_ERR_TRACE_FORMAT', `${o.trace}: no invocations to replay`);
  const counts = new Array(src.functions.length).fill(0);
  const memOf = new Array(src.functions.length).fill(0);
  for (let i = 0; i < n; i++) { counts[fn[i]!]++; memOf[fn[i]!] = Math.max(memOf[fn[i]!], mem[i]!); }
  const functions: PlanFunction[] = src.functions.map((f, i) => ({
    name: f.name,
    lambda: `f${i}-${f.name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 12)}`,
    memMb: Math.max(o.minMemMb, memOf[i]),
    invocations: counts[i],
  }));
  // every invocation of a function gets the function's one memory size
  for (let i = 0; i < n; i++) mem[i] = functions[fn[i]!]!.memMb;
  const packages = planPackages(o, functions);
  const h = createHash('sha256');
  // where the trace (or a tree file) lies is not part of the plan, what it holds is: the trace's
  // hash and the tree are hashed, so runs made from two checkouts of one trace compare
  const located = {
    ...o, traceOptions: { ...o.traceOptions }, trace: o.trace.slice(0, o.trace.indexOf(':') + 1),
    ...(o.zygotes && !o.zygotes.startsWith('fit:') ? { zygotes: 'file' } : {}),
  };
  h.update(JSON.stringify({ o: located, trace: src.hash(), functions, packages }));
  h.update(new Uint8Array(t.buffer, 0, n * 8));
  h.update(new Uint8Array(fn.buffer, 0, n * 4));
  h.update(new Uint8Array(dur.buffer, 0, n * 8));
  return {
    options: o, functions, n, t: t.subarray(0, n), fn: fn.subarray(0, n), dur: dur.subarray(0, n), mem: mem.subarray(0, n),
    spanMs: t[n - 1]!, traceSha256: src.hash(), planSha256: h.digest('hex'), notes: src.notes(),
    ...(packages ? { packages } : {}),
  };
}

/** Draws the synthetic packages and fits or loads the tree (see {@link PlanPackages}). */
function planPackages(o: PlanOptions, functions: PlanFunction[]): PlanPackages | undefined {
  const k = o.packages ?? 0;
  if (!Number.isInteger(k) || k < 0) badConfig('packages', `must be a whole number >= 0, got ${k}`);
  const zyg = o.zygotes ?? '';
  if (k === 0) {
    if (zyg) badConfig('zygotes', 'needs --packages N > 0 (the functions import nothing otherwise)');
    return undefined;
  }
  const median = o.importMs ?? 50;
  if (!(median >= 0)) badConfig('import-ms', `must be a number of ms >= 0, got ${median}`);
  const rng = makeRng(o.seed, 'plan/packages');
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const catalog = Array.from({ length: k }, (_, j) => ({ name: `olpkg-${j}`, importMs: Math.round(median * Math.exp(0.5 * normal()) * 10) / 10 }));
  const pick = zipfSampler(k, 1);
  const fnPackages = functions.map(() => {
    const want = 1 + Math.floor(rng() * 3);
    const got = new Set<string>();
    for (let tries = 0; got.size < Math.min(want, k) && tries < 50; tries++) got.add(catalog[pick(rng)]!.name);
    return [...got].sort();
  });
  let tree: TreeNodeSpec = { packages: [], children: [] };
  const fit = /^fit:(\d+)$/.exec(zyg);
  if (fit) {
    const cost = new Map(catalog.map((c) => [c.name, c.importMs]));
    tree = fitTree(functions.map((f, i) => ({ lambda: f.lambda, packages: fnPackages[i]!, calls: f.invocations })), (p) => cost.get(p) ?? 0, Number(fit[1]));
  } else if (zyg) {
    tree = loadTree(zyg);
  }
  return { catalog, fnPackages, tree };
}

/** Load figures the real worker must sustain, for the feasibility check. */
export function planLoad(p: Plan): { ratePerS: number; cpuCores: number; peakRatePerS: number; maxMemMb: number } {
  let work = 0;
  for (let i = 0; i < p.n; i++) work += p.dur[i]!;
  const span = Math.max(1, p.spanMs);
  // the busiest second
  let peak = 0;
  for (let i = 0, j = 0; i < p.n; i++) {
    while (p.t[i]! - p.t[j]! > 1000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return { ratePerS: (p.n / span) * 1000, cpuCores: work / span, peakRatePerS: peak, maxMemMb: Math.max(...p.functions.map((f) => f.memMb)) };
}
