import type { NextFunction, Request, Response } from 'express';
import { NexthopError } from '../../lib/errors';
import { resendBody } from './body';
import { Exchange, kExchange, localsOf, onClientClose, type Linked } from './exchange';
import { requestHead, type RequestHead } from './headers';
import { sendWithAgent } from './node-client';
import type { CompiledOptions } from './options';
import { PooledExchange } from './pooled-client';

export type { UpstreamRecord } from './exchange';

// Methods Node sends without a body unless told otherwise (no chunked framing by default).
const BODYLESS_BY_DEFAULT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

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
  let ex: Exchange;
  if (c.pool !== undefined) {
    const pooled = new PooledExchange(c, req, res, next, locals, path, head.headers, body);
    pooled.send(body === undefined && head.chunked);
    ex = pooled;
  } else {
    ex = new Exchange(c, req, res, next, locals, path, head.headers, body);
    sendWithAgent(ex);
  }
  (res as Linked<Response>)[kExchange] = ex;
  // First in line, so an access-log listener on 'close' already sees a client abort recorded.
  res.prependListener('close', onClientClose);
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
