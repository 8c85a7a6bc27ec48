import { Agent, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { unknownOption } from '../../lib/check-options';
import { loadConfig } from '../../lib/config';
import { NexthopError } from '../../lib/errors';
import { HEALTH_PATH } from '../../lib/platform';
import { NextHopAgent } from './agent';
import { compilePathFilter, type PathFilter, type PathMatcher } from './path';
import { UpstreamPool } from './pool';

/** The platform's health-check path, probed through the whole module chain. */
export { HEALTH_PATH };

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
   * @default false (the value received is passed on, exactly one value)
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
   * Ms of upstream inactivity allowed, from the request until the last byte of the
   * response (like nginx's `proxy_read_timeout`). Before the response starts, running out
   * answers 504 `ERR_NEXTHOP_UPSTREAM_TIMEOUT`; after, the client connection is aborted.
   * @default 60000
   * @example nextHopProxy({ timeout: 5000 })
   */
  timeout?: number;
  /**
   * Ms allowed to resolve next-hop and open a TCP connection to it (504 when exceeded).
   * Ignored when you pass your own `agent`.
   * @default 5000
   * @example nextHopProxy({ connectTimeout: 1000 })
   */
  connectTimeout?: number;
  /**
   * Most sockets open to next-hop at once; further requests wait for a free one.
   * Ignored when you pass your own `agent`.
   * @default 256
   * @example nextHopProxy({ maxSockets: 64 })
   */
  maxSockets?: number;
  /**
   * Ms an idle keep-alive socket to next-hop is kept before it is closed. Keep it below
   * the upstream's own idle timeout (Node servers: 5 s) so the upstream never closes a
   * socket the proxy is about to reuse. A shorter `Keep-Alive: timeout=N` hint from the
   * upstream wins. Ignored when you pass your own `agent`.
   * @default 4000
   * @example nextHopProxy({ freeSocketTimeout: 2000 })
   */
  freeSocketTimeout?: number;
  /**
   * Your own `http.Agent` for upstream connections (it should keep connections alive).
   * @default a keep-alive agent built from maxSockets, freeSocketTimeout and connectTimeout
   * @example nextHopProxy({ agent: new http.Agent({ keepAlive: true, maxSockets: 32 }) })
   */
  agent?: Agent;
  /**
   * Proxy only some paths; others go to `next()`. Matched against the path as the client
   * sent it (mount path included, query excluded). A string (or array of strings) is a
   * path prefix on segment boundaries (`'/api'` takes `/api` and `/api/x`, not `/apix`);
   * a string with glob characters is a glob (http-proxy-middleware's matcher); a function
   * decides per request.
   * @default every path
   * @example nextHopProxy({ pathFilter: ['/shop', '/assets/**'] })
   */
  pathFilter?: PathFilter;
  /**
   * Path the platform health check probes. It is proxied like any path, but when next-hop
   * cannot be reached the proxy answers it itself with 200, never a 5xx (a 5xx there makes
   * the platform pull this instance for someone else's outage). `false` turns this off.
   * @default '/.well-known/section-io/aee-hc/healthz'
   * @example nextHopProxy({ healthPath: false })
   */
  healthPath?: string | false;
  /**
   * Called with the upstream request before its body is sent: add or remove upstream
   * headers with `proxyReq.setHeader()` / `removeHeader()`. An exception goes to `next(err)`.
   * @default none (headers are then written in one go, the fastest path)
   * @example
   * nextHopProxy({ onProxyRequest: (proxyReq) => proxyReq.removeHeader('cookie') })
   */
  onProxyRequest?: (proxyReq: ClientRequest, req: Request) => void;
  /**
   * Called when next-hop's response headers arrive, before they are written to the
   * client: change `proxyRes.headers` (set or delete fields, e.g. `set-cookie`,
   * `cache-control`). Upstream fields override same-named fields already set on `res`.
   * An exception goes to `next(err)`.
   * @default none
   * @example
   * nextHopProxy({ onProxyResponse: (proxyRes) => { proxyRes.headers['cache-control'] = 'no-store'; } })
   */
  onProxyResponse?: (proxyRes: IncomingMessage, req: Request, res: Response) => void;
}

/** Each default written once. */
export const DEFAULTS = {
  forceHttps: false,
  xForwardedFor: true,
  timeout: 60_000,
  connectTimeout: 5_000,
  maxSockets: 256,
  freeSocketTimeout: 4_000,
  healthPath: HEALTH_PATH,
} as const;

/** Options compiled once by the factory; the per-request path reads only these. */
export interface CompiledOptions {
  readonly host: string;
  readonly port: number;
  /** `host[:port]` of the target, sent as Host only when the client sent none. */
  readonly hostHeader: string;
  readonly forceHttps: boolean;
  readonly xForwardedFor: boolean;
  readonly timeout: number;
  /** Used for upgrades, and for requests too when there is no `pool`. */
  readonly agent: Agent;
  /**
   * The proxy's own connection pool and HTTP/1.1 client, used for every request unless a
   * hook (which is given node:http's request and response objects) or your own agent is set.
   */
  readonly pool: UpstreamPool | undefined;
  readonly filter: PathMatcher | undefined;
  readonly healthPath: string | false;
  readonly onProxyRequest: NextHopProxyOptions['onProxyRequest'];
  readonly onProxyResponse: NextHopProxyOptions['onProxyResponse'];
}

const KNOWN = new Set([
  'target',
  'forceHttps',
  'xForwardedFor',
  'timeout',
  'connectTimeout',
  'maxSockets',
  'freeSocketTimeout',
  'agent',
  'pathFilter',
  'healthPath',
  'onProxyRequest',
  'onProxyResponse',
]);

// http-proxy-middleware options people carry over, with why nextHopProxy has no such option.
const NOT_SUPPORTED: Record<string, string> = {
  changeOrigin: "next-hop routes on the browser's Host, which is always kept",
  xfwd: 'X-Forwarded-* are handled by the proxy itself (see forceHttps and xForwardedFor)',
  pathRewrite: 'the path goes upstream exactly as the client sent it',
  router: 'every request goes to next-hop (set target once)',
  ws: 'upgrades are always proxied through the handler’s upgrade() (serve() wires it)',
  secure: 'the upstream is plain HTTP',
};

const CONTRACT_RULE =
  'the platform contract requires plain HTTP to next-hop (http://next-hop:80); to have the platform ' +
  'reach the origin over HTTPS, keep the target on http and set forceHttps: true (sends X-Forwarded-Proto: https)';

function fail(message: string): never {
  throw new TypeError(`nexthop nextHopProxy: ${message}`);
}

function checkOptionNames(options: object): void {
  for (const key of Object.keys(options)) {
    if (KNOWN.has(key)) continue;
    if (key in NOT_SUPPORTED) fail(`option "${key}" is not supported: ${NOT_SUPPORTED[key]}`);
    throw unknownOption('nextHopProxy', key, [...KNOWN]);
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

function checkMs(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail(`${name} must be an integer number of milliseconds, e.g. ${fallback}, got ${String(value)}`);
  }
  if (value < min || value > 2_147_483_647) {
    throw new RangeError(`nexthop nextHopProxy: ${name} must be from ${min} to 2147483647 ms, got ${value}`);
  }
  return value;
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

interface Connections {
  agent: Agent;
  pool: UpstreamPool | undefined;
}

function buildConnections(options: Readonly<NextHopProxyOptions>, url: URL, timeout: number): Connections {
  const tuning = ['maxSockets', 'freeSocketTimeout', 'connectTimeout'] as const;
  if (options.agent !== undefined) {
    if (!(options.agent instanceof Agent))
      fail('agent must be an http.Agent, e.g. new http.Agent({ keepAlive: true })');
    const clash = tuning.find((k) => options[k] !== undefined);
    if (clash) fail(`${clash} cannot be combined with agent: set it on your agent instead`);
    return { agent: options.agent, pool: undefined };
  }
  const maxSockets = options.maxSockets ?? DEFAULTS.maxSockets;
  if (typeof maxSockets !== 'number' || !Number.isInteger(maxSockets))
    fail(`maxSockets must be an integer, got ${String(maxSockets)}`);
  if (maxSockets < 1 || maxSockets > 65_535) {
    throw new RangeError(`nexthop nextHopProxy: maxSockets must be from 1 to 65535, got ${maxSockets}`);
  }
  const freeSocketTimeout = checkMs(
    'freeSocketTimeout',
    options.freeSocketTimeout,
    DEFAULTS.freeSocketTimeout,
    1,
  );
  const connectTimeout = checkMs('connectTimeout', options.connectTimeout, DEFAULTS.connectTimeout, 1);
  const agent = new NextHopAgent({ maxSockets, freeSocketTimeout, connectTimeout });
  // Hooks are handed node:http's objects, so a proxy with hooks sends through the agent.
  const hooked = options.onProxyRequest !== undefined || options.onProxyResponse !== undefined;
  const pool = hooked
    ? undefined
    : new UpstreamPool({
        host: hostOf(url),
        port: portOf(url),
        maxSockets,
        freeSocketTimeout,
        connectTimeout,
        timeout,
      });
  return { agent, pool };
}

function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

function portOf(url: URL): number {
  return url.port === '' ? 80 : Number(url.port);
}

/** Validate every option and compile it into plain values and functions. Throws on misuse. */
export function compileOptions(options: Readonly<NextHopProxyOptions>): CompiledOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    fail('options must be an object, e.g. nextHopProxy({ forceHttps: true })');
  }
  checkOptionNames(options);
  const url = parseTarget(options.target ?? loadConfig().nextHop);
  const timeout = checkMs('timeout', options.timeout, DEFAULTS.timeout, 1);
  const onProxyRequest = checkHook('onProxyRequest', options.onProxyRequest);
  const onProxyResponse = checkHook('onProxyResponse', options.onProxyResponse);
  return {
    host: hostOf(url),
    port: portOf(url),
    hostHeader: url.host,
    forceHttps: checkBoolean('forceHttps', options.forceHttps, DEFAULTS.forceHttps),
    xForwardedFor: checkBoolean('xForwardedFor', options.xForwardedFor, DEFAULTS.xForwardedFor),
    timeout,
    ...buildConnections(options, url, timeout),
    filter: compilePathFilter(options.pathFilter),
    healthPath: checkHealthPath(options.healthPath),
    onProxyRequest,
    onProxyResponse,
  };
}
