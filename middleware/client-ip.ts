import type { Request, RequestHandler } from 'express';
import { checkBoolean, checkOptions, describe, markFactory } from '../lib/check-options';
import { normalizeIp } from '../lib/ip';
import { runStep, withStep } from '../lib/pipeline';
import { requestGetters } from '../lib/request-getters';
import { compileTrust, type Trust, type TrustedProxies } from '../lib/trust';

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * The browser's IP address as canonical text (dotted IPv4 or RFC 5952 IPv6), set by
     * `clientIp()`. `req.ip` returns the same value. Empty only if the connection closed
     * before the middleware ran. Undefined when `clientIp()` is not in the app (e.g.
     * `createApp({ clientIp: false })` or a plain `express()` app): check it, or read
     * `req.ip`, which is always a string.
     */
    clientIp?: string;
  }
}

/** Options for {@link clientIp}. */
export interface ClientIpOptions {
  /**
   * Socket peers whose forwarding headers are believed: CIDRs and preset names, a
   * predicate, or a shared `compileTrust()` result. From any other peer the client IP is
   * the socket address and every header is ignored.
   * @default DEFAULT_TRUSTED_PROXIES (loopback, link-local, private and CGNAT ranges)
   * @example ['loopback', '10.20.0.0/16']
   */
  trustedProxies?: TrustedProxies;
  /**
   * Header holding the single client IP, read first; `false` to skip it.
   * @default 'true-client-ip'
   */
  header?: string | false;
  /**
   * When the header is absent or invalid, read `X-Forwarded-For` right to left, skipping
   * trusted hops (never its client-controlled leftmost entry unless every hop is trusted).
   * @default true
   */
  xForwardedFor?: boolean;
}

const KNOWN_OPTIONS = ['trustedProxies', 'header', 'xForwardedFor'];
/** RFC 9110 §5.1 field-name token. */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** X-Forwarded-For entries examined at most: bounds work on a header stuffed with hops. */
const MAX_FORWARDED_HOPS = 32;

/** `req.ip` reads `req.clientIp` (installed once per app, see lib/request-getters). */
const exposeIp = requestGetters([{ name: 'ip', field: 'clientIp' }]);

/**
 * The client in an `X-Forwarded-For` list: walking from the right (the nearest proxy),
 * the first address that is not a trusted proxy. A malformed entry ends the walk with
 * no answer, since everything left of it is unverifiable.
 */
export function clientFromForwardedFor(value: string, trust: Trust): string | undefined {
  let end = value.length;
  let nearest: string | undefined;
  for (let hops = 0; end > 0 && hops < MAX_FORWARDED_HOPS; hops++) {
    const comma = value.lastIndexOf(',', end - 1);
    const address = normalizeIp(value.slice(comma + 1, end));
    if (address === undefined) return undefined;
    if (!trust(address)) return address;
    nearest = address;
    end = comma;
  }
  return nearest;
}

/**
 * Set `req.clientIp` to the browser's IP address and make `req.ip` return it, so
 * third-party middleware keyed on `req.ip` (rate limiters, logs) sees the real client.
 *
 * From a trusted peer the sources are, in order: `True-Client-IP` (the platform's single
 * client address), then `X-Forwarded-For` read right to left past trusted hops, then the
 * socket address. From an untrusted peer only the socket address counts. Only a valid
 * IPv4/IPv6 address is ever the answer; anything malformed falls through, never echoed.
 *
 * With a plain `express()`, also set `app.set('trust proxy', trust)` with the same
 * `compileTrust()` result so libraries that inspect that setting (express-rate-limit)
 * agree; `createApp` does this for you. Never set it to `true`.
 *
 * @example
 * const trust = compileTrust();
 * app.set('trust proxy', trust);
 * app.use(clientIp({ trustedProxies: trust }));
 * app.get('/', (req, res) => res.send(req.clientIp));
 */
export function clientIp(options: Readonly<ClientIpOptions> = {}, _notMiddleware?: never): RequestHandler {
  checkOptions('clientIp', options, KNOWN_OPTIONS);
  const { trustedProxies, header = 'true-client-ip', xForwardedFor = true } = options;
  if (header !== false && (typeof header !== 'string' || !FIELD_NAME.test(header))) {
    throw new TypeError(
      `nexthop clientIp: header must be a header name or false, got ${describe(header)}; use e.g. "true-client-ip"`,
    );
  }
  checkBoolean('clientIp', 'xForwardedFor', xForwardedFor);
  const trust = compileTrust(trustedProxies, 'clientIp');
  const headerName = header === false ? undefined : header.toLowerCase();

  function resolveClientIp(req: Request): string {
    const peer = req.socket.remoteAddress;
    if (trust(peer)) {
      const direct = headerName === undefined ? undefined : req.headers[headerName];
      const fromHeader = typeof direct === 'string' ? normalizeIp(direct) : undefined;
      if (fromHeader !== undefined) return fromHeader;
      const forwardedFor = xForwardedFor ? req.headers['x-forwarded-for'] : undefined;
      const fromList =
        typeof forwardedFor === 'string' ? clientFromForwardedFor(forwardedFor, trust) : undefined;
      if (fromList !== undefined) return fromList;
    }
    return normalizeIp(peer) ?? '';
  }

  function clientIpStep(req: Request): undefined {
    req.clientIp = resolveClientIp(req);
    exposeIp(req);
    return undefined;
  }
  return withStep(function clientIpMiddleware(req, res, next) {
    runStep(clientIpStep, req, res, next);
  }, clientIpStep);
}

markFactory('clientIp', clientIp);
