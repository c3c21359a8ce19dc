/** `ol-sim gen`: a seeded synthetic trace, written in ol-lab CSV. */
import { GeneratedTraceSource, writeCsvTrace, type GenOptions } from '../../traces/generate.js';
import { progress } from './common.js';

type GenArgs = Omit<GenOptions, 'kind'> & { kind: string; out: string };

export function genCommand(a: GenArgs): void {
  const src = new GeneratedTraceSource({
    kind: a.kind as GenOptions['kind'], functions: a.functions, invocations: a.invocations, durationS: a.durationS, rate: a.rate,
    zipf: a.zipf, seed: a.seed, medianMs: a.medianMs, durSigma: a.durSigma, jitter: a.jitter, burstOnS: a.burstOnS,
    burstOffS: a.burstOffS, burstFactor: a.burstFactor, periodS: a.periodS, amplitude: a.amplitude,
  }, 65536);
  const bar = progress(true);
  const t0 = performance.now();
  let n: number;
  try {
    n = writeCsvTrace(src, a.out, (w) => bar.update(w, src.stats.totalBytes, `${w.toLocaleString('en-US')} invocations`));
  } finally {
    bar.end();
  }
  process.stdout.write(`wrote ${n.toLocaleString('en-US')} invocations of ${a.functions} functions (${a.kind}, seed ${a.seed}) to ${a.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
