/**
 * HTTP/1.1 to a sandbox's runtime over its Unix socket (or the connection a
 * forked sandbox said it was ready on): one kept-alive connection per
 * sandbox, one request at a time (the manager never sends a
 * sandbox two at once, and the runtime serves them in turn).
 *
 * Both ends are ours, so this speaks the small part of HTTP the runtime
 * (worker/runtime/ol_runtime/http_loop.py) answers with: a status line,
 * header lines (always Content-Length), then exactly that many bytes. A
 * WSGI or ASGI app's own headers come back as they are; the runtime frames
 * the body itself, so an app never decides where a reply ends. Node's http client did the
 * same job measurably slower per call (agent bookkeeping, header objects,
 * stream events), a sizeable share of a warm call (docs/notebook).
 *
 * A forked sandbox's first request may already be on its connection when
 * the client adopts it (sent behind the fork request, see `sock.ts`): the
 * client is told so, and the `invoke` of that same request only waits for
 * its reply. It is never sent twice: if the connection breaks first, that
 * invoke fails as a crash.
 */
import { createConnection, type Socket } from 'node:net';
import { OlError } from '../../common/errors.js';
import type { RuntimeReply, RuntimeRequest } from './api.js';

const HEAD_END = Buffer.from('\r\n\r\n');
/** A runtime's reply head is a few lines; anything longer is not our runtime speaking. */
const MAX_HEAD = 8192;

/**
 * Request headers that belong to one connection, not to the request
 * (RFC 9110 §7.6.1), and the ones the worker sets itself: never passed on.
 */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect', 'content-length']);

/** Whether a header of the client's request or of the handler's reply stays with the hop (see HOP). */
export function hopByHop(name: string): boolean {
  return HOP.has(name.toLowerCase());
}

/**
 * One request as the runtime reads it: the client's target (path and
 * query), its end-to-end headers and the body's length. A target or header
 * with CR or LF, or a method not in capitals, is refused.
 */
export function formatRequest(req: RuntimeRequest): Buffer {
  const { method, path, body } = req;
  if (/[\r\n]/.test(path) || /[^A-Z]/.test(method)) {
    throw new OlError('OL_ERR_BAD_REQUEST', `cannot forward ${JSON.stringify(method)} ${JSON.stringify(path)} to the sandbox`);
  }
  let head = `${method} ${path} HTTP/1.1\r\n`;
  let host = false;
  const h = req.headers;
  if (h) {
    for (let i = 0; i + 1 < h.length; i += 2) {
      const k = h[i]!, v = h[i + 1]!;
      if (hopByHop(k)) continue;
      if (/[\r\n:]/.test(k) || /[\r\n]/.test(v)) throw new OlError('OL_ERR_BAD_REQUEST', `cannot forward the header ${JSON.stringify(k)} to the sandbox`);
      if (!host && k.length === 4 && k.toLowerCase() === 'host') host = true;
      head += `${k}: ${v}\r\n`;
    }
  }
  if (!host) head += 'Host: sandbox\r\n';
  head += `Content-Length: ${body.length}\r\n\r\n`;
  const bytes = Buffer.from(head, 'latin1');
  return body.length > 0 ? Buffer.concat([bytes, body]) : bytes;
}

/** A request already written on an adopted connection, and what came back so far. */
export interface SentFirst {
  /** The very object the caller will pass to `invoke`. */
  req: RuntimeRequest;
  /** Bytes that arrived on the connection before the client adopted it (the client keeps this Buffer). */
  buffered?: Buffer;
}

interface Pending {
  resolve: (r: RuntimeReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class RuntimeClient {
  #sock: Socket | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #pending: Pending | undefined;
  #closed = false;
  /** The request already sent on the adopted connection, until its invoke comes. */
  #sent: SentFirst | undefined;
  /** Why the connection carrying `#sent` broke before its invoke came. */
  #sentLost: string | undefined;

  /**
   * `conn`: a connection the runtime already serves, used until it closes;
   * `sent`: the request already written on it.
   */
  constructor(readonly socketPath: string, conn?: Socket, sent?: SentFirst) {
    if (conn) {
      this.#attach(conn);
      this.#sent = sent;
      if (sent?.buffered?.length) this.#buf = sent.buffered; // readFirstLine's own copy
    }
  }

  invoke(req: RuntimeRequest, timeoutMs: number): Promise<RuntimeReply> {
    if (this.#closed) return Promise.reject(new OlError('OL_ERR_CRASH', 'the sandbox is gone'));
    if (this.#pending) return Promise.reject(new OlError('OL_ERR_SANDBOX', 'a sandbox serves one request at a time'));
    const sent = this.#sent;
    this.#sent = undefined;
    const already = sent !== undefined && sent.req === req;
    let bytes: Buffer | undefined;
    if (!already) {
      try {
        bytes = formatRequest(req);
      } catch (e) {
        return Promise.reject(e);
      }
      // the runtime answers the request sent ahead first: never read that answer as this one's
      if (sent) this.#drop();
      this.#sentLost = undefined;
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#finish(new OlError('OL_ERR_TIMEOUT', `no reply within ${timeoutMs} ms`));
        // the runtime may still answer this request later: never read that answer as the next one's
        this.#drop();
      }, timeoutMs);
      this.#pending = { resolve, reject, timer };
      if (already) {
        const lost = this.#sentLost;
        this.#sentLost = undefined;
        if (lost !== undefined) return this.#finish(new OlError('OL_ERR_CRASH', `the sandbox's runtime broke the connection (${lost})`));
        return this.#parse(); // its reply may be here already
      }
      const sock = this.#sock ?? this.#attach(createConnection(this.socketPath));
      sock.write(bytes!);
    });
  }

  #attach(sock: Socket): Socket {
    this.#sock = sock;
    this.#buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      if (sock !== this.#sock) return;
      this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
      // the reply to a request sent ahead waits for its invoke
      if (this.#pending || !this.#sent) this.#parse();
    });
    const broke = (why: string) => {
      if (sock !== this.#sock) return;
      if (this.#sent && !this.#pending) this.#sentLost = why;
      this.#sock = undefined;
      sock.destroy();
      this.#finish(new OlError('OL_ERR_CRASH', `the sandbox's runtime broke the connection (${why})`));
    };
    sock.on('error', (e: NodeJS.ErrnoException) => broke(e.code ?? e.message));
    sock.on('close', () => broke('closed'));
    return sock;
  }

  /** Settles the pending request once a whole reply is in the buffer. */
  #parse(): void {
    const end = this.#buf.indexOf(HEAD_END);
    if (end < 0) {
      if (this.#buf.length > MAX_HEAD) this.#protocol('a reply head longer than 8 KiB');
      return;
    }
    const lines = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) return this.#protocol(`the status line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    let length = -1;
    let contentType = 'application/octet-stream';
    let headers: string[] | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) return this.#protocol(`the header line ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon).trim();
      const key = name.toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (key === 'content-length') length = Number(value);
      else if (key === 'content-type') contentType = value;
      else (headers ??= []).push(name, value);
    }
    if (!Number.isInteger(length) || length < 0) return this.#protocol('a reply without a valid Content-Length');
    const total = end + HEAD_END.length + length;
    if (this.#buf.length < total) return;
    if (this.#buf.length > total) return this.#protocol('bytes after the reply');
    const reply: RuntimeReply = { status: Number(m[1]), contentType, body: Buffer.from(this.#buf.subarray(end + HEAD_END.length)) };
    if (headers) reply.headers = headers;
    this.#buf = Buffer.alloc(0);
    const p = this.#pending;
    if (!p) return this.#protocol('a reply nobody asked for');
    this.#pending = undefined;
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  #protocol(what: string): void {
    this.#drop();
    this.#finish(new OlError('OL_ERR_CRASH', `the sandbox's runtime sent ${what}`));
  }

  #finish(e: Error): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    clearTimeout(p.timer);
    p.reject(e);
  }

  /** Forgets the connection: the next request opens a new one. */
  #drop(): void {
    const s = this.#sock;
    this.#sock = undefined;
    this.#buf = Buffer.alloc(0);
    s?.destroy();
  }

  close(): void {
    this.#closed = true;
    this.#drop();
    this.#finish(new OlError('OL_ERR_CRASH', 'the sandbox was destroyed'));
  }
}
