/**
 * The worker's HTTP client to a sandbox runtime, against a stand-in runtime
 * on a Unix socket that answers as the test says: whole, in pieces, late,
 * garbled, or not at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatRequest, RuntimeClient } from '../../worker/sandbox/runtime-client.js';

type Answer = (sock: Socket, request: { head: string; body: string }) => void;

const ok = (body: string, ctype = 'application/json') => `HTTP/1.1 200 OK\r\nContent-Type: ${ctype}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('RuntimeClient', () => {
  let dir: string;
  let path: string;
  let server: Server;
  let answer: Answer;
  let connections: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ol-rc-'));
    path = join(dir, 'ol.sock');
    connections = 0;
    server = createServer((sock) => {
      connections++;
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.slice(0, end);
          const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + len) return;
          const body = buf.slice(end + 4, end + 4 + len);
          buf = buf.slice(end + 4 + len);
          answer(sock, { head, body });
        }
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(path, r));
  });

  afterEach(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends method, path and body; reads status, type and body; keeps one connection', async () => {
    const seen: { head: string; body: string }[] = [];
    answer = (sock, req) => { seen.push(req); sock.write(ok(JSON.stringify({ got: req.body }))); };
    const c = new RuntimeClient(path);
    for (let i = 0; i < 3; i++) {
      const r = await c.invoke({ method: 'POST', path: `/run/f/${i}`, body: Buffer.from(`{"i":${i}}`) }, 1000);
      expect(r.status).toBe(200);
      expect(r.contentType).toBe('application/json');
      expect(JSON.parse(r.body.toString())).toEqual({ got: `{"i":${i}}` });
    }
    expect(seen.map((s) => s.head.split('\r\n')[0])).toEqual(['POST /run/f/0 HTTP/1.1', 'POST /run/f/1 HTTP/1.1', 'POST /run/f/2 HTTP/1.1']);
    expect(connections).toBe(1);
    c.close();
  });

  it('puts together a reply that arrives in pieces, and an empty body', async () => {
    const c = new RuntimeClient(path);
    const text = 'Traceback (most recent call last):\n  boom\n'.repeat(500);
    answer = (sock) => {
      const whole = Buffer.from(`HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
      // byte by byte across the head, then the body in two parts
      let at = 0;
      const step = () => {
        if (at >= whole.length) return;
        const n = at < 60 ? 1 : Math.ceil((whole.length - at) / 2);
        sock.write(whole.subarray(at, at + n));
        at += n;
        setImmediate(step);
      };
      step();
    };
    const r = await c.invoke({ method: 'GET', path: '/run/f', body: Buffer.alloc(0) }, 2000);
    expect(r.status).toBe(500);
    expect(r.contentType).toBe('text/plain');
    expect(r.body.toString()).toBe(text);
    answer = (sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    const empty = await c.invoke({ method: 'POST', path: '/run/f', body: Buffer.alloc(0) }, 1000);
    expect(empty.status).toBe(200);
    expect(empty.body.length).toBe(0);
    c.close();
  });

  it('a reply past the time limit is a timeout, and is never read as the next request\'s reply', async () => {
    const c = new RuntimeClient(path);
    answer = (sock, req) => {
      const late = req.body === '"slow"';
      setTimeout(() => { if (!sock.destroyed) sock.write(ok(req.body)); }, late ? 300 : 0);
    };
    await expect(c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('"slow"') }, 100)).rejects.toMatchObject({ code: 'OL_ERR_TIMEOUT', message: 'no reply within 100 ms' });
    const r = await c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('"fast"') }, 1000);
    expect(r.body.toString()).toBe('"fast"');
    expect(connections).toBe(2);
    c.close();
  });

  it('a runtime that closes the connection, or answers garbage, is a crash; the next call connects again', async () => {
    const c = new RuntimeClient(path);
    answer = (sock) => sock.destroy();
    await expect(c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('1') }, 1000)).rejects.toMatchObject({ code: 'OL_ERR_CRASH' });
    answer = (sock) => sock.write('SSH-2.0-not-http\r\n\r\n');
    await expect(c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('1') }, 1000)).rejects.toThrow(/sent the status line "SSH-2.0-not-http"/);
    answer = (sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n');
    await expect(c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('1') }, 1000)).rejects.toThrow(/without a valid Content-Length/);
    answer = (sock, req) => sock.write(ok(req.body));
    expect((await c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('7') }, 1000)).body.toString()).toBe('7');
    expect(connections).toBe(4);
    c.close();
  });

  it('no runtime listening is a crash naming why; a closed client refuses calls', async () => {
    const c = new RuntimeClient(join(dir, 'nobody.sock'));
    await expect(c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('1') }, 1000)).rejects.toThrow(/broke the connection \(ENOENT\)/);
    c.close();
    await expect(c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('1') }, 1000)).rejects.toThrow(/gone/);
  });

  it('uses a connection it is given first (a forked sandbox\'s), then connects itself once that one closes', async () => {
    answer = (sock, req) => sock.write(ok(req.body));
    const given = createConnection(path);
    await new Promise((r) => given.once('connect', r));
    const c = new RuntimeClient(path, given);
    expect((await c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('1') }, 1000)).body.toString()).toBe('1');
    expect(connections).toBe(1);
    answer = (sock) => sock.destroy();
    await expect(c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('2') }, 1000)).rejects.toMatchObject({ code: 'OL_ERR_CRASH' });
    answer = (sock, req) => sock.write(ok(req.body));
    expect((await c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('3') }, 1000)).body.toString()).toBe('3');
    expect(connections).toBe(2);
    c.close();
  });

  /** A connection with `req` already written on it, once the stand-in has answered it (or not) and what came back. */
  async function sentAhead(req: Buffer): Promise<{ conn: import('node:net').Socket; got: Buffer }> {
    const conn = createConnection(path);
    let got = Buffer.alloc(0);
    const onData = (d: Buffer) => { got = Buffer.concat([got, d]); };
    conn.on('data', onData);
    conn.write(req);
    await new Promise((r) => setTimeout(r, 50));
    conn.off('data', onData);
    return { conn, got };
  }

  it('a request sent ahead on the given connection is answered once; its reply may already be buffered', async () => {
    const seen: string[] = [];
    answer = (sock, req) => { seen.push(req.body); sock.write(ok(req.body)); };
    const first = { method: 'POST', path: '/run/f', body: Buffer.from('{"first":1}') };
    const { conn, got } = await sentAhead(formatRequest(first));
    expect(got.length).toBeGreaterThan(0); // the whole reply came before the client took the connection
    const c = new RuntimeClient(path, conn, { req: first, buffered: got });
    expect((await c.invoke(first, 1000)).body.toString()).toBe('{"first":1}');
    expect((await c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('2') }, 1000)).body.toString()).toBe('2');
    expect(seen).toEqual(['{"first":1}', '2']);
    expect(connections).toBe(1);
    c.close();
  });

  it('a reply to a request sent ahead that comes later waits for its invoke', async () => {
    answer = (sock, req) => setTimeout(() => sock.write(ok(req.body)), 30);
    const first = { method: 'POST', path: '/run/f', body: Buffer.from('"late"') };
    const conn = createConnection(path);
    conn.write(formatRequest(first));
    const c = new RuntimeClient(path, conn, { req: first });
    await new Promise((r) => setTimeout(r, 80)); // the reply is in before the invoke
    expect((await c.invoke(first, 1000)).body.toString()).toBe('"late"');
    c.close();
  });

  it('a request sent ahead whose connection breaks first is a crash, never sent again', async () => {
    let requests = 0;
    answer = (sock) => { requests++; sock.destroy(); };
    const first = { method: 'POST', path: '/run/f', body: Buffer.from('1') };
    const conn = createConnection(path);
    conn.write(formatRequest(first));
    const c = new RuntimeClient(path, conn, { req: first });
    await new Promise((r) => setTimeout(r, 50));
    await expect(c.invoke(first, 1000)).rejects.toMatchObject({ code: 'OL_ERR_CRASH', message: expect.stringMatching(/broke the connection \(closed\)/) });
    expect(requests).toBe(1);
    c.close();
  });

  it('an invoke of another request than the one sent ahead takes a new connection, so no reply is mistaken', async () => {
    answer = (sock, req) => sock.write(ok(req.body));
    const conn = createConnection(path);
    const ahead = { method: 'POST', path: '/run/f', body: Buffer.from('"ahead"') };
    conn.write(formatRequest(ahead));
    const c = new RuntimeClient(path, conn, { req: ahead });
    // the same method, path and body, but another request: it is sent, on a new connection
    expect((await c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('"ahead"') }, 1000)).body.toString()).toBe('"ahead"');
    expect((await c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('"other"') }, 1000)).body.toString()).toBe('"other"');
    expect(connections).toBe(2);
    c.close();
  });

  it('refuses to forward a path or header with a line break', async () => {
    const c = new RuntimeClient(path);
    await expect(c.invoke({ method: 'POST', path: '/run/f\r\nX-Evil: 1', body: Buffer.from('1') }, 1000)).rejects.toMatchObject({ code: 'OL_ERR_BAD_REQUEST' });
    await expect(c.invoke({ method: 'POST', path: '/run/f', headers: ['X-A', 'b\r\nX-Evil: 1'], body: Buffer.from('1') }, 1000)).rejects.toMatchObject({ code: 'OL_ERR_BAD_REQUEST' });
    c.close();
  });

  it('passes on the end-to-end headers and the query; hop-by-hop ones and Content-Length stay behind', () => {
    const wire = formatRequest({
      method: 'POST', path: '/run/f/a/b?x=1&y=2',
      headers: ['Host', 'localhost:5000', 'Connection', 'keep-alive', 'X-Trace', 't1', 'Content-Length', '999', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a', 'Set-Cookie', 'b'],
      body: Buffer.from('{}'),
    }).toString('latin1');
    expect(wire).toBe('POST /run/f/a/b?x=1&y=2 HTTP/1.1\r\nHost: localhost:5000\r\nX-Trace: t1\r\nSet-Cookie: a\r\nSet-Cookie: b\r\nContent-Length: 2\r\n\r\n{}');
    // no Host from the client: the runtime still gets one
    expect(formatRequest({ method: 'GET', path: '/run/f', body: Buffer.alloc(0) }).toString('latin1')).toBe('GET /run/f HTTP/1.1\r\nHost: sandbox\r\nContent-Length: 0\r\n\r\n');
  });

  it("returns the handler's own headers beside its type; a header line without a colon is a crash", async () => {
    answer = (sock, req) => sock.write(req.body === 'bad'
      ? 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nno colon here\r\n\r\n'
      : 'HTTP/1.1 418 I\'m a teapot\r\nContent-Type: text/html\r\nA: B\r\nSet-Cookie: x=1\r\nSet-Cookie: y=2\r\nContent-Length: 2\r\n\r\nhi');
    const c = new RuntimeClient(path);
    const r = await c.invoke({ method: 'GET', path: '/run/f', body: Buffer.alloc(0) }, 1000);
    expect(r).toEqual({ status: 418, contentType: 'text/html', headers: ['A', 'B', 'Set-Cookie', 'x=1', 'Set-Cookie', 'y=2'], body: Buffer.from('hi') });
    await expect(c.invoke({ method: 'POST', path: '/run/f', body: Buffer.from('bad') }, 1000)).rejects.toThrow(/header line "no colon here"/);
    c.close();
  });
});
