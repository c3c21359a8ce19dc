/**
 * The layout the design promises (docs/DESIGN.md), checked on the source:
 * imports flow one way (common <- core <- traces, sim, worker, boss <-
 * experiments <- bench; reports generic), no file imports a file that
 * imports it back, and core/ is pure (no I/O, no clock, no timers).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectPath } from '../../common/paths.js';

const ROOT = projectPath();
const FOLDERS = ['common', 'core', 'traces', 'sim', 'worker', 'boss', 'experiments', 'reports', 'bench'];
/** Which folders each folder may import from. */
const MAY_IMPORT: Record<string, string[]> = {
  common: ['common'],
  core: ['common', 'core'],
  traces: ['common', 'core', 'traces'],
  sim: ['common', 'core', 'traces', 'sim'],
  worker: ['common', 'core', 'traces', 'worker'],
  boss: ['common', 'core', 'traces', 'worker', 'boss'],
  reports: ['common', 'reports'],
  experiments: ['common', 'core', 'traces', 'sim', 'worker', 'boss', 'reports', 'experiments'],
  bench: FOLDERS,
};

function sources(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) out.push(relative(ROOT, p));
    }
  };
  for (const f of FOLDERS) {
    try { walk(join(ROOT, f)); } catch { /* a folder not made yet */ }
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of sources()) {
    const src = readFileSync(join(ROOT, f), 'utf8');
    const deps: string[] = [];
    for (const m of src.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      const t = normalize(join(dirname(f), spec)).replace(/\.js$/, '.ts');
      if (t.endsWith('.ts')) deps.push(t);
    }
    g.set(f, deps);
  }
  return g;
}

/** Strongly connected components of more than one file (Tarjan). */
function cycles(g: Map<string, string[]>): string[][] {
  let n = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, n); low.set(v, n); n++; stack.push(v); on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); c.push(w); } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('layout', () => {
  const g = graph();

  it('finds the sources', () => {
    expect(g.has('core/pool.ts')).toBe(true);
    expect(g.get('sim/simulator.ts')).toContain('core/pool.ts');
    expect(g.get('worker/manager.ts')).toContain('core/pool.ts');
  });

  it('imports flow one way: nothing imports upward or sideways', () => {
    const wrong: string[] = [];
    for (const [f, deps] of g) {
      const from = f.split('/')[0]!;
      for (const t of deps) if (!MAY_IMPORT[from]!.includes(t.split('/')[0]!)) wrong.push(`${f} -> ${t}`);
    }
    expect(wrong).toEqual([]);
  });

  it('no file imports a file that imports it back', () => {
    expect(cycles(g)).toEqual([]);
  });

  it('the cycle finder finds a cycle', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
  });

  it('core/ is pure: no Node modules, no clock, no timers, no process', () => {
    const impure: string[] = [];
    for (const f of g.keys()) {
      if (!f.startsWith('core/')) continue;
      const code = readFileSync(join(ROOT, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      for (const bad of [/from\s+['"]node:/, /\bDate\.now\(/, /\bperformance\.now\(/, /\bsetTimeout\(/, /\bsetInterval\(/, /\bsetImmediate\(/, /\bprocess\./, /\bMath\.random\(/]) {
        if (bad.test(code)) impure.push(`${f}: ${bad.source}`);
      }
    }
    expect(impure).toEqual([]);
  });
});
