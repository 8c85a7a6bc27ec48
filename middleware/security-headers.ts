import type { ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import { checkBoolean, checkOptions, markFactory } from '../lib/check-options';
import { runStep, withStep } from '../lib/pipeline';

declare module 'express-serve-static-core' {
  interface Locals {
    /**
     * Set to `true` by the next-hop proxy before it writes a response it got from
     * next-hop: `securityHeaders()` then leaves that response's headers alone.
     */
    nexthopProxied?: boolean;
  }
}

/**
 * Options for {@link securityHeaders}: every helmet 8 option (`contentSecurityPolicy`,
 * `strictTransportSecurity`, … each an options object or `false`), plus `proxiedResponses`.
 */
export type SecurityHeadersOptions = HelmetOptions & {
  /**
   * Also add the headers to responses proxied from next-hop. Headers the origin sent are
   * kept either way; only missing ones are added. Off by default: the origin owns its
   * CSP, HSTS and framing rules.
   * @default false
   */
  proxiedResponses?: boolean;
};

const KNOWN_OPTIONS = [
  'proxiedResponses',
  'contentSecurityPolicy',
  'crossOriginEmbedderPolicy',
  'crossOriginOpenerPolicy',
  'crossOriginResourcePolicy',
  'originAgentCluster',
  'referrerPolicy',
  'strictTransportSecurity',
  'hsts',
  'xContentTypeOptions',
  'noSniff',
  'xDnsPrefetchControl',
  'dnsPrefetchControl',
  'xDownloadOptions',
  'ieNoOpen',
  'xFrameOptions',
  'frameguard',
  'xPermittedCrossDomainPolicies',
  'permittedCrossDomainPolicies',
  'xPoweredBy',
  'hidePoweredBy',
  'xXssProtection',
  'xssFilter',
];

type Middleware = (req: never, res: ServerResponse, next: (err?: unknown) => void) => void;

/** The headers a helmet middleware sets and removes, read once by running it on a recorder. */
function recordHeaders(middleware: Middleware): { set: [string, string][]; removed: string[] } {
  const set: [string, string][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string) => set.push([name, value]),
    removeHeader: (name: string) => removed.push(name),
  };
  middleware(undefined as never, recorder as unknown as ServerResponse, (err) => {
    if (err) throw err;
  });
  return { set, removed };
}

/** True when a CSP directive value is a function of the request (a nonce, typically). */
function hasDynamicDirectives(csp: HelmetOptions['contentSecurityPolicy']): boolean {
  if (typeof csp !== 'object' || csp === null || csp.directives === undefined) return false;
  return Object.values(csp.directives).some(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      Symbol.iterator in value &&
      [...value].some((v) => typeof v === 'function'),
  );
}

function compileHelmet(helmetOptions: HelmetOptions) {
  const csp = helmetOptions.contentSecurityPolicy;
  const dynamic = hasDynamicDirectives(csp);
  try {
    const fixed = recordHeaders(
      helmet(dynamic ? { ...helmetOptions, contentSecurityPolicy: false } : helmetOptions),
    );
    const cspName =
      typeof csp === 'object' && csp.reportOnly
        ? 'Content-Security-Policy-Report-Only'
        : 'Content-Security-Policy';
    const perRequestCsp = dynamic ? helmet.contentSecurityPolicy(csp as object) : undefined;
    return { ...fixed, cspName, perRequestCsp };
  } catch (err) {
    throw new TypeError(`nexthop securityHeaders: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * helmet's security headers (CSP, HSTS, X-Content-Type-Options, frame and referrer
 * rules, …) on the responses the app itself generates, computed once at construction.
 *
 * They are added just before the response head is written, and only where the app has
 * not set that header itself, so a route's own value always wins. Responses proxied
 * from next-hop (marked with `res.locals.nexthopProxied = true` by the proxy) are left
 * untouched unless `proxiedResponses: true`. CSP directives given as functions (nonces)
 * are evaluated per request when the middleware runs, as helmet does.
 *
 * @example
 * app.use(securityHeaders({ contentSecurityPolicy: { directives: { 'img-src': ["'self'", 'cdn.example.com'] } } }));
 */
export function securityHeaders(
  options: Readonly<SecurityHeadersOptions> = {},
  _notMiddleware?: never,
): RequestHandler {
  checkOptions('securityHeaders', options, KNOWN_OPTIONS);
  const { proxiedResponses = false, ...helmetOptions } = options;
  checkBoolean('securityHeaders', 'proxiedResponses', proxiedResponses);
  const { set, removed, cspName, perRequestCsp } = compileHelmet(helmetOptions as HelmetOptions);

  function addHeaders(res: Response, csp: string | undefined): void {
    if (!proxiedResponses && res.locals?.nexthopProxied === true) return;
    for (const [name, value] of set) if (!res.hasHeader(name)) res.setHeader(name, value);
    if (csp !== undefined && !res.hasHeader(cspName)) res.setHeader(cspName, csp);
    for (const name of removed) res.removeHeader(name);
  }

  function securityHeadersStep(req: Request, res: Response): unknown {
    let csp: string | undefined;
    if (perRequestCsp !== undefined) {
      let failure: unknown;
      const before = res.getHeader(cspName);
      perRequestCsp(req, res, (err) => (failure = err));
      if (failure) return failure;
      csp = res.getHeader(cspName) as string;
      if (before === undefined) res.removeHeader(cspName);
      else res.setHeader(cspName, before);
    }
    // Node writes every response head through writeHead (res.end() included), so this is
    // the last moment to add headers, when it is known whether the response was proxied.
    const writeHead = res.writeHead;
    res.writeHead = function writeHeadWithSecurityHeaders(this: Response, ...args: unknown[]) {
      addHeaders(res, csp);
      return (writeHead as (...a: unknown[]) => Response).apply(this, args);
    } as typeof res.writeHead;
    return undefined;
  }
  return withStep(function securityHeadersMiddleware(req, res, next) {
    runStep(securityHeadersStep, req, res, next);
  }, securityHeadersStep);
}

markFactory('securityHeaders', securityHeaders);
