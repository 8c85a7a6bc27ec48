import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import express from 'express';
import {
  createApp,
  createLogger,
  loadConfig,
  serve,
  DEFAULT_KEEP_ALIVE_TIMEOUT,
  DEFAULT_HEADERS_TIMEOUT,
  DEFAULT_REQUEST_TIMEOUT,
  NexthopError,
  type ServeHandle,
} from 'nexthop';
import { freePort, tempDir } from './helpers/process';
import { request } from './helpers/http';

const logDir = tempDir();
const quiet = { handleSignals: false, processGuards: false } as const;
afterAll(() => fs.rmSync(logDir, { recursive: true, force: true }));

function testApp() {
  const logger = createLogger({ dir: logDir, console: false });
  const app = createApp({ config: loadConfig({ LOG_DIR: logDir, PORT: '8080' }), logger });
  app.get('/hello', (req, res) => res.json({ ip: req.ip, proto: req.protocol, secure: req.secure }));
  return app;
}

describe('serve', () => {
  let handle: ServeHandle | undefined;
  afterEach(async () => {
    await handle?.close();
    handle = undefined;
  });

  test('listens on the given port, answers HTTP/1.1 and resolves a handle', async () => {
    const port = await freePort();
    handle = await serve(testApp(), { ...quiet, port });
    expect(handle.port).toBe(port);
    const reply = await request(port, '/hello');
    expect(reply.status).toBe(200);
    expect(reply.httpVersion).toBe('1.1');
    // (clientIp's own tests pin the exact form; here: the socket peer, plain HTTP)
    expect(JSON.parse(reply.body)).toMatchObject({ proto: 'http', secure: false });
    expect(JSON.parse(reply.body).ip).toMatch(/127\.0\.0\.1$/);
  });

  test('the live server keeps idle connections for the documented 76 s', async () => {
    handle = await serve(testApp(), { ...quiet, port: 0 });
    expect(DEFAULT_KEEP_ALIVE_TIMEOUT).toBe(76_000);
    expect(handle.server.keepAliveTimeout).toBe(76_000);
    expect(handle.server.headersTimeout).toBe(DEFAULT_HEADERS_TIMEOUT);
    expect(handle.server.requestTimeout).toBe(DEFAULT_REQUEST_TIMEOUT);
    const agent = new http.Agent({ keepAlive: true });
    const reply = await request(handle.port, '/hello', { agent });
    agent.destroy();
    // Node announces its idle timeout to the client in seconds.
    expect(reply.headers['keep-alive']).toBe('timeout=76');
    expect(reply.headers.connection).toBe('keep-alive');
  });

  test('trust proxy believes the platform front on loopback, never everyone', async () => {
    const app = testApp();
    expect(app.get('trust proxy')).not.toBe(true);
    handle = await serve(app, { ...quiet, port: 0 });
    const reply = await request(handle.port, '/hello', {
      headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '203.0.113.9' },
    });
    expect(JSON.parse(reply.body)).toEqual({ ip: '203.0.113.9', proto: 'https', secure: true });
  });

  test('x-powered-by is off', async () => {
    handle = await serve(testApp(), { ...quiet, port: 0 });
    const reply = await request(handle.port, '/hello');
    expect(reply.headers['x-powered-by']).toBeUndefined();
  });

  test('HOST binds one address (here loopback); unset, every interface', async () => {
    const logger = createLogger({ dir: logDir, console: false });
    const local = createApp({ config: loadConfig({ LOG_DIR: logDir, HOST: '127.0.0.1' }), logger });
    handle = await serve(local, { ...quiet, port: 0 });
    expect(handle.server.address()).toMatchObject({ address: '127.0.0.1' });
    await handle.close();
    handle = await serve(testApp(), { ...quiet, port: 0 });
    expect(['::', '0.0.0.0']).toContain((handle.server.address() as net.AddressInfo).address);
  });

  test('a plain express() app is served too', async () => {
    const app = express();
    app.get('/', (_req, res) => res.send('plain'));
    const logger = createLogger({ dir: logDir, console: false });
    handle = await serve(app, { ...quiet, port: 0, logger });
    expect((await request(handle.port, '/')).body).toBe('plain');
  });

  test("requests and responses are born with the app's prototypes (no per-request switch)", async () => {
    const app = testApp();
    const sub = express();
    // Express's documented app.request / app.response (not in its type declarations).
    const protos = (a: express.Application) => a as unknown as { request: object; response: object };
    const seen: Record<string, boolean | string> = {};
    app.get('/protos', (req, res) => {
      seen.request = Object.getPrototypeOf(req) === protos(app).request;
      seen.response = Object.getPrototypeOf(res) === protos(app).response;
      seen.nodeClasses = req instanceof http.IncomingMessage && res instanceof http.ServerResponse;
      seen.app = req.app === app && res.app === app;
      res.json({ ip: req.ip, accepts: req.accepts(['json', 'html']) });
    });
    // A mounted sub-app still switches to its own prototypes and back, as in plain Express.
    sub.get('/inner', (req, _res, next) => {
      seen.inner = req.app === sub && Object.getPrototypeOf(req) === protos(sub).request;
      next();
    });
    app.use('/sub', sub);
    app.get('/sub/inner', (req, res) => {
      seen.back = req.app === app && Object.getPrototypeOf(req) === protos(app).request;
      res.send('back');
    });
    handle = await serve(app, { ...quiet, port: 0 });
    // Seen before Express runs: node built them with the app's prototypes already.
    handle.server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      seen.born =
        Object.getPrototypeOf(req) === protos(app).request &&
        Object.getPrototypeOf(res) === protos(app).response;
    });
    const reply = await request(handle.port, '/protos', { headers: { accept: 'application/json' } });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ ip: expect.stringMatching(/127\.0\.0\.1$/), accepts: 'json' });
    expect((await request(handle.port, '/sub/inner')).body).toBe('back');
    expect(seen).toEqual({
      born: true,
      request: true,
      response: true,
      nodeClasses: true,
      app: true,
      inner: true,
      back: true,
    });
  });

  test('its requests and responses stay fast-mode V8 objects, for an app route and a proxied request', () => {
    // V8 internals, checked because a dictionary-mode response slows every request down.
    const fixture = path.join(__dirname, 'fixtures', 'fast-objects.js');
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', fixture], {
      env: { ...process.env, LOG_DIR: logDir, LOG_LEVEL: 'warn', NODE_ENV: 'production' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(JSON.parse(/^REPORT (.*)$/m.exec(out)![1])).toEqual({
      '/api/app': { request: true, response: true },
      '/proxied': { request: true, response: true },
    });
  });

  test('a plain request listener (not an Express app) is served with node’s own classes', async () => {
    const listener = (req: http.IncomingMessage, res: http.ServerResponse) =>
      res.end(Object.getPrototypeOf(req) === http.IncomingMessage.prototype ? 'node' : 'other');
    const logger = createLogger({ dir: logDir, console: false });
    handle = await serve(listener as unknown as express.Application, { ...quiet, port: 0, logger });
    expect((await request(handle.port, '/')).body).toBe('node');
  });

  test('close() finishes in-flight requests and closes idle keep-alive sockets at once', async () => {
    const app = testApp();
    app.get('/slow', (_req, res) => setTimeout(() => res.send('done'), 300));
    handle = await serve(app, { ...quiet, port: 0 });
    const agent = new http.Agent({ keepAlive: true });
    await request(handle.port, '/hello', { agent }); // leaves an idle keep-alive socket
    const slow = request(handle.port, '/slow');
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const closing = handle.close();
    const reply = await slow;
    await closing;
    handle = undefined;
    expect(reply.status).toBe(200);
    expect(reply.headers.connection).toBe('close');
    // The idle socket is closed at once, not after the keep-alive timeout (76 s).
    expect(Date.now() - started).toBeLessThan(10_000);
    agent.destroy();
  });

  test('close() lets a pipelined request finish even when the one before it already has', async () => {
    const app = testApp();
    app.get('/fast', (_req, res) => res.send('fast'));
    app.get('/slow', (_req, res) => setTimeout(() => res.send('slow'), 1_200));
    handle = await serve(app, { ...quiet, port: 0 });
    const socket = net.connect(handle.port, '127.0.0.1');
    let text = '';
    const fastArrived = new Promise<void>((resolve) =>
      socket.on('data', (d) => {
        text += d.toString();
        if (text.includes('fast')) resolve();
      }),
    );
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    // Two requests in one write: the second waits on the same connection behind the first.
    socket.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await fastArrived;
    // The connection is not idle: /slow is in flight on it, past the 500 ms idle grace.
    const closing = handle.close();
    await ended;
    await closing;
    handle = undefined;
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
    expect(text).toContain('slow');
    expect(text.split('HTTP/1.1 200 OK')[2]).toMatch(/connection: close/i);
  });

  test('the upgrade event reaches a mounted handler with an upgrade() method', async () => {
    const app = testApp();
    const seen: string[] = [];
    const handler = Object.assign(
      (_req: express.Request, _res: express.Response, next: express.NextFunction) => next(),
      {
        upgrade(req: http.IncomingMessage, socket: net.Socket) {
          seen.push(req.url ?? '');
          socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
        },
      },
    );
    app.use('/ws', handler);
    handle = await serve(app, { ...quiet, port: 0 });
    const upgrade = (p: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(handle!.port, '127.0.0.1', () =>
          socket.write(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n`),
        );
        let text = '';
        socket.on('data', (d) => (text += d.toString()));
        socket.on('close', () => resolve(text.split('\r\n')[0]));
        socket.on('error', reject);
      });
    expect(await upgrade('/ws/chat?x=1')).toBe('HTTP/1.1 101 Switching Protocols');
    expect(await upgrade('/elsewhere')).toBe('HTTP/1.1 404 Not Found');
    expect(seen).toEqual(['/ws/chat?x=1']);
  });
});

describe('serve: a pipelined connection the client drops', () => {
  test('its queued requests leave the in-flight count: close() does not wait for them', async () => {
    const app = testApp();
    let slowArrived!: () => void;
    const arrived = new Promise<void>((resolve) => (slowArrived = resolve));
    app.get('/slow', (_req, res) => (slowArrived(), void setTimeout(() => res.end('slow'), 200)));
    app.get('/fast', (_req, res) => res.end('fast'));
    const handle = await serve(app, { ...quiet, port: 0 });
    const serverSide = new Promise<net.Socket>((resolve) => handle.server.once('connection', resolve));
    const client = net.connect(handle.port, '127.0.0.1');
    client.on('error', () => {});
    client.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n' + 'GET /fast HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2));
    await arrived;
    const socket = await serverSide;
    const closed = new Promise((resolve) => socket.once('close', resolve));
    client.destroy();
    await closed;
    const started = Date.now();
    await handle.close();
    // Before, the two dropped responses stayed "in flight" and close() waited its full bound (1 s).
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe('serve refuses what the platform does not speak', () => {
  test.each(['key', 'cert', 'pfx', 'https', 'http2', 'allowHTTP1'])('TLS/HTTP2 option %j', async (name) => {
    const served = serve(testApp(), { [name]: 'x' } as never);
    await expect(served).rejects.toThrow(NexthopError);
    await expect(served).rejects.toThrow(/speak TLS or HTTP\/2.*plain HTTP\/1\.1/);
    await expect(served).rejects.toMatchObject({ code: 'ERR_NEXTHOP_NOT_PLAIN_HTTP' });
  });

  test('a server instead of an app', async () => {
    await expect(serve(http.createServer() as never)).rejects.toThrow(/pass the app, not a server/);
    await expect(serve(undefined as never)).rejects.toThrow(TypeError);
  });

  test.each([
    [{ port: -1 }, RangeError, /port must be an integer from 0 to 65535, got -1/],
    [{ port: 70000 }, RangeError, /port must be an integer/],
    [{ port: 1.5 }, TypeError, /port must be an integer from 0 to 65535, got 1.5/],
    [{ port: 'abc' }, TypeError, /port must be an integer from 0 to 65535, got "abc"/],
    [{ port: '8080' }, TypeError, /port must be an integer from 0 to 65535, got "8080"/],
    [
      { keepAliveTimeout: '5s' },
      TypeError,
      /keepAliveTimeout must be an integer number of milliseconds, got "5s"/,
    ],
    [{ keepAliveTimeout: 0 }, RangeError, /keepAliveTimeout must be from 1/],
    [{ shutdownTimeout: -5 }, RangeError, /shutdownTimeout must be from 0/],
    [{ drainDelay: 1.5 }, TypeError, /drainDelay must be an integer/],
    [
      { appPaths: ['/api'] },
      TypeError,
      /appPaths was removed; every request goes through the app at the same speed/,
    ],
    [{ appPaths: undefined }, TypeError, /appPaths was removed/],
    [
      { prot: 1 },
      TypeError,
      /^nexthop serve: unknown option "prot" \(did you mean port\?\); known options: port, host,/,
    ],
    [{ Port: 1 }, TypeError, /unknown option "Port" \(did you mean port\?\)/],
    [{ shutdownTimout: 1 }, TypeError, /unknown option "shutdownTimout" \(did you mean shutdownTimeout\?\)/],
    [{ verbose: true }, TypeError, /^nexthop serve: unknown option "verbose"; known options: port, host,/],
  ])('options %j reject with %p', async (options, type, message) => {
    const served = serve(testApp(), options as never);
    await expect(served).rejects.toThrow(type);
    await expect(served).rejects.toThrow(message);
  });

  test('serve() never throws synchronously: a bad value is a rejection .catch() sees', async () => {
    let served: Promise<unknown> | undefined;
    expect(() => (served = serve(testApp(), { workers: 0 }))).not.toThrow();
    const caught = await served!.catch((err: unknown) => err);
    expect(caught).toBeInstanceOf(RangeError);
    expect((caught as Error).message).toBe(
      'nexthop serve: workers must be from 1 to 1024 (or "auto"), got 0',
    );
  });

  test('a port in use rejects with ERR_NEXTHOP_LISTEN and the fix', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, r));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(serve(testApp(), { ...quiet, port })).rejects.toMatchObject({
        code: 'ERR_NEXTHOP_LISTEN',
        message: expect.stringContaining(`port ${port} is already in use`),
      });
    } finally {
      blocker.close();
    }
  });
});

describe('createApp', () => {
  test('refuses non-object options', () => {
    expect(() => createApp('x' as never)).toThrow(TypeError);
  });

  test('an unwritable log folder fails with ERR_NEXTHOP_LOG_DIR', () => {
    const file = path.join(logDir, 'a-file');
    fs.writeFileSync(file, '');
    expect(() => createApp({ config: loadConfig({ LOG_DIR: file }) })).toThrow(
      expect.objectContaining({ code: 'ERR_NEXTHOP_LOG_DIR', message: expect.stringContaining(file) }),
    );
  });
});
