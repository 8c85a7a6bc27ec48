import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { debuglog } from 'node:util';
import type { NextFunction, Request, Response } from 'express';
import type { Dispatcher } from 'undici';
import { NexthopError } from '../../lib/errors';
import { classify, isReset, respondFailure, type UpstreamErrorCode } from './failure';
import { asHookHeaders, responseFields } from './headers';
import type { CompiledOptions, ProxyHeaders, ProxyResponse } from './options';

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

const NO_BODY = new Set([204, 304]);

// undici's codes for a request it refuses to send as given (nothing reached next-hop).
const REFUSED_REQUEST = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/** Where an exchange is found from the response whose shared listeners it uses. */
const kExchange = Symbol('nexthop.exchange');
type Linked = Response & { [kExchange]: Exchange };

/** `res.locals`, created on a plain node response that has none. */
export function localsOf(res: ServerResponse): Locals {
  const holder = res as ServerResponse & { locals?: Locals };
  return (holder.locals ??= {});
}

/** The error handed to `next` when undici refuses the request as middleware left it. */
export function badProxyRequest(err: Error): NexthopError {
  return new NexthopError(
    'ERR_NEXTHOP_BAD_PROXY_REQUEST',
    `nexthop nextHopProxy: the request cannot be sent to next-hop: ${err.message} ` +
      '(a method, path or header value set by middleware or a hook that HTTP forbids)',
    { cause: err },
  );
}

/**
 * One proxied request: undici's dispatch handler (its raw-header interface, the one undici 7
 * runs natively, so no per-request header object is built). Listeners on `res` are shared
 * module functions that find their exchange through a symbol, so a request allocates no closure.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  private abort: ((err?: Error) => void) | undefined = undefined;
  private resume: (() => void) | undefined = undefined;
  private drainHooked = false;
  /** next-hop's response head arrived and was relayed. */
  private responding = false;
  private status = 0;
  private retried = false;
  /** The client connection closed before the response completed. */
  private clientGone = false;
  /** The proxy already answered or cut the client off; later events change nothing. */
  private settled = false;
  private healthTimer: NodeJS.Timeout | undefined = undefined;
  private readonly start = performance.now();
  /** The request body streams from the client (so it cannot be sent twice). */
  private readonly streamed: boolean;

  constructor(
    private readonly c: CompiledOptions,
    private readonly req: Request,
    private readonly res: Response,
    private readonly next: NextFunction | undefined,
    private readonly locals: Locals,
    private readonly options: Dispatcher.DispatchOptions,
    /** The health path: answered 200 by the proxy when next-hop fails or is slow. */
    private readonly health: boolean,
  ) {
    this.streamed = options.body instanceof Readable;
    (res as Linked)[kExchange] = this;
    // First in line, so an access-log listener on 'close' already sees a client abort recorded.
    res.prependListener('close', onClientClose);
    if (health) this.healthTimer = setTimeout(onHealthTimeout, c.healthTimeout, this);
  }

  /** Hand the request to undici's pool. */
  send(): void {
    this.c.upstream.pool.dispatch(this.options, this);
  }

  private elapsed(): number {
    return Math.round((performance.now() - this.start) * 10) / 10;
  }

  onConnect(abort: (err?: Error) => void): void {
    // The client left (or the proxy answered) while the request waited for a connection.
    if (this.settled || this.clientGone) return abort();
    this.abort = abort;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    // Interim answers (103 Early Hints) are not relayed: the final one follows.
    if (status < 200 || this.settled) return true;
    clearTimeout(this.healthTimer);
    this.resume = resume;
    this.status = status;
    let fields = responseFields(raw);
    const hook = this.c.onProxyResponse;
    if (hook !== undefined) {
      const proxyRes: ProxyResponse = { status, headers: asHookHeaders(fields), upgrade: false };
      if (!this.runHook(() => hook(proxyRes, this.req))) return false;
      fields = proxyRes.headers;
    }
    return this.relayHead(status, fields);
  }

  onData(chunk: Buffer): boolean {
    if (this.settled || this.res.write(chunk)) return true;
    // The client reads slower than next-hop sends: undici pauses until `res` drains.
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', onClientDrain);
    }
    return false;
  }

  onComplete(): void {
    if (this.settled) return;
    this.settled = true;
    this.res.end();
  }

  onError(err: NodeJS.ErrnoException): void {
    if (this.settled || this.clientGone) return;
    if (REFUSED_REQUEST.has(err.code ?? '')) return this.toNext(badProxyRequest(err));
    // RFC 9112 §6.3: a 204 or 304 ends with its head, whatever Content-Length announces (a
    // 304 may give its representation's length); undici counts that as a short body.
    if (this.responding && NO_BODY.has(this.status) && err.code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH')
      return this.onComplete();
    if (this.responding) return this.upstreamAborted(classify(err));
    if (
      !this.retried &&
      isReset(err) &&
      this.options.body !== this.req &&
      IDEMPOTENT.has(this.options.method)
    ) {
      // A kept-alive connection next-hop closed as it was reused: the request never reached
      // it, so one whose body is held is sent again, once.
      debug('retrying %s %s after %s', this.options.method, this.options.path, err.code);
      this.retried = true;
      this.abort = undefined;
      return this.send();
    }
    debug('upstream error for %s %s: %s', this.options.method, this.options.path, err.code ?? err.message);
    this.fail(classify(err));
  }

  /** Record next-hop's status and relay its head; false (and a 502) when Node refuses a field. */
  private relayHead(status: number, fields: string[] | OutgoingHttpHeaders | ProxyHeaders): boolean {
    const { res } = this;
    this.responding = true;
    this.locals.nexthopUpstream = { status, ms: this.elapsed() };
    try {
      // next-hop answered before the upload ended (e.g. 413): the rest of the body will not be
      // read, so this client connection cannot carry another request.
      if (this.streamed && !this.req.complete) res.setHeader('Connection', 'close');
      res.writeHead(status, fields as OutgoingHttpHeaders);
      return true;
    } catch (err) {
      debug('cannot relay response headers: %s', (err as Error).message);
      this.responding = false;
      this.fail('ERR_NEXTHOP_UPSTREAM_MALFORMED');
      this.abort?.();
      return false;
    }
  }

  /** Run a user hook; on a throw, abort the exchange and hand the error to `next`. */
  runHook(hook: () => void): boolean {
    try {
      hook();
      return true;
    } catch (err) {
      this.toNext(err);
      return false;
    }
  }

  /** Settle, stop the upstream side, and hand `err` to `next` (or cut a plain response). */
  toNext(err: unknown): void {
    this.settle();
    this.abort?.();
    if (this.next) this.next(err);
    else this.res.destroy(err instanceof Error ? err : undefined);
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.healthTimer);
  }

  /** next-hop failed before its response started: answer 502/504 (200 on the health path). */
  fail(code: UpstreamErrorCode): void {
    this.settle();
    this.locals.nexthopUpstream = { error: code, ms: this.elapsed() };
    if (this.res.headersSent) return void this.res.destroy();
    respondFailure(this.req, this.res, code, this.health);
  }

  /**
   * next-hop's response broke off: abort the client connection so a truncated body never
   * looks complete (no final chunk, or fewer bytes than Content-Length).
   */
  private upstreamAborted(code: UpstreamErrorCode): void {
    this.settle();
    const record = this.locals.nexthopUpstream;
    if (record)
      record.error = code === 'ERR_NEXTHOP_UPSTREAM_TIMEOUT' ? code : 'ERR_NEXTHOP_UPSTREAM_ABORTED';
    debug('upstream response aborted for %s %s', this.options.method, this.options.path);
    this.res.destroy();
  }

  /** The client's 'close' before the response ended: abort the upstream side. */
  clientClosed(): void {
    if (this.res.writableFinished || this.settled) return;
    this.clientGone = true;
    clearTimeout(this.healthTimer);
    const record = this.locals.nexthopUpstream;
    if (record) record.error = 'ERR_NEXTHOP_CLIENT_ABORTED';
    else this.locals.nexthopUpstream = { error: 'ERR_NEXTHOP_CLIENT_ABORTED', ms: this.elapsed() };
    this.abort?.();
  }

  /** The health path's own bound ran out before next-hop's head: answer the probe now. */
  healthTimedOut(): void {
    if (this.responding || this.settled || this.clientGone) return;
    this.fail('ERR_NEXTHOP_UPSTREAM_TIMEOUT');
    this.abort?.();
  }

  clientDrained(): void {
    this.resume?.();
  }
}

function onClientClose(this: Linked): void {
  this[kExchange].clientClosed();
}

function onClientDrain(this: Linked): void {
  this[kExchange].clientDrained();
}

function onHealthTimeout(ex: Exchange): void {
  ex.healthTimedOut();
}
