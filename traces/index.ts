/**
 * The trace-format registry and `openTrace`, which turns a `--trace` value
 * (`format:path`, or a bare path whose format is recognised from its
 * extension and header) into a {@link TraceSource}.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { OlError, unknownName } from '../common/errors.js';
import { Azure2019TraceSource, type Azure2019Options } from './azure2019.js';
import { Azure2021TraceSource } from './azure2021.js';
import { GeneratedTraceSource, parseGenSpec } from './generate.js';
import { OlCsvTraceSource, OlJsonlTraceSource } from './ol-format.js';
import type { TraceSource } from './types.js';

/** Options for any reader; each reader uses the ones that apply to it. */
export interface OpenTraceOptions extends Azure2019Options {
  /** Memory for traces that have none (Azure 2021), MB. */
  memMb?: number;
}

interface TraceFormat {
  describe: string;
  open(path: string, opts: OpenTraceOptions): TraceSource;
}

/** Every format, by the name used in `--trace name:path`. */
export const traceFormats = {
  csv: { describe: 'ol-lab CSV: t_ms,fn,dur_ms,mem_mb[,pkgs][,init_ms]', open: (p, o) => new OlCsvTraceSource(p, o) },
  jsonl: { describe: 'ol-lab JSONL: one {"t_ms","fn","dur_ms","mem_mb"[,"pkgs"]} per line', open: (p, o) => new OlJsonlTraceSource(p, o) },
  azure2019: { describe: 'Azure Functions 2019: invocations/durations/memory CSVs (dir, N_inv.csv or prefix)', open: (p, o) => new Azure2019TraceSource(p, o) },
  azure2021: { describe: 'Azure Functions 2021: app,func,end_timestamp,duration', open: (p, o) => new Azure2021TraceSource(p, o) },
  gen: { describe: 'generated on the fly: gen:KIND,key=value,… (see ol-sim gen --help)', open: (p, o) => new GeneratedTraceSource({ ...parseGenSpec(p), ...(o.seed !== undefined && !/(^|,)seed=/.test(p) ? { seed: o.seed } : {}) }, o.batchSize) },
} satisfies Record<string, TraceFormat>;

export type TraceFormatName = keyof typeof traceFormats;

function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const s = buf.subarray(0, n).toString('utf8');
    const nl = s.indexOf('\n');
    return nl >= 0 ? s.slice(0, nl) : s;
  } finally {
    closeSync(fd);
  }
}

/** Recognises a bare path's format from its extension and header. */
export function detectFormat(path: string): TraceFormatName {
  if (!existsSync(path)) {
    if (existsSync(`${path}_inv.csv`)) return 'azure2019';
    throw new OlError('OL_ERR_TRACE_FORMAT', `trace ${path} does not exist`);
  }
  if (statSync(path).isDirectory()) return 'azure2019';
  if (/\.jsonl$/i.test(path)) return 'jsonl';
  const head = firstLine(path);
  if (/(^|,)\s*t_ms\s*(,|$)/.test(head)) return 'csv';
  if (/(^|,)\s*end_timestamp\s*(,|$)/.test(head)) return 'azure2021';
  if (/HashFunction/.test(head) && /(^|,)(minute_)?1(,|$)/.test(head)) return 'azure2019';
  throw new OlError('OL_ERR_TRACE_FORMAT', `cannot tell the format of ${path} from its header (${JSON.stringify(head.slice(0, 80))}); name it, as in csv:${path} (formats: ${Object.keys(traceFormats).join(', ')})`);
}

/** Opens `spec` = `format:path` or a bare path. */
export function openTrace(spec: string, opts: OpenTraceOptions = {}): TraceSource {
  const m = /^([a-z0-9]+):(.*)$/.exec(spec);
  let format: string, path: string;
  if (m && (m[1]! in traceFormats || !existsSync(spec))) {
    format = m[1]!;
    path = m[2]!;
    if (!(format in traceFormats)) unknownName('trace format', format, Object.keys(traceFormats));
  } else {
    path = spec;
    format = detectFormat(spec);
  }
  return traceFormats[format as TraceFormatName].open(path, opts);
}

export type { TraceSource, InvocationBatch, FunctionInfo } from './types.js';
