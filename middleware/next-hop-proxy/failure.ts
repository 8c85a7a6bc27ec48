import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import accepts from 'accepts';
import { ERROR_CODES, type NexthopErrorCode } from '../../lib/errors';

/** The error codes a failed upstream exchange is answered or logged with. */
export type UpstreamErrorCode =
  | 'ERR_NEXTHOP_UPSTREAM_REFUSED'
  | 'ERR_NEXTHOP_UPSTREAM_RESET'
  | 'ERR_NEXTHOP_UPSTREAM_DNS'
  | 'ERR_NEXTHOP_UPSTREAM_TIMEOUT'
  | 'ERR_NEXTHOP_UPSTREAM_MALFORMED'
  | 'ERR_NEXTHOP_UPSTREAM'
  | 'ERR_NEXTHOP_UPSTREAM_ABORTED'
  | 'ERR_NEXTHOP_CLIENT_ABORTED';

/** Short, internals-free words for each failure a client can be answered with. */
const MESSAGES: Partial<Record<NexthopErrorCode, string>> = {
  ERR_NEXTHOP_UPSTREAM_REFUSED: 'next-hop refused the connection',
  ERR_NEXTHOP_UPSTREAM_RESET: 'next-hop closed the connection before answering',
  ERR_NEXTHOP_UPSTREAM_DNS: 'next-hop could not be resolved',
  ERR_NEXTHOP_UPSTREAM_TIMEOUT: 'next-hop did not answer in time',
  ERR_NEXTHOP_UPSTREAM_MALFORMED: 'next-hop sent a malformed response',
  ERR_NEXTHOP_UPSTREAM: 'next-hop could not be reached',
  ERR_NEXTHOP_BAD_PROXY_REQUEST: 'the request could not be sent to next-hop',
};

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
// undici's codes for a response that breaks HTTP/1.1's rules (llhttp's are HPE_*).
const MALFORMED_CODES = new Set([
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
]);
// undici's SocketError messages for a response it refuses (an unasked 100 or 101).
const REFUSED_RESPONSE = new Set(['bad response', 'bad upgrade']);

/** The connection broke before any response (a stale keep-alive connection, say). */
export function isReset(err: NodeJS.ErrnoException): boolean {
  const { code } = err;
  if (code === 'UND_ERR_SOCKET') return !REFUSED_RESPONSE.has(err.message);
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/** Map a socket or undici error to its stable nexthop code. */
export function classify(err: NodeJS.ErrnoException): UpstreamErrorCode {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return 'ERR_NEXTHOP_UPSTREAM_REFUSED';
  if (TIMEOUT_CODES.has(code)) return 'ERR_NEXTHOP_UPSTREAM_TIMEOUT';
  if (DNS_CODES.has(code)) return 'ERR_NEXTHOP_UPSTREAM_DNS';
  if (code.startsWith('HPE_') || err.name === 'HTTPParserError' || MALFORMED_CODES.has(code))
    return 'ERR_NEXTHOP_UPSTREAM_MALFORMED';
  if (code === 'UND_ERR_SOCKET' && REFUSED_RESPONSE.has(err.message)) return 'ERR_NEXTHOP_UPSTREAM_MALFORMED';
  if (isReset(err)) return 'ERR_NEXTHOP_UPSTREAM_RESET';
  return 'ERR_NEXTHOP_UPSTREAM';
}

interface Rendered {
  status: number;
  text: Buffer;
  json: Buffer;
}

function render(code: NexthopErrorCode, health: boolean): Rendered {
  const message = MESSAGES[code] ?? 'next-hop could not be reached';
  if (health) {
    return {
      status: 200,
      text: Buffer.from(`ok: this instance is up; ${message} (${code})\n`),
      json: Buffer.from(`${JSON.stringify({ status: 'ok', nextHop: 'unreachable', code })}\n`),
    };
  }
  const status = ERROR_CODES[code];
  return {
    status,
    text: Buffer.from(`${status} ${STATUS_CODES[status]}: ${message} (${code})\n`),
    json: Buffer.from(`${JSON.stringify({ error: { status, code, message } })}\n`),
  };
}

// Rendered once at load: the failure path allocates nothing but headers.
const ANSWERS = new Map<string, Rendered>();
for (const code of Object.keys(MESSAGES) as NexthopErrorCode[]) {
  ANSWERS.set(code, render(code, false));
  ANSWERS.set(`health:${code}`, render(code, true));
}

const TYPES = ['text/plain', 'application/json', 'application/problem+json'];

/**
 * Whether the client prefers JSON to text, by content negotiation on `Accept` (ties go to
 * text): `application/json` or `application/problem+json` ranks at least as high as `text/plain`.
 */
export function prefersJson(req: IncomingMessage): boolean {
  const best = accepts(req).type(TYPES);
  return best === 'application/json' || best === 'application/problem+json';
}

/**
 * Answer a failed exchange: the code's status (200 on the health path), a short body in
 * JSON or text, no internals. The connection closes when the request body was not read
 * to its end (what is left of an upload is not worth reading).
 */
export function respondFailure(
  req: IncomingMessage,
  res: ServerResponse,
  code: NexthopErrorCode,
  health: boolean,
): void {
  const answer = (health ? ANSWERS.get(`health:${code}`) : ANSWERS.get(code)) ?? render(code, health);
  const json = prefersJson(req);
  const body = json ? answer.json : answer.text;
  res.statusCode = answer.status;
  res.setHeader('Content-Type', json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.setHeader('Cache-Control', 'no-store');
  if (!req.complete) res.setHeader('Connection', 'close');
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Answer a failed upgrade on the raw client socket with `code`'s status (or 500), then close it. */
export function respondUpgradeFailure(socket: Duplex, code: NexthopErrorCode): void {
  const answer = ANSWERS.get(code) ?? render(code, false);
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${answer.text.length}\r\n` +
      `Connection: close\r\n\r\n${answer.text.toString()}`,
  );
}
