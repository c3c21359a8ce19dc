/**
 * The policy registry: one line per policy. The CLI's choices, the worker's
 * config check and `ol-sim policies` all come from this table, so adding a
 * policy is one file plus one line here.
 */
import { unknownName } from '../../common/errors.js';
import { resolveOptions } from '../options.js';
import type { Policy, PolicyContext, PolicyFactory } from '../policy.js';
import type { Rng } from '../../common/rng.js';
import { fcFreq, fcGd, fcLnd, fcLru, fcSize, fcTtl } from './faascache.js';
import { freq } from './freq.js';
import { gdsf } from './gdsf.js';
import { hist } from './hist.js';
import { lnd } from './lnd.js';
import { lru } from './lru.js';
import { openlambda } from './openlambda.js';
import { rand } from './rand.js';
import { size } from './size.js';
import { ttl } from './ttl.js';

export const evictionPolicies = {
  ttl, lru, gdsf, hist, openlambda, lnd, freq, size, rand,
  'fc-gd': fcGd, 'fc-lru': fcLru, 'fc-ttl': fcTtl, 'fc-lnd': fcLnd, 'fc-freq': fcFreq, 'fc-size': fcSize,
} satisfies Record<string, PolicyFactory>;

export type PolicyName = keyof typeof evictionPolicies;

/** The registry row for `name`, or an OL_ERR_UNKNOWN_NAME error listing the valid names. */
export function policyFactory(name: string): PolicyFactory {
  if (!Object.hasOwn(evictionPolicies, name)) unknownName('policy', name, Object.keys(evictionPolicies));
  return evictionPolicies[name as PolicyName];
}

/**
 * Applies defaults to `given` options and validates them against the
 * policy's declared options (unknown keys and out-of-range values are errors).
 */
export function resolvePolicyOptions(name: string, given: Record<string, number> = {}): Record<string, number> {
  return resolveOptions('policy', name, policyFactory(name).options, given);
}

/** Builds a policy instance by name. */
export function createPolicy(name: string, ctx: { capacityMb: number; rng: Rng; options?: Record<string, number> }): Policy {
  const options = resolvePolicyOptions(name, ctx.options);
  const c: PolicyContext = { capacityMb: ctx.capacityMb, rng: ctx.rng, options };
  return policyFactory(name).create(c);
}
