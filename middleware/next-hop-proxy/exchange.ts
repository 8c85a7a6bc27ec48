import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { debuglog } from 'node:util';
import type { NextFunction, Request, Response } from 'express';
import { classify, respondFailure, type UpstreamErrorCode } from './failure';
import type { CompiledOptions } from './options';
import { pathnameOf } from './path';
import type { UpstreamConnection } from './pool';

const debug = debuglog('nexthop:proxy');

/** What the proxy records on `res.locals.nexthopUpstream` for the access log. */
export interface UpstreamRecord {
  /** next-hop's response status, once its headers arrived. */
  status?: number;
  /** Ms from the start of the exchange to next-hop's response headers (or to the failure). */
  ms?: number;
  /** The error code when the exchange failed or was cut short. */
  error?: UpstreamErrorCode;
}

export type Locals = Record<string, unknown> & { nexthopUpstream?: UpstreamRecord };

// Methods whose request may be sent twice (RFC 9110 §9.2.2).
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Where an exchange is found from the emitters whose shared listeners it uses. */
export const kExchange = Symbol('nexthop.exchange');
export type Linked<T, E = Exchange> = T & { [kExchange]: E };

/**
 * One proxied request, whichever client carries it. Listeners are shared module functions
 * that find their exchange through a symbol on the emitter, so a request allocates no closures.
 */
export class Exchange {
  /** node:http's client (hooks or a user agent). */
  proxyReq: ClientRequest | undefined = undefined;
  proxyRes: IncomingMessage | undefined = undefined;
  /** The proxy's own client. */
  conn: UpstreamConnection | undefined = undefined;
  /** next-hop's response head arrived and was relayed. */
  responding = false;
  retried = false;
  /** The client connection closed before the response completed. */
  clientGone = false;
  /** The proxy already answered or cut the client off; later events change nothing. */
  settled = false;
  timedOut = false;
  readonly start = performance.now();

  constructor(
    readonly c: CompiledOptions,
    readonly req: Request,
    readonly res: Response,
    readonly next: NextFunction | undefined,
    readonly locals: Locals,
    readonly path: string,
    readonly headers: string[],
    /** null: no body; Buffer: a body to send in one piece; undefined: stream `req`. */
    readonly body: Buffer | null | undefined,
  ) {}

  elapsed(): number {
    return Math.round((performance.now() - this.start) * 10) / 10;
  }

  /** Stop whatever is under way upstream: the request in flight, or its place in the queue. */
  abortUpstream(): void {
    this.proxyReq?.destroy();
    if (this.conn !== undefined) this.conn.destroy();
    else this.c.pool?.abandon(this);
  }
}

/** `res.locals`, created on a plain node response that has none. */
export function localsOf(res: ServerResponse): Locals {
  const holder = res as ServerResponse & { locals?: Locals };
  return (holder.locals ??= {});
}

/**
 * A keep-alive connection the upstream closed just as it was reused (reset, or a write to
 * its closed end): the request never reached it, so an idempotent request whose body is
 * held can safely go again, once.
 */
export function canRetry(ex: Exchange, reusedSocket: boolean, err: NodeJS.ErrnoException): boolean {
  return (
    !ex.retried &&
    reusedSocket &&
    (err.code === 'ECONNRESET' || err.code === 'EPIPE') &&
    ex.body !== undefined &&
    IDEMPOTENT.has(ex.req.method)
  );
}

/** Run a user hook; on a throw, abort the exchange and hand the error to `next`. */
export function runHook(ex: Exchange, hook: () => void): boolean {
  try {
    hook();
    return true;
  } catch (err) {
    ex.settled = true;
    ex.abortUpstream();
    if (ex.next) ex.next(err);
    else ex.res.destroy(err instanceof Error ? err : undefined);
    return false;
  }
}

/** next-hop failed before its response started: answer 502/504 (200 on the health path). */
export function fail(ex: Exchange, code: UpstreamErrorCode): void {
  ex.settled = true;
  ex.locals.nexthopUpstream = { error: code, ms: ex.elapsed() };
  const { req, res, c } = ex;
  if (res.headersSent) return void res.destroy();
  if (ex.body === undefined) req.unpipe();
  const health = c.healthPath !== false && pathnameOf(ex.path) === c.healthPath;
  respondFailure(req, res, code, health);
}

/** The upstream failed with `err` before its response: try again when safe, else answer. */
export function failBeforeResponse(ex: Exchange, reusedSocket: boolean, err: NodeJS.ErrnoException): boolean {
  if (canRetry(ex, reusedSocket, err)) {
    debug('retrying %s %s after a reset on a reused socket', ex.req.method, ex.path);
    ex.retried = true;
    return true;
  }
  debug('upstream error for %s %s: %s', ex.req.method, ex.path, err.code ?? err.message);
  fail(ex, ex.timedOut ? 'ERR_NEXTHOP_UPSTREAM_TIMEOUT' : classify(err));
  return false;
}

/**
 * next-hop's response broke off: abort the client connection so a truncated body never
 * looks complete (no final chunk, or fewer bytes than Content-Length).
 */
export function upstreamAborted(ex: Exchange, timedOut: boolean): void {
  if (ex.clientGone || ex.settled) return;
  ex.settled = true;
  const record = ex.locals.nexthopUpstream;
  if (record) record.error = timedOut ? 'ERR_NEXTHOP_UPSTREAM_TIMEOUT' : 'ERR_NEXTHOP_UPSTREAM_ABORTED';
  debug('upstream response aborted for %s %s', ex.req.method, ex.path);
  ex.res.destroy();
}

/** Record next-hop's status and relay its head; false (and a 502) when Node refuses a field. */
export function relayHead(ex: Exchange, status: number, headers: string[] | OutgoingHttpHeaders): boolean {
  const { res } = ex;
  ex.responding = true;
  ex.locals.nexthopUpstream = { status, ms: ex.elapsed() };
  try {
    // next-hop answered before the upload ended (e.g. 413): the rest of the body will not be
    // read, so this client connection cannot carry another request.
    if (ex.body === undefined && !ex.req.complete) res.setHeader('Connection', 'close');
    res.writeHead(status, headers);
    return true;
  } catch (err) {
    // A field Node refuses to write (invalid characters): the response cannot be relayed.
    debug('cannot relay response headers: %s', (err as Error).message);
    ex.responding = false;
    fail(ex, 'ERR_NEXTHOP_UPSTREAM');
    return false;
  }
}

/** The client's 'close': when it came before the response ended, abort the upstream side. */
export function onClientClose(this: Linked<Response>): void {
  const ex = this[kExchange];
  if (this.writableFinished || ex.settled) return;
  // The client went away: abort the upstream request so its socket is released, not
  // left streaming into nowhere.
  ex.clientGone = true;
  const record = ex.locals.nexthopUpstream;
  if (record) record.error = 'ERR_NEXTHOP_CLIENT_ABORTED';
  else ex.locals.nexthopUpstream = { error: 'ERR_NEXTHOP_CLIENT_ABORTED', ms: ex.elapsed() };
  ex.abortUpstream();
}
