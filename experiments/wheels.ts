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

const SCRIPT = String.raw`
import base64, hashlib, json, os, sys, zipfile
out, specs = sys.argv[1], json.loads(sys.stdin.read())
paths = []
for s in specs:
    name, ver = s['name'], s.get('version', '1.0')
    mod = name.replace('-', '_').replace('.', '_')
    dist = '%s-%s.dist-info' % (mod, ver)
    burn = s.get('importMs', 0) / 1000.0
    src = ('import time as _t\n_s = _t.process_time()\nwhile _t.process_time() - _s < %r:\n    pass\n'
           'NAME = %r\nVERSION = %r\n' % (burn, name, ver)) + s.get('extra', '')
    meta = 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' % (name, ver)
    for r in s.get('requires', []):
        meta += 'Requires-Dist: %s\n' % r
    files = {mod + '/__init__.py': src, dist + '/METADATA': meta,
             dist + '/WHEEL': 'Wheel-Version: 1.0\nGenerator: ol-lab\nRoot-Is-Purelib: true\nTag: py3-none-any\n'}
    if s.get('topLevel', True):
        files[dist + '/top_level.txt'] = mod + '\n'
    record = ''
    for p, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()
        record += '%s,sha256=%s,%d\n' % (p, digest, len(text.encode()))
    record += dist + '/RECORD,,\n'
    files[dist + '/RECORD'] = record
    path = os.path.join(out, '%s-%s-py3-none-any.whl' % (mod, ver))
    with zipfile.ZipFile(path, 'w') as z:
        for p, text in files.items():
            z.writestr(p, text)
    paths.append(path)
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
