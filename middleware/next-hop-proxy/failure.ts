import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CODES, type NexthopErrorCode } from '../../lib/errors';

/** The error codes a failed upstream exchange is answered or logged with. */
export type UpstreamErrorCode =
  | 'ERR_NEXTHOP_UPSTREAM_REFUSED'
  | 'ERR_NEXTHOP_UPSTREAM_RESET'
  | 'ERR_NEXTHOP_UPSTREAM_DNS'
  | 'ERR_NEXTHOP_UPSTREAM_TIMEOUT'
  | 'ERR_NEXTHOP_UPSTREAM'
  | 'ERR_NEXTHOP_UPSTREAM_ABORTED'
  | 'ERR_NEXTHOP_CLIENT_ABORTED';

/** Short, internals-free words for each failure a client can be answered with. */
const MESSAGES: Partial<Record<NexthopErrorCode, string>> = {
  ERR_NEXTHOP_UPSTREAM_REFUSED: 'next-hop refused the connection',
  ERR_NEXTHOP_UPSTREAM_RESET: 'next-hop closed the connection before answering',
  ERR_NEXTHOP_UPSTREAM_DNS: 'next-hop could not be resolved',
  ERR_NEXTHOP_UPSTREAM_TIMEOUT: 'next-hop did not answer in time',
  ERR_NEXTHOP_UPSTREAM: 'next-hop could not be reached',
};

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);

/** The error a connection is destroyed with when next-hop stays silent for `ms` (→ 504). */
export function silenceError(ms: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`next-hop was silent for ${ms} ms`), { code: 'ETIMEDOUT' });
}

/** Map a Node socket/HTTP client error to its stable nexthop code. */
export function classify(err: NodeJS.ErrnoException): UpstreamErrorCode {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return 'ERR_NEXTHOP_UPSTREAM_REFUSED';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'ERR_NEXTHOP_UPSTREAM_RESET';
  if (code === 'ETIMEDOUT') return 'ERR_NEXTHOP_UPSTREAM_TIMEOUT';
  if (DNS_CODES.has(code)) return 'ERR_NEXTHOP_UPSTREAM_DNS';
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

/** q-value of a media range parameter list (`;q=0.5`), 1 when absent. */
function quality(params: string): number {
  const match = /;\s*q\s*=\s*([0-9.]+)/i.exec(params);
  return match === null ? 1 : Number(match[1]) || 0;
}

/**
 * Whether the client prefers JSON to text: a JSON type (`application/json`, `*+json`)
 * is listed with a quality at least that of `text/plain`, `text/*` or `*\/*`.
 */
export function prefersJson(accept: string | undefined): boolean {
  if (accept === undefined || !accept.includes('json')) return false;
  let json = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const semi = range.indexOf(';');
    const type = (semi === -1 ? range : range.slice(0, semi)).trim().toLowerCase();
    const q = semi === -1 ? 1 : quality(range.slice(semi));
    if (type === 'application/json' || type.endsWith('+json')) json = Math.max(json, q);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') text = Math.max(text, q);
  }
  return json > 0 && json >= text;
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
  const json = prefersJson(req.headers.accept);
  const body = json ? answer.json : answer.text;
  res.statusCode = answer.status;
  res.setHeader('Content-Type', json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.setHeader('Cache-Control', 'no-store');
  if (!req.complete) res.setHeader('Connection', 'close');
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Answer a failed upgrade on the raw client socket, then close it. */
export function respondUpgradeFailure(socket: Duplex, code: NexthopErrorCode): void {
  const answer = ANSWERS.get(code) ?? render(code, false);
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${answer.text.length}\r\n` +
      `Connection: close\r\n\r\n${answer.text.toString()}`,
  );
}
