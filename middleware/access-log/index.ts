import { performance } from 'node:perf_hooks';
import type { Application, Request, RequestHandler, Response } from 'express';
import { markFactory } from '../../lib/check-options';
import { getAppContext } from '../../lib/context';
import { runStep, withStep } from '../../lib/pipeline';
import { accessSinkOf, logger as rootLogger, type LineSink, type Logger } from '../../lib/logger';
import { byteCounter } from './bytes';
import { formatLine, type Started } from './format';
import { compileOptions, type AccessLogOptions } from './options';

export type { UpstreamLogFields } from './format';
export type { AccessLogOptions } from './options';
export { DEFAULT_REDACT_QUERY } from './options';

function misuse(): never {
  throw new TypeError('nexthop accessLog: call the factory: app.use(accessLog()), not app.use(accessLog)');
}

/**
 * Where an accessLog() instance writes: the given logger's access.log, else that of the
 * request's app (createApp), else the root logger's; looked up once per app.
 */
function sinkResolver(logger: Logger | undefined): (req: Request) => LineSink | undefined {
  if (logger !== undefined) {
    const fixed = accessSinkOf(logger);
    return () => fixed;
  }
  // null, not undefined: a plain node request has no `req.app`, and must still find a sink.
  let sinkApp: Application | undefined | null = null;
  let appSink: LineSink | undefined;
  // Access lines skip winston and go straight to the buffered access.log: one line per
  // request, already JSON, so winston's per-line work (info object, stream hops, formats)
  // would cost more than building the line itself on the path every request takes.
  return function sinkFor(req: Request): LineSink | undefined {
    if (req.app !== sinkApp) {
      sinkApp = req.app;
      appSink = accessSinkOf(getAppContext(req.app)?.logger ?? rootLogger);
    }
    return appSink;
  };
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
export function accessLog(options: Readonly<AccessLogOptions> = {}, _notMiddleware?: never): RequestHandler {
  // Express would call the factory itself with (req, res, next) if it was passed uncalled.
  if (arguments.length > 1) misuse();
  const c = compileOptions(options);
  const sinkFor = sinkResolver(options.logger);

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

  const bytes = byteCounter(STARTED);

  function accessLogStep(req: Request, res: Response): undefined {
    const at = bytes.start(res);
    if (c.skip !== undefined && c.skip(req)) return undefined;
    const started: Started = {
      at: performance.now(),
      wall: Date.now(),
      bytes: at,
      end: undefined,
      peer: req.socket.remoteAddress,
    };
    (res as Response & Record<symbol, Started>)[STARTED] = started;
    bytes.watch(res);
    // 'close' follows 'finish' on a completed response and comes alone on an aborted one:
    // one listener, one line, either way.
    res.on('close', writeAccessLine);
    return undefined;
  }
  return withStep(function accessLogMiddleware(req, res, next) {
    runStep(accessLogStep, req, res, next);
  }, accessLogStep);
}

markFactory('accessLog', accessLog);
