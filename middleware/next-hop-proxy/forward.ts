import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { NextFunction, Request, Response } from 'express';
import createDebug from 'debug';
import { NexthopError } from '../../lib/errors';
import { resendBody } from './body';
import { classify, respondFailure, type UpstreamErrorCode } from './failure';
import {
  editedResponseHeaders,
  headerObject,
  requestHead,
  responseHeaders,
  type RequestHead,
} from './headers';
import type { CompiledOptions } from './options';
import { pathnameOf } from './path';

const debug = createDebug('nexthop:proxy');

/** What the proxy records on `res.locals.nexthopUpstream` for the access log. */
export interface UpstreamRecord {
  /** next-hop's response status, once its headers arrived. */
  status?: number;
  /** Ms from the start of the exchange to next-hop's response headers (or to the failure). */
  ms?: number;
  /** The error code when the exchange failed or was cut short. */
  error?: UpstreamErrorCode;
}

type Locals = Record<string, unknown> & { nexthopUpstream?: UpstreamRecord };

// Methods whose request may be sent twice (RFC 9110 §9.2.2).
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

// Methods Node sends without a body unless told otherwise (no chunked framing by default).
const BODYLESS_BY_DEFAULT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

const kExchange = Symbol('nexthop.exchange');
type Linked<T> = T & { [kExchange]: Exchange };

/**
 * One proxied request. Listeners are shared module functions that find their exchange
 * through a symbol on the emitter, so a request allocates no closures.
 */
class Exchange {
  proxyReq: ClientRequest | undefined = undefined;
  proxyRes: IncomingMessage | undefined = undefined;
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
}

function localsOf(res: ServerResponse): Locals {
  const holder = res as ServerResponse & { locals?: Locals };
  return (holder.locals ??= {});
}

/**
 * Forward `req` to next-hop and stream the answer back. Works on Express's req/res and on
 * plain Node ones (then `res.locals` is created).
 */
export function forward(
  c: CompiledOptions,
  req: Request,
  res: Response,
  next: NextFunction | undefined,
  path: string,
): void {
  const locals = localsOf(res);
  // Before any upstream header is written: securityHeaders leaves proxied responses alone.
  locals.nexthopProxied = true;
  if (res.destroyed || req.socket?.destroyed) {
    // The client left while earlier middleware ran: nothing to fetch for it.
    locals.nexthopUpstream = { error: 'ERR_NEXTHOP_CLIENT_ABORTED', ms: 0 };
    return;
  }
  const head = requestHead(c, req, false);
  const body = planBody(req, head);
  if (body instanceof NexthopError) return void (next ? next(body) : res.destroy(body));
  const ex = new Exchange(c, req, res, next, locals, path, head.headers, body);
  (res as Linked<Response>)[kExchange] = ex;
  // First in line, so an access-log listener on 'close' already sees a client abort recorded.
  res.prependListener('close', onClientClose);
  send(ex);
}

/**
 * What body to send, with its framing field added to `head.headers`: null for none, a
 * Buffer when a parser mounted earlier already read it, undefined to stream `req`.
 */
function planBody(req: Request, head: RequestHead): Buffer | null | undefined | NexthopError {
  const hasBody = head.chunked || (head.contentLength !== undefined && head.contentLength !== '0');
  if (hasBody && (req.readableEnded || req.readableDidRead)) {
    // Send what the parser made of it (a half-read body cannot be rebuilt).
    const resent = req.readableEnded ? resendBody(req, head.contentType) : partlyRead();
    if (resent instanceof NexthopError) return resent;
    if (resent.contentType !== undefined) replaceContentType(head.headers, resent.contentType);
    head.headers.push('Content-Length', String(resent.bytes.length));
    return resent.bytes;
  }
  if (hasBody) {
    if (head.chunked) head.headers.push('Transfer-Encoding', 'chunked');
    else head.headers.push('Content-Length', head.contentLength as string);
    return undefined;
  }
  // Said explicitly: Node would frame an empty POST/PUT/PATCH as chunked.
  if (head.contentLength !== undefined || !BODYLESS_BY_DEFAULT.has(req.method))
    head.headers.push('Content-Length', '0');
  return null;
}

function partlyRead(): NexthopError {
  return new NexthopError(
    'ERR_NEXTHOP_BODY_CONSUMED',
    'nexthop nextHopProxy: middleware mounted earlier started reading the request body without finishing it, ' +
      'so it cannot be proxied; let nextHopProxy() read bodies it proxies',
  );
}

function replaceContentType(headers: string[], value: string): void {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].toLowerCase() === 'content-type') headers[i + 1] = value;
}

function send(ex: Exchange): void {
  const { c, req } = ex;
  const proxyReq = request({
    agent: c.agent,
    host: c.host,
    port: c.port,
    method: req.method,
    path: ex.path,
    // A flat list is written as is, in one go; a hook needs the object form to edit it.
    headers: c.onProxyRequest === undefined ? ex.headers : headerObject(ex.headers),
    setHost: false,
    timeout: c.timeout,
  }) as Linked<ClientRequest>;
  proxyReq[kExchange] = ex;
  ex.proxyReq = proxyReq;
  proxyReq.on('response', onUpstreamResponse);
  proxyReq.on('error', onUpstreamError);
  proxyReq.on('timeout', onUpstreamTimeout);
  if (c.onProxyRequest !== undefined && !runHook(ex, () => c.onProxyRequest?.(proxyReq, req))) return;
  if (ex.body === undefined) req.pipe(proxyReq);
  else proxyReq.end(ex.body ?? undefined);
}

/** Run a user hook; on a throw, abort the exchange and hand the error to `next`. */
function runHook(ex: Exchange, hook: () => void): boolean {
  try {
    hook();
    return true;
  } catch (err) {
    ex.settled = true;
    ex.proxyReq?.destroy();
    if (ex.next) ex.next(err);
    else ex.res.destroy(err instanceof Error ? err : undefined);
    return false;
  }
}

function onUpstreamResponse(this: Linked<ClientRequest>, proxyRes: IncomingMessage): void {
  const ex = this[kExchange];
  if (ex.settled || ex.clientGone) return void this.destroy();
  const { res } = ex;
  ex.proxyRes = proxyRes;
  ex.locals.nexthopUpstream = { status: proxyRes.statusCode, ms: ex.elapsed() };
  const hook = ex.c.onProxyResponse;
  if (hook !== undefined && !runHook(ex, () => hook(proxyRes, ex.req, res))) return;
  // next-hop answered before the upload ended (e.g. 413): the rest of the body will not be
  // read, so this client connection cannot carry another request.
  if (ex.body === undefined && !ex.req.complete) res.setHeader('Connection', 'close');
  try {
    res.writeHead(
      proxyRes.statusCode ?? 502,
      hook === undefined ? responseHeaders(proxyRes) : editedResponseHeaders(proxyRes),
    );
  } catch (err) {
    // A field Node refuses to write (invalid characters): the response cannot be relayed.
    debug('cannot relay response headers: %s', (err as Error).message);
    ex.proxyRes = undefined;
    this.destroy();
    return fail(ex, 'ERR_NEXTHOP_UPSTREAM');
  }
  (proxyRes as Linked<IncomingMessage>)[kExchange] = ex;
  proxyRes.on('close', onUpstreamResponseClose);
  proxyRes.pipe(res);
}

function onUpstreamResponseClose(this: Linked<IncomingMessage>): void {
  if (this.complete) return;
  const ex = this[kExchange];
  if (ex.clientGone || ex.settled) return;
  // next-hop's response broke off: abort the client connection so a truncated body
  // never looks complete (no final chunk, or fewer bytes than Content-Length).
  ex.settled = true;
  const record = ex.locals.nexthopUpstream;
  if (record) record.error = ex.timedOut ? 'ERR_NEXTHOP_UPSTREAM_TIMEOUT' : 'ERR_NEXTHOP_UPSTREAM_ABORTED';
  debug('upstream response aborted for %s %s', ex.req.method, ex.path);
  ex.res.destroy();
}

function canRetry(ex: Exchange, proxyReq: ClientRequest, err: NodeJS.ErrnoException): boolean {
  // A keep-alive socket the upstream closed just as we reused it: the request never
  // reached it, so an idempotent request whose body we hold can safely go again, once.
  return (
    !ex.retried &&
    proxyReq.reusedSocket &&
    err.code === 'ECONNRESET' &&
    ex.body !== undefined &&
    IDEMPOTENT.has(ex.req.method)
  );
}

function onUpstreamError(this: Linked<ClientRequest>, err: NodeJS.ErrnoException): void {
  const ex = this[kExchange];
  if (ex.proxyReq !== this || ex.settled || ex.clientGone || ex.proxyRes !== undefined) return;
  if (canRetry(ex, this, err)) {
    debug('retrying %s %s after a reset on a reused socket', ex.req.method, ex.path);
    ex.retried = true;
    return send(ex);
  }
  debug('upstream error for %s %s: %s', ex.req.method, ex.path, err.code ?? err.message);
  fail(ex, ex.timedOut ? 'ERR_NEXTHOP_UPSTREAM_TIMEOUT' : classify(err));
}

function onUpstreamTimeout(this: Linked<ClientRequest>): void {
  const ex = this[kExchange];
  if (ex.proxyRes?.complete) return;
  ex.timedOut = true;
  const err = new Error(`next-hop was silent for ${ex.c.timeout} ms`) as NodeJS.ErrnoException;
  err.code = 'ETIMEDOUT';
  this.destroy(err);
}

function fail(ex: Exchange, code: UpstreamErrorCode): void {
  ex.settled = true;
  ex.locals.nexthopUpstream = { error: code, ms: ex.elapsed() };
  const { req, res, c } = ex;
  if (res.headersSent) return void res.destroy();
  if (ex.body === undefined) req.unpipe();
  const health = c.healthPath !== false && pathnameOf(ex.path) === c.healthPath;
  respondFailure(req, res, code, health);
}

function onClientClose(this: Linked<Response>): void {
  const ex = this[kExchange];
  if (this.writableFinished || ex.settled) return;
  // The client went away: abort the upstream request so its socket is released, not
  // left streaming into nowhere.
  ex.clientGone = true;
  const record = ex.locals.nexthopUpstream;
  if (record) record.error = 'ERR_NEXTHOP_CLIENT_ABORTED';
  else ex.locals.nexthopUpstream = { error: 'ERR_NEXTHOP_CLIENT_ABORTED', ms: ex.elapsed() };
  ex.proxyReq?.destroy();
}
