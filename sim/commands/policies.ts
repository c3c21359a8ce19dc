/** `ol-sim policies` and `ol-sim balancers`: a registry, one line each, then sources and options. */
import { table } from '../summary.js';
import { balancers } from '../../core/balancers/index.js';
import { evictionPolicies } from '../../core/policies/index.js';
import type { PolicyOption } from '../../core/policy.js';

type Row = { describe: string; source: string; options: Record<string, PolicyOption>; haproxy?: string; reads?: string[] };

/** What a balancer's `reads` entries mean, as the listing says them. */
const VIEW_PARTS: Record<string, string> = { inFlight: 'in-flight counts (exact)', freeMb: 'free memory (polled)', warm: 'kept sandboxes (polled)' };

function list(kind: string, optFlag: string, rows: Record<string, Row>, json: boolean): void {
  if (json) {
    const out = Object.fromEntries(Object.entries(rows).map(([k, f]) => [k, {
      describe: f.describe, source: f.source, options: f.options, ...(f.haproxy ? { haproxy: f.haproxy } : {}), ...(kind === 'balancer' ? { reads: f.reads ?? [] } : {}),
    }]));
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return;
  }
  process.stdout.write(table([[kind, 'what it does'], ...Object.entries(rows).map(([k, f]) => [k, f.describe])], 2) + '\n');
  process.stdout.write('\nsources and options:\n');
  for (const [k, f] of Object.entries(rows)) {
    process.stdout.write(`  ${k}: ${f.source}${f.haproxy ? ` (models HAProxy's ${f.haproxy})` : ''}\n`);
    if (kind === 'balancer') process.stdout.write(`      sees: ${(f.reads ?? []).map((r) => VIEW_PARTS[r] ?? r).join(', ') || 'nothing of the workers but their health'}\n`);
    for (const [o, spec] of Object.entries(f.options)) process.stdout.write(`      ${optFlag} ${o}=${spec.default}  ${spec.describe}\n`);
  }
}

export function policiesCommand(a: { json: boolean }): void {
  list('policy', '--policy-opt', evictionPolicies, a.json);
}

export function balancersCommand(a: { json: boolean }): void {
  list('balancer', 'option', balancers, a.json);
}
