/**
 * HTTP to a sandbox's runtime over its Unix socket, with a kept-alive
 * connection per sandbox (one request at a time, as the runtime serves).
 */
import http from 'node:http';
import { OlError } from '../../common/errors.js';
import type { RuntimeReply } from './api.js';

export class RuntimeClient {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  constructor(readonly socketPath: string) {}

  invoke(method: string, path: string, body: Buffer, timeoutMs: number): Promise<RuntimeReply> {
    return new Promise((resolve, reject) => {
      let done = false;
      const req = http.request(
        {
          socketPath: this.socketPath,
          agent: this.#agent,
          method: method === 'GET' ? 'POST' : method,
          path,
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 502, contentType: String(res.headers['content-type'] ?? 'application/octet-stream'), body: Buffer.concat(chunks) });
          });
          res.on('error', (e) => fail(e));
        },
      );
      const fail = (e: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(e);
      };
      const timer = setTimeout(() => {
        fail(new OlError('OL_ERR_TIMEOUT', `no reply within ${timeoutMs} ms`));
        req.destroy();
      }, timeoutMs);
      req.on('error', (e) => fail(new OlError('OL_ERR_CRASH', `the sandbox's runtime broke the connection (${(e as NodeJS.ErrnoException).code ?? e.message})`)));
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
