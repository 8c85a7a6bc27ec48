import { IncomingMessage } from 'node:http';
import type { Agent } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { forward } from './forward';
import { compileOptions, type NextHopProxyOptions } from './options';
import { upstreamPath } from './path';
import type { PoolStats as UpstreamSockets } from './pool';
import { proxyUpgrade } from './upgrade';

export { DEFAULTS as NEXT_HOP_PROXY_DEFAULTS, HEALTH_PATH } from './options';
export type { NextHopProxyOptions } from './options';
export type { PathFilter } from './path';
export type { UpstreamRecord } from './forward';
export type { PoolStats as UpstreamSockets } from './pool';
export type { UpstreamErrorCode } from './failure';

/** The middleware `nextHopProxy()` returns: a request handler that also takes upgrades. */
export interface NextHopProxyHandler extends RequestHandler {
  /**
   * Proxy an `Upgrade` request (WebSocket and others) to next-hop. `serve()` calls it from
   * the server's `upgrade` event for the path this middleware is mounted on.
   * @example server.on('upgrade', (req, socket, head) => proxy.upgrade(req, socket, head));
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * node:http's keep-alive agent to next-hop: it carries upgrades, and plain requests too
   * when a hook (`onProxyRequest` / `onProxyResponse`) or your own `agent` is set.
   */
  readonly agent: Agent;
  /**
   * How many connections to next-hop are in use, idle (kept alive) and waited for, over
   * whichever client carries plain requests (upgrades, once switched, are not counted).
   * @example const { busy, idle, queued } = proxy.upstreamSockets();
   */
  upstreamSockets(): UpstreamSockets;
}

function count(lists: NodeJS.ReadOnlyDict<readonly unknown[]>): number {
  let n = 0;
  for (const key of Object.keys(lists)) n += lists[key]?.length ?? 0;
  return n;
}

function agentStats(agent: Agent): UpstreamSockets {
  return { busy: count(agent.sockets), idle: count(agent.freeSockets), queued: count(agent.requests) };
}

function isRequest(value: unknown): boolean {
  return value instanceof IncomingMessage;
}

/**
 * Send everything the app does not answer itself to next-hop (`NEXT_HOP`, default
 * `http://next-hop:80`), streaming both ways over kept-alive connections. Mount it after
 * your routes. Method, path and query go as the client sent them, wherever it is mounted;
 * Host is kept; X-Forwarded-Proto stays one value (`forceHttps` makes it `https`);
 * True-Client-IP is kept or set; hop-by-hop fields are removed both ways. Failures answer
 * 502/504 with a short body (`ERR_NEXTHOP_UPSTREAM_*` codes), except on the platform health
 * path, answered 200. Each response records `res.locals.nexthopUpstream` for the access log.
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
export function nextHopProxy(options: Readonly<NextHopProxyOptions> = {}): NextHopProxyHandler {
  if (isRequest(options)) {
    throw new TypeError(
      'nexthop nextHopProxy: it looks like you did app.use(nextHopProxy); call the factory: app.use(nextHopProxy())',
    );
  }
  const compiled = compileOptions(options);
  const { filter } = compiled;

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
    return compiled.pool?.stats() ?? agentStats(compiled.agent);
  }

  return Object.assign(nextHopProxyMiddleware, { upgrade, agent: compiled.agent, upstreamSockets });
}
