/** Named numeric options of a registry entry (a policy's, a balancer's): defaults applied, each value checked. */
import { badConfig } from '../common/errors.js';
import type { PolicyOption } from './policy.js';

/**
 * `given` with the defaults of `specs` filled in; unknown keys and values
 * out of range are errors naming the `kind` (policy, balancer), its name and the option.
 */
export function resolveOptions(kind: string, name: string, specs: Record<string, PolicyOption>, given: Record<string, number> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(given)) {
    const spec = specs[k];
    if (!spec) {
      const known = Object.keys(specs);
      badConfig(`${kind} option ${k}`, `${kind} ${name} has ${known.length ? `options ${known.join(', ')}` : 'no options'}`);
    }
    if (typeof v !== 'number' || Number.isNaN(v)) badConfig(`${kind} option ${k}`, `must be a number, got ${JSON.stringify(v)}`);
    if (spec.min !== undefined && v < spec.min) badConfig(`${kind} option ${k}`, `must be >= ${spec.min}, got ${v}`);
    if (spec.max !== undefined && v > spec.max) badConfig(`${kind} option ${k}`, `must be <= ${spec.max}, got ${v}`);
    out[k] = v;
  }
  for (const [k, spec] of Object.entries(specs)) if (!(k in out)) out[k] = spec.default;
  return out;
}
