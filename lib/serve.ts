import cluster from 'node:cluster';
import * as http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import type { Application } from 'express';
import { startupContext } from './app';
import { getAppContext } from './context';
import { NexthopError } from './errors';
import { fastLane } from './fast-lane';
import { serverClassesFor } from './server-classes';
import {
  attachWorker,
  isSupervisedWorker,
  resolveWorkers,
  supervise,
  WORKER_ID_ENV,
  type Supervisor,
} from './cluster';
import { closeLogger, type Logger } from './logger';
import { startupError } from './startup';

const debug = debuglog('nexthop:serve');

/**
 * Default keep-alive idle timeout: longer than the front nginx keeps idle connections
 * (60 s upstream keepalive_timeout, 75 s for clients), so nginx always closes an idle
 * connection first and never sends a request on a socket Node is closing (a 502).
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT = 76_000;
/** Default time a client has to send all request headers (slowloris bound). */
export const DEFAULT_HEADERS_TIMEOUT = 30_000;
/** Default time a client has to send a whole request, body included. */
export const DEFAULT_REQUEST_TIMEOUT = 300_000;
/** Default time in-flight requests get to finish after a shutdown signal. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;

/** Options for {@link serve}. */
export interface ServeOptions {
  /** Port to listen on. @default config.port (the `PORT` variable, else 8080) */
  port?: number;
  /** Address to bind. @default config.host (the `HOST` variable), else all interfaces (IPv6 and IPv4) */
  host?: string;
  /** Idle keep-alive timeout in ms. @default 76000 */
  keepAliveTimeout?: number;
  /** Time allowed to receive request headers, in ms. @default 30000 */
  headersTimeout?: number;
  /** Time allowed to receive a whole request, in ms. @default 300000 */
  requestTimeout?: number;
  /**
   * Ms to keep answering normally after a shutdown signal before the listener closes,
   * so the platform stops routing to this instance first. @default 0
   */
  drainDelay?: number;
  /** Ms in-flight requests get to finish before their connections are cut. @default 10000 */
  shutdownTimeout?: number;
  /** Handle SIGTERM and SIGINT with a graceful shutdown, then exit. @default true */
  handleSignals?: boolean;
  /** Log `uncaughtException` / `unhandledRejection` and keep answering. @default true */
  processGuards?: boolean;
  /** Logger for lifecycle lines. @default the app's logger from createApp, else createLogger() */
  logger?: Logger;
  /**
   * Run a cluster: a primary process forks this many workers (`'auto'`: one per core) that
   * share the port; workers that exit are replaced with backoff, a worker hit by an
   * uncaught exception hands over to its replacement, SIGTERM drains them all. Unset (and
   * no `WEB_CONCURRENCY`): one process, no supervisor, process guards keep it answering.
   * The script runs again in every worker, so build the app at the top level.
   * @default config.webConcurrency (`WEB_CONCURRENCY`), else a single process
   * @example serve(app, { workers: 'auto' })
   */
  workers?: number | 'auto';
  /**
   * The fast lane: the paths the app answers itself (path prefixes matched on segment
   * boundaries, case-insensitively: `/api` takes `/api`, `/api/x` and `/api?q`, never
   * `/apix`). Every other request skips Express's router: createApp's request context and
   * access log and the app's root `nextHopProxy()` run on it as plain functions, with the
   * same headers, log lines, errors and shutdown as through Express. Middleware and routes
   * you add to the app only see requests under appPaths. Needs an app from createApp()
   * with `nextHopProxy()` (no pathFilter) mounted at its root before serve() is called.
   * @default undefined (every request goes through Express)
   * @example serve(app, { appPaths: ['/api', '/hello'] })
   */
  appPaths?: readonly string[];
}

/** A listening server, returned by {@link serve}. */
export interface ServeHandle {
  /**
   * The HTTP server. In a cluster primary, which answers no requests itself, a server
   * that never listens (the workers hold the connections).
   */
  readonly server: http.Server;
  /** `'single'` (no cluster), `'primary'` (supervises workers) or `'worker'`. */
  readonly role: 'single' | 'primary' | 'worker';
  /** In a cluster primary: the supervisor (worker pids). */
  readonly supervisor?: Supervisor;
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** Graceful shutdown without exiting the process: drain, finish in-flight, flush logs. */
  close(): Promise<void>;
}

// Option names that would mean TLS or HTTP/2: the platform speaks plain HTTP/1.1 to the app.
const NOT_PLAIN_HTTP = [
  'key',
  'cert',
  'pfx',
  'ca',
  'passphrase',
  'secureContext',
  'https',
  'http2',
  'allowHTTP1',
];

function checkMs(name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(
      `nexthop serve: ${name} must be an integer number of milliseconds, got ${String(value)}`,
    );
  }
  if (value < min || value > 2_147_483_647) {
    throw new RangeError(`nexthop serve: ${name} must be from ${min} to 2147483647 ms, got ${value}`);
  }
  return value;
}

function validate(app: unknown, options: Readonly<ServeOptions>) {
  if (app instanceof net.Server) {
    throw new TypeError(
      'nexthop serve: pass the app, not a server: serve(app) creates the HTTP/1.1 server itself',
    );
  }
  if (typeof app !== 'function') {
    throw new TypeError('nexthop serve: the first argument must be an Express app, e.g. serve(createApp())');
  }
  const tls = NOT_PLAIN_HTTP.filter((k) => k in options);
  if (tls.length > 0) {
    throw new NexthopError(
      'ERR_NEXTHOP_NOT_PLAIN_HTTP',
      `nexthop serve: option ${tls.map((k) => `"${k}"`).join(', ')} would make the server speak TLS or HTTP/2; ` +
        'the platform terminates TLS at the edge and talks plain HTTP/1.1 to the app on PORT. Remove it.',
    );
  }
  if (
    options.port !== undefined &&
    (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
  ) {
    throw new RangeError(
      `nexthop serve: port must be an integer from 0 to 65535, got ${String(options.port)}`,
    );
  }
  const keepAliveTimeout = checkMs(
    'keepAliveTimeout',
    options.keepAliveTimeout,
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    1,
  );
  return {
    keepAliveTimeout,
    headersTimeout: checkMs('headersTimeout', options.headersTimeout, DEFAULT_HEADERS_TIMEOUT, 1),
    requestTimeout: checkMs('requestTimeout', options.requestTimeout, DEFAULT_REQUEST_TIMEOUT, 0),
    drainDelay: checkMs('drainDelay', options.drainDelay, 0),
    shutdownTimeout: checkMs('shutdownTimeout', options.shutdownTimeout, DEFAULT_SHUTDOWN_TIMEOUT),
  };
}

type UpgradeHandler = ((...args: never[]) => unknown) & {
  upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
};
interface RouterLayer {
  handle?: unknown;
  match?: (path: string) => boolean;
}

/** The first mounted middleware (e.g. nextHopProxy) that takes upgrades for this path. */
function findUpgradeHandler(app: Application, url: string): UpgradeHandler | undefined {
  const router = (app as unknown as { router?: { stack?: RouterLayer[] } }).router;
  const pathname = url.split('?', 1)[0] || '/';
  for (const layer of router?.stack ?? []) {
    const handle = layer.handle as Partial<UpgradeHandler> | undefined;
    if (typeof handle?.upgrade === 'function' && layer.match?.(pathname)) return handle as UpgradeHandler;
  }
  return undefined;
}

/**
 * How long a keep-alive socket must have been idle before shutdown closes it. A client
 * under load reuses its sockets within milliseconds, so those get one more response,
 * with `Connection: close`, instead of a close racing their next request (a reset, or a
 * 502 at nginx for a POST). Sockets idle longer than this are not in use and close at once.
 */
export const SHUTDOWN_IDLE_GRACE = 500;

/**
 * How long shutdown waits, once the server has closed, for the responses it cut to emit
 * 'close' (so their access lines are written before the logs are flushed). They do so within
 * a turn or two of the event loop; the bound only keeps a stuck response from holding exit.
 */
const RESPONSE_CLOSE_WAIT = 1000;

/**
 * Per-connection bookkeeping for a shutdown that never cuts a request in its first byte:
 * which responses are in flight (to mark them `Connection: close`) and which keep-alive
 * connections are idle (to close them).
 *
 * Responses are found through their connection, never used as Map or Set keys: V8 gives an
 * object an identity hash when it first becomes a key, and doing that to every response
 * shows in a CPU profile of every request (`npm run bench -- --cpu-prof`). Connections live long; each
 * gets its hash once. A connection's entry is its response in flight, or the time it went
 * idle; the rare pipelined responses waiting behind the first are listed apart.
 */
const DROPPED = Symbol('nexthop.droppedResponse');
type Dropped = http.ServerResponse & { [DROPPED]?: true };

function trackConnections(server: http.Server) {
  const connections = new Map<Duplex, http.ServerResponse | number>();
  const pipelined = new Map<Duplex, http.ServerResponse[]>();
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let onSettled: (() => void) | undefined;
  /** `count` responses are no longer in flight. */
  function leave(count: number): void {
    inFlight -= count;
    if (inFlight === 0) onSettled?.();
  }
  // Whole milliseconds of a monotonic clock: small integers, which V8 stores in the Map entry
  // itself, where Date.now() (> 2^31) is a separate 16-byte number per idle connection.
  const clock = (): number => Math.floor(performance.now());
  // One shared listener ('close' comes once): an idle keep-alive connection holds no closure.
  function forget(this: Duplex): void {
    // Responses queued behind the current one never emit 'close' when their connection goes
    // (node drops them): they are no longer in flight.
    const waiting = pipelined.get(this);
    if (waiting !== undefined) {
      for (const res of waiting) (res as Dropped)[DROPPED] = true;
      leave(waiting.length);
    }
    connections.delete(this);
    pipelined.delete(this);
  }
  server.on('connection', (socket: Duplex) => {
    connections.set(socket, clock());
    socket.on('close', forget);
  });
  // Node adds each response's own 'close' listener to its socket; pushed after ours, it grows
  // the socket's listener array to 20 slots, which V8 keeps after Node removes it again.
  // Re-adding ours when the connection goes idle leaves a 2-slot array: ~150 bytes less per
  // idle keep-alive connection (the idle-connection budget, docs/BENCHMARKS.md).
  function watchIdle(socket: Duplex): void {
    socket.off('close', forget);
    socket.on('close', forget);
  }
  function sweep(): void {
    clearTimeout(timer);
    const now = clock();
    let next = Infinity;
    for (const [socket, entry] of connections) {
      if (typeof entry !== 'number') continue;
      const left = entry + SHUTDOWN_IDLE_GRACE - now;
      if (left <= 0) socket.destroy();
      else next = Math.min(next, left);
    }
    if (next !== Infinity) timer = setTimeout(sweepAfterReads, next).unref();
  }
  // Timers run before the event loop reads its sockets: a request already sent on an "idle"
  // connection (nginx reusing it) may still sit unread. Sweeping after the poll phase lets it
  // arrive first and mark the connection busy, instead of being reset with it (a 502 for a POST).
  function sweepAfterReads(): void {
    setImmediate(sweep);
  }
  return {
    /** A response starts on its request's connection. */
    start(res: http.ServerResponse): void {
      inFlight++;
      const socket = res.req.socket as Duplex;
      const entry = connections.get(socket);
      if (entry === undefined) return;
      if (typeof entry === 'number') return void connections.set(socket, res);
      const waiting = pipelined.get(socket);
      if (waiting === undefined) pipelined.set(socket, [res]);
      else waiting.push(res);
    },
    /** A response closed (finished or cut off); its connection may be idle now. */
    finish(res: http.ServerResponse): void {
      if ((res as Dropped)[DROPPED]) return; // counted out when its connection closed
      leave(1);
      const socket = res.req.socket as Duplex;
      const entry = connections.get(socket);
      if (entry === undefined) return;
      const waiting = pipelined.get(socket);
      if (entry === res) {
        const following = waiting?.shift();
        if (waiting !== undefined && waiting.length === 0) pipelined.delete(socket);
        connections.set(socket, following ?? clock());
        if (following === undefined) watchIdle(socket);
      } else if (waiting !== undefined) {
        const at = waiting.indexOf(res);
        if (at !== -1) waiting.splice(at, 1);
        if (waiting.length === 0) pipelined.delete(socket);
      }
    },
    /** Every response in flight. */
    *responses(): Generator<http.ServerResponse> {
      for (const entry of connections.values()) if (typeof entry !== 'number') yield entry;
      for (const waiting of pipelined.values()) yield* waiting;
    },
    inFlight: (): number => inFlight,
    /**
     * Resolves once every response has emitted 'close' (the access log writes its line then),
     * or after `limitMs`. A forced close destroys the sockets, and their responses close only
     * after the server's own 'close' has fired.
     */
    settled(limitMs: number): Promise<void> {
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const limit = setTimeout(resolve, limitMs);
        onSettled = () => {
          clearTimeout(limit);
          onSettled = undefined;
          resolve();
        };
      });
    },
    sweep,
  };
}

let guardsInstalled = false;

/**
 * Runtime errors must not take the app down (contract rule 7): log them with their stack
 * and keep answering. The trade-off: state the failed code left half-updated stays so.
 * Cluster mode replaces the worker instead.
 */
function installProcessGuards(logger: Logger, retire?: (reason: string) => unknown): void {
  if (guardsInstalled) return;
  guardsInstalled = true;
  const outcome = retire
    ? `worker ${process.env[WORKER_ID_ENV]} hands over to a replacement, finishes its requests and exits`
    : 'the process keeps answering';
  process.on('uncaughtException', (err) => {
    logger.error(`uncaught exception; ${outcome}`, { err: describe(err), stack: stackOf(err) });
    retire?.('uncaught exception');
  });
  process.on('unhandledRejection', (reason) => {
    logger.error(`unhandled promise rejection; ${outcome}`, {
      err: describe(reason),
      stack: stackOf(reason),
    });
    retire?.('unhandled promise rejection');
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
function stackOf(err: unknown): string | undefined {
  return err instanceof Error ? err.stack : undefined;
}

function listenError(err: NodeJS.ErrnoException, port: number): NexthopError {
  const why =
    err.code === 'EADDRINUSE'
      ? `port ${port} is already in use: stop the other process or set PORT to a free port`
      : err.code === 'EACCES'
        ? `port ${port} may not be bound by this user: use a port above 1023 (set PORT)`
        : `cannot listen on port ${port}: ${err.message}`;
  return new NexthopError('ERR_NEXTHOP_LISTEN', why, { cause: err });
}

/**
 * Listen on `PORT` with plain HTTP/1.1 and run the app for the platform: keep-alive
 * timeouts that outlive the front nginx, graceful shutdown on SIGTERM/SIGINT for rolling
 * deploys, process guards, WebSocket upgrades routed to the proxy, logs flushed at exit.
 *
 * @example
 * const { port } = await serve(app);
 */
export function serve(app: Application, options: Readonly<ServeOptions> = {}): Promise<ServeHandle> {
  const timing = validate(app, options);
  const context = getAppContext(app) ?? startupContext(options);
  const { config } = context;
  const logger = options.logger ?? context.logger;
  const port = options.port ?? config.port;
  const { handleSignals = true, processGuards = true } = options;
  const workers = resolveWorkers('workers' in options ? options.workers : config.webConcurrency);
  // Checked in the cluster primary too, so a bad setting fails before any worker starts.
  if (options.appPaths !== undefined) fastLane(app, options.appPaths);
  if (workers !== undefined && cluster.isPrimary) {
    return servePrimary({ workers, logger, timing, handleSignals });
  }
  const supervised = isSupervisedWorker();

  const lane = options.appPaths === undefined ? undefined : fastLane(app, options.appPaths);
  const server = http.createServer(serverClassesFor(app));
  server.keepAliveTimeout = timing.keepAliveTimeout;
  server.headersTimeout = timing.headersTimeout;
  server.requestTimeout = timing.requestTimeout;

  const connections = trackConnections(server);
  let closing: Promise<void> | undefined;
  let stopping = false;

  const handle = lane?.listener ?? app;
  // One 'request' listener and one shared 'close' handler: this runs on every request, so
  // no per-request closure and no second listener (emit copies its listener array).
  function onResponseClose(this: http.ServerResponse): void {
    connections.finish(this);
    if (stopping) connections.sweep();
  }
  server.on('request', function nexthopRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    // During shutdown, every response tells the client (nginx) not to reuse this connection.
    if (stopping) res.setHeader('Connection', 'close');
    connections.start(res);
    res.on('close', onResponseClose);
    handle(req, res);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const handler = findUpgradeHandler(app, req.url ?? '/');
    if (handler) return handler.upgrade(req, socket, head);
    // Another 'upgrade' listener of the user's (e.g. a ws server) may take it.
    if (server.listenerCount('upgrade') > 1) return;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  async function shutdown(reason: string, drainDelay = timing.drainDelay): Promise<void> {
    logger.info(`${reason}: shutting down`, { drainDelay });
    if (drainDelay > 0) await new Promise((r) => setTimeout(r, drainDelay).unref());
    stopping = true;
    for (const res of connections.responses()) if (!res.headersSent) res.setHeader('Connection', 'close');
    // net's close, not http's: since Node 19 http's also closes every idle keep-alive socket
    // at once, racing a client (nginx) that is sending its next request on one of them.
    const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
    connections.sweep();
    logger.info('stopped accepting connections; finishing in-flight requests', {
      inFlight: connections.inFlight(),
    });
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      logger.warn('shutdown timeout reached; closing remaining connections', {
        inFlight: connections.inFlight(),
      });
      server.closeAllConnections();
    }, timing.shutdownTimeout);
    timer.unref();
    await closed;
    clearTimeout(timer);
    // The lines of cut requests are written when their responses close, after the server's.
    await connections.settled(RESPONSE_CLOSE_WAIT);
    logger.info(forced ? 'server closed (forced)' : 'server closed; all requests finished');
    await closeLogger(logger);
  }

  function close(): Promise<void> {
    closing ??= shutdown('close() called');
    return closing;
  }

  return new Promise<ServeHandle>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(startupError(listenError(err, port)));
    server.once('error', onError);
    server.listen({ port, host: options.host ?? config.host }, () => {
      server.off('error', onError);
      server.on('error', (err) => logger.error('server error', { err: describe(err), stack: stackOf(err) }));
      const bound = (server.address() as AddressInfo).port;
      for (const notice of config.notices) if (options.port === undefined) logger.info(notice);
      logger.info(`listening on port ${bound} (HTTP/1.1)`, {
        port: bound,
        keepAliveTimeout: timing.keepAliveTimeout,
        pid: process.pid,
      });
      if (supervised) {
        // A hand-over needs no drain delay: the primary stops routing to a worker that closes.
        const hooks = attachWorker((reason, drain) => (closing ??= shutdown(reason, drain ? undefined : 0)));
        if (processGuards) installProcessGuards(logger, (reason) => hooks.retire(reason));
        if (handleSignals) watchSignals((signal) => hooks.retire(`${signal} received`), logger);
      } else {
        if (processGuards) installProcessGuards(logger);
        if (handleSignals) watchSignals((signal) => (closing ??= shutdown(`${signal} received`)), logger);
      }
      resolve({ server, port: bound, close, role: supervised ? 'worker' : 'single' });
    });
  });
}

/** The cluster primary: supervise the workers; its close() and signals drain them all. */
async function servePrimary(params: {
  workers: number;
  logger: Logger;
  timing: ReturnType<typeof validate>;
  handleSignals: boolean;
}): Promise<ServeHandle> {
  const { logger, timing, handleSignals } = params;
  const supervisor = supervise({
    workers: params.workers,
    logger,
    drainDelay: timing.drainDelay,
    shutdownTimeout: timing.shutdownTimeout,
    exitOnCrashLoop: handleSignals,
  });
  // Watched before the workers are ready: a deploy may stop an instance that is still starting.
  if (handleSignals) watchSignals(() => supervisor.close(), logger);
  await supervisor.ready;
  logger.info(`listening on port ${supervisor.port} (HTTP/1.1) with ${params.workers} workers`, {
    port: supervisor.port,
    workers: params.workers,
    pid: process.pid,
  });
  const close = () => supervisor.close();
  return { server: http.createServer(), port: supervisor.port, close, role: 'primary', supervisor };
}

/** First SIGTERM/SIGINT: graceful shutdown then exit 0. A second one: exit 1 at once. */
function watchSignals(start: (signal: NodeJS.Signals) => Promise<void>, logger: Logger): void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      logger.warn(`${signal} received again; exiting now`);
      process.exit(1);
    }
    received = true;
    debug('signal %s', signal);
    start(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`nexthop: shutdown failed: ${describe(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
