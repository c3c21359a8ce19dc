/**
 * HAProxy in front of ol-workers, for users who want a real load balancer
 * rather than the boss: `ol-boss haproxy --balancer B` writes a
 * configuration over the workers and runs Debian's `haproxy` on loopback.
 * The balancers that have an HAProxy algorithm map onto it:
 *
 * - round-robin: `balance roundrobin`;
 * - least-loaded: `balance leastconn`;
 * - hash: `balance uri depth 2` (the path's first two segments,
 *   `/run/<name>`: the lambda's name) with `hash-type map-based`;
 * - ch-bl: the same key with `hash-type consistent` and
 *   `hash-balance-factor` = 100 c (Mirrokni et al.'s bound as HAProxy
 *   applies it).
 *
 * HAProxy hashes with its own function, so a lambda's home worker differs
 * from the boss's and the simulator's; the rule is the same. Health: an
 * HTTP check of /status every 100 ms, each given 400 ms to answer, out
 * after 2 failures (a hung worker within about a second, a dead one within
 * 0.2 s), in after 1. With checks given only `inter` (HAProxy's default),
 * a stall of a few hundred ms on a busy machine took every worker out at
 * once and HAProxy answered 503 "No server is available".
 * Each reply names the worker that gave it (`x-ol-worker: w<index>`), as
 * the boss's do (`x-ol-worker: <index>`).
 */
import { badConfig } from '../common/errors.js';
import { resolveBalancerOptions } from '../core/balancers/index.js';

export const HAPROXY_BALANCERS = ['round-robin', 'least-loaded', 'hash', 'ch-bl'] as const;

/** The configuration text for a front on `port` over `workers` (host:port each). */
export function haproxyConfig(o: { port: number; balancer: string; balancerOptions?: Record<string, number>; workers: string[]; host?: string }): string {
  if (!(HAPROXY_BALANCERS as readonly string[]).includes(o.balancer)) {
    badConfig('balancer', `HAProxy runs ${HAPROXY_BALANCERS.join(', ')}; ${JSON.stringify(o.balancer)} is the boss's only (ol-boss up --balancer)`);
  }
  if (o.workers.length === 0) badConfig('workers', 'HAProxy needs at least one worker');
  const opts = resolveBalancerOptions(o.balancer, o.balancerOptions);
  const balance = {
    'round-robin': ['balance roundrobin'],
    'least-loaded': ['balance leastconn'],
    hash: ['balance uri depth 2', 'hash-type map-based'],
    'ch-bl': ['balance uri depth 2', 'hash-type consistent', `hash-balance-factor ${Math.round(100 * opts.c!)}`],
  }[o.balancer]!;
  return [
    '# written by ol-boss haproxy: HAProxy in front of ol-workers (docs/CLUSTER.md)',
    'global',
    '  maxconn 4096',
    '',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  timeout connect 5s',
    '  timeout client 15m',
    '  timeout server 15m',
    '  timeout http-request 30s',
    '  timeout check 400ms',
    '',
    'frontend ol',
    `  bind ${o.host ?? '127.0.0.1'}:${o.port}`,
    '  default_backend workers',
    '',
    'backend workers',
    ...balance.map((l) => `  ${l}`),
    '  option httpchk GET /status',
    // which worker answered, as the boss says it (x-ol-worker): its server name, w<index>
    '  http-response set-header x-ol-worker %[srv_name]',
    '  default-server inter 100ms fall 2 rise 1',
    ...o.workers.map((w, i) => `  server w${i} ${w} check`),
    '',
  ].join('\n');
}
