/** `ol-sim policies`: the registry, one line each. */
import { table } from '../summary.js';
import { evictionPolicies } from '../../core/policies/index.js';

export function policiesCommand(a: { json: boolean }): void {
  if (a.json) {
    const out = Object.fromEntries(Object.entries(evictionPolicies).map(([k, f]) => [k, { describe: f.describe, source: f.source, options: f.options }]));
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return;
  }
  process.stdout.write(table([['policy', 'what it does'], ...Object.entries(evictionPolicies).map(([k, f]) => [k, f.describe])], 2) + '\n');
  process.stdout.write('\nsources and options:\n');
  for (const [k, f] of Object.entries(evictionPolicies)) {
    process.stdout.write(`  ${k}: ${f.source}\n`);
    for (const [o, spec] of Object.entries(f.options)) process.stdout.write(`      --policy-opt ${o}=${spec.default}  ${spec.describe}\n`);
  }
}
