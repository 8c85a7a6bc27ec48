import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Application, Request, RequestHandler, Response } from 'express';
import { markFactory } from '../../lib/check-options';
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
export function accessLog(options: Readonly<AccessLogOptions> = {}, _notMiddleware?: never): RequestHandler {
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

  // A response's bytes are the socket's count from when the response has the socket to its
  // 'prefinish' (all its bytes handed to the socket). That matters with pipelining only: a
  // pipelined response waits for the ones before it and gets the socket when they are done,
  // and the next one takes the socket over (and writes) before this one's 'close', whatever
  // order the requests reached this middleware in. So once a connection is seen pipelining,
  // its responses take both ends on their own events; other connections pay nothing for it.
  const PIPELINED = Symbol('nexthop.accessLogPipelined');
  type Counted = Response & Record<symbol, Started | undefined>;
  type PipelinedSocket = Socket & { [PIPELINED]?: true; _httpMessage?: Counted | null };
  function countFromHere(this: Counted, socket: Socket): void {
    const started = this[STARTED];
    if (started !== undefined) started.bytes = socket.bytesWritten;
  }
  function countToHere(this: Counted): void {
    const started = this[STARTED];
    if (started !== undefined && this.socket !== null) started.end = this.socket.bytesWritten;
  }
  /** A request is waiting behind another: from now on its connection's responses count their end. */
  function notePipelining(socket: PipelinedSocket): void {
    if (socket[PIPELINED]) return;
    socket[PIPELINED] = true;
    // The response holding the socket (node's `_httpMessage`, stable since node 0.x).
    const holder = socket._httpMessage;
    const started = holder?.[STARTED];
    if (holder == null || started === undefined || started.end !== undefined) return;
    // Ended, it has handed all its bytes to the socket, and nothing else has written since.
    if (holder.writableEnded) started.end = socket.bytesWritten;
    else holder.on('prefinish', countToHere);
  }

  function accessLogStep(req: Request, res: Response): undefined {
    const socket = req.socket as PipelinedSocket;
    const waiting = res.socket === null;
    if (waiting) notePipelining(socket);
    if (c.skip !== undefined && c.skip(req)) return undefined;
    const started: Started = {
      at: performance.now(),
      wall: Date.now(),
      bytes: waiting ? -1 : socket.bytesWritten,
      end: undefined,
      peer: socket.remoteAddress,
    };
    (res as Counted)[STARTED] = started;
    if (waiting) res.once('socket', countFromHere);
    if (socket[PIPELINED]) res.on('prefinish', countToHere);
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
