import { createHash } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the echo upstream answers for an ordinary request. */
export interface Echo {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  bodyLength: number;
  bodyHash: string;
  body: string;
}

export interface EchoUpstream {
  readonly server: http.Server;
  readonly port: number;
  readonly url: string;
  /** TCP connections accepted so far. */
  connections: number;
  /** Connections currently open. */
  readonly open: Set<Socket>;
  /** Emits 'first-bytes' (path) when a request body's first chunk arrives, 'request' (req). */
  readonly events: EventEmitter;
  close(): Promise<void>;
}

/** Deterministic bytes: `size` bytes of a repeating non-trivial pattern, in 64 KiB chunks. */
export function* pattern(size: number): Generator<Buffer> {
  const block = Buffer.alloc(65536);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + (i >> 8)) & 0xff;
  for (let sent = 0; sent < size; sent += block.length)
    yield block.subarray(0, Math.min(block.length, size - sent));
}

export function sha256(data: Iterable<Buffer> | Buffer): string {
  const hash = createHash('sha256');
  if (Buffer.isBuffer(data)) hash.update(data);
  else for (const chunk of data) hash.update(chunk);
  return hash.digest('hex');
}

async function answer(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  events: EventEmitter,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const route = url.pathname;
  if (route === '/silent') return; // never answers: timeout tests
  if (route === '/download') {
    const size = Number(url.searchParams.get('size'));
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'X-Body-Hash': sha256(pattern(size)) });
    for (const chunk of pattern(size)) if (!res.write(chunk)) await once(res, 'drain');
    return void res.end();
  }
  if (route === '/cut') {
    // Headers and part of a body, then the connection dies.
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '1000' });
    res.write('x'.repeat(100));
    return void setTimeout(() => res.socket?.destroy(), 20);
  }
  if (route === '/cut-chunked') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('y'.repeat(100));
    return void setTimeout(() => res.socket?.destroy(), 20);
  }
  if (route === '/early') {
    // Answers before reading the body, as a server refusing a large upload does.
    res.writeHead(413, { 'Content-Type': 'text/plain', Connection: 'close' });
    return void res.end('too large');
  }
  if (route === '/hop-by-hop') {
    res.writeHead(200, [
      'Content-Type', 'text/plain',
      'Connection', 'keep-alive, X-Secret',
      'X-Secret', 'hop',
      'Keep-Alive', 'timeout=5',
      'Proxy-Connection', 'keep-alive',
      'Trailer', 'X-Checksum',
      'Upgrade', 'h2c',
      'Set-Cookie', 'a=1; Path=/',
      'Set-Cookie', 'b=2; Path=/',
      'X-Kept', 'yes',
    ]); // prettier-ignore
    return void res.end('hop');
  }
  const hash = createHash('sha256');
  let length = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (length === 0) events.emit('first-bytes', route);
    hash.update(chunk);
    length += chunk.length;
    if (length <= 65536) chunks.push(chunk);
  }
  const echo: Echo = {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    bodyLength: length,
    bodyHash: hash.digest('hex'),
    body: length <= 65536 ? Buffer.concat(chunks).toString('utf8') : '',
  };
  const status = Number(url.searchParams.get('status') ?? 200);
  const text = Buffer.from(JSON.stringify(echo));
  const chunked = url.searchParams.has('chunked');
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'X-Upstream': 'echo',
    ...(chunked ? {} : { 'Content-Length': text.length }),
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** An HTTP server on 127.0.0.1 that echoes method, url, headers and a body hash. */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const events = new EventEmitter();
  const open = new Set<Socket>();
  const server = http.createServer((req, res) => {
    events.emit('request', req);
    answer(req, res, events).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  const upstream = {
    server,
    port: 0,
    url: '',
    connections: 0,
    open,
    events,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', (socket: Socket) => {
    upstream.connections++;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  upstream.port = (server.address() as AddressInfo).port;
  upstream.url = `http://127.0.0.1:${upstream.port}`;
  return upstream;
}

/** A response read whole. */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  json<T = Echo>(): T;
}

export interface SendOptions {
  method?: string;
  path?: string;
  headers?: http.OutgoingHttpHeaders | string[];
  body?: string | Buffer;
  agent?: http.Agent | false;
}

/** One request to 127.0.0.1:port, the whole response read. */
export function send(port: number, options: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
            json: <T>() => JSON.parse(body.toString('utf8')) as T,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Listen on 127.0.0.1:0 and return the port. */
export async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Close a server and every connection it holds. */
export async function shut(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
