/** The comparison report of `ol-exp compare`: PNG charts, report.pdf and report.html. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Agreement } from './compare.js';
import type { RunInfo } from './run-files.js';
import { rangeText } from './spread.js';
import { intervalText, selfText } from './uncertainty.js';
import { figureModesText } from './modes.js';
import { chargedText } from './first-touch.js';
import { barChart, lineChart, type Series } from '../reports/charts.js';
import { writeHtml, writePdf, type ReportChart, type ReportDoc } from '../reports/document.js';

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : String(x));
const sign = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(1)}%` : String(x));

export async function writeComparisonReport(
  out: string,
  a: Agreement,
  real: { info: RunInfo; memory: { t: number; mb: number }[]; cpu?: { t: number; cores: number }[] },
  sim: { info: RunInfo; memory: { t: number; mb: number }[]; cpu?: { t: number; cores: number }[] },
): Promise<string[]> {
  mkdirSync(out, { recursive: true });
  const charts: ReportChart[] = [];
  charts.push({
    file: 'latency-cdf.png', title: 'Latency CDF, real worker vs simulator',
    png: await lineChart({
      title: 'Latency CDF: real worker vs simulator', x: 'latency (ms, log scale)', y: 'fraction of invocations', logX: true, yMin: 0, yMax: 1,
      series: [{ label: `real (${real.info.backend ?? ''} worker)`, points: a.cdf.real }, { label: 'simulator', points: a.cdf.sim, dashed: true }],
    }),
  });
  charts.push({
    file: 'cold-starts.png', title: 'Cold starts per trace minute',
    png: await lineChart({
      title: 'Cold starts per minute of the trace', x: 'trace minute', y: 'cold starts', stepped: true, yMin: 0,
      series: [{ label: 'real', points: a.coldPerMinute.map((m) => [m.minute, m.real]) }, { label: 'simulator', points: a.coldPerMinute.map((m) => [m.minute, m.sim]), dashed: true }],
    }),
  });
  // real against simulated, over the replay's time
  const overTime = async (file: string, title: string, chartTitle: string, y: string, r: { label: string; points: [number, number][] }, sm: { label: string; points: [number, number][] }) => {
    charts.push({
      file, title,
      png: await lineChart({ title: chartTitle, x: 'replay time (s)', y, yMin: 0, stepped: true, series: [r, { ...sm, dashed: true }] }),
    });
  };
  await overTime('memory.png', 'Memory in use over time', 'Sandbox memory in use', 'memory in use (MB)',
    { label: 'real (worker\'s pool, sampled each second)', points: real.memory.map((m) => [m.t / 1000, m.mb]) },
    { label: 'simulator', points: sim.memory.map((m) => [m.t / 1000, m.mb]) });
  if (real.cpu?.length && sim.cpu?.length) {
    await overTime('cpu.png', 'CPU busy over time', 'CPU busy: the real machine vs the simulator\'s CPU model', 'busy cores (over the second before)',
      { label: 'real (/proc/stat: the whole machine)', points: real.cpu.map((c) => [c.t / 1000, c.cores]) },
      { label: `simulator (${sim.info.cores} cores: handlers, creations, background)`, points: sim.cpu.map((c) => [c.t / 1000, c.cores]) });
  }
  const pf = a.perFunction.filter((f) => f.invocations > 0 && Number.isFinite(f.p50ErrorPct)).sort((x, y) => y.invocations - x.invocations);
  charts.push({
    file: 'per-function.png', title: 'Per-function p50 latency, real vs simulator',
    png: await barChart({
      title: 'Per-function p50 latency', x: 'function (by invocations, most first)', y: 'p50 latency (ms)',
      labels: pf.map((f) => `${f.fn.slice(0, 8)} (${f.invocations})`),
      series: [{ label: 'real', values: pf.map((f) => f.realP50) }, { label: 'simulator', values: pf.map((f) => f.simP50) }],
    }),
  });
  const cl = a.cluster;
  if (cl) {
    const name = (i: number) => (cl.matchedBy === 'index' ? `worker ${cl.perWorker[i]!.real.worker}` : `busiest #${i + 1}`);
    charts.push({
      file: 'workers-load.png', title: 'Load per worker over time, real vs simulator',
      png: await lineChart({
        title: `Invocations per worker per trace minute (${cl.balancer}, ${cl.workers} workers)`, x: 'trace minute', y: 'invocations', stepped: true, yMin: 0,
        series: cl.perWorker.flatMap((_, i): Series[] => [
          { label: `${name(i)} real`, points: cl.loadPerMinute.map((m) => [m.minute, m.real[i]!]), colorIndex: i },
          { label: `${name(i)} sim`, points: cl.loadPerMinute.map((m) => [m.minute, m.sim[i]!]), dashed: true, colorIndex: i },
        ]),
      }),
    });
    charts.push({
      file: 'workers.png', title: 'Invocations and cold starts per worker, real vs simulator',
      png: await barChart({
        title: `Per worker (${cl.matchedBy === 'index' ? 'by index' : 'paired by load: HAProxy hashes with its own function'})`, x: 'worker', y: 'count',
        labels: cl.perWorker.map((_, i) => name(i)),
        series: [
          { label: 'invocations, real', values: cl.perWorker.map((w) => w.real.invocations) },
          { label: 'invocations, sim', values: cl.perWorker.map((w) => w.sim.invocations) },
          { label: 'cold starts, real', values: cl.perWorker.map((w) => w.real.coldStarts) },
          { label: 'cold starts, sim', values: cl.perWorker.map((w) => w.sim.coldStarts) },
        ],
      }),
    });
  }
  for (const c of charts) writeFileSync(join(out, c.file), c.png);
  const met = (b: boolean) => (b ? 'met' : 'NOT met');
  const plan = real.info.plan as Record<string, unknown>;
  const doc: ReportDoc = {
    title: cl
      ? `ol-lab: simulated vs real cluster (${cl.workers} workers, ${cl.balancer} behind ${cl.front === 'boss' ? 'ol-boss' : 'HAProxy'}, ${real.info.policy}, ${real.info.memoryMb} MB each)`
      : `ol-lab: simulator vs real worker (${real.info.policy}, ${real.info.memoryMb} MB)`,
    summary:
      `The simulator predicted ${a.sim.coldStarts} cold starts where the real ${real.info.backend ?? ''} worker had ${a.real.coldStarts} (${sign(a.errorPct.coldStarts)}); ` +
      `p50 latency ${f2(a.sim.p50)} ms vs ${f2(a.real.p50)} ms (${sign(a.errorPct.p50)}), p99 ${f2(a.sim.p99)} ms vs ${f2(a.real.p99)} ms (${sign(a.errorPct.p99)}); ` +
      `Kolmogorov–Smirnov distance ${a.ksDistance.toFixed(3)}. Targets (cold starts ±${a.targets.coldStartsPct}%, p50 ±${a.targets.p50Pct}%, p99 ±${a.targets.p99Pct}%): ` +
      `${met(a.met.coldStarts)}, ${met(a.met.p50)}, ${met(a.met.p99)}.` +
      (a.realRuns ? ` The real run is the median of ${a.realRuns.members.length} replays, whose cold starts ranged ${rangeText(a.realRuns.coldStarts, 0)}.` : '') +
      (a.simReplicas ? ` The simulated run is the median of ${a.simReplicas.members.length} replications differing only in cost draws, whose cold starts ranged ${rangeText(a.simReplicas.coldStarts, 0)}.` : '') +
      (a.errorIntervals ? ` Resampling both, the cold-start error falls in ${intervalText(a.errorIntervals, 'coldStarts')}; the real worker's replays, resampled against themselves, meet the targets in ${selfText(a.errorIntervals)} of pairs, a ceiling for any model.` : '') +
      (a.protocol ? ` Protocol: ${a.protocol.name}, ${a.protocol.realRuns} replays and ${a.protocol.calibrations} calibration(s); the intervals above are the confidence it buys${a.protocol.name === 'quick' ? ' (`validate --protocol thorough`, 5 replays and 3 calibrations, narrows them)' : ''}.` : '') +
      (a.machineBusy?.anyFlagged ? ` Caution: other work kept the machine busy during ${[...a.machineBusy.replays, ...a.machineBusy.calibrations].filter((x) => x.flagged).map((x) => x.label).join(', ')} (at least ${Math.round(a.machineBusy.flagShare * 100)}% of its cores); those figures may read slow.` : '') +
      (cl ? ` Across the ${cl.workers} workers the busiest served ${cl.imbalance.real.toFixed(2)}× the mean on the real cluster and ${cl.imbalance.sim.toFixed(2)}× in the simulator${cl.frontFailed.real ? `; the front failed ${cl.frontFailed.real} request(s) no worker answered` : ''}.` : '') +
      (a.simSpread ? ` Over the calibration's own spread (${a.simSpread.members.length} simulations) the simulator predicted ${rangeText(a.simSpread.coldStarts, 0)} cold starts, p50 ${rangeText(a.simSpread.p50, 2)} ms, p99 ${rangeText(a.simSpread.p99, 0)} ms.` : ''),
    sections: [
      {
        heading: 'Agreement',
        rows: [
          ['invocations', `real ${a.real.invocations} (${a.real.failed} failed), sim ${a.sim.invocations} (${a.sim.failed} dropped)`],
          ['cold starts', `real ${a.real.coldStarts}, sim ${a.sim.coldStarts}: ${sign(a.errorPct.coldStarts)} (target ±${a.targets.coldStartsPct}%: ${met(a.met.coldStarts)})`],
          ['p50 latency', `real ${f2(a.real.p50)} ms, sim ${f2(a.sim.p50)} ms: ${sign(a.errorPct.p50)} (target ±${a.targets.p50Pct}%: ${met(a.met.p50)})`],
          ['p90 latency', `real ${f2(a.real.p90)} ms, sim ${f2(a.sim.p90)} ms: ${sign(a.errorPct.p90)}`],
          ['p99 latency', `real ${f2(a.real.p99)} ms, sim ${f2(a.sim.p99)} ms: ${sign(a.errorPct.p99)} (target ±${a.targets.p99Pct}%: ${met(a.met.p99)})`],
          ['mean latency', `real ${f2(a.real.mean)} ms, sim ${f2(a.sim.mean)} ms: ${sign(a.errorPct.mean)}`],
          ['KS distance', a.ksDistance.toFixed(4)],
          ...(a.protocol ? [['protocol', `${a.protocol.name}: ${a.protocol.realRuns} replays, ${a.protocol.calibrations} calibration(s)`] as [string, string]] : []),
          ...(a.realRuns ? [
            ['real run', `the median of ${a.realRuns.members.length} replays, each on a fresh worker, run ${a.realRuns.chosen}; over them cold starts ${rangeText(a.realRuns.coldStarts, 0)}, p50 ${rangeText(a.realRuns.p50, 2)} ms, p99 ${rangeText(a.realRuns.p99, 0)} ms`] as [string, string],
            ...a.realRuns.members.map((m): [string, string] => [`  ${m.label}`, `cold starts ${m.coldStarts}, p50 ${f2(m.p50)} ms, p99 ${f2(m.p99)} ms`]),
          ] : []),
          ...(a.simReplicas ? [
            ['simulated run', `the median of ${a.simReplicas.members.length} replications (same invocations, other cost draws), replication ${a.simReplicas.chosen}; over them cold starts ${rangeText(a.simReplicas.coldStarts, 0)} (real ${a.real.coldStarts}: ${a.simReplicas.realWithin.coldStarts ? 'within' : 'outside'}), p50 ${rangeText(a.simReplicas.p50, 2)} ms, p99 ${rangeText(a.simReplicas.p99, 0)} ms`] as [string, string],
          ] : []),
          ...(a.errorIntervals ? [
            ['chance in the errors', `resampling the real replays and the simulated replications ${a.errorIntervals.resamples} times, each time comparing the runs the harness would keep: cold starts ${intervalText(a.errorIntervals, 'coldStarts')}; p50 ${intervalText(a.errorIntervals, 'p50')}; p99 ${intervalText(a.errorIntervals, 'p99')}; all three targets met in ${Math.round(a.errorIntervals.metShare.all * 100)}% of resamples`] as [string, string],
            ['the real worker against itself', `two independent resamples of the real replays, each reduced to the run the harness keeps, compared under the same targets (a ceiling for any model): ${selfText(a.errorIntervals)} of ${a.errorIntervals.resamples} pairs`] as [string, string],
          ] : []),
          ...figureModesText(a.modes ?? {}).map((line): [string, string] => ['two modes',
            `the replays and replications fall into two groups, as a plan near a tipping point does (a burst that cascades or escapes; experiments/modes.ts), so the shares say more than the medians: ${line}`]),
          ...(a.machineBusy ? [
            ['machine busy (other work)', `share of the ${a.machineBusy.cores || ''} cores used by processes that were not the experiment's, flagged from ${Math.round(a.machineBusy.flagShare * 100)}%: ` +
              [...a.machineBusy.replays, ...a.machineBusy.calibrations].map((x) => `${x.label} ${Math.round(x.share * 100)}%${x.flagged ? ' (FLAGGED)' : ''}`).join(', ')] as [string, string],
          ] : []),
          ...(a.firstTouch ? [
            ['first touches of memory', `the lambda's own CPU per MB on its first call (median over each replay's cold starts), which moves with the machine's memory state (compare validations whose figures are alike): ` +
              a.firstTouch.replays.map((x) => `${x.label} ${x.medianMsPerMb.toFixed(2)} ms/MB (${x.calls})`).join(', ') + '; ' + chargedText(a.firstTouch)] as [string, string],
          ] : []),
          ...(a.simSpread ? [
            ['over the calibration\'s spread', `${a.simSpread.members.length} simulations (each effective-cores sample × the quartiles of the memory-touching cost, or with first touches priced by the host's free memory the probes at the quartiles of their cheap headroom): cold starts ${rangeText(a.simSpread.coldStarts, 0)} (real ${a.real.coldStarts}: ${a.simSpread.realWithin.coldStarts ? 'within' : 'outside'}), p50 ${rangeText(a.simSpread.p50, 2)} ms (${a.simSpread.realWithin.p50 ? 'within' : 'outside'}), p99 ${rangeText(a.simSpread.p99, 0)} ms (${a.simSpread.realWithin.p99 ? 'within' : 'outside'})`] as [string, string],
            ...a.simSpread.members.map((m): [string, string] => [`  ${m.label}`, `cold starts ${m.coldStarts}, p50 ${f2(m.p50)} ms, p99 ${f2(m.p99)} ms`]),
          ] : []),
        ],
      },
      {
        heading: 'What was run',
        rows: [
          ['trace', `${real.info.trace} (sha256 ${real.info.traceSha256})`],
          ['replay plan', `${JSON.stringify(plan)} (plan sha256 ${real.info.planSha256.slice(0, 16)}…)`],
          ['seed', String(real.info.seed)],
          ['policy, memory', `${real.info.policy}, ${real.info.memoryMb} MB`],
          ['real worker', `${real.info.backend} backend${real.info.complete ? '' : ' (run stopped early)'}`],
          ['simulator', `cores ${String(sim.info.cores)}, profile ${JSON.stringify((sim.info.profile as { name?: string; source?: string })?.name ?? '')}: ${(sim.info.profile as { source?: string })?.source ?? ''}`],
          ['machine', JSON.stringify(real.info.machine)],
          ['ol-lab', real.info.olLabVersion],
          ...real.info.notes.map((n, i): [string, string] => [`note ${i + 1}`, n]),
        ],
      },
      ...(cl ? [{
        heading: 'Per worker',
        rows: [
          ['cluster', `${cl.workers} workers behind ${cl.front === 'boss' ? 'ol-boss' : 'HAProxy'}, balancer ${cl.balancer} ${JSON.stringify(real.info.cluster?.balancerOptions ?? {})}, view read every ${real.info.cluster?.viewRefreshMs} ms; simulated hop ${f2(sim.info.cluster?.hopMs ?? 0)} ms; workers paired ${cl.matchedBy === 'index' ? 'by index' : 'by load (HAProxy hashes lambda names with its own function, so a lambda\'s home differs from the simulator\'s)'}`],
          ['imbalance', `busiest worker over the mean: real ${cl.imbalance.real.toFixed(3)}, sim ${cl.imbalance.sim.toFixed(3)}`],
          ...cl.perWorker.map((w, i): [string, string] => [cl.matchedBy === 'index' ? `worker ${w.real.worker}` : `busiest #${i + 1} (real ${w.real.worker}, sim ${w.sim.worker})`,
            `invocations real ${w.real.invocations}, sim ${w.sim.invocations}; cold starts real ${w.real.coldStarts}, sim ${w.sim.coldStarts}; p50 real ${f2(w.real.p50)} ms, sim ${f2(w.sim.p50)} ms; p99 real ${f2(w.real.p99)} ms, sim ${f2(w.sim.p99)} ms; functions real ${w.real.functions}, sim ${w.sim.functions}`]),
        ] as [string, string][],
      }] : []),
      {
        heading: 'Per function',
        rows: a.perFunction.filter((f) => f.invocations > 0).sort((x, y) => y.invocations - x.invocations).map((f): [string, string] => [f.fn.slice(0, 24), `${f.invocations} invocations; p50 real ${f2(f.realP50)} ms, sim ${f2(f.simP50)} ms (${sign(f.p50ErrorPct)}); cold starts real ${f.realCold}, sim ${f.simCold}`]),
      },
    ],
    charts,
  };
  await writePdf(doc, join(out, 'report.pdf'));
  writeHtml(doc, join(out, 'report.html'));
  writeFileSync(join(out, 'agreement.json'), JSON.stringify({ ...a, cdf: undefined }, null, 2) + '\n');
  return ['report.pdf', 'report.html', 'agreement.json', ...charts.map((c) => c.file)];
}
