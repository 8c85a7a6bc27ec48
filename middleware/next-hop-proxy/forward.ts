import { PassThrough } from 'node:stream';
import type { NextFunction, Request, Response } from 'express';
import type { Dispatcher } from 'undici';
import { NexthopError } from '../../lib/errors';
import { resendBody } from './body';
import { Exchange, localsOf } from './exchange';
import { hookHeaders, requestHead, type RequestHead } from './headers';
import type { CompiledOptions, ProxyHeaders, ProxyRequest } from './options';
import { pathnameOf } from './path';

export type { UpstreamRecord } from './exchange';

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
  const head = requestHead(c, req);
  const body = planBody(req, head);
  if (body instanceof NexthopError) return void (next ? next(body) : res.destroy(body));
  const options: Dispatcher.DispatchOptions = {
    method: req.method as Dispatcher.HttpMethod,
    path,
    headers: head.headers,
    // Through a PassThrough, not `req` itself: undici destroys a body stream when it is done
    // with it, and an IncomingMessage it destroys loses its `socket` (the access log reads it).
    body: body === undefined ? req.pipe(new PassThrough()) : body,
  };
  const health = c.healthPath !== false && pathnameOf(path) === c.healthPath;
  const ex = new Exchange(c, req, res, next, locals, options, health);
  const hook = c.onProxyRequest;
  if (hook !== undefined && !ex.runHook(() => applyRequestHook(hook, options, head, req))) return;
  ex.send();
}

/** Let `onProxyRequest` edit method, path and fields; framing is added back after it. */
function applyRequestHook(
  hook: NonNullable<CompiledOptions['onProxyRequest']>,
  options: Dispatcher.DispatchOptions,
  head: RequestHead,
  req: Request,
): void {
  const length = lengthField(head.headers);
  const proxyReq: ProxyRequest = {
    method: options.method,
    path: options.path,
    headers: hookHeaders(length === -1 ? head.headers : head.headers.slice(0, -2)),
    upgrade: false,
  };
  hook(proxyReq, req);
  const headers: ProxyHeaders = proxyReq.headers;
  if (length !== -1) headers['content-length'] = head.headers[length + 1];
  Object.assign(options, { method: proxyReq.method, path: proxyReq.path, headers });
}

/** Index of the Content-Length the proxy added last, or -1. */
function lengthField(headers: string[]): number {
  const i = headers.length - 2;
  return i >= 0 && headers[i] === 'Content-Length' ? i : -1;
}

/**
 * What body to send, with Content-Length added to `head.headers` for a streamed one: null
 * for none, a Buffer when a parser mounted earlier already read it, undefined to stream `req`
 * (chunked when the client's was).
 */
function planBody(req: Request, head: RequestHead): Buffer | null | undefined | NexthopError {
  const hasBody = head.chunked || (head.contentLength !== undefined && head.contentLength !== '0');
  if (hasBody && (req.readableEnded || req.readableDidRead)) {
    // Send what the parser made of it (a half-read body cannot be rebuilt).
    const resent = req.readableEnded ? resendBody(req, head.contentType) : partlyRead();
    if (resent instanceof NexthopError) return resent;
    if (resent.contentType !== undefined) replaceContentType(head.headers, resent.contentType);
    return resent.bytes;
  }
  if (!hasBody) return null;
  if (!head.chunked) head.headers.push('Content-Length', head.contentLength as string);
  return undefined;
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
