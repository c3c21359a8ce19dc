/**
 * Every error ol-lab raises on purpose, in one table (fastify's `errors.js`
 * style). Each code has a message template and, for errors that can reach an
 * HTTP client, a status. Library code throws these and never calls
 * `process.exit`; the CLIs turn them into a one-line message and an exit code.
 */

/** The error codes and their HTTP status (400 unless the client is not at fault). */
export const errorCodes = {
  /** A trace file has a line that does not parse; the message names file, line and field. */
  OL_ERR_TRACE_LINE: 400,
  /** A trace file is missing, empty, or its header lacks required columns. */
  OL_ERR_TRACE_FORMAT: 400,
  /** A policy (or other registry) name that is not in its table. */
  OL_ERR_UNKNOWN_NAME: 400,
  /** A config or CLI value outside its allowed range or of the wrong type. */
  OL_ERR_CONFIG: 400,
  /** A cost profile JSON that does not validate. */
  OL_ERR_PROFILE: 400,
  /** A sandbox could not be created, paused, resumed or destroyed. */
  OL_ERR_SANDBOX: 500,
  /** The request names a lambda the registry does not have. */
  OL_ERR_NO_LAMBDA: 404,
  /** A lambda name, archive, ol.yaml or request that is not acceptable. */
  OL_ERR_BAD_REQUEST: 400,
  /** The HTTP method is not allowed by the lambda's ol.yaml. */
  OL_ERR_METHOD: 405,
  /** The lambda's queue is full. */
  OL_ERR_QUEUE_FULL: 429,
  /** A package of the lambda's requirements.txt (or one they depend on) could not be installed. */
  OL_ERR_PACKAGE: 500,
  /** The handler raised an exception (the body is its traceback). */
  OL_ERR_HANDLER: 500,
  /** The handler ran past its time limit and its sandbox was killed. */
  OL_ERR_TIMEOUT: 504,
  /** The sandbox ran out of memory and the kernel killed it. */
  OL_ERR_OOM: 507,
  /** The sandbox died or broke the connection without a reply. */
  OL_ERR_CRASH: 502,
  /** The worker is stopping: the request was not, or could not be, served. */
  OL_ERR_SHUTDOWN: 503,
  /** An archive or request body over the size limit. */
  OL_ERR_TOO_LARGE: 413,
  /** An invariant of the model was broken: always a bug in ol-lab. */
  OL_ERR_INVARIANT: 500,
} as const;

export type ErrorCode = keyof typeof errorCodes;

/** An error ol-lab raised on purpose, with a stable code and an HTTP status. */
export class OlError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OlError';
    this.code = code;
    this.statusCode = errorCodes[code];
  }
}

/** True when `e` is an {@link OlError}, optionally of one code. */
export function isOlError(e: unknown, code?: ErrorCode): e is OlError {
  return e instanceof OlError && (code === undefined || e.code === code);
}

/** Throws OL_ERR_UNKNOWN_NAME listing the valid names, sorted. */
export function unknownName(kind: string, name: string, valid: Iterable<string>): never {
  throw new OlError(
    'OL_ERR_UNKNOWN_NAME',
    `unknown ${kind} "${name}"; valid ${kind} names: ${[...valid].sort().join(', ')}`,
  );
}

/** Throws OL_ERR_CONFIG naming the setting and what was wrong with it. */
export function badConfig(setting: string, problem: string): never {
  throw new OlError('OL_ERR_CONFIG', `${setting}: ${problem}`);
}
