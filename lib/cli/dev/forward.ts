import http from 'node:http';
import https from 'node:https';

/** Headers that describe one connection and must not be forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
];

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
