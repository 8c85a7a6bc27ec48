import type { IncomingMessage } from 'node:http';
import type { matchPathFilter as MatchPathFilter } from 'http-proxy-middleware/dist/path-filter';

let globMatcher: typeof MatchPathFilter | undefined;

/**
 * http-proxy-middleware's path matcher, loaded when the first glob is compiled: it pulls in
 * micromatch, which a proxy without globs (the common case) need not load at start-up.
 */
function matchGlob(): typeof MatchPathFilter {
  if (globMatcher === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require('http-proxy-middleware/dist/path-filter') as {
      matchPathFilter: typeof MatchPathFilter;
    };
    globMatcher = loaded.matchPathFilter;
  }
  return globMatcher;
}

/**
 * Which paths to proxy: a path prefix, a glob, a list of either, or a function of the
 * pathname (as the client sent it, no query) and the request.
 */
export type PathFilter = string | readonly string[] | ((pathname: string, req: IncomingMessage) => boolean);

/** A compiled path filter: takes the upstream path (query included) and the request. */
export type PathMatcher = (path: string, req: IncomingMessage) => boolean;

// Scheme and authority of an absolute-form request target (RFC 9112 §3.2.2).
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * The path and query to send upstream, exactly as the client sent them. An absolute-form
 * target (`GET http://evil.example/x`) keeps only its path and query: the upstream host
 * never comes from the request. Dot segments are never resolved.
 */
export function upstreamPath(url: string): string {
  if (url.charCodeAt(0) === 47 /* / */ || url === '*') return url;
  const authority = ABSOLUTE_FORM.exec(url);
  if (authority === null) return `/${url}`;
  const rest = url.slice(authority[0].length);
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
}

/** The pathname part of an upstream path (no query). */
export function pathnameOf(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

const GLOB = /[*?[\]{}()!]/;

function prefixMatcher(prefix: string): Matcher {
  if (prefix === '/') return () => true;
  const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const withSlash = `${base}/`;
  return (pathname) => pathname === base || pathname.startsWith(withSlash);
}

type Matcher = (pathname: string, req: IncomingMessage) => boolean;

function compileString(entry: unknown): Matcher {
  if (typeof entry !== 'string' || !entry.startsWith('/')) {
    throw new TypeError(
      `nexthop nextHopProxy: pathFilter entry ${JSON.stringify(entry)} must be a path starting with "/", e.g. "/api" or "/assets/**"`,
    );
  }
  // Globs use http-proxy-middleware's own matcher, so they mean what they mean there.
  if (GLOB.test(entry)) {
    const matchPathFilter = matchGlob();
    return (pathname, req) => matchPathFilter(entry, pathname, req);
  }
  return prefixMatcher(entry);
}

/** Compile `pathFilter` once; undefined means every path. */
export function compilePathFilter(filter: PathFilter | undefined): PathMatcher | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter === 'function') {
    return (path, req) => filter(pathnameOf(path), req) === true;
  }
  const entries = typeof filter === 'string' ? [filter] : filter;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new TypeError(
      'nexthop nextHopProxy: pathFilter must be a path, a non-empty array of paths or a function, e.g. ["/api", "/assets/**"]',
    );
  }
  const matchers = entries.map(compileString);
  if (matchers.length === 1) {
    const only = matchers[0];
    return (path, req) => only(pathnameOf(path), req);
  }
  return (path, req) => {
    const pathname = pathnameOf(path);
    return matchers.some((match) => match(pathname, req));
  };
}
