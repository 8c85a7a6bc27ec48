import type { IncomingMessage } from 'node:http';
import picomatch from 'picomatch';

/**
 * Which paths to proxy: a path prefix, a glob, a list of either (globs starting with `!`
 * exclude), or a function of the pathname (as the client sent it, no query) and the request.
 */
export type PathFilter = string | readonly string[] | ((pathname: string, req: IncomingMessage) => boolean);

/** A compiled path filter: takes the upstream path (query included) and the request. */
export type PathMatcher = (path: string, req: IncomingMessage) => boolean;

type Test = (pathname: string) => boolean;

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

function prefixTest(prefix: string): Test {
  if (prefix === '/') return () => true;
  const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const withSlash = `${base}/`;
  return (pathname) => pathname === base || pathname.startsWith(withSlash);
}

function compileEntry(entry: unknown): Test {
  const pattern = typeof entry === 'string' && entry.startsWith('!') ? entry.slice(1) : entry;
  if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
    throw new TypeError(
      `nexthop nextHopProxy: pathFilter entry ${JSON.stringify(entry)} must be a path starting with "/" (or "!/" to exclude), e.g. "/api" or "/assets/**"`,
    );
  }
  return GLOB.test(pattern) ? picomatch(pattern) : prefixTest(pattern);
}

/** Compile `pathFilter` once; undefined means every path. */
export function compilePathFilter(filter: PathFilter | undefined): PathMatcher | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter === 'function') return (path, req) => filter(pathnameOf(path), req) === true;
  const entries: unknown = typeof filter === 'string' ? [filter] : filter;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new TypeError(
      'nexthop nextHopProxy: pathFilter must be a path, a non-empty array of paths or a function, e.g. ["/api", "/assets/**"]',
    );
  }
  const excluded = (entries as unknown[]).filter((e) => typeof e === 'string' && e.startsWith('!'));
  const included = (entries as unknown[]).filter((e) => !excluded.includes(e));
  const include = included.map(compileEntry);
  const exclude = excluded.map(compileEntry);
  // Only exclusions: everything else is proxied.
  if (include.length === 0) include.push(() => true);
  return (path) => {
    const pathname = pathnameOf(path);
    return include.some((test) => test(pathname)) && !exclude.some((test) => test(pathname));
  };
}
