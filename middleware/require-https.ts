import type { Request, RequestHandler, Response } from 'express';
import { checkOptions, describe, markFactory } from '../lib/check-options';
import { NexthopError } from '../lib/errors';
import { ipVersion } from '../lib/ip';
import { ANSWERED, runStep, withStep } from '../lib/pipeline';
import { HEALTH_PATH } from '../lib/platform';
import { compileTrust, type TrustedProxies } from '../lib/trust';
import { resolveProto } from './forwarded-proto';

/** Options for {@link requireHttps}. */
export interface RequireHttpsOptions {
  /**
   * Socket peers whose `X-Forwarded-Proto` is believed, used when `forwardedProto()` did
   * not run before (otherwise `req.proto` decides).
   * @default DEFAULT_TRUSTED_PROXIES
   */
  trustedProxies?: TrustedProxies;
  /**
   * Host names a redirect may point to (`example.com`, or `*.example.com` for any
   * subdomain); a request for another host gets 400. Without it any syntactically valid
   * host is accepted: the redirect then only ever points at the host the browser asked for.
   * @default undefined (any valid host)
   */
  allowedHosts?: readonly string[];
  /**
   * Path prefixes served over plain HTTP too (`/status` matches `/status` and
   * `/status/x`, not `/statusx`). The health-check path is always skipped.
   * @default []
   */
  skipPaths?: readonly string[];
}

const KNOWN_OPTIONS = ['trustedProxies', 'allowedHosts', 'skipPaths'];
/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const PORT = /^[0-9]{1,5}$/;

/** The host name of a valid lowercase `host[:port]`, or undefined (RFC 9110 §7.2, RFC 3986 §3.2.2). */
export function hostName(host: string): string | undefined {
  let name = host;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0 || ipVersion(host.slice(1, close)) !== 6) return undefined;
    name = host.slice(0, close + 1);
    if (close + 1 < host.length) {
      if (host[close + 1] !== ':') return undefined;
      port = host.slice(close + 2);
    }
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) {
      name = host.slice(0, colon);
      port = host.slice(colon + 1);
    }
    if (!HOST_NAME.test(name)) return undefined;
    // An all-digit last label means an IPv4 literal: it must be a real one.
    if (/\.[0-9]+$|^[0-9]+$/.test(name) && ipVersion(name) !== 4) return undefined;
  }
  if (port !== undefined && (!PORT.test(port) || Number(port) > 65535)) return undefined;
  return name;
}

function compileHostCheck(allowedHosts: unknown): (name: string) => boolean {
  if (allowedHosts === undefined) return () => true;
  if (!Array.isArray(allowedHosts)) {
    throw new TypeError(
      `nexthop requireHttps: allowedHosts must be an array of host names, got ${describe(allowedHosts)}`,
    );
  }
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of allowedHosts) {
    const wildcard = typeof entry === 'string' && entry.startsWith('*.');
    const name = typeof entry === 'string' ? entry.toLowerCase().slice(wildcard ? 2 : 0) : '';
    if (hostName(name) !== name) {
      throw new TypeError(
        `nexthop requireHttps: allowedHosts entry ${describe(entry)} is not a host name; use e.g. "example.com" or "*.example.com"`,
      );
    }
    if (wildcard) suffixes.push(`.${name}`);
    else exact.add(name);
  }
  return (name) => exact.has(name) || suffixes.some((suffix) => name.endsWith(suffix));
}

function compileSkip(skipPaths: unknown): (path: string) => boolean {
  if (skipPaths !== undefined && !Array.isArray(skipPaths)) {
    throw new TypeError(
      `nexthop requireHttps: skipPaths must be an array of paths, got ${describe(skipPaths)}`,
    );
  }
  const prefixes = [HEALTH_PATH];
  for (const entry of (skipPaths ?? []) as unknown[]) {
    if (typeof entry !== 'string' || !entry.startsWith('/')) {
      throw new TypeError(
        `nexthop requireHttps: skipPaths entry ${describe(entry)} is not a path; use e.g. "/status"`,
      );
    }
    prefixes.push(entry.length > 1 && entry.endsWith('/') ? entry.slice(0, -1) : entry);
  }
  return (path) =>
    prefixes.some((p) => path === p || (path.startsWith(p) && (p === '/' || path[p.length] === '/')));
}

/** Percent-encode what may not stand in a Location header as is (spaces, controls, non-ASCII). */
function encodeTarget(target: string): string {
  return /[^\x21-\x7e]/.test(target)
    ? target.replace(
        /[^\x21-\x7e]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
      )
    : target;
}

/**
 * Redirect plain-HTTP requests to `https://<host><originalUrl>`: 301 for GET and HEAD,
 * 308 for other methods (which keeps the method and body). The Host header must be a
 * valid `host[:port]` (and in `allowedHosts` when given), otherwise the request fails
 * with `ERR_NEXTHOP_BAD_HOST` (400): it never redirects to a place the client chose.
 * A request target that is not a path fails with `ERR_NEXTHOP_HTTPS_REQUIRED` (400).
 * The platform health check and `skipPaths` pass through.
 *
 * @example
 * app.use(forwardedProto());
 * app.use(requireHttps({ allowedHosts: ['example.com', '*.example.com'] }));
 */
export function requireHttps(
  options: Readonly<RequireHttpsOptions> = {},
  _notMiddleware?: never,
): RequestHandler {
  checkOptions('requireHttps', options, KNOWN_OPTIONS);
  const trust = compileTrust(options.trustedProxies, 'requireHttps');
  const isAllowedHost = compileHostCheck(options.allowedHosts);
  const isSkipped = compileSkip(options.skipPaths);

  function requireHttpsStep(req: Request, res: Response): unknown {
    const target = req.originalUrl ?? req.url;
    const query = target.indexOf('?');
    if (
      (req.proto ?? resolveProto(req, trust, false)) === 'https' ||
      isSkipped(query < 0 ? target : target.slice(0, query))
    ) {
      return undefined;
    }
    const host = req.headers.host?.toLowerCase() ?? '';
    const name = hostName(host);
    if (name === undefined || !isAllowedHost(name)) {
      return new NexthopError('ERR_NEXTHOP_BAD_HOST', 'The Host header is not a valid or allowed host.');
    }
    if (!target.startsWith('/')) {
      return new NexthopError('ERR_NEXTHOP_HTTPS_REQUIRED', 'This resource is only served over HTTPS.');
    }
    res.statusCode = req.method === 'GET' || req.method === 'HEAD' ? 301 : 308;
    res.setHeader('Location', `https://${host}${encodeTarget(target)}`);
    res.end();
    return ANSWERED;
  }
  return withStep(function requireHttpsMiddleware(req, res, next) {
    runStep(requireHttpsStep, req, res, next);
  }, requireHttpsStep);
}

markFactory('requireHttps', requireHttps);
