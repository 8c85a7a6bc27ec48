import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import type { Pool } from 'undici';
import { unknownOption } from '../../lib/check-options';
import { loadConfig } from '../../lib/config';
import { NexthopError } from '../../lib/errors';
import { HEALTH_PATH } from '../../lib/platform';
import { compilePathFilter, type PathFilter, type PathMatcher } from './path';

/** The platform's health-check path, probed through the whole module chain. */
export { HEALTH_PATH };

/**
 * Header fields as the hooks see and edit them: lowercase names; a string, or an array for
 * a field that is repeated (`set-cookie` is always an array).
 */
export type ProxyHeaders = Record<string, string | string[]>;

/** The request about to go to next-hop, as `onProxyRequest` may edit it. */
export interface ProxyRequest {
  /** The method sent upstream. */
  method: string;
  /** Path and query sent upstream, starting with `/` (the host is always the target's). */
  path: string;
  /**
   * The upstream fields after the proxy's header rules; set, change or delete entries.
   * Body framing (`Content-Length`) is added after the hook.
   */
  headers: ProxyHeaders;
  /** True for an `Upgrade` request (WebSocket). */
  readonly upgrade: boolean;
}

/** next-hop's response head, as `onProxyResponse` may edit it before it is relayed. */
export interface ProxyResponse {
  /** next-hop's status (101 for an accepted upgrade). */
  readonly status: number;
  /** The response fields, hop-by-hop fields already removed; set, change or delete entries. */
  headers: ProxyHeaders;
  /** True for the answer to an `Upgrade` request. */
  readonly upgrade: boolean;
}

/** Options for {@link nextHopProxy}. Every field is optional. */
export interface NextHopProxyOptions {
  /**
   * Where requests go: an `http:` origin (scheme, host, port; no path). `https:` is refused:
   * the platform contract wants plain HTTP to next-hop (use `forceHttps` instead).
   * @default loadConfig().nextHop — the `NEXT_HOP` variable, else 'http://next-hop:80'
   * @example nextHopProxy({ target: 'http://127.0.0.1:9000' })
   */
  target?: string | URL;
  /**
   * Send `X-Forwarded-Proto: https` upstream whatever the client used, so the platform
   * fetches the origin over HTTPS.
   * @default false (the scheme the app trusts: `req.proto`, else `https` only from a trusted peer)
   * @example nextHopProxy({ forceHttps: true })
   */
  forceHttps?: boolean;
  /**
   * Append the connecting peer's address to `X-Forwarded-For` (as nginx's
   * `$proxy_add_x_forwarded_for` does). `false` passes the header on untouched.
   * @default true
   * @example nextHopProxy({ xForwardedFor: false })
   */
  xForwardedFor?: boolean;
  /**
   * Ms next-hop may take to send its response head once the request is sent, and the
   * longest silence allowed between response body bytes (undici's `headersTimeout` and
   * `bodyTimeout`). Before the response starts, running out answers 504
   * `ERR_NEXTHOP_UPSTREAM_TIMEOUT`; after, the client connection is aborted.
   * @default 60000
   * @example nextHopProxy({ timeout: 5000 })
   */
  timeout?: number;
  /**
   * Ms allowed to resolve next-hop and open a TCP connection to it (504 when exceeded).
   * @default 5000
   * @example nextHopProxy({ connectTimeout: 1000 })
   */
  connectTimeout?: number;
  /**
   * Most connections open to next-hop at once; further requests wait for a free one.
   * @default 256
   * @example nextHopProxy({ connections: 64 })
   */
  connections?: number;
  /**
   * Ms an idle kept-alive connection to next-hop is kept before it is closed. Keep it below
   * next-hop's own idle timeout (Node servers: 5 s) so next-hop never closes a connection
   * the proxy is about to reuse. A `Keep-Alive: timeout=N` hint from next-hop shortens it
   * to N − 1 s; it never lengthens it.
   * @default 4000
   * @example nextHopProxy({ keepAliveTimeout: 2000 })
   */
  keepAliveTimeout?: number;
  /**
   * Proxy only some paths; others go to `next()`. Matched against the path as the client
   * sent it (mount path included, query excluded). A string (or array of strings) is a
   * path prefix on segment boundaries (`'/api'` takes `/api` and `/api/x`, not `/apix`);
   * a string with glob characters is a picomatch glob, and one starting with `!` excludes
   * what it matches; a function decides per request.
   * @default every path
   * @example nextHopProxy({ pathFilter: ['/shop', '/assets/**', '!/assets/private/**'] })
   */
  pathFilter?: PathFilter;
  /**
   * Path the platform health check probes. It is proxied like any path, but when next-hop
   * cannot be reached, fails or is slower than `healthTimeout`, the proxy answers it itself
   * with 200, never a 5xx (a 5xx there makes the platform pull this instance for someone
   * else's outage). `false` turns this off.
   * @default '/.well-known/section-io/aee-hc/healthz'
   * @example nextHopProxy({ healthPath: false })
   */
  healthPath?: string | false;
  /**
   * Ms the health path waits for next-hop's response head (queue and connect included)
   * before the proxy answers the probe itself with 200.
   * @default 3000
   * @example nextHopProxy({ healthTimeout: 1000 })
   */
  healthTimeout?: number;
  /**
   * Called before the request goes upstream (plain requests and upgrades): edit
   * `proxyReq.method`, `.path` or `.headers`. `req` is the client's request (for an
   * upgrade, Node's request from the server's `upgrade` event). An exception goes to
   * `next(err)` (an upgrade is answered 500).
   * @default none
   * @example
   * nextHopProxy({ onProxyRequest: (proxyReq) => { delete proxyReq.headers.cookie; } })
   */
  onProxyRequest?: (proxyReq: ProxyRequest, req: Request) => void;
  /**
   * Called when next-hop's response head arrives, before it is written to the client:
   * edit `proxyRes.headers`. `req.res` is the Express response (absent for an upgrade).
   * An exception goes to `next(err)` (an upgrade is answered 500).
   * @default none
   * @example
   * nextHopProxy({ onProxyResponse: (proxyRes) => { proxyRes.headers['cache-control'] = 'no-store'; } })
   */
  onProxyResponse?: (proxyRes: ProxyResponse, req: Request) => void;
}

/** Each default written once. */
export const DEFAULTS = {
  forceHttps: false,
  xForwardedFor: true,
  timeout: 60_000,
  connectTimeout: 5_000,
  connections: 256,
  keepAliveTimeout: 4_000,
  healthPath: HEALTH_PATH,
  healthTimeout: 3_000,
} as const;

/** Options compiled once by the factory; the per-request path reads only these. */
export interface CompiledOptions {
  readonly upstream: LazyPool;
  readonly forceHttps: boolean;
  readonly xForwardedFor: boolean;
  readonly timeout: number;
  readonly filter: PathMatcher | undefined;
  readonly healthPath: string | false;
  readonly healthTimeout: number;
  readonly onProxyRequest: ((proxyReq: ProxyRequest, req: IncomingMessage) => void) | undefined;
  readonly onProxyResponse: ((proxyRes: ProxyResponse, req: IncomingMessage) => void) | undefined;
}

const KNOWN = [
  'target',
  'forceHttps',
  'xForwardedFor',
  'timeout',
  'connectTimeout',
  'connections',
  'keepAliveTimeout',
  'pathFilter',
  'healthPath',
  'healthTimeout',
  'onProxyRequest',
  'onProxyResponse',
];

// Options people carry over (from http-proxy-middleware, or older nexthop), with the reason.
const NOT_SUPPORTED: Record<string, string> = {
  changeOrigin: "next-hop routes on the browser's Host, which is always kept",
  xfwd: 'X-Forwarded-* are handled by the proxy itself (see forceHttps and xForwardedFor)',
  pathRewrite: 'the path goes upstream as the client sent it (onProxyRequest may change proxyReq.path)',
  router: 'every request goes to next-hop (set target once)',
  ws: 'upgrades are always proxied through the handler’s upgrade() (serve() wires it)',
  secure: 'the upstream is plain HTTP',
  agent: 'the proxy runs on an undici pool; tune it with connections, keepAliveTimeout and connectTimeout',
  maxSockets: 'it is called connections',
  freeSocketTimeout: 'it is called keepAliveTimeout',
};

const CONTRACT_RULE =
  'the platform contract requires plain HTTP to next-hop (http://next-hop:80); to have the platform ' +
  'reach the origin over HTTPS, keep the target on http and set forceHttps: true (sends X-Forwarded-Proto: https)';

function fail(message: string): never {
  throw new TypeError(`nexthop nextHopProxy: ${message}`);
}

function checkOptionNames(options: object): void {
  for (const key of Object.keys(options)) {
    if (KNOWN.includes(key)) continue;
    if (key in NOT_SUPPORTED) fail(`option "${key}" is not supported: ${NOT_SUPPORTED[key]}`);
    throw unknownOption('nextHopProxy', key, KNOWN);
  }
}

function parseTarget(value: unknown): URL {
  if (typeof value !== 'string' && !(value instanceof URL)) {
    fail(`target must be a string or URL, e.g. "http://next-hop:80", got ${typeof value}`);
  }
  const shown = JSON.stringify(String(value));
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    return fail(`target ${shown} is not a URL; use e.g. "http://next-hop:80"`);
  }
  if (url.protocol === 'https:') {
    throw new NexthopError(
      'ERR_NEXTHOP_NOT_PLAIN_HTTP',
      `nexthop nextHopProxy: target ${shown} uses https: ${CONTRACT_RULE}`,
    );
  }
  if (url.protocol !== 'http:' || !url.hostname)
    fail(`target ${shown} must be an http: URL, e.g. "http://next-hop:80"`);
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/') {
    fail(
      `target ${shown} must be an origin only (scheme, host, port): each request path goes as sent; use e.g. "http://next-hop:80"`,
    );
  }
  return url;
}

function checkInteger(name: string, value: unknown, fallback: number, max: number, unit: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    const what = unit === '' ? 'an integer' : 'an integer number of milliseconds';
    fail(`${name} must be ${what}, e.g. ${fallback}, got ${String(value)}`);
  }
  if (value < 1 || value > max) {
    throw new RangeError(`nexthop nextHopProxy: ${name} must be from 1 to ${max}${unit}, got ${value}`);
  }
  return value;
}

function checkMs(name: string, value: unknown, fallback: number): number {
  return checkInteger(name, value, fallback, 2_147_483_647, ' ms');
}

function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(`${name} must be true or false, got ${String(value)}`);
  return value;
}

function checkHook<T>(name: string, value: T): T {
  if (value !== undefined && typeof value !== 'function')
    fail(`${name} must be a function, got ${typeof value}`);
  return value;
}

function checkHealthPath(value: unknown): string | false {
  if (value === undefined) return DEFAULTS.healthPath;
  if (value === false) return false;
  if (typeof value !== 'string' || !value.startsWith('/') || /[?#\s]/.test(value)) {
    fail(
      `healthPath must be false or a path starting with "/" (no query), e.g. "${HEALTH_PATH}", got ${String(value)}`,
    );
  }
  return value;
}

/**
 * undici's pool to next-hop, made (and undici loaded) on the first request: an app that
 * never proxies pays neither undici's start-up nor its memory.
 */
export class LazyPool {
  private made: Pool | undefined = undefined;

  constructor(
    private readonly origin: string,
    private readonly options: Pool.Options,
  ) {}

  get pool(): Pool {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (this.made ??= new (require('undici') as typeof import('undici')).Pool(this.origin, this.options));
  }

  /** undici's pool statistics, zero before the first request. */
  stats(): { connected: number; free: number; pending: number } {
    return this.made?.stats ?? { connected: 0, free: 0, pending: 0 };
  }

  close(): Promise<void> {
    return this.made?.close() ?? Promise.resolve();
  }
}

/**
 * The pool's settings. `keepAliveMaxTimeout` equal to `keepAliveTimeout` lets a
 * `Keep-Alive: timeout=N` hint shorten the idle time (to N − 1 s), never lengthen it.
 */
function buildPool(options: Readonly<NextHopProxyOptions>, url: URL, timeout: number): LazyPool {
  const connections = checkInteger('connections', options.connections, DEFAULTS.connections, 65_535, '');
  const keepAliveTimeout = checkMs('keepAliveTimeout', options.keepAliveTimeout, DEFAULTS.keepAliveTimeout);
  const connectTimeout = checkMs('connectTimeout', options.connectTimeout, DEFAULTS.connectTimeout);
  return new LazyPool(url.origin, {
    connections,
    keepAliveTimeout,
    keepAliveMaxTimeout: keepAliveTimeout,
    keepAliveTimeoutThreshold: 1000,
    connect: { timeout: connectTimeout, noDelay: true, keepAlive: true, keepAliveInitialDelay: 1000 },
    headersTimeout: timeout,
    bodyTimeout: timeout,
  });
}

/** Validate every option and compile it into plain values and functions. Throws on misuse. */
export function compileOptions(options: Readonly<NextHopProxyOptions>): CompiledOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    fail('options must be an object, e.g. nextHopProxy({ forceHttps: true })');
  }
  checkOptionNames(options);
  const url = parseTarget(options.target ?? loadConfig().nextHop);
  const timeout = checkMs('timeout', options.timeout, DEFAULTS.timeout);
  const compiled = {
    forceHttps: checkBoolean('forceHttps', options.forceHttps, DEFAULTS.forceHttps),
    xForwardedFor: checkBoolean('xForwardedFor', options.xForwardedFor, DEFAULTS.xForwardedFor),
    timeout,
    filter: compilePathFilter(options.pathFilter),
    healthPath: checkHealthPath(options.healthPath),
    healthTimeout: checkMs('healthTimeout', options.healthTimeout, DEFAULTS.healthTimeout),
    onProxyRequest: checkHook('onProxyRequest', options.onProxyRequest) as CompiledOptions['onProxyRequest'],
    onProxyResponse: checkHook(
      'onProxyResponse',
      options.onProxyResponse,
    ) as CompiledOptions['onProxyResponse'],
  };
  return { ...compiled, upstream: buildPool(options, url, timeout) };
}
