import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Azure2019TraceSource } from '../../traces/azure2019.js';
import { GeneratedTraceSource, writeCsvTrace } from '../../traces/generate.js';
import { detectFormat, openTrace } from '../../traces/index.js';
import type { TraceSource } from '../../traces/types.js';
import { SAMPLE10 } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ol-readers-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function drain(src: TraceSource) {
  const rows: { t: number; fn: string; dur: number; mem: number; init: number }[] = [];
  for (const b of src.batches()) for (let i = 0; i < b.length; i++) {
    rows.push({ t: b.t[i]!, fn: src.functions[b.fn[i]!]!.name, dur: b.dur[i]!, mem: b.mem[i]!, init: b.init[i]! });
  }
  return rows;
}

describe('ol-lab CSV', () => {
  it('reads columns by header name, with pkgs and init_ms', () => {
    const p = file('ok.csv', 'fn,t_ms,mem_mb,dur_ms,pkgs,init_ms\na,0,128,10,numpy;requests,\nb,5.5,256,20,,300\n');
    const src = openTrace(p);
    expect(src.format).toBe('csv');
    const rows = drain(src);
    expect(rows.map(({ init, ...r }) => r)).toEqual([{ t: 0, fn: 'a', dur: 10, mem: 128 }, { t: 5.5, fn: 'b', dur: 20, mem: 256 }]);
    expect(rows[1]!.init).toBe(300);
    expect(src.functions[0]!.pkgs).toEqual(['numpy', 'requests']);
    expect(src.hash()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names file, line and field of a malformed line', () => {
    const p = file('bad.csv', 't_ms,fn,dur_ms,mem_mb\n0,a,10,128\n1,a,ten,128\n');
    expect(() => drain(openTrace(p))).toThrow(`${p}:3: field "dur_ms": "ten" is not a number`);
  });

  it('rejects out-of-order arrivals, missing columns and a bad header', () => {
    expect(() => drain(openTrace(file('order.csv', 't_ms,fn,dur_ms,mem_mb\n5,a,1,1\n4,a,1,1\n')))).toThrow(/order\.csv:3: field "t_ms": t_ms 4 is before/);
    expect(() => drain(openTrace(file('short.csv', 't_ms,fn,dur_ms,mem_mb\n5,a,1\n')))).toThrow(/short\.csv:2: field "mem_mb": missing/);
    expect(() => drain(openTrace('csv:' + file('hdr.csv', 't,fn,dur,mem\n')))).toThrow(/hdr\.csv:1: header lacks column\(s\) t_ms, dur_ms, mem_mb/);
    expect(() => drain(openTrace(file('neg.csv', 't_ms,fn,dur_ms,mem_mb\n5,a,1,0\n')))).toThrow(/field "mem_mb": 0 is out of range/);
  });

  it('with skipBad counts and skips bad lines and keeps the rest', () => {
    const p = file('skip.csv', 't_ms,fn,dur_ms,mem_mb\n0,a,10,128\nxx,a,1,1\n2,b,10,128\n3,c,10\n');
    const src = openTrace(p, { skipBad: true });
    expect(drain(src).map((r) => r.fn)).toEqual(['a', 'b']);
    expect(src.stats.skipped).toBe(2);
    expect(src.notes()[0]).toMatch(/skipped 2 malformed line\(s\); first: .*skip\.csv:3: field "t_ms"/);
  });

  it('reads unusual but valid numbers through the slow path, like the fast one', () => {
    const plain = drain(openTrace(file('plain.csv', 't_ms,fn,dur_ms,mem_mb,init_ms\n0,a,1000,128,\n1.5,b,20,256,30\n')));
    const odd = drain(openTrace(file('odd.csv', 't_ms,fn,dur_ms,mem_mb,init_ms\r\n0,a,1e3,128,\r\n\r\n1.5, b ,2e1,256.0,3e1')));
    expect(odd).toEqual(plain);
  });

  it('reads every plain decimal as Number() does, on the fast and the string path alike', () => {
    // 1 to 15 significant digits, 0 to 7 decimals: digit-by-digit accumulation was an ulp off for about a quarter of these
    const texts: string[] = [];
    let x = 12345;
    for (let i = 0; i < 5_000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      texts.push(((x / 2147483648) * 10 ** (i % 8)).toFixed(i % 8).slice(0, 16).replace(/\.$/, ''));
    }
    const rows = (pkgs: boolean) => {
      let text = `t_ms,fn,dur_ms,mem_mb${pkgs ? ',pkgs' : ''}\n`;
      texts.forEach((s, i) => { text += `${i},f,${s},${s === '0' || Number(s) === 0 ? '1' : s}${pkgs ? ',' : ''}\n`; });
      return drain(openTrace(file(pkgs ? 'dec-slow.csv' : 'dec-fast.csv', text)));
    };
    const fast = rows(false), slow = rows(true);
    expect(fast.map((r) => r.dur)).toEqual(texts.map(Number));
    expect(slow.map((r) => r.dur)).toEqual(texts.map(Number));
    expect(fast.map((r) => r.mem)).toEqual(slow.map((r) => r.mem));
  });

  it('streams across chunk boundaries (3 MB file)', () => {
    let text = 't_ms,fn,dur_ms,mem_mb\n';
    for (let i = 0; i < 120_000; i++) text += `${i},fn${i % 97},${(i % 13) + 0.25},128\n`;
    const src = openTrace(file('big.csv', text));
    const rows = drain(src);
    expect(rows).toHaveLength(120_000);
    expect(rows[119_999]).toMatchObject({ t: 119_999, fn: `fn${119_999 % 97}`, dur: (119_999 % 13) + 0.25 });
    expect(src.functions).toHaveLength(97);
  });

  it('tells 20,000 names apart by their bytes as the string reader does (equal lengths, shared prefixes, UTF-8)', () => {
    // enough names to grow the fast path's tables several times; a pkgs column sends the same lines through the string reader
    const names = Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? `f${String(i).padStart(6, '0')}` : i % 3 === 1 ? `λ-${i}` : `app/${(i * 7919) % 20_000}x`));
    let fast = 't_ms,fn,dur_ms,mem_mb\n', slow = 't_ms,fn,dur_ms,mem_mb,pkgs\n';
    for (let i = 0; i < 60_000; i++) {
      const name = names[(i * 104_729) % names.length]!;
      fast += `${i},${name},1,128\n`;
      slow += `${i},${name},1,128,\n`;
    }
    const a = openTrace(file('names-fast.csv', fast)), b = openTrace(file('names-slow.csv', slow));
    const ra = drain(a), rb = drain(b);
    expect(ra.map((r) => r.fn)).toEqual(rb.map((r) => r.fn));
    expect(a.functions.map((f) => f.name)).toEqual(b.functions.map((f) => f.name));
    expect(new Set(ra.map((r) => r.fn)).size).toBe(a.functions.length);
  });
});

describe('ol-lab JSONL', () => {
  it('reads with and without the header line', () => {
    const a = file('a.jsonl', '{"format":"ol-lab-trace","version":1}\n{"t_ms":0,"fn":"x","dur_ms":1,"mem_mb":64,"pkgs":["numpy"]}\n');
    const b = file('b.jsonl', '{"t_ms":0,"fn":"x","dur_ms":1,"mem_mb":64}\n{"t_ms":1,"fn":"y","dur_ms":2,"mem_mb":64}\n');
    expect(drain(openTrace(a))).toHaveLength(1);
    expect(drain(openTrace(b)).map((r) => r.fn)).toEqual(['x', 'y']);
  });

  it('names line and field of bad JSON lines', () => {
    const p = file('c.jsonl', '{"t_ms":0,"fn":"x","dur_ms":1,"mem_mb":64}\n{"t_ms":1,"fn":"x","dur_ms":"1","mem_mb":64}\n');
    expect(() => drain(openTrace(p))).toThrow(`${p}:2: field "dur_ms": "1" is not a number`);
    const q = file('d.jsonl', '{"t_ms":0,"fn":"x","dur_ms":1,"mem_mb":64}\n{"t_ms":1,\n');
    expect(() => drain(openTrace(q))).toThrow(/d\.jsonl:2: field "\(line\)": not valid JSON/);
  });
});

describe('Azure 2019', () => {
  it('expands the 10-function sample to its 69,586 invocations, sorted', () => {
    const src = openTrace(`azure2019:${SAMPLE10}`);
    let n = 0, last = -1, sorted = true;
    for (const b of src.batches()) for (let i = 0; i < b.length; i++) { n++; if (b.t[i]! < last) sorted = false; last = b.t[i]!; }
    expect(n).toBe(69_586);
    expect(sorted).toBe(true);
    expect(src.functions).toHaveLength(10);
    expect(last).toBeLessThan(1440 * 60_000);
  });

  it('accepts the raw dataset column order and names', () => {
    const inv = readFileSync(`${SAMPLE10}_inv.csv`, 'utf8').trim().split('\n').map((l) => l.split(','));
    // HashFunction,HashApp,HashOwner,minute_1.. -> HashOwner,HashApp,HashFunction,Trigger,1..
    const raw = inv.map((r, i) => [r[2], r[1], r[0], i === 0 ? 'Trigger' : 'http', ...r.slice(3).map((c, k) => (i === 0 ? String(k + 1) : c))].join(','));
    const d = mkdtempSync(join(tmpdir(), 'ol-raw-'));
    writeFileSync(join(d, 'invocations_per_function_md.anon.d01.csv'), raw.join('\n') + '\n');
    writeFileSync(join(d, 'function_durations_percentiles.anon.d01.csv'), readFileSync(`${SAMPLE10}_run.csv`));
    writeFileSync(join(d, 'app_memory_percentiles.anon.d01.csv'), readFileSync(`${SAMPLE10}_mem.csv`));
    expect(detectFormat(d)).toBe('azure2019');
    const a = drain(openTrace(d));
    const b = drain(openTrace(`azure2019:${SAMPLE10}`));
    expect(a).toEqual(b);
  });

  it('splits app memory evenly, takes Average, and optionally cold = Maximum - Average', () => {
    const src = new Azure2019TraceSource(SAMPLE10, { coldFromTrace: true, minutes: [1, 30] });
    const rows = drain(src);
    const run = readFileSync(`${SAMPLE10}_run.csv`, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const mem = readFileSync(`${SAMPLE10}_mem.csv`, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const r0 = rows[0]!;
    const fnRow = run.find((r) => r[0] === r0.fn)!;
    expect(r0.dur).toBe(Number(fnRow[4]));
    expect(r0.init).toBe(Math.max(0, Number(fnRow[6]) - Number(fnRow[4])));
    const app = fnRow[1]!;
    const appFns = src.functions.filter((f) => f.app === app).length;
    expect(r0.mem).toBe(Math.ceil(Number(mem.find((m) => m[0] === app)![3]) / appFns));
    expect(rows.every((r) => r.t < 30 * 60_000)).toBe(true);
  });

  it('poisson arrivals are seeded and keep the per-minute counts', () => {
    const a = drain(openTrace(`azure2019:${SAMPLE10}`, { arrivals: 'poisson', seed: 5, minutes: [1, 60] }));
    const b = drain(openTrace(`azure2019:${SAMPLE10}`, { arrivals: 'poisson', seed: 5, minutes: [1, 60] }));
    const c = drain(openTrace(`azure2019:${SAMPLE10}`, { arrivals: 'poisson', seed: 6, minutes: [1, 60] }));
    const u = drain(openTrace(`azure2019:${SAMPLE10}`, { minutes: [1, 60] }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).toHaveLength(u.length);
  });

  it('names the file, line and minute of a bad count', () => {
    const d = mkdtempSync(join(tmpdir(), 'ol-bad19-'));
    const inv = readFileSync(`${SAMPLE10}_inv.csv`, 'utf8').split('\n');
    const cells = inv[3]!.split(',');
    cells[10] = 'x';
    inv[3] = cells.join(',');
    writeFileSync(join(d, 's_inv.csv'), inv.join('\n'));
    writeFileSync(join(d, 's_run.csv'), readFileSync(`${SAMPLE10}_run.csv`));
    writeFileSync(join(d, 's_mem.csv'), readFileSync(`${SAMPLE10}_mem.csv`));
    expect(() => openTrace(join(d, 's_inv.csv'))).toThrow(`${join(d, 's_inv.csv')}:4: field "minute_8": "x" is not a non-negative whole number`);
    const skipped = openTrace(join(d, 's_inv.csv'), { skipBad: true });
    expect(skipped.functions).toHaveLength(9);
    expect(skipped.stats.skipped).toBe(1);
  });
});

describe('Azure 2021', () => {
  it('arrival = end - duration, sorted by arrival', () => {
    const p = file('a21.csv', 'app,func,end_timestamp,duration\nA,f,10.0,9.0\nA,g,5.0,1.0\nB,f,12.5,0.5\n');
    const rows = drain(openTrace(p));
    expect(rows.map((r) => [r.t, r.fn, r.dur])).toEqual([[1000, 'A/f', 9000], [4000, 'A/g', 1000], [12000, 'B/f', 500]]);
    expect(rows[0]!.mem).toBe(256);
  });

  it('reads the shared sample and rejects a negative arrival', () => {
    const p = file('neg21.csv', 'app,func,end_timestamp,duration\nA,f,1.0,9.0\n');
    expect(() => openTrace(p)).toThrow(/neg21\.csv:2: field "duration": 9 s is longer than end_timestamp 1 s/);
  });
});

describe('generator', () => {
  it('is seeded, hits the requested count and rate, and round-trips through CSV', () => {
    const g = () => new GeneratedTraceSource({ kind: 'poisson', functions: 50, invocations: 20_000, rate: 200, seed: 3 });
    const a = drain(g());
    expect(a).toEqual(drain(g()));
    expect(a).toHaveLength(20_000);
    const rate = a.length / (a.at(-1)!.t / 1000);
    expect(rate).toBeGreaterThan(190);
    expect(rate).toBeLessThan(210);
    // Zipf: the most popular function gets the most calls
    const counts = new Map<string, number>();
    for (const r of a) counts.set(r.fn, (counts.get(r.fn) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBe(counts.get('f00'));
    const p = join(dir, 'gen.csv');
    expect(writeCsvTrace(g(), p)).toBe(20_000);
    const back = drain(openTrace(p));
    expect(back.map((r) => r.fn)).toEqual(a.map((r) => r.fn));
  });

  it('bursty and diurnal keep the mean rate', () => {
    for (const kind of ['bursty', 'diurnal'] as const) {
      const rows = drain(new GeneratedTraceSource({ kind, functions: 10, invocations: 0, durationS: 20_000, rate: 5, periodS: 10_000, seed: 2 }));
      const rate = rows.length / 20_000;
      expect(rate, kind).toBeGreaterThan(4.5);
      expect(rate, kind).toBeLessThan(5.5);
    }
  });

  it('rejects bad settings by name', () => {
    expect(() => openTrace('gen:poisson,functions=0')).toThrow(/functions: must be a number > 0/);
    expect(() => openTrace('gen:poisson,bogus=1')).toThrow(/gen:bogus: unknown generator option/);
    expect(() => openTrace('gen:wavy')).toThrow(/unknown arrival kind "wavy"/);
  });
});
