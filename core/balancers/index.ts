/**
 * The balancer registry: one line per balancer. `ol-sim balancers`, the
 * simulator's cluster, the boss and `ol-boss haproxy` all read this table.
 */
import { badConfig, unknownName } from '../../common/errors.js';
import { resolveOptions } from '../options.js';
import type { Rng } from '../../common/rng.js';
import type { Balancer, BalancerFactory } from '../balancer.js';
import type { ImportTree } from '../import-tree.js';
import { chBl } from './ch-bl.js';
import { hash } from './hash.js';
import { hermod } from './hermod.js';
import { leastLoaded } from './least-loaded.js';
import { openwhisk } from './openwhisk.js';
import { p2c } from './p2c.js';
import { pasch } from './pasch.js';
import { random } from './random.js';
import { roundRobin } from './round-robin.js';
import { zygoteHash } from './zygote-hash.js';

export const balancers = {
  'round-robin': roundRobin, random, 'least-loaded': leastLoaded, p2c, hash, 'ch-bl': chBl, openwhisk, pasch, hermod, 'zygote-hash': zygoteHash,
} satisfies Record<string, BalancerFactory>;

export type BalancerName = keyof typeof balancers;

/** The registry row for `name`, or an OL_ERR_UNKNOWN_NAME error listing the valid names. */
export function balancerFactory(name: string): BalancerFactory {
  if (!Object.hasOwn(balancers, name)) unknownName('balancer', name, Object.keys(balancers));
  return balancers[name as BalancerName];
}

/** Defaults applied to `given`, each checked against the balancer's declared options. */
export function resolveBalancerOptions(name: string, given: Record<string, number> = {}): Record<string, number> {
  return resolveOptions('balancer', name, balancerFactory(name).options, given);
}

/** Builds a balancer by name for a cluster of `workers`. */
export function createBalancer(name: string, ctx: { workers: number; rng: Rng; options?: Record<string, number>; tree?: ImportTree }): Balancer {
  if (!Number.isInteger(ctx.workers) || ctx.workers < 1) badConfig('workers', `must be a whole number >= 1, got ${ctx.workers}`);
  const options = resolveBalancerOptions(name, ctx.options);
  return balancerFactory(name).create({ workers: ctx.workers, rng: ctx.rng, options, tree: ctx.tree });
}
