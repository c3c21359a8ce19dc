/**
 * Seeded synthetic traces: Poisson, bursty on/off (a two-state
 * Markov-modulated Poisson process) and diurnal (sinusoidal rate, by
 * thinning) arrivals over functions whose popularity follows a Zipf law.
 * A generator is itself a {@link TraceSource}, so the simulator can run on
 * one directly (`--trace gen:poisson,invocations=1e6`) without a file, and
 * `ol-sim gen` writes one out in our CSV format.
 *
 * Per function, drawn once: a base execution time (log-normal, median
 * `medianMs`, σ = `durSigma`, clamped to 1 ms .. 60 s) and a memory size from
 * 128/256/512/1024/2048 MB (weights 30/30/20/15/5%). Per invocation, the
 * execution time is the base times a log-normal factor with σ = `jitter`.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { badConfig } from '../common/errors.js';
import { exponential, makeRng, zipfSampler, type Rng } from '../common/rng.js';
import { newBatch, type FunctionInfo, type InvocationBatch, type ReadStats, type TraceSource } from './types.js';

/** Arrival processes the generator knows. */
export const arrivalKinds = {
  poisson: 'Poisson arrivals at a constant mean rate',
  bursty: 'on/off bursts: rate × burstFactor while on, the rest while off (mean rate kept)',
  diurnal: 'sinusoidal rate over periodS (default a day), amplitude as a fraction of the mean',
} as const;
export type ArrivalKind = keyof typeof arrivalKinds;

/** Generator settings; every field has a default (see {@link genDefaults}). */
export interface GenOptions {
  kind: ArrivalKind;
  functions: number;
  /** Stop after this many invocations (0 = no limit; then durationS must be set). */
  invocations: number;
  /** Stop at this time, seconds (0 = no limit). */
  durationS: number;
  /** Mean arrival rate over all functions, invocations per second. */
  rate: number;
  zipf: number;
  seed: number;
  medianMs: number;
  durSigma: number;
  jitter: number;
  burstOnS: number;
  burstOffS: number;
  burstFactor: number;
  periodS: number;
  amplitude: number;
}

export const genDefaults: GenOptions = {
  kind: 'poisson', functions: 100, invocations: 100_000, durationS: 0, rate: 100, zipf: 1.0, seed: 1,
  medianMs: 50, durSigma: 1.2, jitter: 0.2, burstOnS: 10, burstOffS: 50, burstFactor: 4, periodS: 86_400, amplitude: 0.8,
};

const MEMS = [128, 256, 512, 1024, 2048];
const MEM_CDF = [0.3, 0.6, 0.8, 0.95, 1];

/** Checks generator options; errors name the option. */
export function validateGen(o: GenOptions): GenOptions {
  if (!(o.kind in arrivalKinds)) badConfig('kind', `unknown arrival kind "${o.kind}"; valid: ${Object.keys(arrivalKinds).join(', ')}`);
  const pos = (k: keyof GenOptions, allowZero = false) => {
    const v = o[k] as number;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) badConfig(k, `must be a number ${allowZero ? '>=' : '>'} 0, got ${v}`);
  };
  pos('functions'); pos('rate'); pos('medianMs'); pos('burstOnS'); pos('burstOffS'); pos('burstFactor'); pos('periodS');
  pos('invocations', true); pos('durationS', true); pos('zipf', true); pos('durSigma', true); pos('jitter', true); pos('amplitude', true);
  if (!Number.isInteger(o.functions) || o.functions > 1_000_000) badConfig('functions', `must be a whole number up to 1,000,000, got ${o.functions}`);
  if (!Number.isInteger(o.invocations)) badConfig('invocations', `must be a whole number, got ${o.invocations}`);
  if (o.invocations === 0 && o.durationS === 0) badConfig('invocations', 'set invocations or durationS (or both), or the trace never ends');
  if (o.amplitude > 1) badConfig('amplitude', `must be at most 1, got ${o.amplitude}`);
  if (o.burstFactor * o.burstOnS > o.burstOnS + o.burstOffS) {
    badConfig('burstFactor', `${o.burstFactor} × burstOnS exceeds burstOnS + burstOffS, so the off-rate would be negative`);
  }
  return o;
}

/** Parses `kind,key=value,…` (the part after `gen:`). */
export function parseGenSpec(spec: string): GenOptions {
  const o: GenOptions = { ...genDefaults };
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length > 0 && !parts[0]!.includes('=')) o.kind = parts.shift() as ArrivalKind;
  for (const p of parts) {
    const [k, v] = p.split('=', 2) as [string, string | undefined];
    if (!(k in genDefaults) || k === 'kind') badConfig(`gen:${k}`, `unknown generator option; valid: ${Object.keys(genDefaults).filter((x) => x !== 'kind').join(', ')}`);
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) badConfig(`gen:${k}`, `needs a number, got ${JSON.stringify(v)}`);
    (o as unknown as Record<string, number>)[k] = n;
  }
  return validateGen(o);
}

function normal(rng: Rng): number {
  const u = 1 - rng(), v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A synthetic trace, generated as it is read. */
export class GeneratedTraceSource implements TraceSource {
  readonly format = 'gen';
  readonly location: string;
  readonly functions: FunctionInfo[] = [];
  readonly stats: ReadStats = { invocations: 0, skipped: 0, skippedExamples: [], bytesRead: 0, totalBytes: 0 };
  readonly options: Record<string, unknown>;
  readonly gen: GenOptions;
  readonly #baseDur: Float64Array;
  readonly #mem: Float64Array;
  readonly #batchSize: number;
  #used = false;

  constructor(opts: Partial<GenOptions>, batchSize = 4096) {
    this.gen = validateGen({ ...genDefaults, ...opts });
    const g = this.gen;
    this.options = { ...g };
    this.location = `gen:${g.kind}`;
    this.#batchSize = batchSize;
    this.stats.totalBytes = g.invocations || Math.round(g.rate * g.durationS);
    const rng = makeRng(g.seed, 'gen/functions');
    const digits = String(g.functions - 1).length;
    this.#baseDur = new Float64Array(g.functions);
    this.#mem = new Float64Array(g.functions);
    for (let f = 0; f < g.functions; f++) {
      this.functions.push({ name: `f${String(f).padStart(digits, '0')}` });
      this.#baseDur[f] = Math.min(60_000, Math.max(1, g.medianMs * Math.exp(g.durSigma * normal(rng))));
      const u = rng();
      this.#mem[f] = MEMS[MEM_CDF.findIndex((c) => u < c)]!;
    }
  }

  *batches(): Generator<InvocationBatch, void, undefined> {
    if (this.#used) throw new Error('a trace source can be read only once');
    this.#used = true;
    const g = this.gen;
    const arr = makeRng(g.seed, 'gen/arrivals');
    const pick = makeRng(g.seed, 'gen/functions-pick');
    const jit = makeRng(g.seed, 'gen/jitter');
    const zipf = zipfSampler(g.functions, g.zipf);
    const limit = g.invocations || Infinity;
    const endMs = g.durationS ? g.durationS * 1000 : Infinity;
    const meanGap = 1000 / g.rate;
    // bursty: two rates and the time the current state ends
    const cycle = g.burstOnS + g.burstOffS;
    const rateOn = g.rate * g.burstFactor;
    const rateOff = (g.rate * cycle - rateOn * g.burstOnS) / g.burstOffS;
    let on = true;
    let stateEnd = exponential(arr, g.burstOnS * 1000);
    // diurnal: thinning against the peak rate
    const peak = g.rate * (1 + g.amplitude);
    const b = newBatch(this.#batchSize);
    const cap = this.#batchSize;
    let n = 0;
    let t = 0;
    let count = 0;
    while (count < limit) {
      if (g.kind === 'poisson') {
        t += exponential(arr, meanGap);
      } else if (g.kind === 'bursty') {
        for (;;) {
          const r = on ? rateOn : rateOff;
          const gap = r > 0 ? exponential(arr, 1000 / r) : Infinity;
          if (t + gap <= stateEnd) { t += gap; break; }
          // memoryless: restart the draw at the state change
          t = stateEnd;
          on = !on;
          stateEnd = t + exponential(arr, (on ? g.burstOnS : g.burstOffS) * 1000);
        }
      } else {
        for (;;) {
          t += exponential(arr, 1000 / peak);
          const rate = g.rate * (1 + g.amplitude * Math.sin((2 * Math.PI * t) / (g.periodS * 1000) - Math.PI / 2));
          if (arr() * peak <= rate) break;
        }
      }
      if (t >= endMs) break;
      const f = zipf(pick);
      b.t[n] = Math.round(t * 1000) / 1000;
      b.fn[n] = f;
      b.dur[n] = Math.round(this.#baseDur[f]! * Math.exp(g.jitter * normal(jit)) * 1000) / 1000;
      b.mem[n] = this.#mem[f]!;
      count++;
      if (++n === cap) {
        b.length = n;
        this.stats.invocations += n;
        this.stats.bytesRead = this.stats.invocations;
        yield b;
        n = 0;
      }
    }
    if (n > 0) {
      b.length = n;
      this.stats.invocations += n;
      this.stats.bytesRead = this.stats.invocations;
      yield b;
    }
  }

  hash(): string {
    return createHash('sha256').update(JSON.stringify({ generator: 'ol-lab-gen/1', ...this.gen })).digest('hex');
  }

  notes(): string[] {
    return [];
  }
}

/**
 * Writes any trace source out in our CSV format (`t_ms,fn,dur_ms,mem_mb`,
 * plus `init_ms` when the source gives cold-start times), streaming.
 * Returns the number of invocations written.
 */
export function writeCsvTrace(src: TraceSource, path: string, onBatch?: (written: number) => void): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    let withInit: boolean | undefined;
    let out = '';
    const flush = () => { if (out.length) { writeSync(fd, out); out = ''; } };
    for (const b of src.batches()) {
      if (withInit === undefined) {
        withInit = !Number.isNaN(b.init[0]!);
        writeSync(fd, withInit ? 't_ms,fn,dur_ms,mem_mb,init_ms\n' : 't_ms,fn,dur_ms,mem_mb\n');
      }
      const names = src.functions;
      for (let i = 0; i < b.length; i++) {
        out += `${b.t[i]},${names[b.fn[i]!]!.name},${b.dur[i]},${b.mem[i]}`;
        out += withInit ? `,${Number.isNaN(b.init[i]!) ? '' : b.init[i]}\n` : '\n';
        if (out.length > 1 << 20) flush();
      }
      written += b.length;
      onBatch?.(written);
    }
    if (withInit === undefined) writeSync(fd, 't_ms,fn,dur_ms,mem_mb\n');
    flush();
  } finally {
    closeSync(fd);
  }
  return written;
}
