import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import {
  createApp,
  createLogger,
  loadConfig,
  nextHopProxy,
  serve,
  type NextHopProxyOptions,
  type ServeHandle,
} from 'nexthop';
import { listen, shut } from './helpers/echo-upstream';
import { tempDir } from './helpers/process';

const logDir = tempDir();
const quiet = { handleSignals: false, processGuards: false } as const;

let upstream: http.Server;
let upstreamPort: number;
let wss: WebSocketServer;
const upgradeHeaders: http.IncomingHttpHeaders[] = [];
const upstreamSockets: WebSocket[] = [];
let handle: ServeHandle | undefined;

beforeAll(async () => {
  upstream = http.createServer((_req, res) => res.end('plain'));
  wss = new WebSocketServer({ noServer: true });
  upstream.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    upgradeHeaders.push(req.headers);
    if (req.url?.startsWith('/refuse')) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\nX-Why: refused\r\n\r\nno way');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      upstreamSockets.push(ws);
      ws.send(`hello ${req.url}`);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  upstreamPort = await listen(upstream);
});
afterAll(async () => {
  wss.close();
  await shut(upstream);
  fs.rmSync(logDir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const ws of upstreamSockets.splice(0)) ws.terminate();
  await handle?.close();
  handle = undefined;
});

async function serveProxy(
  mount: string,
  options: NextHopProxyOptions = {},
  trustedProxies?: string[],
): Promise<number> {
  const logger = createLogger({ dir: logDir, console: false });
  const app = createApp({ config: loadConfig({ LOG_DIR: logDir, PORT: '8080' }), logger, trustedProxies });
  app.get('/app', (_req, res) => res.send('app'));
  app.use(mount, nextHopProxy({ target: `http://127.0.0.1:${upstreamPort}`, ...options }));
  handle = await serve(app, { ...quiet, port: 0 });
  return handle.port;
}

async function openSocket(url: string, headers: Record<string, string> = {}): Promise<[WebSocket, string]> {
  const ws = new WebSocket(url, { headers });
  const [greeting] = (await once(ws, 'message')) as [Buffer];
  return [ws, greeting.toString()];
}

/** Send a raw upgrade request and read until the server closes. */
async function rawUpgrade(port: number, path: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
  );
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await once(socket, 'close');
  return text;
}

describe('with the default stack of createApp()', () => {
  test('True-Client-IP from clientIp, X-Request-Id from requestId, security headers left to next-hop', async () => {
    const plain = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(req.headers));
    });
    const plainPort = await listen(plain);
    try {
      const logger = createLogger({ dir: logDir, console: false });
      const app = createApp({ config: loadConfig({ LOG_DIR: logDir, PORT: '8080' }), logger });
      app.get('/own', (_req, res) => res.send('own'));
      app.use(nextHopProxy({ target: `http://127.0.0.1:${plainPort}` }));
      handle = await serve(app, { ...quiet, port: 0 });
      const proxied = await new Promise<http.IncomingMessage & { text?: string }>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: handle?.port, path: '/x' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => resolve(Object.assign(res, { text })));
        });
        req.on('error', reject);
      });
      const upstreamSaw = JSON.parse(proxied.text ?? '{}') as http.IncomingHttpHeaders;
      expect(upstreamSaw['true-client-ip']).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
      expect(upstreamSaw['x-request-id']).toBe(proxied.headers['x-request-id']);
      expect(upstreamSaw['x-request-id']).toEqual(expect.any(String));
      const own = await new Promise<http.IncomingMessage>((resolve) =>
        http.get({ host: '127.0.0.1', port: handle?.port, path: '/own' }, (res) => resolve(res.resume())),
      );
      expect(own.headers['x-content-type-options']).toBe('nosniff');
      expect(proxied.headers['x-content-type-options']).toBeUndefined();
    } finally {
      await shut(plain);
    }
  });
});

test('shutdown: a proxied request in flight is answered in full before close() resolves', async () => {
  let release: () => void = () => {};
  const slow = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('first ');
    release = () => res.end('last');
  });
  const slowPort = await listen(slow);
  try {
    const logger = createLogger({ dir: logDir, console: false });
    const app = createApp({ config: loadConfig({ LOG_DIR: logDir, PORT: '8080' }), logger });
    app.use(nextHopProxy({ target: `http://127.0.0.1:${slowPort}` }));
    const served = await serve(app, { ...quiet, port: 0 });
    const reply = new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: served.port, path: '/slow', agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => resolve(text));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    await new Promise((r) => slow.once('request', () => setImmediate(r)));
    let closed = false;
    const closing = served.close().then(() => (closed = true));
    // The server stops listening at once; close() still waits for the response in flight.
    while (served.server.listening) await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    release();
    expect(await reply).toBe('first last');
    await closing;
  } finally {
    await shut(slow);
  }
});

describe('WebSocket and other upgrades through serve()', () => {
  test('a WebSocket echoes text and binary through the proxy, with the header rules', async () => {
    const port = await serveProxy('/');
    const [ws, greeting] = await openSocket(`ws://127.0.0.1:${port}/chat?room=1`, {
      'X-Forwarded-Proto': 'https',
      'True-Client-IP': '203.0.113.9',
    });
    expect(greeting).toBe('hello /chat?room=1');
    ws.send('ping');
    expect(String((await once(ws, 'message'))[0])).toBe('ping');
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    ws.send(bytes);
    const [echoed, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
    expect([Buffer.compare(echoed, bytes), isBinary]).toEqual([0, true]);
    ws.close();
    await once(ws, 'close');
    const seen = upgradeHeaders.at(-1) as http.IncomingHttpHeaders;
    expect(seen.host).toBe(`127.0.0.1:${port}`);
    expect(seen['x-forwarded-proto']).toBe('https');
    expect(seen['true-client-ip']).toBe('203.0.113.9');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.connection?.toLowerCase()).toBe('upgrade');
    expect(seen.upgrade).toBe('websocket');
  });

  test('from an untrusted peer, forged forwarding fields are not passed on', async () => {
    const port = await serveProxy('/', {}, ['127.0.0.1/32']);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/forged`, {
      localAddress: '127.0.0.2',
      headers: { 'X-Forwarded-Proto': 'https', 'True-Client-IP': '6.6.6.6', 'section-io-id': 'x' },
    });
    await once(ws, 'message');
    ws.terminate();
    const seen = upgradeHeaders.at(-1) as http.IncomingHttpHeaders;
    expect([seen['true-client-ip'], seen['x-forwarded-proto'], seen['section-io-id']]).toEqual([
      '127.0.0.2',
      'http',
      undefined,
    ]);
  });

  test('hooks see upgrades: onProxyRequest edits the upgrade request, onProxyResponse the 101', async () => {
    const seen: boolean[] = [];
    const port = await serveProxy('/', {
      onProxyRequest: (proxyReq, req) => {
        seen.push(proxyReq.upgrade);
        proxyReq.headers['x-hooked'] = req.path;
      },
      onProxyResponse: (proxyRes) => {
        seen.push(proxyRes.upgrade, proxyRes.status === 101);
        proxyRes.headers['x-edge'] = 'yes';
      },
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/hooked`);
    const greeting = once(ws, 'message');
    const [res] = (await once(ws, 'upgrade')) as [http.IncomingMessage];
    expect(res.headers['x-edge']).toBe('yes');
    await greeting;
    ws.terminate();
    expect(upgradeHeaders.at(-1)?.['x-hooked']).toBe('/hooked');
    expect(seen).toEqual([true, true, true]);
  });

  test('mounted at a subpath: the full path goes upstream; forceHttps applies', async () => {
    const port = await serveProxy('/live', { forceHttps: true });
    const [ws, greeting] = await openSocket(`ws://127.0.0.1:${port}/live/feed`);
    expect(greeting).toBe('hello /live/feed');
    expect(upgradeHeaders.at(-1)?.['x-forwarded-proto']).toBe('https');
    ws.terminate();
    expect((await rawUpgrade(port, '/other')).split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
  });

  test('a refused upgrade is relayed as next-hop answered it, then closed', async () => {
    const port = await serveProxy('/');
    const text = await rawUpgrade(port, '/refuse');
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 403 Forbidden');
    expect(text).toMatch(/X-Why: refused\r\n/);
    expect(text).toMatch(/Connection: close\r\n/);
    expect(text.endsWith('\r\n\r\nno way')).toBe(true);
  });

  test('pathFilter excludes an upgrade path: 404', async () => {
    const port = await serveProxy('/', { pathFilter: '/ws' });
    expect((await rawUpgrade(port, '/not-ws')).split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
    const [ws] = await openSocket(`ws://127.0.0.1:${port}/ws/x`);
    ws.terminate();
  });

  test('next-hop down: the upgrade is answered 502 with the code, and the socket closed', async () => {
    const dead = net.createServer().listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const logger = createLogger({ dir: logDir, console: false });
    const app = createApp({ config: loadConfig({ LOG_DIR: logDir, PORT: '8080' }), logger });
    app.use(nextHopProxy({ target: `http://127.0.0.1:${deadPort}` }));
    handle = await serve(app, { ...quiet, port: 0 });
    const text = await rawUpgrade(handle.port, '/ws');
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 502 Bad Gateway');
    expect(text).toMatch(/ERR_NEXTHOP_UPSTREAM_REFUSED/);
  });

  test('closing either side closes the other; no listeners are left on the server', async () => {
    const port = await serveProxy('/');
    const server = handle?.server as http.Server;
    const before = server.listenerCount('upgrade');
    const [a] = await openSocket(`ws://127.0.0.1:${port}/a`);
    const aUpstream = upstreamSockets.at(-1) as WebSocket;
    const [b] = await openSocket(`ws://127.0.0.1:${port}/b`);
    const bUpstream = upstreamSockets.at(-1) as WebSocket;
    const aClosedUpstream = once(aUpstream, 'close');
    a.terminate();
    await aClosedUpstream;
    const bClosedClient = once(b, 'close');
    bUpstream.terminate();
    await bClosedClient;
    expect(server.listenerCount('upgrade')).toBe(before);
  });
});
