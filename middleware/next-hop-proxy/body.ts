import type { IncomingMessage } from 'node:http';
import { NexthopError } from '../../lib/errors';

/** A request body already read by a parser mounted earlier, as bytes to send again. */
export interface ResentBody {
  bytes: Buffer;
  /** Content-Type to send, when the charset had to change to UTF-8. */
  contentType?: string;
}

// Charsets Buffer can encode back exactly; others are re-sent as UTF-8 (and labelled so).
const ENCODINGS: Record<string, BufferEncoding> = {
  'utf-8': 'utf8',
  utf8: 'utf8',
  'us-ascii': 'latin1',
  ascii: 'latin1',
  'iso-8859-1': 'latin1',
  latin1: 'latin1',
  'utf-16le': 'utf16le',
};

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

function encodeText(text: string, contentType: string | undefined): ResentBody {
  const charset = contentType === undefined ? undefined : CHARSET.exec(contentType)?.[1].toLowerCase();
  if (charset === undefined) return { bytes: Buffer.from(text, 'utf8') };
  const encoding = ENCODINGS[charset];
  if (encoding !== undefined) return { bytes: Buffer.from(text, encoding) };
  return {
    bytes: Buffer.from(text, 'utf8'),
    contentType: (contentType as string).replace(CHARSET, '; charset=utf-8'),
  };
}

function addField(parts: string[], name: string, value: unknown): void {
  if (value === null || value === undefined) {
    parts.push(`${name}=`);
  } else if (Array.isArray(value)) {
    // `a=1&a=2` parses back to ['1', '2'] with both querystring and qs; nested values need indices.
    const flat = value.every((v) => v === null || typeof v !== 'object');
    value.forEach((v, i) => addField(parts, flat ? name : `${name}%5B${i}%5D`, v));
  } else if (typeof value === 'object') {
    for (const key of Object.keys(value)) {
      addField(parts, `${name}%5B${encodeURIComponent(key)}%5D`, (value as Record<string, unknown>)[key]);
    }
  } else {
    parts.push(`${name}=${encodeURIComponent(String(value))}`);
  }
}

/**
 * `application/x-www-form-urlencoded` for a body parsed by `express.urlencoded()`, flat
 * (`extended: false`) or nested (`extended: true`, bracket notation as qs reads it).
 */
export function encodeForm(body: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of Object.keys(body)) addField(parts, encodeURIComponent(key), body[key]);
  return parts.join('&');
}

function notResendable(why: string): NexthopError {
  return new NexthopError(
    'ERR_NEXTHOP_BODY_CONSUMED',
    `nexthop nextHopProxy: the request body was already read ${why}, so it cannot be proxied; ` +
      'mount body parsers on the routes that need them, or after nextHopProxy()',
  );
}

/**
 * The bytes of a body that `express.json()`, `urlencoded()`, `text()` or `raw()` consumed
 * before the proxy ran, rebuilt from `req.body`. JSON and forms are re-serialised (same
 * data; whitespace may differ), text re-encoded in its charset, raw bytes sent as they are.
 */
export function resendBody(req: IncomingMessage, contentType: string | undefined): ResentBody | NexthopError {
  const body = (req as IncomingMessage & { body?: unknown }).body;
  if (Buffer.isBuffer(body)) return { bytes: body };
  if (typeof body === 'string') return encodeText(body, contentType);
  const type = contentType?.toLowerCase() ?? '';
  if (body !== undefined && type.includes('json'))
    return { bytes: Buffer.from(JSON.stringify(body), 'utf8') };
  if (typeof body === 'object' && body !== null && type.includes('application/x-www-form-urlencoded')) {
    return { bytes: Buffer.from(encodeForm(body as Record<string, unknown>), 'utf8') };
  }
  return notResendable(
    body === undefined
      ? 'by other middleware (req.body is not set)'
      : `into a form it cannot rebuild (${contentType})`,
  );
}
