import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Request } from 'express';
import type { Trust } from '../../lib/trust';
import { resolveProto } from '../forwarded-proto';
import type { CompiledOptions, ProxyHeaders } from './options';

/** The client's request fields as they go upstream, and what the proxy read from them. */
export interface RequestHead {
  /** Upstream header fields as a flat `[name, value, name, value…]` list, framing excluded. */
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
  TrueClientIp,
  RequestId,
}

const REQUEST_RULES = new Map<string, Rule>([
  // RFC 9110 §7.6.1: hop-by-hop fields end at this hop.
  ['connection', Rule.Connection],
  ['keep-alive', Rule.Drop],
  ['proxy-connection', Rule.Drop],
  ['trailer', Rule.Drop],
  // undici writes Upgrade (and Connection) itself for an upgrade.
  ['upgrade', Rule.Drop],
  ['te', Rule.Te],
  // This server already answered `100-continue`; undici sends no Expect of its own.
  ['expect', Rule.Drop],
  // Framing is rebuilt by undici for the body it sends.
  ['transfer-encoding', Rule.TransferEncoding],
  ['content-length', Rule.ContentLength],
  ['content-type', Rule.ContentType],
  ['host', Rule.Host],
  ['x-forwarded-for', Rule.ForwardedFor],
  // Set from what the app trusts, never copied.
  ['x-forwarded-proto', Rule.Drop],
  ['true-client-ip', Rule.TrueClientIp],
  ['x-request-id', Rule.RequestId],
]);

/** Fields that describe one connection and are never forwarded (RFC 9110 §7.6.1). */
export const HOP_BY_HOP: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'trailer',
  'upgrade',
  'te',
];

const RESPONSE_DROP = new Set(HOP_BY_HOP);

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

// The platform's own request fields (geo, request id…): believed only from a trusted peer.
const PLATFORM_PREFIX = 'section-io-';

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

const TRUST_NONE: Trust = () => false;

/**
 * The peers the app trusts: Express's compiled `trust proxy` (createApp sets it to its
 * `trustedProxies`); none for a request that did not come through an Express app.
 */
function trustOf(req: IncomingMessage): Trust {
  const app = (req as Partial<Request>).app;
  return (app?.get('trust proxy fn') as Trust | undefined) ?? TRUST_NONE;
}

interface Received {
  connection: string | undefined;
  forwardedFor: string | undefined;
  trueClientIp: string | undefined;
}

/** Copy (or note) one client field by its rule; Host and X-Request-Id are the caller's. */
function copyField(head: RequestHead, got: Received, name: string, value: string, lower: string): void {
  const { headers } = head;
  switch (REQUEST_RULES.get(lower)) {
    case Rule.Connection:
      got.connection = got.connection === undefined ? value : `${got.connection}, ${value}`;
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
    case Rule.ForwardedFor:
      got.forwardedFor = got.forwardedFor === undefined ? value : `${got.forwardedFor}, ${value}`;
      break;
    case Rule.TrueClientIp:
      got.trueClientIp ??= value;
      break;
    // Rule.Drop
  }
}

/**
 * The client's header fields for next-hop, in order and original case: hop-by-hop fields
 * removed, Host kept, X-Forwarded-Proto exactly once from the scheme the app trusts,
 * True-Client-IP from `req.clientIp` (else the peer's, or a trusted peer's field), the peer
 * appended to X-Forwarded-For, X-Request-Id from `req.id`, `section-io-*` fields only from
 * a trusted peer. Framing fields are reported, not copied.
 */
export function requestHead(c: CompiledOptions, req: IncomingMessage): RequestHead {
  const trust = trustOf(req);
  const raw = req.rawHeaders;
  const head: RequestHead = { headers: [], contentType: undefined, contentLength: undefined, chunked: false };
  const got: Received = { connection: undefined, forwardedFor: undefined, trueClientIp: undefined };
  const { id } = req as IncomingMessage & { id?: unknown };
  const requestId = id === undefined || id === null ? '' : String(id);
  const trusted = trust(req.socket.remoteAddress, 0);
  let host = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    const rule = REQUEST_RULES.get(lower);
    if (rule === undefined) {
      if (trusted || !lower.startsWith(PLATFORM_PREFIX)) head.headers.push(name, raw[i + 1]);
    } else if (rule === Rule.Host) {
      if (!host) head.headers.push(name, raw[i + 1]);
      host = true;
    } else if (rule === Rule.RequestId) {
      if (requestId === '') head.headers.push(name, raw[i + 1]);
    } else {
      copyField(head, got, name, raw[i + 1], lower);
    }
  }
  addForwarding(c, req, head.headers, got, trusted, trust);
  if (requestId !== '') head.headers.push('X-Request-Id', requestId);
  const names = nominated(got.connection);
  if (names !== undefined) head.headers = withoutNames(head.headers, names);
  return head;
}

function addForwarding(
  c: CompiledOptions,
  req: IncomingMessage,
  headers: string[],
  got: Received,
  trusted: boolean,
  trust: Trust,
): void {
  const peer = peerAddress(req);
  if (!c.xForwardedFor) {
    if (got.forwardedFor !== undefined) headers.push('X-Forwarded-For', got.forwardedFor);
  } else {
    headers.push('X-Forwarded-For', got.forwardedFor === undefined ? peer : `${got.forwardedFor}, ${peer}`);
  }
  const context = req as IncomingMessage & { clientIp?: unknown; proto?: string };
  const proto = c.forceHttps ? 'https' : (context.proto ?? resolveProto(req as Request, trust, false));
  headers.push('X-Forwarded-Proto', proto);
  const ip = context.clientIp;
  const clientIp =
    typeof ip === 'string' && ip !== ''
      ? ip
      : trusted && got.trueClientIp !== undefined
        ? got.trueClientIp
        : peer;
  headers.push('True-Client-IP', clientIp);
}

/**
 * next-hop's response fields (raw `[name, value…]` as undici read them) for `res.writeHead`,
 * hop-by-hop fields removed: a flat list when every name is unique (written in one go),
 * else an object with repeated fields as arrays (Node's writeHead keeps only the last of
 * repeated names from a flat list once other middleware has set a header).
 */
export function responseFields(raw: readonly Buffer[]): string[] | OutgoingHttpHeaders {
  const flat: string[] = [];
  const lower: string[] = [];
  let repeated = false;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    const value = raw[i + 1].toString('latin1');
    const key = name.toLowerCase();
    if (RESPONSE_DROP.has(key)) {
      if (key === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
      continue;
    }
    if (!repeated && lower.includes(key)) repeated = true;
    lower.push(key);
    flat.push(name, value);
  }
  const names = nominated(connection);
  const kept = names === undefined ? flat : withoutNames(flat, names);
  return repeated ? hookHeaders(kept) : kept;
}

/**
 * A flat field list as hooks see it: lowercase names, repeated fields as arrays,
 * `set-cookie` always an array.
 */
export function hookHeaders(flat: readonly string[]): ProxyHeaders {
  const out: ProxyHeaders = {};
  for (let i = 0; i < flat.length; i += 2) {
    const key = flat[i].toLowerCase();
    const prior = out[key];
    if (prior === undefined) out[key] = key === 'set-cookie' ? [flat[i + 1]] : flat[i + 1];
    else if (Array.isArray(prior)) prior.push(flat[i + 1]);
    else out[key] = [prior, flat[i + 1]];
  }
  return out;
}

/** Response fields in hook form, whichever form `responseFields` returned. */
export function asHookHeaders(fields: string[] | OutgoingHttpHeaders): ProxyHeaders {
  return Array.isArray(fields) ? hookHeaders(fields) : (fields as ProxyHeaders);
}
