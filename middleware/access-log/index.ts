import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Application, Request, RequestHandler, Response } from 'express';
import { getAppContext } from '../../lib/context';
import { runStep, withStep } from '../../lib/pipeline';
import { accessSinkOf, logger as rootLogger, type LineSink } from '../../lib/logger';
import { formatLine, type Started } from './format';
import { compileOptions, type AccessLogOptions } from './options';

export type { UpstreamLogFields } from './format';
export type { AccessLogOptions } from './options';
export { DEFAULT_REDACT_QUERY } from './options';

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

  // Pipelining: a request's response waits for the ones before it on its connection, and gets
  // the socket when the one ahead has finished, before that one's 'close' (its line). The
  // socket's byte count at that moment ends the count of the one ahead and starts this one's.
  // Only a waiting response does any of this (requests that are not pipelined pay nothing): it
  // links itself to the one ahead, the socket's current response or the last one queued.
  const LAST_QUEUED = Symbol('nexthop.accessLogLastQueued');
  type QueueSocket = Socket & {
    [LAST_QUEUED]?: Started;
    /** node's response holding the socket (`_httpMessage`, stable since node 0.x). */
    _httpMessage?: Record<symbol, Started | undefined> | null;
  };
  function countBytesFromHere(
    this: Response & Record<symbol, Started | undefined>,
    socket: QueueSocket,
  ): void {
    const started = this[STARTED];
    if (started === undefined) return;
    const bytes = socket.bytesWritten;
    if (started.ahead !== undefined && started.ahead.end === undefined) started.ahead.end = bytes;
    started.ahead = undefined;
    started.bytes = bytes;
    if (socket[LAST_QUEUED] === started) socket[LAST_QUEUED] = undefined;
  }

  function accessLogStep(req: Request, res: Response): undefined {
    if (c.skip !== undefined && c.skip(req)) return undefined;
    const socket = req.socket;
    const waiting = res.socket === null;
    const started: Started = {
      at: performance.now(),
      wall: Date.now(),
      bytes: waiting ? -1 : socket.bytesWritten,
      end: undefined,
      ahead: undefined,
      peer: socket.remoteAddress,
    };
    (res as Response & Record<symbol, Started | undefined>)[STARTED] = started;
    if (waiting) {
      const queue = socket as QueueSocket;
      started.ahead = queue[LAST_QUEUED] ?? queue._httpMessage?.[STARTED];
      queue[LAST_QUEUED] = started;
      res.once('socket', countBytesFromHere);
    }
    // 'close' follows 'finish' on a completed response and comes alone on an aborted one:
    // one listener, one line, either way.
    res.on('close', writeAccessLine);
    return undefined;
  }
  return withStep(function accessLogMiddleware(req, res, next) {
    runStep(accessLogStep, req, res, next);
  }, accessLogStep);
}
