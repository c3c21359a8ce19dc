/**
 * Gives the test run a temporary folder of its own: every test and every
 * process it starts (workers, Python, pip) makes its temporary files under
 * `$TMPDIR`, so one removal at the end leaves /tmp as it was, and two runs
 * side by side never see each other's files. Kept, with a warning, if a
 * sandbox left something mounted in it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeUnlessMounted } from '../common/fs.js';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'ol-lab-test-'));
  process.env['TMPDIR'] = dir;
  return () => {
    if (!removeUnlessMounted(dir)) console.warn(`test run: something is still mounted under ${dir}; the folder is kept`);
  };
}
