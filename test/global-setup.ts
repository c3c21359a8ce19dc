/**
 * Gives the test run a temporary folder of its own: every test and every
 * process it starts (workers, Python, pip) makes its temporary files under
 * `$TMPDIR`, so two runs side by side never see each other's files.
 *
 * The teardown then removes whatever the run made, even after a failed or
 * interrupted test (test/teardown.ts): processes started from the run's
 * folder, the sandboxes, cgroups and containers of every worker folder in
 * it (found by the worker id each folder's path gives), mounts left under
 * it, and the folder. Vitest runs it on SIGINT and SIGTERM too.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweep } from './teardown.js';

export default function setup(): () => Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ol-lab-test-'));
  process.env['TMPDIR'] = dir;
  return async () => {
    const left = await sweep(dir);
    if (left.total > 0) console.warn(`test run: the teardown removed what tests left behind: ${JSON.stringify(left)}`);
  };
}
