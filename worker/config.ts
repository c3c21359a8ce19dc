/**
 * The worker's configuration (`config.json` in the worker directory): every
 * field with its default, its documentation and its check, in one table.
 * `ol-worker init` writes the defaults; `ol-worker up -o key=value` overrides
 * any field (dotted keys for nested ones, e.g. `limits.mem_mb=128`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OlError, badConfig } from '../common/errors.js';
import { resolvePolicyOptions } from '../core/policies/index.js';

/** Per-sandbox limits (overridable per lambda in ol.yaml). */
export interface SandboxLimits {
  /** Memory limit of one sandbox, MB; also what it reserves from the pool. */
  mem_mb: number;
  /** Processes and threads one sandbox may have (stops fork bombs). */
  pids: number;
  /** CPU share, percent of one core. */
  cpu_percent: number;
  /** How long one request may run before its sandbox is killed, ms. */
  time_limit_ms: number;
  /** Size of the private /tmp, MB. */
  tmp_mb: number;
}

export interface WorkerConfig {
  worker_dir: string;
  host: string;
  port: number;
  sandbox: 'sock' | 'docker';
  mem_pool_mb: number;
  policy: string;
  policy_options: Record<string, number>;
  limits: SandboxLimits;
  queue_limit: number;
  evict_to: 'shortfall' | 'full';
  registry: string;
  registry_cache_ms: number;
  registry_max_mb: number;
  body_limit_mb: number;
  base_root: string;
  docker_image: string;
  docker_pause: 'freezer' | 'api';
  cgroup_root: string;
  cgroup_version: 'auto' | 'v1' | 'v2';
  sandbox_uid: number;
  sandbox_gid: number;
  record: boolean;
  record_path: string;
  packages_dir: string;
  package_index: string;
  install_mem_mb: number;
  install_time_limit_ms: number;
  import_cache: boolean;
  import_tree: string;
  zygote_mem_mb: number;
  downsize_paused_mem: boolean;
  log_level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** What each field means and its default ({dir} is the worker directory). */
export const configDocs: Record<string, { default: unknown; describe: string }> = {
  worker_dir: { default: '{dir}', describe: 'the worker directory (holds config.json, sandboxes/, code/, logs)' },
  host: { default: '127.0.0.1', describe: 'address the HTTP server listens on' },
  port: { default: 5000, describe: 'TCP port of the HTTP server' },
  sandbox: { default: 'sock', describe: 'sandbox backend: sock (namespaces + cgroups + chroot) or docker' },
  mem_pool_mb: { default: 4096, describe: 'memory pool for all sandboxes, MB; each reserves its mem_mb' },
  policy: { default: 'openlambda', describe: 'keep-alive / eviction policy, from the simulator\'s registry' },
  policy_options: { default: {}, describe: 'options of the policy (see ol-sim policies)' },
  'limits.mem_mb': { default: 256, describe: 'memory limit of one sandbox, MB' },
  'limits.pids': { default: 64, describe: 'process/thread limit of one sandbox' },
  'limits.cpu_percent': { default: 100, describe: 'CPU limit of one sandbox, percent of a core' },
  'limits.time_limit_ms': { default: 30000, describe: 'time limit of one request, ms; past it the sandbox is killed' },
  'limits.tmp_mb': { default: 64, describe: 'size of the sandbox\'s private /tmp, MB' },
  queue_limit: { default: 64, describe: 'requests one lambda may have waiting; more get 429' },
  evict_to: { default: 'shortfall', describe: 'a new sandbox that does not fit evicts until the shortfall is free (shortfall), or until victims holding its full size are gone (full: FaasCache-sim\'s rule)' },
  registry: { default: '{dir}/registry', describe: 'registry directory: <name>/ folders or <name>.tar.gz archives' },
  registry_cache_ms: { default: 5000, describe: 'how long a lambda\'s code is trusted before the registry is checked again, ms' },
  registry_max_mb: { default: 50, describe: 'largest archive accepted by POST /registry/<name> (compressed and unpacked), MB' },
  body_limit_mb: { default: 6, describe: 'largest request body accepted by /run, MB' },
  base_root: { default: '/var/lib/ol-lab/ol-min', describe: 'base root filesystem (Debian minbase + python3 and pip) built by init' },
  docker_image: { default: 'ol-min', describe: 'Docker image imported from the base root by init' },
  docker_pause: { default: 'freezer', describe: 'docker backend: pause a container by writing its cgroup freezer directly (freezer), or through the Docker API as OpenLambda does (api, some 30-60 times slower per pause and unpause)' },
  cgroup_root: { default: 'ol-lab/{id}', describe: 'cgroup under which this worker\'s sandboxes live ({id}: hash of the worker dir)' },
  cgroup_version: { default: 'auto', describe: 'auto, v1 or v2' },
  sandbox_uid: { default: 65534, describe: 'user id handlers run as (nobody)' },
  sandbox_gid: { default: 65534, describe: 'group id handlers run as (nogroup)' },
  record: { default: false, describe: 'append one JSON line per invocation to record_path' },
  record_path: { default: '{dir}/records.jsonl', describe: 'where invocation records go' },
  log_level: { default: 'info', describe: 'pino log level' },
  packages_dir: { default: '{dir}/packages', describe: 'the package cache: one folder per installed requirement, shared read-only by sandboxes' },
  package_index: { default: 'https://pypi.org/simple', describe: 'where pip finds packages: an index URL (the installer then has the network) or a folder of wheels (--find-links, no network)' },
  install_mem_mb: { default: 512, describe: 'memory limit of the sandbox that installs one package, MB' },
  install_time_limit_ms: { default: 300000, describe: 'time limit of one package install, ms' },
  import_cache: { default: true, describe: 'sock only: fork new sandboxes from zygotes (pre-imported interpreters) of the import tree' },
  import_tree: { default: '', describe: 'import-cache tree JSON (e.g. from ol-exp fit-tree); empty: a root zygote with no packages' },
  downsize_paused_mem: { default: false, describe: 'OpenLambda\'s downsize_paused_mem: a paused sandbox\'s memory limit drops to what it uses plus 1 MB, and the pool counts only that until it is unpaused (the simulator: --paused-mem)' },
  zygote_mem_mb: { default: 128, describe: 'memory one zygote takes from mem_pool_mb while it lives, MB (its cgroup has no memory limit: pages it shares with forked sandboxes stay charged to it)' },
};

/** The defaults for a worker directory. */
export function defaultConfig(dir: string): WorkerConfig {
  const d = resolve(dir);
  const id = createHash('sha256').update(d).digest('hex').slice(0, 10);
  return {
    worker_dir: d,
    host: '127.0.0.1',
    port: 5000,
    sandbox: 'sock',
    mem_pool_mb: 4096,
    policy: 'openlambda',
    policy_options: {},
    limits: { mem_mb: 256, pids: 64, cpu_percent: 100, time_limit_ms: 30_000, tmp_mb: 64 },
    queue_limit: 64,
    evict_to: 'shortfall',
    registry: join(d, 'registry'),
    registry_cache_ms: 5000,
    registry_max_mb: 50,
    body_limit_mb: 6,
    base_root: '/var/lib/ol-lab/ol-min',
    docker_image: 'ol-min',
    docker_pause: 'freezer',
    cgroup_root: `ol-lab/${id}`,
    cgroup_version: 'auto',
    sandbox_uid: 65534,
    sandbox_gid: 65534,
    record: false,
    record_path: join(d, 'records.jsonl'),
    log_level: 'info',
    packages_dir: join(d, 'packages'),
    package_index: 'https://pypi.org/simple',
    install_mem_mb: 512,
    install_time_limit_ms: 300_000,
    import_cache: true,
    import_tree: '',
    zygote_mem_mb: 128,
    downsize_paused_mem: false,
  };
}

function num(key: string, v: unknown, min: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    badConfig(key, `must be ${integer ? 'a whole number' : 'a number'} >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Checks every field; errors name the field (and the file, when given). */
export function validateConfig(c: WorkerConfig, where = 'config'): WorkerConfig {
  try {
    const known = new Set(Object.keys(configDocs).map((k) => k.split('.')[0]));
    for (const k of Object.keys(c)) if (!known.has(k)) badConfig(k, `is not a config field (fields: ${[...known].join(', ')})`);
    num('port', c.port, 0, true);
    if (c.port > 65535) badConfig('port', `must be at most 65535, got ${c.port}`);
    if (c.sandbox !== 'sock' && c.sandbox !== 'docker') badConfig('sandbox', `must be sock or docker, got ${JSON.stringify(c.sandbox)}`);
    num('mem_pool_mb', c.mem_pool_mb, 1);
    c.policy_options = resolvePolicyOptions(c.policy, c.policy_options ?? {});
    if (typeof c.limits !== 'object' || c.limits === null) badConfig('limits', 'must be an object');
    num('limits.mem_mb', c.limits.mem_mb, 8);
    num('limits.pids', c.limits.pids, 4, true);
    num('limits.cpu_percent', c.limits.cpu_percent, 1);
    num('limits.time_limit_ms', c.limits.time_limit_ms, 1);
    num('limits.tmp_mb', c.limits.tmp_mb, 1);
    if (c.limits.mem_mb > c.mem_pool_mb) badConfig('limits.mem_mb', `${c.limits.mem_mb} MB is more than the whole pool (mem_pool_mb ${c.mem_pool_mb})`);
    num('queue_limit', c.queue_limit, 0, true);
    if (c.evict_to !== 'shortfall' && c.evict_to !== 'full') badConfig('evict_to', `must be shortfall or full, got ${JSON.stringify(c.evict_to)}`);
    num('registry_cache_ms', c.registry_cache_ms, 0);
    num('registry_max_mb', c.registry_max_mb, 0.001);
    num('body_limit_mb', c.body_limit_mb, 0.001);
    num('sandbox_uid', c.sandbox_uid, 1, true);
    num('sandbox_gid', c.sandbox_gid, 1, true);
    if (c.docker_pause !== 'freezer' && c.docker_pause !== 'api') badConfig('docker_pause', `must be freezer or api, got ${JSON.stringify(c.docker_pause)}`);
    if (!['auto', 'v1', 'v2'].includes(c.cgroup_version)) badConfig('cgroup_version', `must be auto, v1 or v2, got ${JSON.stringify(c.cgroup_version)}`);
    if (!/^[A-Za-z0-9._/-]+$/.test(c.cgroup_root) || c.cgroup_root.includes('..')) badConfig('cgroup_root', `must be a relative path of [A-Za-z0-9._-] parts, got ${JSON.stringify(c.cgroup_root)}`);
    if (typeof c.record !== 'boolean') badConfig('record', `must be true or false, got ${JSON.stringify(c.record)}`);
    if (typeof c.package_index !== 'string' || !(/^https?:\/\/\S+$/.test(c.package_index) || c.package_index.startsWith('/'))) {
      badConfig('package_index', `must be an http(s) index URL or an absolute folder of wheels, got ${JSON.stringify(c.package_index)}`);
    }
    if (typeof c.packages_dir !== 'string' || !c.packages_dir.startsWith('/')) badConfig('packages_dir', `must be an absolute path, got ${JSON.stringify(c.packages_dir)}`);
    num('install_mem_mb', c.install_mem_mb, 32);
    num('install_time_limit_ms', c.install_time_limit_ms, 1);
    if (typeof c.downsize_paused_mem !== 'boolean') badConfig('downsize_paused_mem', `must be true or false, got ${JSON.stringify(c.downsize_paused_mem)}`);
    if (typeof c.import_cache !== 'boolean') badConfig('import_cache', `must be true or false, got ${JSON.stringify(c.import_cache)}`);
    if (typeof c.import_tree !== 'string') badConfig('import_tree', `must be a path to a tree JSON, or empty, got ${JSON.stringify(c.import_tree)}`);
    num('zygote_mem_mb', c.zygote_mem_mb, 16);
    if (c.import_cache && c.zygote_mem_mb > c.mem_pool_mb) badConfig('zygote_mem_mb', `${c.zygote_mem_mb} MB is more than the whole pool (mem_pool_mb ${c.mem_pool_mb})`);
    if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(c.log_level)) badConfig('log_level', `must be a pino level, got ${JSON.stringify(c.log_level)}`);
    return c;
  } catch (e) {
    if (e instanceof OlError && where !== 'config') throw new OlError(e.code, `${where}: ${e.message}`);
    throw e;
  }
}

/** Applies `key=value` overrides; values are parsed as JSON when they can be. */
export function applyOverrides(c: WorkerConfig, overrides: string[]): WorkerConfig {
  const out = structuredClone(c) as unknown as Record<string, unknown>;
  for (const o of overrides) {
    const m = /^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$/.exec(o);
    if (!m) badConfig('-o', `expected key=value, got ${JSON.stringify(o)}`);
    let v: unknown = m[2];
    try { v = JSON.parse(m[2]!); } catch { /* a bare string */ }
    const path = m[1]!.split('.');
    if (!(m[1]! in configDocs) && !(path[0]! in configDocs && path[0] === 'policy_options')) {
      badConfig(m[1]!, `is not a config field (fields: ${Object.keys(configDocs).join(', ')})`);
    }
    let obj = out;
    for (const p of path.slice(0, -1)) obj = (obj[p] ??= {}) as Record<string, unknown>;
    obj[path.at(-1)!] = v;
  }
  return out as unknown as WorkerConfig;
}

/** Reads `DIR/config.json`, fills missing fields with defaults, validates. */
export function loadConfig(dir: string, overrides: string[] = []): WorkerConfig {
  const path = join(resolve(dir), 'config.json');
  if (!existsSync(path)) throw new OlError('OL_ERR_CONFIG', `${path} does not exist; run "ol-worker init --path ${dir}" first`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new OlError('OL_ERR_CONFIG', `${path} is not valid JSON: ${(e as Error).message}`);
  }
  const d = defaultConfig(dir);
  const merged = { ...d, ...json, limits: { ...d.limits, ...(json.limits as object) } } as WorkerConfig;
  return validateConfig(applyOverrides(merged, overrides), path);
}
