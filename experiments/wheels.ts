/**
 * Small pure-Python wheels made on the spot, for tests, benchmarks and
 * experiments on machines without PyPI: each has one top-level module that
 * burns a given amount of CPU when imported (a stand-in for the import cost
 * of a real package) and may declare dependencies (`Requires-Dist`, with
 * markers). Written with Python's own zipfile, so the wheels are what pip
 * expects: METADATA, WHEEL, top_level.txt and a RECORD with hashes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { OlError } from '../common/errors.js';

export interface WheelSpec {
  /** Distribution name (also the module name, with - and . as _). */
  name: string;
  version?: string;
  /** Requires-Dist lines, e.g. `dep-a>=1.0` or `dep-b; python_version < "3"`. */
  requires?: string[];
  /** CPU time its import burns, ms. */
  importMs?: number;
  /** Write top_level.txt (pip does not need it; the installer falls back to the file list). */
  topLevel?: boolean;
  /** Python source appended to the module (e.g. `raise ImportError("broken")`). */
  extra?: string;
}

/** Python shared by both scripts: one wheel from its files (bytes), with METADATA, WHEEL and a RECORD with hashes. */
const WRITE = String.raw`
import base64, hashlib, json, os, sys, zipfile
def write_wheel(out, name, ver, files, requires=(), top_level=None):
    mod = name.replace('-', '_').replace('.', '_')
    dist = '%s-%s.dist-info' % (mod, ver)
    meta = 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' % (name, ver)
    for r in requires:
        meta += 'Requires-Dist: %s\n' % r
    files = dict(files)
    files[dist + '/METADATA'] = meta.encode()
    files[dist + '/WHEEL'] = b'Wheel-Version: 1.0\nGenerator: ol-lab\nRoot-Is-Purelib: true\nTag: py3-none-any\n'
    if top_level is not None:
        files[dist + '/top_level.txt'] = (top_level + '\n').encode()
    record = ''
    for p, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        record += '%s,sha256=%s,%d\n' % (p, digest, len(data))
    files[dist + '/RECORD'] = (record + dist + '/RECORD,,\n').encode()
    path = os.path.join(out, '%s-%s-py3-none-any.whl' % (mod, ver))
    with zipfile.ZipFile(path, 'w') as z:
        for p, data in files.items():
            z.writestr(p, data)
    return path
`;

const SCRIPT = WRITE + String.raw`
out, specs = sys.argv[1], json.loads(sys.stdin.read())
paths = []
for s in specs:
    name, ver = s['name'], s.get('version', '1.0')
    mod = name.replace('-', '_').replace('.', '_')
    burn = s.get('importMs', 0) / 1000.0
    src = ('import time as _t\n_s = _t.process_time()\nwhile _t.process_time() - _s < %r:\n    pass\n'
           'NAME = %r\nVERSION = %r\n' % (burn, name, ver)) + s.get('extra', '')
    paths.append(write_wheel(out, name, ver, {mod + '/__init__.py': src.encode()}, s.get('requires', []),
                             mod if s.get('topLevel', True) else None))
print(json.dumps(paths))
`;

/** Writes one wheel per spec into `dir`; returns their paths. */
export function buildWheels(dir: string, specs: WheelSpec[], python = '/usr/bin/python3'): string[] {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(python, ['-c', SCRIPT, dir], { input: JSON.stringify(specs), encoding: 'utf8' });
  if (r.status !== 0) throw new OlError('OL_ERR_CONFIG', `building wheels in ${dir} failed: ${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout) as string[];
}

/** The module name a wheel made by {@link buildWheels} installs. */
export function moduleOf(name: string): string {
  return name.replace(/[-.]/g, '_');
}

/** An installed distribution to pack back into a wheel (e.g. from a Debian python3-* package). */
export interface RepackSpec {
  name: string;
  version: string;
  /** Folders (packages) or files (modules) to put at the wheel's top level. */
  paths: string[];
  /** Requires-Dist lines (Debian's metadata often drops them, so they are given). */
  requires?: string[];
}

const REPACK = WRITE + String.raw`
out, specs = sys.argv[1], json.loads(sys.stdin.read())
paths = []
for s in specs:
    files = {}
    for src in s['paths']:
        top = os.path.basename(src.rstrip('/'))
        if os.path.isdir(src):
            for root, dirs, names in os.walk(src):
                dirs[:] = sorted(d for d in dirs if d != '__pycache__')
                for n in sorted(names):
                    p = os.path.join(root, n)
                    files[os.path.join(top, os.path.relpath(p, src))] = open(p, 'rb').read()
        else:
            files[top] = open(src, 'rb').read()
    paths.append(write_wheel(out, s['name'], s['version'], files, s.get('requires', [])))
print(json.dumps(paths))
`;

/**
 * Packs installed distributions back into wheels in `dir` (tests use it to
 * give the sandbox Debian's python3-flask through the package cache, as a
 * package index would); returns their paths.
 */
export function repackWheels(dir: string, specs: RepackSpec[], python = '/usr/bin/python3'): string[] {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(python, ['-c', REPACK, dir], { input: JSON.stringify(specs), encoding: 'utf8' });
  if (r.status !== 0) throw new OlError('OL_ERR_CONFIG', `packing wheels in ${dir} failed: ${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout) as string[];
}
