/** `ol-boss haproxy`'s configuration: each balancer's HAProxy algorithm, the health check, and the balancers HAProxy does not have. */
import { describe, expect, it } from 'vitest';
import { haproxyConfig } from '../../boss/haproxy.js';

describe('HAProxy configuration', () => {
  const workers = ['127.0.0.1:5001', '127.0.0.1:5002'];
  it('maps each balancer onto its HAProxy algorithm, keyed by the lambda name for the hashes', () => {
    expect(haproxyConfig({ port: 5000, balancer: 'round-robin', workers })).toMatch(/backend workers\n {2}balance roundrobin\n/);
    expect(haproxyConfig({ port: 5000, balancer: 'least-loaded', workers })).toMatch(/ {2}balance leastconn\n/);
    expect(haproxyConfig({ port: 5000, balancer: 'hash', workers })).toMatch(/ {2}balance uri depth 2\n {2}hash-type map-based\n/);
    const ch = haproxyConfig({ port: 5000, balancer: 'ch-bl', balancerOptions: { c: 1.5 }, workers });
    expect(ch).toMatch(/ {2}balance uri depth 2\n {2}hash-type consistent\n {2}hash-balance-factor 150\n/);
    expect(ch).toMatch(/bind 127\.0\.0\.1:5000/);
    // a check may take 400 ms (HAProxy's default is the 100 ms interval: a short stall took every worker out)
    expect(ch).toMatch(/\n {2}timeout check 400ms\n/);
    expect(ch).toMatch(/option httpchk GET \/status\n {2}http-response set-header x-ol-worker %\[srv_name\]\n {2}default-server inter 100ms fall 2 rise 1\n {2}server w0 127\.0\.0\.1:5001 check\n {2}server w1 127\.0\.0\.1:5002 check/);
  });

  it("refuses the boss's own balancers and an empty cluster, naming what to do", () => {
    expect(() => haproxyConfig({ port: 5000, balancer: 'hermod', workers })).toThrow(/HAProxy runs round-robin, least-loaded, hash, ch-bl; "hermod" is the boss's only/);
    expect(() => haproxyConfig({ port: 5000, balancer: 'ch-bl', workers: [] })).toThrow(/at least one worker/);
    expect(() => haproxyConfig({ port: 5000, balancer: 'ch-bl', balancerOptions: { c: 0.5 }, workers })).toThrow(/balancer option c/);
  });
});
