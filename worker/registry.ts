/**
 * The lambda registry: a directory holding, per lambda, a folder
 * `<name>/` (with `f.py` or the file `OL_ENTRY_FILE` names, optionally
 * `ol.yaml`, `requirements.txt` and `.env`) or an
 * archive `<name>.tar.gz`. Sandboxes never see the registry itself: each
 * version of a lambda's code is copied (or unpacked) once into an immutable
 * snapshot `<worker>/code/<name>-<version>/`, which sandboxes mount
 * read-only; a change in the registry gives a new version, picked up within
 * `registry_cache_ms`. Uploaded archives are checked entry by entry before
 * anything is written: no absolute paths, no `..`, no links leading
 * outside, no devices or FIFOs, size limits; a bad upload changes nothing.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse as parseDotenv } from 'dotenv';
import * as tar from 'tar';
import { OlError } from '../common/errors.js';
import { parseRequirement } from '../core/requirements.js';
import { DEFAULT_LAMBDA_CONFIG, parseLambdaConfig, type LambdaConfig } from './lambda-config.js';

export const NAME_RE = /^[A-Za-z0-9._-]+$/;

/** One version of a lambda's code, ready to mount. */
export interface LambdaCode {
  name: string;
  version: string;
  codeDir: string;
  config: LambdaConfig;
  /** The Python file the runtime imports: `OL_ENTRY_FILE`, else f.py. */
  entry: string;
  /** The handler's environment: ol.yaml's `environment`, else the lambda's own `.env` (as OpenLambda: ol.yaml's replaces it). */
  env: Record<string, string>;
  /** Packages from requirements.txt (installed by the package cache). */
  requirements: string[];
}

export interface RegistryOptions {
  dir: string;
  codeDir: string;
  cacheMs: number;
  maxBytes: number;
  poolMb: number;
  now?: () => number;
}

/** A requirements.txt's requirements (comments and blank lines dropped), each checked; errors name the line. */
export function readRequirements(path: string, where: string): string[] {
  if (!existsSync(path)) return [];
  const out: string[] = [];
  readFileSync(path, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    parseRequirement(line, `${where} line ${i + 1}`);
    out.push(line);
  });
  return out;
}

/**
 * The handler's environment and entry file from a lambda folder's ol.yaml
 * config and `.env`, as OpenLambda sets them: a non-empty ol.yaml
 * `environment` replaces `.env`; the runtime imports `OL_ENTRY_FILE` (a
 * `.py` file at the top level), f.py when it is unset. Errors name the
 * lambda and the file.
 */
export function lambdaEntry(dir: string, config: LambdaConfig, what: string): { entry: string; env: Record<string, string> } {
  let env = config.environment;
  const dotenv = join(dir, '.env');
  if (Object.keys(env).length === 0 && existsSync(dotenv)) env = parseDotenv(readFileSync(dotenv));
  const entry = env.OL_ENTRY_FILE ?? 'f.py';
  if (!/^[A-Za-z_][A-Za-z0-9_]*\.py$/.test(entry)) {
    throw new OlError('OL_ERR_BAD_REQUEST', `${what}: OL_ENTRY_FILE must name a .py file at the lambda's top level whose name is a Python module name, got ${JSON.stringify(entry)}`);
  }
  if (!existsSync(join(dir, entry)) || !statSync(join(dir, entry)).isFile()) {
    throw new OlError('OL_ERR_NO_LAMBDA', `${what}: it has no ${entry} at its top level${entry === 'f.py' ? ' (set OL_ENTRY_FILE in ol.yaml\'s environment to use another file)' : ' (named by OL_ENTRY_FILE)'}`);
  }
  return { entry, env };
}

/** Checks a lambda name; the error says which characters are allowed. */
export function checkName(name: string): void {
  if (!NAME_RE.test(name) || name === '.' || name === '..') {
    throw new OlError('OL_ERR_BAD_REQUEST', `invalid lambda name ${JSON.stringify(name)}; names must match ${NAME_RE.source}`);
  }
}

/**
 * Lists a gzipped tar in memory and rejects what must not be unpacked.
 * Returns the entries' normalised paths.
 */
export function checkArchive(gz: Buffer, maxBytes: number, what: string): string[] {
  const bad = (why: string): never => { throw new OlError('OL_ERR_BAD_REQUEST', `${what}: ${why}; nothing was changed`); };
  if (gz.length > maxBytes) throw new OlError('OL_ERR_TOO_LARGE', `${what}: archive is ${gz.length} bytes, over the limit of ${maxBytes}`);
  let raw: Buffer;
  try {
    raw = gunzipSync(gz, { maxOutputLength: maxBytes + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || /too large|maxOutputLength/i.test((e as Error).message)) {
      throw new OlError('OL_ERR_TOO_LARGE', `${what}: archive unpacks to more than ${maxBytes} bytes`);
    }
    return bad(`not a gzip file (${(e as Error).message})`);
  }
  if (raw.length > maxBytes) throw new OlError('OL_ERR_TOO_LARGE', `${what}: archive unpacks to more than ${maxBytes} bytes`);
  const paths: string[] = [];
  const problems: string[] = [];
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (e) => {
      const p = e.path;
      const norm = posix.normalize(p.replace(/^\.\//, ''));
      if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) problems.push(`entry ${JSON.stringify(p)} has an absolute path`);
      else if (norm === '..' || norm.startsWith('../') || p.split('/').includes('..')) problems.push(`entry ${JSON.stringify(p)} climbs out with ..`);
      else if (e.type === 'SymbolicLink' || e.type === 'Link') {
        const target = e.linkpath ?? '';
        const resolved = e.type === 'Link' ? posix.normalize(target) : posix.normalize(posix.join(posix.dirname(norm), target));
        if (target.startsWith('/') || resolved === '..' || resolved.startsWith('../')) problems.push(`link ${JSON.stringify(p)} points outside the archive (${target})`);
      } else if (!['File', 'OldFile', 'ContiguousFile', 'Directory'].includes(e.type)) {
        problems.push(`entry ${JSON.stringify(p)} is a ${e.type}, not a file or directory`);
      }
      paths.push(norm);
      e.resume();
    },
  });
  parser.on('warn', (_code: string, message: string) => problems.push(message));
  try {
    parser.end(raw);
  } catch (e) {
    bad(`not a valid tar archive (${(e as Error).message})`);
  }
  if (problems.length > 0) bad(problems[0]!);
  return paths;
}

/** Unpacks a checked archive into `dest` (which must not exist). */
async function unpack(gz: Buffer, dest: string): Promise<void> {
  mkdirSync(dest, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const x = tar.x({ cwd: dest, strict: true, preserveOwner: false, noChmod: false });
    x.on('error', reject);
    x.on('close', () => resolve());
    x.end(gz);
  });
}

/**
 * Copies a registry folder: directories, regular files (with their modes)
 * and symbolic links as they are. Node's cpSync did the same in about ten
 * times the time (1.5 ms for a one-file lambda), on every new lambda's
 * first request.
 */
function copyTree(src: string, dest: string, what: string): void {
  mkdirSync(dest);
  for (const e of readdirSync(src, { withFileTypes: true })) {
    const from = join(src, e.name), to = join(dest, e.name);
    if (e.isDirectory()) copyTree(from, to, what);
    else if (e.isFile()) copyFileSync(from, to);
    else if (e.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else throw new OlError('OL_ERR_BAD_REQUEST', `${what}: ${from} is neither a file, a folder nor a link`);
  }
}

function hashFolder(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      const st = lstatSync(p);
      h.update(`${rel}${e.name}\0${st.size}\0${st.mtimeMs}\0${e.isDirectory() ? 'd' : 'f'}\n`);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
    }
  };
  walk(dir, '');
  return h.digest('hex').slice(0, 16);
}

export class Registry {
  readonly #o: RegistryOptions;
  readonly #cache = new Map<string, { checkedAt: number; code: LambdaCode }>();
  readonly #now: () => number;

  constructor(o: RegistryOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
    mkdirSync(o.dir, { recursive: true });
    mkdirSync(o.codeDir, { recursive: true });
  }

  /** Names of every lambda, sorted. */
  list(): string[] {
    const names = new Set<string>();
    for (const e of readdirSync(this.#o.dir, { withFileTypes: true })) {
      if (e.isDirectory() && NAME_RE.test(e.name) && !e.name.startsWith('.')) names.add(e.name);
      else if (e.isFile() && e.name.endsWith('.tar.gz') && NAME_RE.test(e.name.slice(0, -7))) names.add(e.name.slice(0, -7));
    }
    return [...names].sort();
  }

  /** The current code of `name` (cached for `registry_cache_ms`). */
  async get(name: string): Promise<LambdaCode> {
    checkName(name);
    const hit = this.#cache.get(name);
    const now = this.#now();
    if (hit && now - hit.checkedAt < this.#o.cacheMs) return hit.code;
    const code = await this.#load(name);
    this.#cache.set(name, { checkedAt: now, code });
    return code;
  }

  async #load(name: string): Promise<LambdaCode> {
    const folder = join(this.#o.dir, name);
    const archive = join(this.#o.dir, `${name}.tar.gz`);
    let version: string;
    let build: (dest: string) => Promise<void>;
    if (existsSync(folder) && statSync(folder).isDirectory()) {
      version = hashFolder(folder);
      build = async (dest) => copyTree(folder, dest, `lambda ${name}`);
    } else if (existsSync(archive)) {
      const gz = readFileSync(archive);
      checkArchive(gz, this.#o.maxBytes, `lambda ${name} (${archive})`);
      version = createHash('sha256').update(gz).digest('hex').slice(0, 16);
      build = (dest) => unpack(gz, dest);
    } else {
      throw new OlError('OL_ERR_NO_LAMBDA', `no lambda named ${name} in the registry`);
    }
    const codeDir = join(this.#o.codeDir, `${name}-${version}`);
    if (!existsSync(codeDir)) {
      const tmp = `${codeDir}.tmp-${process.pid}-${Math.floor(this.#now())}`;
      rmSync(tmp, { recursive: true, force: true });
      await build(tmp);
      rmSync(codeDir, { recursive: true, force: true });
      renameSync(tmp, codeDir);
    }
    const yamlPath = join(codeDir, 'ol.yaml');
    const config = existsSync(yamlPath)
      ? parseLambdaConfig(readFileSync(yamlPath, 'utf8'), `lambda ${name}: ol.yaml`, this.#o.poolMb)
      : DEFAULT_LAMBDA_CONFIG;
    const { entry, env } = lambdaEntry(codeDir, config, `lambda ${name}`);
    const requirements = readRequirements(join(codeDir, 'requirements.txt'), `lambda ${name}: requirements.txt`);
    return { name, version, codeDir, config, entry, env, requirements };
  }

  /** Installs an uploaded archive as `<name>/`, replacing the old code. */
  async put(name: string, gz: Buffer): Promise<LambdaCode> {
    checkName(name);
    checkArchive(gz, this.#o.maxBytes, `upload of lambda ${name}`);
    const staging = join(this.#o.dir, `.upload-${name}-${process.pid}-${Date.now()}`);
    try {
      await unpack(gz, staging);
      const yamlPath = join(staging, 'ol.yaml');
      const config = existsSync(yamlPath) ? parseLambdaConfig(readFileSync(yamlPath, 'utf8'), `upload of lambda ${name}: ol.yaml`, this.#o.poolMb) : DEFAULT_LAMBDA_CONFIG;
      try {
        lambdaEntry(staging, config, `upload of lambda ${name}`);
      } catch (e) {
        throw new OlError('OL_ERR_BAD_REQUEST', `${(e as Error).message}; nothing was changed`);
      }
      readRequirements(join(staging, 'requirements.txt'), `upload of lambda ${name}: requirements.txt`);
      const dest = join(this.#o.dir, name);
      const old = join(this.#o.dir, `.old-${name}-${process.pid}-${Date.now()}`);
      if (existsSync(dest)) renameSync(dest, old);
      renameSync(staging, dest);
      rmSync(old, { recursive: true, force: true });
      rmSync(join(this.#o.dir, `${name}.tar.gz`), { force: true });
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    this.#cache.delete(name);
    return this.get(name);
  }

  /** The lambda's current code as a .tar.gz (`GET /registry/<name>`): the stored archive, or its folder packed. */
  async archive(name: string): Promise<Buffer> {
    const code = await this.get(name);
    const stored = join(this.#o.dir, `${name}.tar.gz`);
    if (!existsSync(join(this.#o.dir, name)) && existsSync(stored)) return readFileSync(stored);
    const chunks: Buffer[] = [];
    const entries = readdirSync(code.codeDir).sort();
    await new Promise<void>((resolve, reject) => {
      const stream = tar.c({ cwd: code.codeDir, gzip: true, portable: true }, entries);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    return Buffer.concat(chunks);
  }

  /** Removes a lambda; false if there was none. */
  delete(name: string): boolean {
    checkName(name);
    const folder = join(this.#o.dir, name);
    const archive = join(this.#o.dir, `${name}.tar.gz`);
    const had = existsSync(folder) || existsSync(archive);
    rmSync(folder, { recursive: true, force: true });
    rmSync(archive, { force: true });
    this.#cache.delete(name);
    return had;
  }

  /** The version last loaded for `name`, without touching the disk. */
  peekVersion(name: string): string | undefined {
    return this.#cache.get(name)?.code.version;
  }

  /** Drops cached versions (tests, and after a registry change on disk). */
  forget(name?: string): void {
    if (name) this.#cache.delete(name);
    else this.#cache.clear();
  }
}
