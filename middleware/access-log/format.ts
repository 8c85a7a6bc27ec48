import { METHODS } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Request, Response } from 'express';
import { jsonString, jsonValue } from '../../lib/json-line';
import type { CompiledAccessLog } from './options';
import { redactUrl } from './redact';

/**
 * What the next-hop proxy leaves in `res.locals.nexthopUpstream` for the access line:
 * the upstream's status and time, and the stable error code when it failed.
 * @example res.locals.nexthopUpstream = { status: 200, ms: 12.5 };
 */
export interface UpstreamLogFields {
  /** next-hop's response status; absent when none came. @default undefined */
  status?: number;
  /** Time spent on next-hop, in ms. @default undefined */
  ms?: number;
  /** The stable error code when next-hop failed, e.g. `ERR_NEXTHOP_UPSTREAM_TIMEOUT`. @default undefined */
  error?: string;
}

/** Fields other middleware adds to the request (request context); read when present. */
type ContextRequest = Request & { id?: unknown; clientIp?: unknown; proto?: unknown };

const BUILT_IN = new Set([
  'time',
  'method',
  'url',
  'status',
  'bytes',
  'ms',
  'clientIp',
  'proto',
  'host',
  'userAgent',
  'referer',
  'requestId',
  'aborted',
  'upstreamStatus',
  'upstreamMs',
  'error',
  'headers',
]);
const REDACTED = '"[REDACTED]"';

function text(value: unknown): string {
  if (typeof value === 'string') return jsonString(value);
  return value === undefined || value === null ? 'null' : jsonValue(value);
}

function number(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : 'null';
}

function header(req: Request, name: string, redact: boolean): string {
  const value = req.headers[name];
  if (value === undefined) return 'null';
  return redact ? REDACTED : text(Array.isArray(value) ? value.join(', ') : value);
}

// Node hands out its own string for every standard method: their JSON is made once.
const METHOD_JSON = new Map(METHODS.map((method) => [method, `"${method}"`]));
function methodText(method: unknown): string {
  return (typeof method === 'string' && METHOD_JSON.get(method)) || text(method);
}

function protoText(proto: unknown): string {
  return proto === 'https' ? '"https"' : proto === 'http' ? '"http"' : text(proto);
}

function upstreamPart(res: Response): string {
  const up = res.locals?.nexthopUpstream as UpstreamLogFields | undefined;
  if (typeof up !== 'object' || up === null) return '';
  const error = up.error === undefined ? '' : `,"error":${text(up.error)}`;
  return `,"upstreamStatus":${number(up.status)},"upstreamMs":${millis(up.ms)}${error}`;
}

function extraPart(req: Request, res: Response, c: CompiledAccessLog): string {
  let part = '';
  if (c.headers.length > 0) {
    part += `,"headers":{${c.headers.map((h) => `${jsonString(h)}:${header(req, h, c.redactHeaders.has(h))}`).join(',')}}`;
  }
  if (c.fields === undefined) return part;
  try {
    const extra = c.fields(req, res) ?? {};
    for (const key of Object.keys(extra)) {
      if (!BUILT_IN.has(key) && extra[key] !== undefined)
        part += `,${jsonString(key)}:${jsonValue(extra[key])}`;
    }
  } catch (err) {
    // A failing fields() must not cost the line (nor throw from a 'close' listener).
    part += `,"fieldsError":${text(err instanceof Error ? err.message : err)}`;
  }
  return part;
}

/** When a request started: enough to compute every timing field at the end. */
export interface Started {
  at: number;
  wall: number;
  /** The socket's bytesWritten when the response got it; -1 while it waits (pipelining). */
  bytes: number;
  /** The socket's bytesWritten at the response's 'prefinish'; unset when it never finished. */
  end: number | undefined;
  /** Read now: an aborted socket no longer knows its peer (Node caches it per connection). */
  peer: string | undefined;
}

// Date#toISOString formats through snprintf (≈ 8,000 instructions): it runs once per
// second, and each line appends its milliseconds to that second's prefix.
const MILLIS = Array.from({ length: 1000 }, (_, ms) => String(ms).padStart(3, '0'));
// Thousandths as a shortest number prints them: 0 → "", 500 → ".5", 125 → ".125".
const THOUSANDTHS = MILLIS.map((digits) => (digits === '000' ? '' : `.${digits.replace(/0+$/, '')}`));

/**
 * Milliseconds rounded to the microsecond, exactly as `String(Math.round(ms * 1000) / 1000)`
 * prints them, from integer parts: printing a fractional double is the line's costliest step.
 */
function millis(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'null';
  const micros = Math.round(value * 1000);
  // Below 1e12 µs a double tells every thousandth apart, so the digits are the shortest form.
  if (!(micros >= 0 && micros < 1e12)) return String(micros / 1000);
  const whole = Math.floor(micros / 1000);
  return `${whole}${THOUSANDTHS[micros - whole * 1000]}`;
}

let secondStart = NaN;
let secondPrefix = '';
function isoTime(wall: number): string {
  let ms = wall - secondStart;
  if (!(ms >= 0 && ms < 1000)) {
    secondStart = Math.floor(wall / 1000) * 1000;
    // "2026-11-24T06:01:46.000Z" → "2026-11-24T06:01:46." (years past 9999 have more digits).
    secondPrefix = new Date(secondStart).toISOString().slice(0, -4);
    ms = wall - secondStart;
  }
  return `${secondPrefix}${MILLIS[ms]}Z`;
}

/** The access line of a finished or aborted request, ending with a newline. */
export function formatLine(
  req: ContextRequest,
  res: Response,
  started: Started,
  c: CompiledAccessLog,
): string {
  const aborted = !res.writableFinished;
  const socket = req.socket;
  const referer = req.headers.referer;
  return (
    `{"time":"${isoTime(started.wall)}","method":${methodText(req.method)}` +
    `,"url":${text(redactUrl(req.originalUrl ?? req.url, c.redactQuery))}` +
    `,"status":${res.headersSent ? res.statusCode : 'null'},"bytes":${started.bytes < 0 ? 0 : (started.end ?? socket.bytesWritten) - started.bytes}` +
    `,"ms":${millis(performance.now() - started.at)}` +
    `,"clientIp":${text(req.clientIp ?? started.peer)},"proto":${protoText(req.proto ?? req.protocol)}` +
    `,"host":${header(req, 'host', c.redactHost)},"userAgent":${header(req, 'user-agent', c.redactUserAgent)}` +
    `,"referer":${referer === undefined ? 'null' : c.redactReferer ? REDACTED : text(redactUrl(referer, c.redactQuery))}` +
    `,"requestId":${text(req.id)},"aborted":${aborted}` +
    `${upstreamPart(res)}${extraPart(req, res, c)}}\n`
  );
}
