/**
 * `ol-worker init`: the worker directory with its config.json, and the base
 * root filesystem (Debian minbase + python3 and pip, by debootstrap from the mirror
 * apt on this machine uses), imported into Docker as `ol-min`. Safe to rerun:
 * an existing config is kept (missing fields filled), a complete base root
 * and an image built from it are reused.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { OlError } from '../common/errors.js';
import { defaultConfig, validateConfig, type WorkerConfig } from './config.js';

const MARK = '.ol-lab-base';
/** Debian packages the base root gets beyond minbase: the Python runtime, and pip for the package installer. */
const BASE_PACKAGES = ['python3', 'python3-pip'];
/** Files a complete base root has; a root built before one of them was needed is rebuilt. */
const BASE_FILES = ['dev/null', 'usr/bin/python3', 'usr/lib/python3/dist-packages/pip/__init__.py', 'handler', 'host', 'runtime', 'packages'];

function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (existsSync(join(d, cmd))) return join(d, cmd);
  }
  return undefined;
}

/** The Debian mirror and suite apt on this machine is configured with. */
export function aptMirror(): { mirror: string; suite: string } {
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const suite = /^VERSION_CODENAME=(\S+)$/m.exec(osRelease)?.[1];
  if (!suite) throw new OlError('OL_ERR_CONFIG', 'cannot tell the Debian release (no VERSION_CODENAME in /etc/os-release)');
  const candidates: string[] = [];
  const d822 = '/etc/apt/sources.list.d';
  if (existsSync(d822)) {
    for (const f of readdirSync(d822).filter((f) => f.endsWith('.sources')).sort()) {
      for (const stanza of readFileSync(join(d822, f), 'utf8').split(/\n\s*\n/)) {
        const uris = /^URIs:\s*(.+)$/m.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (suites.includes(suite) && !/^Enabled:\s*no/im.test(stanza)) candidates.push(...uris);
      }
    }
  }
  if (existsSync('/etc/apt/sources.list')) {
    for (const line of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m && m[2] === suite) candidates.push(m[1]!);
    }
  }
  const mirror = candidates.find((u) => !/security/.test(u));
  if (!mirror) throw new OlError('OL_ERR_CONFIG', `no apt source for ${suite} found in /etc/apt/sources.list(.d)`);
  return { mirror, suite };
}

/** Device nodes sandboxes get (the base root's /dev is theirs, read-only): nothing that reaches the host's terminals. */
const SANDBOX_DEVICES = new Set(['null', 'zero', 'full', 'random', 'urandom', 'fd', 'stdin', 'stdout', 'stderr']);

/** Removes from the base root's /dev every node a sandbox must not have (console, ptmx, pts, …). */
export function pruneDevices(path: string): void {
  const dev = join(path, 'dev');
  if (!existsSync(dev)) return;
  for (const d of readdirSync(dev)) if (!SANDBOX_DEVICES.has(d)) rmSync(join(dev, d), { recursive: true, force: true });
}

/** Builds the base root at `path` unless a complete one is there. */
export function buildBaseRoot(path: string, log: (s: string) => void): string {
  const mark = join(path, MARK);
  if (existsSync(mark)) {
    const missing = BASE_FILES.filter((f) => !existsSync(join(path, f)));
    if (missing.length === 0) {
      pruneDevices(path);
      log(`base root ${path} is complete (${readFileSync(mark, 'utf8').trim()})`);
      return readFileSync(mark, 'utf8').trim();
    }
    log(`base root ${path} lacks ${missing.map((f) => '/' + f).join(', ')} (built by an older ol-lab): rebuilding it`);
  }
  const deb = which('debootstrap');
  if (!deb) throw new OlError('OL_ERR_CONFIG', 'debootstrap is not installed (apt-get install debootstrap)');
  const { mirror, suite } = aptMirror();
  const tmp = `${path}.building`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dirname(path), { recursive: true });
  const include = `--include=${BASE_PACKAGES.join(',')}`;
  log(`building the base root with debootstrap --variant=minbase ${include} ${suite} from ${mirror} (a few minutes, once)`);
  const r = spawnSync(deb, ['--variant=minbase', include, suite, tmp, mirror], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new OlError('OL_ERR_CONFIG', `debootstrap failed (exit ${r.status ?? r.signal}); see its output above`);
  for (const d of ['handler', 'host', 'runtime', 'packages']) mkdirSync(join(tmp, d), { recursive: true });
  pruneDevices(tmp);
  rmSync(join(tmp, 'var', 'cache', 'apt', 'archives'), { recursive: true, force: true });
  mkdirSync(join(tmp, 'var', 'cache', 'apt', 'archives', 'partial'), { recursive: true });
  const id = createHash('sha256').update(`${suite} ${mirror} ${Date.now()}`).digest('hex').slice(0, 12);
  writeFileSync(join(tmp, MARK), `${id} ${suite} ${new Date().toISOString()}\n`);
  rmSync(path, { recursive: true, force: true });
  renameSync(tmp, path);
  log(`base root ready at ${path}`);
  return readFileSync(join(path, MARK), 'utf8').trim();
}

/** Imports the base root into Docker as `image`, unless the image was built from this root. */
export function importDockerImage(path: string, image: string, baseId: string, log: (s: string) => void): boolean {
  const docker = which('docker');
  if (!docker) return false;
  const ping = spawnSync(docker, ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8' });
  if (ping.status !== 0) return false;
  const label = baseId.split(' ')[0]!;
  const have = spawnSync(docker, ['image', 'inspect', '--format', '{{index .Config.Labels "ol-lab.base"}}', image], { encoding: 'utf8' });
  if (have.status === 0 && have.stdout.trim() === label) {
    log(`docker image ${image} is up to date`);
    return true;
  }
  log(`importing ${path} into docker as ${image}`);
  execFileSync('sh', ['-c', `tar -C "$1" --numeric-owner -c . | "$2" import -c "LABEL ol-lab.base=$3" - "$4"`, 'sh', path, docker, label, image], { stdio: ['ignore', 'ignore', 'inherit'] });
  return true;
}

/** `ol-worker init`. */
export function initWorker(dir: string, log: (s: string) => void = (s) => process.stdout.write(s + '\n')): WorkerConfig {
  if (process.getuid?.() !== 0) throw new OlError('OL_ERR_CONFIG', 'ol-worker init must run as root (it builds a root filesystem and uses cgroups)');
  const d = resolve(dir);
  mkdirSync(d, { recursive: true });
  const path = join(d, 'config.json');
  let config = defaultConfig(d);
  if (existsSync(path)) {
    let old: Record<string, unknown>;
    try {
      old = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new OlError('OL_ERR_CONFIG', `${path} is not valid JSON (${(e as Error).message}); fix or remove it`);
    }
    config = { ...config, ...old, limits: { ...config.limits, ...(old.limits as object) } } as WorkerConfig;
    log(`keeping ${path}`);
  }
  validateConfig(config, path);
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n');
  mkdirSync(config.registry, { recursive: true });
  const baseId = buildBaseRoot(config.base_root, log);
  const imported = importDockerImage(config.base_root, config.docker_image, baseId, log);
  if (!imported) {
    if (config.sandbox === 'docker') throw new OlError('OL_ERR_CONFIG', 'the docker backend is configured, but no Docker engine answers (start dockerd)');
    log('no Docker engine answers: skipped the docker image (the sock backend does not need it)');
  }
  log(`worker directory ready: ${d}`);
  return config;
}
