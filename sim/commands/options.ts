/**
 * The options of every command, kept apart from the handlers so that the
 * CLI can build its help without loading the simulator.
 */
import type { Argv } from 'yargs';
import { arrivalKinds, genDefaults } from '../../traces/generate.js';
import { simOptions } from './common.js';

export function runOptions<T>(y: Argv<T>) {
  return simOptions(y)
    .option('memory', { type: 'number', default: 32_000, describe: 'memory pool, MB' })
    .option('out', { type: 'string', describe: 'directory for summary.json, timing.json and the optional files' })
    .option('invocations', { type: 'boolean', default: false, describe: 'also write invocations.csv (one row per invocation) to --out' })
    .option('series', { type: 'number', describe: 'also write memory.csv to --out, one sample every this many ms of simulated time' })
    .option('top', { type: 'number', default: 10, describe: 'functions listed in the table' })
    .option('packages', { type: 'string', describe: 'package usage JSONL ({"lambda": function, "packages": [...], "import_ms": {...}, "install_ms": {...}}): cold starts pay imports and first installs' })
    .option('zygotes', { type: 'string', describe: 'import-cache tree JSON (the worker\'s import_tree, e.g. from ol-exp fit-tree): cold starts fork from zygotes' })
    .option('zygote-mem', { type: 'number', default: 128, describe: 'memory of one zygote, MB, taken from the pool' })
    .option('import-ms', { type: 'number', default: 0, describe: 'import time of a package the --packages file gives none for, ms' })
    .option('workers', { type: 'number', describe: 'simulate a cluster of this many workers behind a balancer (each a whole worker model)' })
    .option('balancer', { type: 'string', describe: 'cluster placement (see ol-sim balancers); default round-robin' })
    .option('balancer-opt', { type: 'string', array: true, default: [] as string[], describe: 'balancer option key=value (see ol-sim balancers)' })
    .option('worker-memory', { type: 'number', describe: 'memory pool of each worker, MB (default: --memory)' })
    .option('worker-cores', { type: 'string', describe: 'cores of each worker (default: --cores)' })
    .option('cluster', { type: 'string', describe: 'heterogeneous workers: a JSON file [{"memoryMb": …, "cores": …}, …], one entry per worker' })
    .option('hop-ms', { type: 'number', describe: 'cluster: front-to-worker time added to every request, ms (default: the profile\'s measured hop, ol-exp calibrate --hop; else 0)' })
    .option('view-refresh-ms', { type: 'number', default: 100, describe: 'cluster: how often the front reads the workers\' free memory and warm sandboxes, ms (the boss\'s /stats poll)' })
    .option('shared-cores', { type: 'string', describe: 'cluster: the workers run on one machine of this many cores and share them (instead of each having its own)' })
    .example('$0 run lru --trace azure2019:traces/data/azure2019/10 --memory 8000 --cores 2', '')
    .example('$0 run lru --trace azure2019:traces/data/azure2019/10 --workers 4 --balancer ch-bl --worker-memory 2000', 'a cluster of 4 workers behind consistent hashing with bounded loads')
    .example('$0 run gdsf --trace trace.csv --cores infinite --queue drop --out results/gdsf', '')
    .example('$0 run lru --trace trace.csv --packages usage.jsonl --zygotes tree.json', 'price package imports and fork from zygotes')
    .example('$0 run gdsf --compat faascache --trace azure2019:traces/data/azure2019/10 --memory 8000', 'FaasCache-sim\'s GD, its counts exactly');
}

export function genOptions<T>(y: Argv<T>) {
  const d = genDefaults;
  return y
    .option('kind', { choices: Object.keys(arrivalKinds), default: d.kind, describe: 'arrival process: ' + Object.entries(arrivalKinds).map(([k, v]) => `${k} (${v})`).join('; ') })
    .option('out', { type: 'string', demandOption: true, describe: 'output CSV path' })
    .option('functions', { type: 'number', default: d.functions, describe: 'number of functions' })
    .option('invocations', { type: 'number', default: d.invocations, describe: 'stop after this many invocations (0: no limit)' })
    .option('duration-s', { type: 'number', default: d.durationS, describe: 'stop at this simulated time, s (0: no limit)' })
    .option('rate', { type: 'number', default: d.rate, describe: 'mean arrival rate over all functions, per second' })
    .option('zipf', { type: 'number', default: d.zipf, describe: 'Zipf exponent of function popularity' })
    .option('seed', { type: 'number', default: d.seed })
    .option('median-ms', { type: 'number', default: d.medianMs, describe: 'median of the functions\' base execution times' })
    .option('dur-sigma', { type: 'number', default: d.durSigma, describe: 'log-normal sigma of base execution times across functions' })
    .option('jitter', { type: 'number', default: d.jitter, describe: 'log-normal sigma of one invocation around its function\'s base' })
    .option('burst-on-s', { type: 'number', default: d.burstOnS, describe: 'bursty: mean on period, s' })
    .option('burst-off-s', { type: 'number', default: d.burstOffS, describe: 'bursty: mean off period, s' })
    .option('burst-factor', { type: 'number', default: d.burstFactor, describe: 'bursty: on-rate as a multiple of the mean rate' })
    .option('period-s', { type: 'number', default: d.periodS, describe: 'diurnal: period, s' })
    .option('amplitude', { type: 'number', default: d.amplitude, describe: 'diurnal: amplitude as a fraction of the mean rate' })
    .example('$0 gen --kind bursty --functions 1000 --invocations 1000000 --rate 500 --out bursty.csv', '');
}

export function sweepOptions<T>(y: Argv<T>) {
  return simOptions(y)
    .option('policies', { type: 'string', default: 'lru,gdsf,ttl,hist', describe: 'comma-separated policy names' })
    .option('memory', { type: 'string', default: '1000:32000:1000', describe: 'memory sizes, MB: start:end:step or a comma list' })
    .option('jobs', { type: 'number', describe: 'parallel simulations (default: the number of cores)' })
    .option('balancers', { type: 'string', describe: 'simulate clusters: comma-separated balancers (with --workers; --memory is then per worker)' })
    .option('workers', { type: 'string', describe: 'simulate clusters of these worker counts, e.g. 2,4,8 (with --balancers)' })
    .option('hop-ms', { type: 'number', describe: 'cluster: front-to-worker time added to every request, ms (default: the profile\'s measured hop, ol-exp calibrate --hop; else 0)' })
    .option('out', { type: 'string', describe: 'directory for sweep.json and sweep.csv' })
    .example('$0 sweep --trace azure2019:traces/data/azure2019/10 --policies lru,gdsf,ttl,hist --memory 1000:32000:1000 --cores infinite', '')
    .example('$0 sweep --trace azure2019:traces/data/azure2019/10 --balancers round-robin,hash,ch-bl --workers 2,4,8 --policies lru --memory 2000', 'clusters: cold-start % and p99 by workers and balancer')
    .example('$0 sweep --compat faascache --trace azure2019:traces/data/azure2019/10 --policies gdsf,lru,ttl,hist,lnd --memory 1000,2000,4000,8000,16000,32000', 'FaasCache-sim\'s figures');
}
