import cluster from 'node:cluster';
import * as http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import type { Application } from 'express';
import { startupContext } from './app';
import { checkOptions, describe, optionNames } from './check-options';
import { getAppContext } from './context';
import { NexthopError } from './errors';
import { ConnectionTracker } from './connections';
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
import { checkMounted } from './router-stack';
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

// appPaths stays known while serve() answers it with its own message.
const KNOWN_OPTIONS = [
  ...optionNames<Omit<ServeOptions, 'appPaths'>>({
    port: true,
    host: true,
    keepAliveTimeout: true,
    headersTimeout: true,
    requestTimeout: true,
    drainDelay: true,
    shutdownTimeout: true,
    handleSignals: true,
    processGuards: true,
    logger: true,
    workers: true,
  }),
  'appPaths',
];

function checkMs(name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(
      `nexthop serve: ${name} must be an integer number of milliseconds, got ${describe(value)}`,
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
  if ('appPaths' in options) {
    throw new TypeError(
      'nexthop serve: appPaths was removed; every request goes through the app at the same speed. ' +
        'Remove the option and mount nextHopProxy() after your routes: app.use(nextHopProxy())',
    );
  }
  const tls = NOT_PLAIN_HTTP.filter((k) => k in options);
  if (tls.length > 0) {
    throw new NexthopError(
      'ERR_NEXTHOP_NOT_PLAIN_HTTP',
      `nexthop serve: option ${tls.map((k) => `"${k}"`).join(', ')} would make the server speak TLS or HTTP/2; ` +
        'the platform terminates TLS at the edge and talks plain HTTP/1.1 to the app on PORT. Remove it.',
    );
  }
  checkOptions('serve', options, KNOWN_OPTIONS);
  const { port } = options;
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port))) {
    throw new TypeError(`nexthop serve: port must be an integer from 0 to 65535, got ${describe(port)}`);
  }
  if (port !== undefined && (port < 0 || port > 65535)) {
    throw new RangeError(`nexthop serve: port must be an integer from 0 to 65535, got ${port}`);
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
 * How long shutdown waits, once the server has closed, for the responses it cut to emit
 * 'close' (so their access lines are written before the logs are flushed). They do so within
 * a turn or two of the event loop; the bound only keeps a stuck response from holding exit.
 */
const RESPONSE_CLOSE_WAIT = 1000;

// Kept on the process, not in this module: two copies of nexthop in one process (a bundle and
// its sources, or test runners' module registries) must not stack a second pair of guards.
const GUARDS = Symbol.for('nexthop.processGuards');

/**
 * Runtime errors must not take the app down (contract rule 7): log them with their stack
 * and keep answering. The trade-off: state the failed code left half-updated stays so.
 * Cluster mode replaces the worker instead.
 */
function installProcessGuards(logger: Logger, retire?: (reason: string) => unknown): void {
  const marked = process as NodeJS.Process & { [GUARDS]?: true };
  if (marked[GUARDS]) return;
  marked[GUARDS] = true;
  const outcome = retire
    ? `worker ${process.env[WORKER_ID_ENV]} hands over to a replacement, finishes its requests and exits`
    : 'the process keeps answering';
  process.on('uncaughtException', (err) => {
    logger.error(`uncaught exception; ${outcome}`, { err: errorText(err), stack: stackOf(err) });
    retire?.('uncaught exception');
  });
  process.on('unhandledRejection', (reason) => {
    logger.error(`unhandled promise rejection; ${outcome}`, {
      err: errorText(reason),
      stack: stackOf(reason),
    });
    retire?.('unhandled promise rejection');
  });
}

function errorText(err: unknown): string {
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

type Timing = ReturnType<typeof validate>;

/** A server made by {@link createServer}, with what shutdown needs of it. */
interface NodeServer {
  readonly server: http.Server;
  readonly connections: ConnectionTracker;
  /** From now on every response says `Connection: close` and each one that ends sweeps idle connections. */
  stop(): void;
}

/** The HTTP/1.1 server for `app`: timeouts, in-flight bookkeeping, upgrades routed to the proxy. */
function createServer(app: Application, timing: Timing): NodeServer {
  const server = http.createServer(serverClassesFor(app));
  server.keepAliveTimeout = timing.keepAliveTimeout;
  server.headersTimeout = timing.headersTimeout;
  server.requestTimeout = timing.requestTimeout;
  const connections = new ConnectionTracker(server);
  let stopping = false;

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
    app(req, res);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const handler = findUpgradeHandler(app, req.url ?? '/');
    if (handler) {
      // Express's request prototype, as the router gives every request: the proxy reads the
      // app's `trust proxy` through req.app, and hooks see req.path and its kin.
      Object.setPrototypeOf(req, (app as unknown as { request: object }).request);
      return handler.upgrade(req, socket, head);
    }
    // Another 'upgrade' listener of the user's (e.g. a ws server) may take it.
    if (server.listenerCount('upgrade') > 1) return;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  return { server, connections, stop: () => void (stopping = true) };
}

/** Graceful shutdown: drain, stop accepting, let in-flight requests finish (or cut them), flush logs. */
async function shutdown(
  target: NodeServer,
  logger: Logger,
  timing: Timing,
  reason: string,
  drainDelay: number,
) {
  const { server, connections } = target;
  logger.info(`${reason}: shutting down`, { drainDelay });
  if (drainDelay > 0) await new Promise((r) => setTimeout(r, drainDelay).unref());
  target.stop();
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

/**
 * Listen, then run `ready(port)` inside the listen callback; resolves with its result, rejects
 * with `ERR_NEXTHOP_LISTEN` and the fix.
 */
function listen<T>(
  server: http.Server,
  port: number,
  host: string | undefined,
  ready: (port: number) => T,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(err, port));
    server.once('error', onError);
    server.listen({ port, host }, () => {
      server.off('error', onError);
      // Synchronously, not in a later .then(): a cluster worker tells the primary it listens
      // right after this callback, and the primary may signal it at once, so the signal
      // handlers must be in place before.
      resolve(ready((server.address() as AddressInfo).port));
    });
  });
}

/**
 * Process guards and signal handling once the server listens. A supervised worker asks the
 * primary for a replacement; a single process shuts down itself.
 */
function guardProcess(
  stop: (reason: string, drainDelay?: number) => Promise<void>,
  logger: Logger,
  options: { supervised: boolean; processGuards: boolean; handleSignals: boolean },
): void {
  const { processGuards, handleSignals } = options;
  if (options.supervised) {
    // A hand-over needs no drain delay: the primary stops routing to a worker that closes.
    const hooks = attachWorker((reason, drain) => stop(reason, drain ? undefined : 0));
    if (processGuards) installProcessGuards(logger, (reason) => hooks.retire(reason));
    if (handleSignals) watchSignals((signal) => hooks.retire(`${signal} received`), logger);
  } else {
    if (processGuards) installProcessGuards(logger);
    if (handleSignals) watchSignals((signal) => stop(`${signal} received`), logger);
  }
}

/**
 * Listen on `PORT` with plain HTTP/1.1 and run the app for the platform: keep-alive
 * timeouts that outlive the front nginx, graceful shutdown on SIGTERM/SIGINT for rolling
 * deploys, process guards, WebSocket upgrades routed to the proxy, logs flushed at exit.
 *
 * Every failure is a rejected promise, never a synchronous throw: bad options (TypeError /
 * RangeError, including a nexthop factory mounted uncalled), a bad environment, a port in
 * use. Left unhandled, the rejection prints one line to stderr and exits with code 1.
 *
 * @example
 * const { port } = await serve(app);
 */
export async function serve(app: Application, options: Readonly<ServeOptions> = {}): Promise<ServeHandle> {
  try {
    return await start(app, options);
  } catch (err) {
    throw startupError(err);
  }
}

function start(app: Application, options: Readonly<ServeOptions>): Promise<ServeHandle> {
  const timing = validate(app, options);
  const warnings = checkMounted(app);
  const context = getAppContext(app) ?? startupContext(options);
  const { config } = context;
  const logger = options.logger ?? context.logger;
  // Once per app: in the primary of a cluster, not again in each worker.
  if (!isSupervisedWorker()) for (const warning of warnings) logger.warn(warning);
  const { handleSignals = true, processGuards = true } = options;
  const workers = resolveWorkers('workers' in options ? options.workers : config.webConcurrency);
  if (workers !== undefined && cluster.isPrimary) {
    return servePrimary({ workers, logger, timing, handleSignals });
  }
  const supervised = isSupervisedWorker();
  const target = createServer(app, timing);
  let closing: Promise<void> | undefined;
  const stop = (reason: string, drainDelay = timing.drainDelay) =>
    (closing ??= shutdown(target, logger, timing, reason, drainDelay));

  return listen(
    target.server,
    options.port ?? config.port,
    options.host ?? config.host,
    (port): ServeHandle => {
      target.server.on('error', (err) =>
        logger.error('server error', { err: errorText(err), stack: stackOf(err) }),
      );
      for (const notice of config.notices) if (options.port === undefined) logger.info(notice);
      logger.info(`listening on port ${port} (HTTP/1.1)`, {
        port,
        keepAliveTimeout: timing.keepAliveTimeout,
        pid: process.pid,
      });
      guardProcess(stop, logger, { supervised, processGuards, handleSignals });
      const close = () => stop('close() called');
      return { server: target.server, port, close, role: supervised ? 'worker' : 'single' };
    },
  );
}

/** The cluster primary: supervise the workers; its close() and signals drain them all. */
async function servePrimary(params: {
  workers: number;
  logger: Logger;
  timing: Timing;
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
        process.stderr.write(`nexthop: shutdown failed: ${errorText(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
