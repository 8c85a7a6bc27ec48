import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { checkCalled, markFactory, markMiddleware } from '../../lib/check-options';
import { forward } from './forward';
import { compileOptions, type NextHopProxyOptions } from './options';
import { upstreamPath } from './path';
import { proxyUpgrade } from './upgrade';

export { DEFAULTS as NEXT_HOP_PROXY_DEFAULTS, HEALTH_PATH } from './options';
export type { NextHopProxyOptions, ProxyHeaders, ProxyRequest, ProxyResponse } from './options';
export type { PathFilter } from './path';
export type { UpstreamRecord } from './forward';
export type { UpstreamErrorCode } from './failure';

/** Counts of the proxy's connections to next-hop and of the requests waiting for one. */
export interface UpstreamSockets {
  /** Connections carrying a request. */
  readonly busy: number;
  /** Kept-alive connections waiting for the next request. */
  readonly idle: number;
  /** Requests not yet sent: waiting for a free connection, or for one being opened. */
  readonly queued: number;
}

/** The middleware `nextHopProxy()` returns: a request handler that also takes upgrades. */
export interface NextHopProxyHandler extends RequestHandler {
  /**
   * Proxy an `Upgrade` request (WebSocket and others) to next-hop. `serve()` calls it from
   * the server's `upgrade` event for the path this middleware is mounted on.
   * @example server.on('upgrade', (req, socket, head) => proxy.upgrade(req, socket, head));
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * How many connections to next-hop carry a request, are idle (kept alive), and how many
   * requests wait to be sent (upgrades, once switched, are not counted). Read from undici's
   * pool statistics.
   * @example const { busy, idle, queued } = proxy.upstreamSockets();
   */
  upstreamSockets(): UpstreamSockets;
  /**
   * Close the kept-alive connections to next-hop once the requests in flight are answered
   * (undici's `pool.close()`); later requests fail with 502. For tests and embedders that
   * stop without exiting; `serve()` needs no call (idle connections never hold the process).
   * @example await proxy.close();
   */
  close(): Promise<void>;
}

/**
 * Send everything the app does not answer itself to next-hop (`NEXT_HOP`, default
 * `http://next-hop:80`) over undici's keep-alive pool, streaming both ways. Mount it after
 * your routes. Method, path and query go as the client sent them, wherever it is mounted;
 * Host is kept; X-Forwarded-Proto is the scheme the app trusts (`forceHttps` makes it
 * `https`); True-Client-IP is `req.clientIp`; hop-by-hop fields are removed both ways.
 * Failures answer 502/504 with a short body (`ERR_NEXTHOP_UPSTREAM_*` codes), except on the
 * platform health path, answered 200. Each response records `res.locals.nexthopUpstream`.
 *
 * Throws at creation: `NexthopError` `ERR_NEXTHOP_NOT_PLAIN_HTTP` for an https: target,
 * `TypeError`/`RangeError` for other bad options.
 *
 * @example
 * const app = createApp();
 * app.get('/hello', (req, res) => res.send('hi'));
 * app.use(nextHopProxy());            // everything else goes to next-hop
 * serve(app);                         // also routes WebSocket upgrades to it
 */
export function nextHopProxy(
  options: Readonly<NextHopProxyOptions> = {},
  _notMiddleware?: never,
): NextHopProxyHandler {
  checkCalled('nextHopProxy', options);
  const compiled = compileOptions(options);
  const { filter, upstream } = compiled;

  function nextHopProxyMiddleware(req: Request, res: Response, next: NextFunction): void {
    // originalUrl: Express strips the mount path from req.url; next-hop gets the full path.
    const path = upstreamPath(req.originalUrl ?? req.url);
    if (filter !== undefined && !filter(path, req)) return next();
    forward(compiled, req, res, next, path);
  }

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    proxyUpgrade(compiled, req, socket, head);
  }

  function upstreamSockets(): UpstreamSockets {
    const { connected, free, pending } = upstream.stats();
    return { busy: connected - free, idle: free, queued: pending };
  }

  const close = (): Promise<void> => upstream.close();
  return markMiddleware(Object.assign(nextHopProxyMiddleware, { upgrade, upstreamSockets, close }), {
    factory: 'nextHopProxy',
    filtered: filter !== undefined,
  });
}

markFactory('nextHopProxy', nextHopProxy);
