import type { Request, Response } from 'express';
import { unknownOption } from '../../lib/check-options';
import type { Logger } from '../../lib/logger';

/** Options for {@link accessLog}. Every field is optional. */
export interface AccessLogOptions {
  /**
   * The logger whose `access.log` receives the lines.
   * @default the app's logger (createApp), else the root `logger`
   * @example accessLog({ logger: createLogger({ dir: './logs' }) })
   */
  logger?: Logger;
  /**
   * Requests not to log, decided when the request arrives. An array of paths (exact
   * match; an entry ending in `/` matches everything under it) and RegExps tested
   * against the path without its query, or a function of the request.
   * @default [] (log everything)
   * @example skip: ['/.well-known/section-io/aee-hc/healthz', /^\/static\//]
   */
  skip?: readonly (string | RegExp)[] | ((req: Request) => boolean);
  /**
   * Fraction of requests logged, from 0 to 1. 5xx responses and aborted requests are
   * always logged, whatever the sample.
   * @default 1
   * @example sample: 0.1 // one successful request in ten
   */
  sample?: number;
  /**
   * More request headers to log, under `"headers": { name: value }` (`null` when absent).
   * `cookie`, `authorization`, `proxy-authorization` and `set-cookie` are refused: they
   * are never logged.
   * @default []
   * @example headers: ['accept-language', 'section-io-geo-country-code']
   */
  headers?: readonly string[];
  /**
   * Logged headers whose value is replaced by `"[REDACTED]"`: any of `host`,
   * `user-agent`, `referer` and the names in `headers`.
   * @default []
   * @example redactHeaders: ['referer']
   */
  redactHeaders?: readonly string[];
  /**
   * Query parameters whose value is replaced by `[REDACTED]` in `url` and `referer`
   * (names compared case-insensitively, after percent-decoding). Replaces the default list.
   * @default ['access_token', 'api_key', 'apikey', 'code', 'id_token', 'key', 'password', 'refresh_token', 'secret', 'sig', 'signature', 'token']
   * @example redactQuery: ['token', 'session']
   */
  redactQuery?: readonly string[];
  /**
   * Extra fields for each line, computed when the response ends. Values are serialized
   * as JSON; keys that would overwrite a built-in field are ignored.
   * @default undefined
   * @example fields: (req, res) => ({ tenant: req.get('x-tenant'), cache: res.get('x-cache') })
   */
  fields?: (req: Request, res: Response) => Record<string, unknown> | undefined;
}

/**
 * Query parameters redacted unless `redactQuery` says otherwise.
 * @example accessLog({ redactQuery: [...DEFAULT_REDACT_QUERY, 'session'] })
 */
export const DEFAULT_REDACT_QUERY: readonly string[] = Object.freeze([
  'access_token',
  'api_key',
  'apikey',
  'code',
  'id_token',
  'key',
  'password',
  'refresh_token',
  'secret',
  'sig',
  'signature',
  'token',
]);

/** Headers that carry credentials: never logged, whatever the options say. */
const NEVER_LOGGED = new Set(['cookie', 'set-cookie', 'authorization', 'proxy-authorization']);
const KNOWN = ['logger', 'skip', 'sample', 'headers', 'redactHeaders', 'redactQuery', 'fields'];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export interface CompiledAccessLog {
  skip: ((req: Request) => boolean) | undefined;
  sample: number;
  headers: readonly string[];
  redactHeaders: ReadonlySet<string>;
  redactQuery: ReadonlySet<string>;
  fields: AccessLogOptions['fields'];
  /** `redactHeaders` read once for the headers every line carries. */
  redactHost: boolean;
  redactUserAgent: boolean;
  redactReferer: boolean;
}

function fail(message: string, Kind: typeof TypeError = TypeError): never {
  throw new Kind(`nexthop accessLog: ${message}`);
}

function headerList(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(`${name} must be an array of header names, e.g. ['accept-language']`);
  return value.map((h: unknown) => {
    if (typeof h !== 'string' || !TOKEN.test(h))
      fail(`${name} entry ${JSON.stringify(h)} is not a header name`);
    return h.toLowerCase();
  });
}

function pathOf(req: Request): string {
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function compileSkip(skip: AccessLogOptions['skip']): CompiledAccessLog['skip'] {
  if (skip === undefined) return undefined;
  if (typeof skip === 'function') return skip;
  if (!Array.isArray(skip))
    fail('skip must be an array of paths and RegExps, or a function (req) => boolean');
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const patterns: RegExp[] = [];
  for (const entry of skip as readonly unknown[]) {
    // A global or sticky RegExp keeps lastIndex between tests: compile a stateless copy.
    if (entry instanceof RegExp) patterns.push(new RegExp(entry.source, entry.flags.replace(/[gy]/g, '')));
    else if (typeof entry !== 'string' || !entry.startsWith('/')) {
      fail(`skip entry ${JSON.stringify(String(entry))} must be a path starting with "/" or a RegExp`);
    } else if (entry.endsWith('/')) prefixes.push(entry);
    else exact.add(entry);
  }
  if (exact.size + prefixes.length + patterns.length === 0) return undefined;
  return function skipPath(req) {
    const path = pathOf(req);
    return exact.has(path) || prefixes.some((p) => path.startsWith(p)) || patterns.some((r) => r.test(path));
  };
}

/** Validate options and compile them into lookup sets and functions, once. */
export function compileOptions(options: Readonly<AccessLogOptions>): CompiledAccessLog {
  if (typeof options !== 'object' || options === null)
    fail('options must be an object, e.g. accessLog({ sample: 1 })');
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) throw unknownOption('accessLog', key, KNOWN);
  }
  const { sample = 1, fields } = options;
  if (typeof sample !== 'number' || Number.isNaN(sample))
    fail(`sample must be a number from 0 to 1, got ${String(sample)}`);
  if (sample < 0 || sample > 1) fail(`sample must be from 0 to 1, got ${sample}`, RangeError);
  if (fields !== undefined && typeof fields !== 'function')
    fail('fields must be a function (req, res) => ({ ... })');
  const headers = headerList('headers', options.headers);
  const refused = headers.find((h) => NEVER_LOGGED.has(h));
  if (refused)
    fail(`header "${refused}" carries credentials and is never logged; remove it from headers`, RangeError);
  const redactQuery = options.redactQuery ?? DEFAULT_REDACT_QUERY;
  if (!Array.isArray(redactQuery) || redactQuery.some((q) => typeof q !== 'string' || q === '')) {
    fail("redactQuery must be an array of parameter names, e.g. ['token']");
  }
  const skip = compileSkip(options.skip);
  const redactHeaders = new Set(headerList('redactHeaders', options.redactHeaders));
  return {
    skip,
    sample,
    headers,
    redactHeaders,
    redactHost: redactHeaders.has('host'),
    redactUserAgent: redactHeaders.has('user-agent'),
    redactReferer: redactHeaders.has('referer'),
    redactQuery: new Set(redactQuery.map((q) => q.toLowerCase())),
    fields,
  };
}
