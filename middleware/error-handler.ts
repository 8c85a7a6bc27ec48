import http from 'node:http';
import type { ErrorRequestHandler, Request, Response } from 'express';
import { checkOptions, markFactory, optionNames } from '../lib/check-options';
import { getAppContext } from '../lib/context';
import type { Logger } from '../lib/logger';

/** The part of a logger the error handler writes to (winston's `log(level, message, meta)`). */
export type ErrorLogger = Pick<Logger, 'log'>;

/** Options for {@link errorHandler}. */
export interface ErrorHandlerOptions {
  /**
   * Where the one line per failed request goes.
   * @default the app's logger from createApp, else nothing is logged
   * @example errorHandler({ logger: createLogger({ dir: './logs' }) })
   */
  logger?: ErrorLogger;
  /**
   * Put the stack trace in the response body.
   * @default true only when the app's env (`NODE_ENV`) is `'development'`
   * @example errorHandler({ stack: false })
   */
  stack?: boolean;
}

/** What a client receives, as JSON (`{ error: ErrorBody }`) or as plain text. */
export interface ErrorBody {
  status: number;
  /** The 4xx message, or the generic reason phrase for a 5xx. */
  message: string;
  /** The stable nexthop code (`ERR_NEXTHOP_…`) when the error carries one. */
  code?: string;
  requestId?: string;
  /** Only when `stack` is on (development). */
  stack?: string;
}

interface HttpishError {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  code?: unknown;
  message?: unknown;
  stack?: unknown;
  headers?: unknown;
}

const NO_LOG: ErrorLogger = { log: (() => undefined) as unknown as ErrorLogger['log'] };

// Headers describing the body that was going to be sent: stale once an error body replaces it.
const BODY_HEADERS = [
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-length',
  'content-range',
  'content-type',
  'etag',
  'last-modified',
];

/** `err.status` or `err.statusCode` when it is a 4xx/5xx, else 500 (finalhandler's rule). */
export function statusOf(err: unknown): number {
  const e = (typeof err === 'object' && err !== null ? err : {}) as HttpishError;
  for (const value of [e.status, e.statusCode]) {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 400 && value <= 599) return value;
  }
  return 500;
}

/**
 * Make request data safe to echo in any content type: characters outside a URL-safe set
 * (quotes, angle brackets, controls, non-ASCII) are percent-encoded, and length is capped.
 */
export function escapeEcho(value: string): string {
  const short = value.length > 200 ? `${value.slice(0, 200)}…` : value;
  return short.replace(/[^A-Za-z0-9\-._~/!$()*+,;=:@%?&…]/g, (c) =>
    Array.from(Buffer.from(c), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** The request id: `req.id` (requestId middleware), else the `x-request-id` response header. */
function requestIdOf(req: Request, res: Response): string | undefined {
  const id = (req as { id?: unknown }).id ?? res.getHeader('x-request-id');
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** Build the body for `err`; exported for notFound so both answer in one format. */
export function errorBody(err: unknown, req: Request, res: Response, withStack: boolean): ErrorBody {
  const e = (typeof err === 'object' && err !== null ? err : {}) as HttpishError;
  const status = statusOf(err);
  const expose = typeof e.expose === 'boolean' ? e.expose : status < 500;
  const message =
    expose && typeof e.message === 'string' && e.message ? e.message : http.STATUS_CODES[status];
  const body: ErrorBody = { status, message: message ?? 'Error' };
  if (typeof e.code === 'string' && e.code.startsWith('ERR_NEXTHOP_')) body.code = e.code;
  const requestId = requestIdOf(req, res);
  if (requestId) body.requestId = requestId;
  if (withStack && typeof e.stack === 'string') body.stack = e.stack;
  return body;
}

/**
 * Send `body` as JSON when the client prefers it (`Accept: application/json`), else as
 * plain text. Headers from a 4xx error (`err.headers`, e.g. `Retry-After`) are kept.
 */
export function sendErrorBody(req: Request, res: Response, body: ErrorBody, err?: unknown): void {
  for (const name of BODY_HEADERS) res.removeHeader(name);
  const headers = (err as HttpishError | undefined)?.headers;
  if (body.status < 500 && typeof headers === 'object' && headers !== null) {
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value === 'string' || typeof value === 'number') res.setHeader(name, value);
    }
  }
  res.statusCode = body.status;
  res.setHeader('Content-Security-Policy', "default-src 'none'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'no-store');
  const json = req.accepts(['text', 'json']) === 'json';
  const text = json
    ? JSON.stringify({ error: body })
    : `${body.status} ${body.message}\n` +
      (body.code ? `code: ${body.code}\n` : '') +
      (body.requestId ? `request id: ${body.requestId}\n` : '') +
      (body.stack ? `\n${body.stack}\n` : '');
  res.setHeader('Content-Type', json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(req.method === 'HEAD' ? undefined : text);
}

const KNOWN_OPTIONS = optionNames<ErrorHandlerOptions>({ logger: true, stack: true });

function checkHandlerOptions(name: string, options: unknown): Readonly<ErrorHandlerOptions> {
  checkOptions(name, options, KNOWN_OPTIONS);
  const { logger, stack } = options as ErrorHandlerOptions;
  if (logger !== undefined && typeof (logger as { log?: unknown })?.log !== 'function') {
    throw new TypeError(
      `nexthop ${name}: logger must have a log(level, message, meta) method, e.g. a winston logger`,
    );
  }
  if (stack !== undefined && typeof stack !== 'boolean') {
    throw new TypeError(`nexthop ${name}: stack must be a boolean, got ${typeof stack}`);
  }
  return options as ErrorHandlerOptions;
}

/** Resolve the logger and stack setting once per app (they depend on `req.app`). */
export function compileForApp(name: string, options: unknown) {
  const { logger, stack } = checkHandlerOptions(name, options);
  return {
    loggerFor(req: Request): ErrorLogger {
      return logger ?? getAppContext(req.app)?.logger ?? NO_LOG;
    },
    stackFor(req: Request): boolean {
      return stack ?? req.app.get('env') === 'development';
    },
  };
}

/**
 * The app's last middleware: turns any error (sync throw, rejected promise of an async
 * handler, `next(err)`, a kit `NexthopError`) into one response and one log line.
 *
 * - status from `err.status`/`err.statusCode` when 4xx/5xx, else 500;
 * - 4xx (or `err.expose === true`) keep their message, 5xx get the reason phrase;
 * - JSON when `Accept` prefers it, else text; stack only in development;
 * - the request id in the body and the log line;
 * - headers already sent: the socket is destroyed, so the client sees a broken response
 *   rather than a truncated one that looks whole.
 *
 * @example
 * app.use(nextHopProxy());
 * app.use(errorHandler());
 */
export function errorHandler(
  options: Readonly<ErrorHandlerOptions> = {},
  _notMiddleware?: never,
): ErrorRequestHandler {
  const compiled = compileForApp('errorHandler', options);
  return function errorHandlerMiddleware(err: unknown, req: Request, res: Response, _next: unknown): void {
    const withStack = compiled.stackFor(req);
    const body = errorBody(err, req, res, withStack);
    const stack = (err as HttpishError | undefined)?.stack;
    compiled.loggerFor(req).log(body.status >= 500 ? 'error' : 'info', 'request failed', {
      status: body.status,
      method: req.method,
      url: req.originalUrl,
      requestId: body.requestId,
      code: body.code,
      err: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      stack: body.status >= 500 && typeof stack === 'string' ? stack : undefined,
    });
    if (res.headersSent) {
      // A second status line cannot be sent; cutting the connection is the only honest signal.
      req.socket.destroy();
      return;
    }
    sendErrorBody(req, res, body, err);
  };
}

markFactory('errorHandler', errorHandler);
