import { METHODS, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { CompiledOptions } from './options';

/** Fields a request carries that the proxy reads while copying its headers. */
export interface RequestHead {
  /** Upstream header fields as a flat `[name, value, name, value…]` list. */
  headers: string[];
  /** Content-Type received, if any. */
  contentType: string | undefined;
  /** Content-Length received, if any. */
  contentLength: string | undefined;
  /** The request body is chunked (Transfer-Encoding received). */
  chunked: boolean;
}

// What to do with each request field, by lowercase name.
const enum Rule {
  Drop = 1,
  Connection,
  Te,
  TransferEncoding,
  ContentLength,
  ContentType,
  Host,
  ForwardedFor,
  ForwardedProto,
  TrueClientIp,
  RequestId,
  Upgrade,
}

const REQUEST_RULES = new Map<string, Rule>([
  // RFC 9110 §7.6.1: hop-by-hop fields end at this hop.
  ['connection', Rule.Connection],
  ['keep-alive', Rule.Drop],
  ['proxy-connection', Rule.Drop],
  ['trailer', Rule.Drop],
  ['upgrade', Rule.Upgrade],
  ['te', Rule.Te],
  // Framing is rebuilt: Node writes Content-Length or chunked for the body it sends.
  ['transfer-encoding', Rule.TransferEncoding],
  ['content-length', Rule.ContentLength],
  ['content-type', Rule.ContentType],
  ['host', Rule.Host],
  ['x-forwarded-for', Rule.ForwardedFor],
  ['x-forwarded-proto', Rule.ForwardedProto],
  ['true-client-ip', Rule.TrueClientIp],
  ['x-request-id', Rule.RequestId],
]);

const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'trailer',
  'upgrade',
  'te',
]);

// Fields a `Connection` header may not remove: the next hop routes and identifies on them,
// and letting a client strip them (`Connection: x-forwarded-for`) would hide the chain.
const PROTECTED = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'x-forwarded-for',
  'x-forwarded-proto',
  'true-client-ip',
  'x-request-id',
]);

// Tokens of Connection that are not field names to remove.
const CONNECTION_OPTIONS = new Set(['close', 'keep-alive', 'upgrade', 'te', 'connection']);

const COMMON_CONNECTION = new Set(['keep-alive', 'Keep-Alive', 'close', 'Close', 'Upgrade', 'upgrade']);

/** Lowercase field names a Connection value nominates for removal, or undefined. */
function nominated(connection: string | undefined): Set<string> | undefined {
  // The common values name no field: skip the split on the hot path.
  if (connection === undefined || COMMON_CONNECTION.has(connection)) return undefined;
  let names: Set<string> | undefined;
  for (const raw of connection.split(',')) {
    const token = raw.trim().toLowerCase();
    if (token === '' || CONNECTION_OPTIONS.has(token) || PROTECTED.has(token)) continue;
    (names ??= new Set()).add(token);
  }
  return names;
}

function withoutNames(headers: string[], names: Set<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!names.has(headers[i].toLowerCase())) kept.push(headers[i], headers[i + 1]);
  }
  return kept;
}

/** `::ffff:10.0.0.1` (IPv4 on a dual-stack socket) → `10.0.0.1`, as nginx would log it. */
export function peerAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

interface ContextFields {
  clientIp?: unknown;
  id?: unknown;
}

function leftmost(value: string): string {
  const comma = value.indexOf(',');
  return comma === -1 ? value : value.slice(0, comma).trim();
}

/**
 * Copy the client's header fields for next-hop, in order and original case: hop-by-hop
 * fields removed, Host kept, exactly one X-Forwarded-Proto, True-Client-IP kept or set,
 * the peer appended to X-Forwarded-For, X-Request-Id from `req.id`. Framing fields are
 * reported, not copied; the caller adds the ones that match the body it sends.
 */
export function requestHead(c: CompiledOptions, req: IncomingMessage, upgrade: boolean): RequestHead {
  const raw = req.rawHeaders;
  const headers: string[] = [];
  const head: RequestHead = { headers, contentType: undefined, contentLength: undefined, chunked: false };
  const context = req as IncomingMessage & ContextFields;
  const requestId = context.id;
  let forwardedFor: string | undefined;
  let proto = false;
  let host = false;
  let clientIp = false;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    switch (REQUEST_RULES.get(name.toLowerCase())) {
      case undefined:
        headers.push(name, value);
        break;
      case Rule.Connection:
        connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
      case Rule.Te:
        if (value.trim().toLowerCase() === 'trailers') headers.push(name, value);
        break;
      case Rule.TransferEncoding:
        head.chunked = true;
        break;
      case Rule.ContentLength:
        head.contentLength = value;
        break;
      case Rule.ContentType:
        head.contentType = value;
        headers.push(name, value);
        break;
      case Rule.Host:
        if (!host) headers.push(name, value);
        host = true;
        break;
      case Rule.ForwardedFor:
        if (!c.xForwardedFor) headers.push(name, value);
        else forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case Rule.ForwardedProto:
        // Exactly one value, the one the front sent (never `https,http`).
        if (!proto && !c.forceHttps) headers.push(name, leftmost(value));
        proto = true;
        break;
      case Rule.TrueClientIp:
        if (!clientIp) headers.push(name, value);
        clientIp = true;
        break;
      case Rule.RequestId:
        if (requestId === undefined || requestId === null || requestId === '') headers.push(name, value);
        break;
      case Rule.Upgrade:
        if (upgrade) headers.push(name, value);
        break;
      // Rule.Drop
    }
  }
  if (!host) headers.push('Host', c.hostHeader);
  if (c.forceHttps) headers.push('X-Forwarded-Proto', 'https');
  if (c.xForwardedFor) {
    const peer = peerAddress(req);
    headers.push('X-Forwarded-For', forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`);
  }
  if (!clientIp) {
    const ip = context.clientIp;
    headers.push(
      'True-Client-IP',
      typeof ip === 'string' && ip !== '' ? checkFieldValue('True-Client-IP', ip) : peerAddress(req),
    );
  }
  if (requestId !== undefined && requestId !== null && requestId !== '')
    headers.push('X-Request-Id', checkFieldValue('X-Request-Id', String(requestId)));
  if (upgrade) headers.push('Connection', 'Upgrade');
  const names = nominated(connection);
  if (names !== undefined) head.headers = withoutNames(headers, names);
  return head;
}

function relayed(raw: readonly string[]): { flat: string[]; repeated: boolean } {
  const flat: string[] = [];
  const lower: string[] = [];
  let repeated = false;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i].toLowerCase();
    if (RESPONSE_DROP.has(key)) {
      if (key === 'connection')
        connection = connection === undefined ? raw[i + 1] : `${connection}, ${raw[i + 1]}`;
      continue;
    }
    if (!repeated && lower.includes(key)) repeated = true;
    lower.push(key);
    flat.push(raw[i], raw[i + 1]);
  }
  const names = nominated(connection);
  return { flat: names === undefined ? flat : withoutNames(flat, names), repeated };
}

/** next-hop's response fields, hop-by-hop fields removed, as a flat `[name, value…]` list. */
export function relayedFields(proxyRes: IncomingMessage): string[] {
  return relayed(proxyRes.rawHeaders).flat;
}

/**
 * next-hop's response fields (`[name, value…]` as received) for `res.writeHead`,
 * hop-by-hop fields removed: a flat list when every name is unique (written in one go),
 * else an object with repeated fields as arrays (Node's writeHead keeps only the last of
 * repeated names from a flat list once other middleware has set a header, which would
 * drop all Set-Cookie fields but one).
 */
export function responseHeaders(raw: readonly string[]): string[] | OutgoingHttpHeaders {
  const { flat, repeated } = relayed(raw);
  return repeated ? grouped(flat) : flat;
}

function grouped(flat: string[]): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const key = flat[i].toLowerCase();
    const prior = out[key];
    if (prior === undefined) out[key] = flat[i + 1];
    else if (Array.isArray(prior)) prior.push(flat[i + 1]);
    else out[key] = [prior, flat[i + 1]];
  }
  return out;
}

/** proxyRes.headers (possibly edited by onProxyResponse) without hop-by-hop fields. */
export function editedResponseHeaders(proxyRes: IncomingMessage): OutgoingHttpHeaders {
  const names = nominated(proxyRes.headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const key of Object.keys(proxyRes.headers)) {
    const value = proxyRes.headers[key];
    if (value === undefined || RESPONSE_DROP.has(key) || names?.has(key)) continue;
    out[key] = value;
  }
  return out;
}

/** A flat field list as the object form `ClientRequest` takes when a hook will edit it. */
export function headerObject(flat: string[]): OutgoingHttpHeaders {
  return grouped(flat);
}

const KNOWN_METHODS = new Set(METHODS);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// What node:http's client refuses in a request path (it would split the request line).
const INVALID_PATH = /[^\u0021-\u00ff]/;
// What node:http refuses in a field value (CR, LF, NUL and other controls but HTAB).
const INVALID_VALUE = /[^\t\u0020-\u007e\u0080-\u00ff]/;

/**
 * The request line and header block for the proxy's own client, checked as node:http's
 * client checks them: the parts copied from the client were already checked by Node's
 * parser; the method and path (settable by any middleware) are checked here, and the
 * fields from `req.id` / `req.clientIp` by {@link checkFieldValue}.
 */
export function requestHeadText(method: string, path: string, headers: readonly string[]): string {
  // Middleware may set req.method (a method override): it goes into the request line.
  if (!KNOWN_METHODS.has(method) && !TOKEN.test(method)) {
    throw Object.assign(new TypeError('nexthop nextHopProxy: the request method must be an HTTP token'), {
      code: 'ERR_INVALID_HTTP_TOKEN',
    });
  }
  if (INVALID_PATH.test(path)) {
    throw Object.assign(
      new TypeError('nexthop nextHopProxy: the request path contains unescaped characters'),
      {
        code: 'ERR_UNESCAPED_CHARACTERS',
      },
    );
  }
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  // Persistent by default in HTTP/1.1, said anyway (as node:http does) for older hops.
  return `${head}Connection: keep-alive\r\n\r\n`;
}

/** Throw as node:http would for a field value that would break the header block. */
export function checkFieldValue(name: string, value: string): string {
  if (INVALID_VALUE.test(value)) {
    throw Object.assign(new TypeError(`nexthop nextHopProxy: invalid character in the ${name} field`), {
      code: 'ERR_INVALID_CHAR',
    });
  }
  return value;
}
