/**
 * Gives the test run a temporary folder of its own: every test and every
 * process it starts (workers, Python, pip) makes its temporary files under
 * `$TMPDIR`, so two runs side by side never see each other's files.
 *
 * Under the runner (test/run.mjs, what the npm scripts use) the folder is
 * the runner's, and the runner removes whatever the run left in it however
 * the run ends, Ctrl-C included. Vitest started by hand gets a folder here,
 * swept by this teardown when vitest ends normally.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweep } from '../worker/sweep.js';

export default function setup(): (() => Promise<void>) | undefined {
  if (process.env['OL_LAB_TEST_DIR']) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ol-lab-test-'));
  process.env['TMPDIR'] = dir;
  return async () => {
    const left = await sweep(dir);
    if (left.total > 0) console.warn(`test run: the teardown removed what tests left behind: ${JSON.stringify(left)}`);
  };
}
