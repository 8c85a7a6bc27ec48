import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { HOP_BY_HOP } from '../../../middleware/next-hop-proxy/headers';

/** A copy of `headers` without hop-by-hop headers, including those named in `Connection`. */
export function endToEnd(
  headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders,
): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = { ...headers };
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const name of [...HOP_BY_HOP, ...named]) delete out[name];
  return out;
}

/** Where to send a request. */
export interface Target {
  readonly protocol: 'http:' | 'https:';
  readonly host: string;
  readonly port: number;
  /** TLS server name, for https. */
  readonly servername?: string;
}

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/** Close idle keep-alive sockets (at shutdown). */
export function destroyAgents(): void {
  agents['http:'].destroy();
  agents['https:'].destroy();
}

/**
 * Stream `req` to `target` with `headers` and stream the answer back into `res`. Calls
 * `onError` when no response arrives (connect failure, reset, `timeoutMs` without an
 * answer); the caller then answers. Bodies are piped, never buffered.
 */
export function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  target: Target,
  headers: http.OutgoingHttpHeaders,
  timeoutMs: number,
  onError: (err: NodeJS.ErrnoException) => void,
): void {
  const lib = target.protocol === 'https:' ? https : http;
  const upstream = lib.request({
    protocol: target.protocol,
    host: target.host,
    port: target.port,
    servername: target.servername,
    method: req.method,
    path: req.url,
    headers: endToEnd(headers),
    agent: agents[target.protocol],
    timeout: timeoutMs,
  });
  upstream.on('timeout', () =>
    upstream.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' })),
  );
  upstream.on('response', (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (res.headersSent) res.destroy();
    else onError(err);
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

/** Answer with a short plain-text error page. */
export function answerError(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text) + 1,
  });
  res.end(`${text}\n`);
}

/** The head of an upgrade request as it goes on the wire, with `headers` replacing the received ones. */
function requestHead(req: http.IncomingMessage, headers: http.OutgoingHttpHeaders): string {
  const lines = [`${req.method} ${req.url} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(v)}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Tunnel an upgrade request (WebSocket) to `target`: write its head with `headers`
 * (Connection and Upgrade kept, they are the point), then pipe both ways. `onStatus`
 * gets the status of the upstream's answer (101 when it switched protocols); when the
 * upstream cannot be reached the client gets a 502 and `onStatus(502)`.
 */
export function tunnel(
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: Target,
  headers: http.OutgoingHttpHeaders,
  onStatus: (status: number) => void,
): void {
  const upstream =
    target.protocol === 'https:'
      ? tls.connect({ host: target.host, port: target.port, servername: target.servername })
      : net.connect(target.port, target.host);
  let answered = false;
  upstream.once(target.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
    upstream.write(requestHead(req, headers));
    if (head.length > 0) upstream.write(head);
    upstream.once('data', (chunk: Buffer) => {
      answered = true;
      onStatus(Number(/^HTTP\/1\.[01] (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 502));
    });
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.on('error', () => {
    if (!answered && socket.writable) {
      answered = true;
      onStatus(502);
      socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    } else socket.destroy();
  });
  socket.on('error', () => upstream.destroy());
  socket.on('close', () => upstream.destroy());
  upstream.on('close', () => socket.destroy());
}
