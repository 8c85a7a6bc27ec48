import type { TLSSocket } from 'node:tls';
import type { Request, RequestHandler } from 'express';
import { checkBoolean, checkOptions, markFactory } from '../lib/check-options';
import { runStep, withStep } from '../lib/pipeline';
import { requestGetters } from '../lib/request-getters';
import { compileTrust, type Trust, type TrustedProxies } from '../lib/trust';

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * The scheme the browser used, set by `forwardedProto()`: `'https'` or `'http'`,
     * nothing else. `req.protocol` and `req.secure` agree with it. Undefined when
     * `forwardedProto()` is not in the app: `req.protocol` is always set.
     */
    proto?: 'http' | 'https';
  }
}

/** Options for {@link forwardedProto}. */
export interface ForwardedProtoOptions {
  /**
   * Socket peers whose `X-Forwarded-Proto` is believed; from any other peer the scheme is
   * `http`. Share one `compileTrust()` result between middleware.
   * @default DEFAULT_TRUSTED_PROXIES (loopback, link-local, private and CGNAT ranges)
   */
  trustedProxies?: TrustedProxies;
  /**
   * Also read RFC 7239 `Forwarded: proto=https` when `X-Forwarded-Proto` is absent.
   * @default false
   */
  forwarded?: boolean;
}

const KNOWN_OPTIONS = ['trustedProxies', 'forwarded'];

/** `req.protocol` and `req.secure` read `req.proto` (installed once per app, see lib/request-getters). */
const exposeProtocol = requestGetters([
  { name: 'protocol', field: 'proto' },
  { name: 'secure', field: 'proto', map: (proto) => proto === 'https' },
]);

function isHttps(value: string): boolean {
  const trimmed = value.trim();
  return trimmed.length === 5 && trimmed.toLowerCase() === 'https';
}

/** The first comma-separated value of `X-Forwarded-Proto`, compared case-insensitively. */
function forwardedProtoIsHttps(value: string): boolean {
  const comma = value.indexOf(',');
  return isHttps(comma < 0 ? value : value.slice(0, comma));
}

/**
 * RFC 7239 §4: `proto` of the first forwarded-element (the one nearest the client is
 * first), honouring quoted-strings so a comma or semicolon inside quotes splits nothing.
 */
function forwardedHeaderIsHttps(value: string): boolean {
  let quoted = false;
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    const c = i === value.length ? ',' : value[i];
    if (c === '"' && value[i - 1] !== '\\') quoted = !quoted;
    if (quoted || (c !== ';' && c !== ',')) continue;
    const pair = value.slice(start, i);
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === 'proto') {
      return isHttps(
        pair
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1'),
      );
    }
    if (c === ',') return false;
    start = i + 1;
  }
  return false;
}

/**
 * The scheme of `req` as the middleware sees it: `https` on a TLS socket, or when a
 * trusted peer says so; `http` otherwise. Shared with requireHttps.
 */
export function resolveProto(req: Request, trust: Trust, forwarded: boolean): 'http' | 'https' {
  if ((req.socket as Partial<TLSSocket>).encrypted) return 'https';
  if (!trust(req.socket.remoteAddress)) return 'http';
  const xfp = req.headers['x-forwarded-proto'];
  if (typeof xfp === 'string') return forwardedProtoIsHttps(xfp) ? 'https' : 'http';
  const rfc = forwarded ? req.headers.forwarded : undefined;
  return typeof rfc === 'string' && forwardedHeaderIsHttps(rfc) ? 'https' : 'http';
}

/**
 * Set `req.proto` to the scheme the browser used and make `req.protocol` and `req.secure`
 * agree with it, so secure cookies and redirects work behind the platform's TLS edge.
 *
 * `https` only when the first comma-separated `X-Forwarded-Proto` value, trimmed and
 * case-insensitive, is `https` and the socket peer is trusted (or the socket itself is
 * TLS); anything else (`wss`, `javascript:`, garbage, an untrusted peer) is `http`.
 *
 * @example
 * app.use(forwardedProto());
 * app.get('/', (req, res) => res.send(req.secure ? 'via https' : 'via http'));
 */
export function forwardedProto(
  options: Readonly<ForwardedProtoOptions> = {},
  _notMiddleware?: never,
): RequestHandler {
  checkOptions('forwardedProto', options, KNOWN_OPTIONS);
  const { trustedProxies, forwarded = false } = options;
  checkBoolean('forwardedProto', 'forwarded', forwarded);
  const trust = compileTrust(trustedProxies, 'forwardedProto');

  function forwardedProtoStep(req: Request): undefined {
    req.proto = resolveProto(req, trust, forwarded);
    // Express's own getters read the raw, case-sensitive header: shadow them.
    exposeProtocol(req);
    return undefined;
  }
  return withStep(function forwardedProtoMiddleware(req, res, next) {
    runStep(forwardedProtoStep, req, res, next);
  }, forwardedProtoStep);
}

markFactory('forwardedProto', forwardedProto);
