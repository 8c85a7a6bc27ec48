import { performance } from 'node:perf_hooks';
import type { Application, Request, RequestHandler, Response } from 'express';
import { getAppContext } from '../../lib/context';
import { jsonString, jsonValue } from '../../lib/json-line';
import { runStep, withStep } from '../../lib/pipeline';
import { accessSinkOf, logger as rootLogger, type LineSink } from '../../lib/logger';
import { compileOptions, type AccessLogOptions, type CompiledAccessLog } from './options';
import { redactUrl } from './redact';

export type { AccessLogOptions } from './options';
export { DEFAULT_REDACT_QUERY } from './options';

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

function number(value: unknown, round = false): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'null';
  return String(round ? Math.round(value * 1000) / 1000 : value);
}

function header(req: Request, name: string, c: CompiledAccessLog): string {
  const value = req.headers[name];
  if (value === undefined) return 'null';
  return c.redactHeaders.has(name) ? REDACTED : text(Array.isArray(value) ? value.join(', ') : value);
}

function upstreamPart(res: Response): string {
  const up = res.locals?.nexthopUpstream as UpstreamLogFields | undefined;
  if (typeof up !== 'object' || up === null) return '';
  const error = up.error === undefined ? '' : `,"error":${text(up.error)}`;
  return `,"upstreamStatus":${number(up.status)},"upstreamMs":${number(up.ms, true)}${error}`;
}

function extraPart(req: Request, res: Response, c: CompiledAccessLog): string {
  let part = '';
  if (c.headers.length > 0) {
    part += `,"headers":{${c.headers.map((h) => `${jsonString(h)}:${header(req, h, c)}`).join(',')}}`;
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
interface Started {
  at: number;
  wall: number;
  bytes: number;
  /** Read now: an aborted socket no longer knows its peer (Node caches it per connection). */
  peer: string | undefined;
}

// Requests finishing in the same millisecond share one ISO string.
let isoWall = NaN;
let isoText = '';
function isoTime(wall: number): string {
  if (wall !== isoWall) {
    isoWall = wall;
    isoText = new Date(wall).toISOString();
  }
  return isoText;
}

function formatLine(req: ContextRequest, res: Response, started: Started, c: CompiledAccessLog): string {
  const aborted = !res.writableFinished;
  const socket = req.socket;
  const referer = req.headers.referer;
  return (
    `{"time":"${isoTime(started.wall)}","method":${text(req.method)}` +
    `,"url":${text(redactUrl(req.originalUrl ?? req.url, c.redactQuery))}` +
    `,"status":${res.headersSent ? res.statusCode : 'null'},"bytes":${socket.bytesWritten - started.bytes}` +
    `,"ms":${number(performance.now() - started.at, true)}` +
    `,"clientIp":${text(req.clientIp ?? started.peer)},"proto":${text(req.proto ?? req.protocol)}` +
    `,"host":${header(req, 'host', c)},"userAgent":${header(req, 'user-agent', c)}` +
    `,"referer":${referer === undefined ? 'null' : c.redactHeaders.has('referer') ? REDACTED : text(redactUrl(referer, c.redactQuery))}` +
    `,"requestId":${text(req.id)},"aborted":${aborted}` +
    `${upstreamPart(res)}${extraPart(req, res, c)}}\n`
  );
}

function misuse(): never {
  throw new TypeError('nexthop accessLog: call the factory: app.use(accessLog()), not app.use(accessLog)');
}

/**
 * One JSON line per request in `access.log`, written when the response finishes or the
 * connection closes early (`"aborted": true`). Lines are built by hand and written
 * through a buffered file (never winston's formatting pipeline), flushed on shutdown.
 * `createApp()` mounts it first, so `ms` covers the whole request.
 *
 * @example
 * const app = express();
 * app.use(accessLog({ skip: ['/.well-known/section-io/aee-hc/healthz'], redactQuery: ['token'] }));
 */
export function accessLog(options: Readonly<AccessLogOptions> = {}): RequestHandler {
  // Express would call the factory itself with (req, res, next) if it was passed uncalled.
  if (arguments.length > 1) misuse();
  const c = compileOptions(options);
  const fixedSink = options.logger === undefined ? undefined : accessSinkOf(options.logger);
  // null, not undefined: a plain node request has no `req.app`, and must still find a sink.
  let sinkApp: Application | undefined | null = null;
  let appSink: LineSink | undefined;

  function sinkFor(req: Request): LineSink | undefined {
    if (options.logger !== undefined) return fixedSink;
    if (req.app !== sinkApp) {
      sinkApp = req.app;
      appSink = accessSinkOf(getAppContext(req.app)?.logger ?? rootLogger);
    }
    return appSink;
  }

  // One listener per accessLog() instance, shared by its requests: the request's start
  // record rides on the response (under this instance's own key), so a request allocates
  // no closure.
  const STARTED = Symbol('nexthop.accessLogStarted');
  function writeAccessLine(this: Response & Record<symbol, Started | undefined>): void {
    const started = this[STARTED];
    if (started === undefined) return;
    this[STARTED] = undefined;
    const keep =
      c.sample >= 1 || this.statusCode >= 500 || !this.writableFinished || Math.random() < c.sample;
    if (keep) sinkFor(this.req)?.write(formatLine(this.req, this, started, c));
  }

  function accessLogStep(req: Request, res: Response): undefined {
    if (c.skip !== undefined && c.skip(req)) return undefined;
    const socket = req.socket;
    (res as Response & Record<symbol, Started | undefined>)[STARTED] = {
      at: performance.now(),
      wall: Date.now(),
      bytes: socket.bytesWritten,
      peer: socket.remoteAddress,
    };
    // 'close' follows 'finish' on a completed response and comes alone on an aborted one:
    // one listener, one line, either way.
    res.on('close', writeAccessLine);
    return undefined;
  }
  return withStep(function accessLogMiddleware(req, res, next) {
    runStep(accessLogStep, req, res, next);
  }, accessLogStep);
}
