import * as http from 'node:http';
import type { Application, NextFunction, Request, Response } from 'express';
import { describe } from './check-options';
import { getAppContext } from './context';
import { ANSWERED, resumeWithError, type Step } from './pipeline';
import { nextHopProxyInfo, type NextHopProxyHandler } from '../middleware/next-hop-proxy';

/**
 * The fast lane of `serve(app, { appPaths })`: requests outside the app's paths never enter
 * Express's router. They run createApp's compiled request context (access log, client IP,
 * proto, request id, geo, security headers, requireHttps) and the app's root
 * `nextHopProxy()` as plain functions on node's req/res. Errors are handed to the app's
 * router, so its error handlers answer them as they answer any other.
 */

/** What serve needs to run a fast lane: the request listener and the server's classes. */
export interface FastLane {
  /** The server's `request` listener: app paths to `app`, the rest to the proxy. */
  readonly listener: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

const PREFIX_CHARS = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Validate `appPaths` and compile them into one test on the raw request URL: a path
 * matches on segment boundaries (`/api` takes `/api`, `/api/x`, `/api?q`, `/api#f`, never
 * `/apix`), case-insensitively like Express's router. Entries are literal prefixes: a
 * wildcard or a route parameter is refused, as it would never match and would hide the
 * app's routes behind the proxy.
 */
export function compileAppPaths(appPaths: unknown): (url: string) => boolean {
  if (!Array.isArray(appPaths)) {
    throw new TypeError(
      `nexthop serve: appPaths must be an array of path prefixes, got ${describe(appPaths)}; use e.g. ['/api', '/hello']`,
    );
  }
  const prefixes = (appPaths as unknown[]).map((entry) => {
    if (typeof entry !== 'string') {
      throw new TypeError(
        `nexthop serve: appPaths entry ${describe(entry)} is not a string; use e.g. "/api"`,
      );
    }
    if (!PREFIX_CHARS.test(entry)) {
      throw new RangeError(
        `nexthop serve: appPaths entry "${entry}" is not a path prefix; use e.g. "/api" (a leading "/", no query, no spaces)`,
      );
    }
    const pattern = entry.search(/\*|\/:/);
    if (pattern !== -1) {
      const literal = entry.slice(0, pattern).replace(/\/+$/, '');
      throw new RangeError(
        `nexthop serve: appPaths entry "${entry}" is a pattern, but entries are literal path prefixes ` +
          `matched on whole segments; ${literal ? `use "${literal}" (it takes every path below it)` : 'list the prefixes themselves, e.g. "/api"'}`,
      );
    }
    const trimmed = entry.replace(/\/+$/, '');
    if (trimmed === '') {
      throw new RangeError(
        `nexthop serve: appPaths entry "${entry}" would send every request to the app; leave appPaths out instead`,
      );
    }
    return escapeRegExp(trimmed);
  });
  if (prefixes.length === 0) return () => false;
  // Express routes on the path before any `?` or `#` (node passes a `#` in the target on).
  const test = new RegExp(`^(?:${prefixes.join('|')})(?:[/?#]|$)`, 'i');
  return (url) => {
    const target = url.charCodeAt(0) === 47 ? url : pathOfAbsoluteForm(url);
    // With a `#`, Express's parseurl hands the target to url.parse, which turns `\` into `/`
    // before the query: route it the same way.
    return test.test(target.includes('#') ? target.replace(/^[^?#]*/, backslashesToSlashes) : target);
  };
}

function backslashesToSlashes(path: string): string {
  return path.replace(/\\/g, '/');
}

/**
 * The path of an absolute-form request target (`GET http://host/api/x`, RFC 9112 §3.2.2):
 * Express routes such a request on its path, so the fast lane decides on it too.
 */
function pathOfAbsoluteForm(url: string): string {
  const authority = url.indexOf('//');
  const slash = authority < 0 ? -1 : url.indexOf('/', authority + 2);
  return slash < 0 ? '/' : url.slice(slash);
}

interface RouterLayer {
  handle?: unknown;
  match?: (path: string) => unknown;
}

/** The first nextHopProxy() mounted at the app's root, or undefined. */
function rootProxy(app: Application): [NextHopProxyHandler, { filtered: boolean }] | undefined {
  const router = (app as unknown as { router?: { stack?: RouterLayer[] } }).router;
  for (const layer of router?.stack ?? []) {
    const info = nextHopProxyInfo(layer.handle);
    // A root mount matches any path; one mounted under a path does not match this one.
    if (info !== undefined && Boolean(layer.match?.('/nexthop-fast-lane-root-probe'))) {
      return [layer.handle as NextHopProxyHandler, info];
    }
  }
  return undefined;
}

/**
 * Build the fast lane for `app`, or throw at construction when it cannot run the same way
 * as the Express path: the app must come from createApp() and mount nextHopProxy() at its
 * root, without a pathFilter (requests it declines would have nowhere to go).
 */
export function fastLane(app: Application, appPaths: unknown): FastLane {
  const isAppPath = compileAppPaths(appPaths);
  const context = getAppContext(app);
  if (context === undefined) {
    throw new TypeError(
      'nexthop serve: appPaths needs an app made by createApp() (its request context runs on the fast lane)',
    );
  }
  const found = rootProxy(app);
  if (found === undefined) {
    throw new RangeError(
      'nexthop serve: appPaths needs nextHopProxy() mounted at the app root (app.use(nextHopProxy())) ' +
        'before serve(): requests outside appPaths go straight to it',
    );
  }
  const [proxy, info] = found;
  if (info.filtered) {
    throw new RangeError(
      'nexthop serve: appPaths needs a nextHopProxy() without pathFilter; put the paths the proxy ' +
        'must not take in appPaths instead',
    );
  }
  const runContext: Step = context.requestContext ?? (() => undefined);
  const handleApp = app as unknown as (req: http.IncomingMessage, res: http.ServerResponse) => void;

  function fastLaneListener(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (isAppPath(req.url ?? '/')) return handleApp(req, res);
    const request = req as Request;
    const response = res as Response;
    // Without a pathFilter the proxy only calls next with an error; route it like Express would.
    const next = function fastLaneNext(err?: unknown): void {
      resumeWithError(handleApp, req, res, err ?? notProxied());
    } as NextFunction;
    // What Express's app and router set before a root middleware runs, so the steps, the
    // proxy's hooks and accessLog's `fields` see the same request on both lanes.
    request.originalUrl = request.url;
    request.baseUrl = '';
    request.params = {};
    request.res = response;
    request.next = next;
    response.locals ??= Object.create(null) as Record<string, unknown>;
    // A throw is an error like next(err), as Express's router treats it.
    let outcome: unknown;
    try {
      outcome = runContext(request, response);
    } catch (err) {
      outcome = err;
    }
    if (outcome === ANSWERED) return;
    if (outcome !== undefined) return resumeWithError(handleApp, req, res, outcome);
    try {
      proxy(request, response, next);
    } catch (err) {
      resumeWithError(handleApp, req, res, err);
    }
  }
  return { listener: fastLaneListener };
}

function notProxied(): Error {
  return Object.assign(new Error('Not Found'), { status: 404 });
}
