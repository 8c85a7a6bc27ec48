import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import express from 'express';
import type { Application } from 'express';
import {
  createApp,
  createLogger,
  errorHandler,
  loadConfig,
  nextHopProxy,
  serve,
  type CreateAppOptions,
  type NextHopProxyOptions,
  type ServeHandle,
} from 'nexthop';
import { compileAppPaths } from '../lib/fast-lane';
import { send, startEchoUpstream, type EchoUpstream, type Reply } from './helpers/echo-upstream';
import { parseLines, readLines } from './helpers/logs';
import { FIXTURES, freePort, startNode, stop, tempDir, type Child } from './helpers/process';

// The same rows run through Express (no appPaths) and through the fast lane
// (serve(app, { appPaths: ['/api'] })): proxied requests must not tell the difference.

const quiet = { handleSignals: false, processGuards: false } as const;
const dirs: string[] = [];
let upstream: EchoUpstream;
let handle: ServeHandle | undefined;

beforeAll(async () => {
  upstream = await startEchoUpstream();
});
afterAll(async () => {
  await upstream.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await handle?.close();
  handle = undefined;
});

interface Served {
  port: number;
  logDir: string;
  /** Close the server (flushing the logs) and return the parsed access lines. */
  accessLines(): Promise<Record<string, unknown>[]>;
}

const LANES = [
  ['through Express', undefined],
  ['on the fast lane', ['/api']],
] as const;

async function start(
  appPaths: readonly string[] | undefined,
  options: { app?: CreateAppOptions; proxy?: NextHopProxyOptions; target?: string } = {},
): Promise<Served> {
  const logDir = tempDir();
  dirs.push(logDir);
  const logger = createLogger({ dir: logDir, console: false });
  const app = createApp({ config: loadConfig({ LOG_DIR: logDir }), logger, ...options.app });
  app.get('/api/hello', (req, res) => res.json({ app: true, id: req.id, ip: req.ip }));
  // Shows which lane a request took: middleware the app adds sees only app paths on the fast lane.
  app.use((_req, res, next) => (res.setHeader('X-Through-Express', 'yes'), next()));
  app.use(nextHopProxy({ target: options.target ?? upstream.url, ...options.proxy }));
  app.use(errorHandler());
  handle = await serve(app, { ...quiet, port: 0, appPaths });
  const served = handle;
  return {
    port: served.port,
    logDir,
    accessLines: async () => {
      await served.close();
      handle = undefined;
      return parseLines(readLines(path.join(logDir, 'access.log')));
    },
  };
}

const PLATFORM = [
  'Host', 'www.shop.example',
  'X-Forwarded-Proto', 'https',
  'X-Forwarded-For', '203.0.113.7, 10.0.0.2',
  'True-Client-IP', '203.0.113.7',
  'section-io-id', 'abc-123',
  'User-Agent', 'fast-lane-test',
]; // prettier-ignore

describe.each(LANES)('a proxied request %s', (_lane, appPaths) => {
  test('request headers: Host kept, one X-Forwarded-Proto, True-Client-IP, X-Request-Id from section-io-id', async () => {
    const { port } = await start(appPaths);
    const reply = await send(port, { path: '/shop/item?x=1', headers: PLATFORM });
    expect(reply.status).toBe(200);
    const echo = reply.json();
    expect(echo.url).toBe('/shop/item?x=1');
    expect(echo.headers).toMatchObject({
      host: 'www.shop.example',
      'x-forwarded-proto': 'https',
      'true-client-ip': '203.0.113.7',
      'x-forwarded-for': '203.0.113.7, 10.0.0.2, 127.0.0.1',
      'x-request-id': 'abc-123',
    });
  });

  test('response headers: X-Request-Id added, upstream headers kept, hop-by-hop removed, no security headers', async () => {
    const { port } = await start(appPaths);
    const reply = await send(port, { path: '/hop-by-hop', headers: PLATFORM });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-request-id']).toBe('abc-123');
    expect(reply.headers['x-kept']).toBe('yes');
    expect(reply.headers['x-through-express']).toBe(appPaths === undefined ? 'yes' : undefined);
    expect(reply.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    for (const name of ['x-secret', 'proxy-connection', 'trailer', 'upgrade', 'content-security-policy']) {
      expect([name, reply.headers[name]]).toEqual([name, undefined]);
    }
  });

  test.each([
    [
      'text',
      undefined,
      502,
      /^502 Bad Gateway: next-hop refused the connection \(ERR_NEXTHOP_UPSTREAM_REFUSED\)/,
    ],
    ['JSON', 'application/json', 502, /"code":"ERR_NEXTHOP_UPSTREAM_REFUSED"/],
  ])('next-hop refuses: %s answer, logged with its code', async (_kind, accept, status, body) => {
    const closed = await freePort();
    const served = await start(appPaths, { target: `http://127.0.0.1:${closed}` });
    const headers = accept === undefined ? PLATFORM : [...PLATFORM, 'Accept', accept];
    const reply = await send(served.port, { path: '/x', headers });
    expect(reply.status).toBe(status);
    expect(reply.body.toString()).toMatch(body);
    expect(reply.headers['cache-control']).toBe('no-store');
    const [line] = await served.accessLines();
    expect(line).toMatchObject({ status, error: 'ERR_NEXTHOP_UPSTREAM_REFUSED', requestId: 'abc-123' });
  });

  test('next-hop silent: 504 with ERR_NEXTHOP_UPSTREAM_TIMEOUT; the health path answers 200', async () => {
    const { port } = await start(appPaths, { proxy: { timeout: 200 } });
    const reply = await send(port, { path: '/silent', headers: PLATFORM });
    expect(reply.status).toBe(504);
    expect(reply.body.toString()).toMatch(/ERR_NEXTHOP_UPSTREAM_TIMEOUT/);
    const closed = await freePort();
    await handle?.close();
    const health = await start(appPaths, { target: `http://127.0.0.1:${closed}` });
    const ok = await send(health.port, { path: '/.well-known/section-io/aee-hc/healthz' });
    expect(ok.status).toBe(200);
  });

  test('access line: the same fields as through Express', async () => {
    const served = await start(appPaths);
    await send(served.port, { path: '/a?token=secret&b=1', headers: PLATFORM });
    const [line] = await served.accessLines();
    expect(line).toMatchObject({
      method: 'GET',
      url: '/a?token=[REDACTED]&b=1',
      status: 200,
      clientIp: '203.0.113.7',
      proto: 'https',
      host: 'www.shop.example',
      userAgent: 'fast-lane-test',
      requestId: 'abc-123',
      aborted: false,
      upstreamStatus: 200,
    });
    expect(typeof line.ms).toBe('number');
    expect(line.bytes).toBeGreaterThan(0);
  });

  test("a throwing onProxyRequest hook reaches the app's errorHandler: 500, request id, logged", async () => {
    const served = await start(appPaths, {
      proxy: {
        onProxyRequest: () => {
          throw new Error('hook failed on purpose');
        },
      },
    });
    const reply = await send(served.port, {
      path: '/x',
      headers: [...PLATFORM, 'Accept', 'application/json'],
    });
    expect(reply.status).toBe(500);
    expect(reply.json()).toEqual({
      error: { status: 500, message: 'Internal Server Error', requestId: 'abc-123' },
    });
    const lines = await served.accessLines();
    expect(lines[0]).toMatchObject({ status: 500, requestId: 'abc-123' });
    const app = parseLines(readLines(path.join(served.logDir, 'error.log')));
    expect(app[0]).toMatchObject({ message: 'request failed', status: 500, requestId: 'abc-123' });
  });

  test("a throwing step (requestId's generate) reaches the app's errorHandler: 500, logged", async () => {
    const served = await start(appPaths, {
      app: {
        requestId: {
          generate: () => {
            throw new Error('generate failed on purpose');
          },
        },
      },
    });
    // No section-io-id: the request id must be generated.
    const headers = ['Host', 'shop.example', 'Accept', 'application/json'];
    const reply = await send(served.port, { path: '/x', headers });
    expect(reply.status).toBe(500);
    expect(reply.json()).toEqual({ error: { status: 500, message: 'Internal Server Error' } });
    const [line] = await served.accessLines();
    expect(line).toMatchObject({ url: '/x', status: 500 });
    const errors = parseLines(readLines(path.join(served.logDir, 'error.log')));
    expect(errors[0]).toMatchObject({ message: 'request failed', status: 500 });
    expect(String(errors[0].err)).toMatch(/generate failed on purpose/);
  });

  test('requireHttps redirects plain-HTTP requests before the proxy; errors go to errorHandler', async () => {
    const { port } = await start(appPaths, { app: { requireHttps: true } });
    const reply = await send(port, { path: '/p?q=1', headers: ['Host', 'shop.example'] });
    expect(reply.status).toBe(301);
    expect(reply.headers.location).toBe('https://shop.example/p?q=1');
    const bad = await send(port, {
      path: '/p',
      headers: ['Host', 'bad host!', 'Accept', 'application/json'],
    });
    expect(bad.status).toBe(400);
    expect(bad.json<{ error: { code: string } }>().error.code).toBe('ERR_NEXTHOP_BAD_HOST');
  });

  test('app paths still reach the app with its full context', async () => {
    const { port } = await start(appPaths);
    const reply = await send(port, { path: '/api/hello', headers: PLATFORM });
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ app: true, id: 'abc-123', ip: '203.0.113.7' });
    expect(reply.headers['x-content-type-options']).toBe('nosniff');
  });

  test('an app path followed by a #fragment in the raw request target goes through the app', async () => {
    const { port } = await start(appPaths);
    // Express routes on the path before the '#': /api is the app's (404 there, then its proxy).
    const reply = await send(port, { path: '/api#frag', headers: PLATFORM });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-through-express']).toBe('yes');
  });

  test("accessLog's fields function sees the request as Express's router leaves it", async () => {
    const seen: Record<string, unknown>[] = [];
    const fields = (req: express.Request, res: express.Response) => {
      seen.push({
        baseUrl: req.baseUrl,
        params: req.params,
        res: req.res === res,
        next: typeof req.next,
        locals: typeof res.locals,
      });
      return { mount: req.baseUrl.length, nParams: Object.keys(req.params).length };
    };
    const served = await start(appPaths, { app: { accessLog: { fields } } });
    await send(served.port, { path: '/x', headers: PLATFORM });
    const [line] = await served.accessLines();
    expect(seen).toEqual([{ baseUrl: '', params: {}, res: true, next: 'function', locals: 'object' }]);
    expect(line).toMatchObject({ mount: 0, nParams: 0 });
    expect(line).not.toHaveProperty('fieldsError');
  });

  test("res.locals is there for accessLog's fields when a step answers (requireHttps)", async () => {
    const seen: string[] = [];
    const fields = (_req: express.Request, res: express.Response) => (seen.push(typeof res.locals), {});
    const served = await start(appPaths, { app: { accessLog: { fields }, requireHttps: true } });
    const reply = await send(served.port, { path: '/p', headers: ['Host', 'shop.example'] });
    expect(reply.status).toBe(301);
    await served.accessLines();
    expect(seen).toEqual(['object']);
  });
});

describe('appPaths matching: segment boundaries on the raw URL, case-insensitive like Express', () => {
  const isApp = compileAppPaths(['/api', '/hello/', '/v1.2']);
  test.each([
    ['/api', true],
    ['/api/', true],
    ['/api/x/y', true],
    ['/api?x=1', true],
    ['/API/x', true],
    ['/hello', true],
    ['/hello?', true],
    ['/v1.2/a', true],
    ['/apix', false],
    ['/ap', false],
    ['/', false],
    ['/x/api', false],
    ['/v1x2', false],
    ['/%61pi', false],
    ['//api', false],
    ['/helloworld', false],
    ['http://shop.example/api/x', true],
    ['http://shop.example/apix', false],
    ['http://shop.example', false],
    ['*', false],
    ['/api#frag', true],
    ['/hello#', true],
    ['/apix#', false],
    ['/api\\x#f', true], // with a '#', url.parse (as Express) reads '\\' as '/'
    ['/api\\x', false],
    ['http://shop.example/api#f', true],
  ])('%s → app: %s', (url, expected) => {
    expect(isApp(url)).toBe(expected);
  });
  test('an empty list sends everything to the proxy', () => {
    expect(compileAppPaths([])('/api')).toBe(false);
  });
});

describe('appPaths validation at construction', () => {
  function app(mount?: (a: Application) => void): Application {
    const dir = tempDir();
    dirs.push(dir);
    const a = createApp({
      config: loadConfig({ LOG_DIR: dir }),
      logger: createLogger({ dir, console: false }),
    });
    if (mount) mount(a);
    else a.use(nextHopProxy({ target: upstream.url }));
    return a;
  }
  test.each([
    [
      'not an array',
      '/api',
      TypeError,
      /appPaths must be an array of path prefixes, got "\/api"; use e.g. \['\/api', '\/hello'\]/,
    ],
    ['a number entry', [5], TypeError, /appPaths entry 5 is not a string; use e.g. "\/api"/],
    ['no leading slash', ['api'], RangeError, /appPaths entry "api" is not a path prefix/],
    ['a query', ['/api?x'], RangeError, /appPaths entry "\/api\?x" is not a path prefix/],
    ['a space', ['/a b'], RangeError, /is not a path prefix/],
    ['the root', ['/'], RangeError, /appPaths entry "\/" would send every request to the app/],
    [
      'a wildcard',
      ['/api/*'],
      RangeError,
      /appPaths entry "\/api\/\*" is a pattern, but entries are literal path prefixes matched on whole segments; use "\/api"/,
    ],
    ['a trailing wildcard', ['/hello*'], RangeError, /is a pattern.*use "\/hello"/],
    ['a route parameter', ['/users/:id'], RangeError, /is a pattern.*use "\/users"/],
    ['only a wildcard', ['/*'], RangeError, /is a pattern.*list the prefixes themselves, e.g. "\/api"/],
  ])('%s', async (_name, appPaths, type, message) => {
    const call = () => serve(app(), { ...quiet, port: 0, appPaths: appPaths as string[] });
    await expect(call()).rejects.toThrow(type);
    await expect(call()).rejects.toThrow(message);
  });

  test.each([
    [
      'no nextHopProxy',
      (a: Application) => a.get('/x', (_q, r) => r.end()),
      /nextHopProxy\(\) mounted at the app root/,
    ],
    [
      'nextHopProxy under a path',
      (a: Application) => a.use('/shop', nextHopProxy({ target: upstream.url })),
      /mounted at the app root/,
    ],
    [
      'nextHopProxy with a pathFilter',
      (a: Application) => a.use(nextHopProxy({ target: upstream.url, pathFilter: '/shop' })),
      /without pathFilter/,
    ],
  ])('%s: RangeError', async (_name, mount, message) => {
    const call = () => serve(app(mount), { ...quiet, port: 0, appPaths: ['/api'] });
    await expect(call()).rejects.toThrow(RangeError);
    await expect(call()).rejects.toThrow(message);
  });

  test('a plain express() app: TypeError', async () => {
    const plain = express();
    plain.use(nextHopProxy({ target: upstream.url }));
    await expect(serve(plain, { ...quiet, port: 0, appPaths: ['/api'] })).rejects.toThrow(
      /appPaths needs an app made by createApp\(\)/,
    );
  });
});

describe.each(LANES)('a real process %s', (_lane, appPaths) => {
  let child: Child | undefined;
  let slowOrigin: http.Server | undefined;
  afterEach(async () => {
    await stop(child);
    slowOrigin?.closeAllConnections();
    slowOrigin?.close();
  });

  /** Start the fixture app proxying to `nextHop`; resolves with its port and log folder. */
  async function startChild(nextHop: string, env: NodeJS.ProcessEnv = {}) {
    const logDir = tempDir();
    dirs.push(logDir);
    const port = await freePort();
    child = startNode(path.join(FIXTURES, 'fast-lane-app.js'), {
      PORT: String(port),
      LOG_DIR: logDir,
      NEXT_HOP: nextHop,
      APP_PATHS: appPaths?.join(',') ?? '',
      ...env,
    });
    await child.waitFor(/READY \d+/);
    return { child, port, logDir };
  }

  test('in cluster workers: proxied requests answered and logged by the workers', async () => {
    const { child, port, logDir } = await startChild(upstream.url, { WEB_CONCURRENCY: '2' });
    for (const p of ['/x', '/api/hello']) {
      const reply = await send(port, { path: p, headers: PLATFORM });
      expect([p, reply.status]).toEqual([p, 200]);
      if (p === '/x') expect(reply.headers['x-through-express']).toBe(appPaths ? undefined : 'yes');
    }
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    // Each worker writes its own access.<suffix>.log (see lib/logger).
    const files = fs.readdirSync(logDir).filter((f) => /^access\..+\.log$/.test(f));
    const lines = parseLines(files.flatMap((f) => readLines(path.join(logDir, f))));
    expect(lines.map((l) => [l.url, l.status, l.requestId])).toEqual(
      expect.arrayContaining([
        ['/x', 200, 'abc-123'],
        ['/api/hello', 200, 'abc-123'],
      ]),
    );
  });

  test('the in-flight proxied request finishes with Connection: close, new connections refused, logged, exit 0', async () => {
    slowOrigin = http.createServer((_req, res) => setTimeout(() => res.end('slow done'), 1200));
    await new Promise<void>((resolve) => slowOrigin?.listen(0, '127.0.0.1', resolve));
    const originPort = (slowOrigin.address() as { port: number }).port;
    const { child, port, logDir } = await startChild(`http://127.0.0.1:${originPort}`);
    const slow = send(port, { path: '/slow', headers: PLATFORM });
    await new Promise<void>((resolve) => slowOrigin?.once('request', () => resolve()));
    child.proc.kill('SIGTERM');
    await child.waitFor(/stopped accepting connections/);
    await expect(send(port, { path: '/x' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const reply: Reply = await slow;
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('slow done');
    expect(reply.headers.connection).toBe('close');
    expect(await child.exited).toBe(0);
    const [line] = parseLines(readLines(path.join(logDir, 'access.log')));
    expect(line).toMatchObject({ url: '/slow', status: 200, requestId: 'abc-123', upstreamStatus: 200 });
  });

  test('a proxied request cut at shutdownTimeout keeps its access line (aborted), exit 0', async () => {
    slowOrigin = http.createServer(() => {}); // takes the request and never answers
    await new Promise<void>((resolve) => slowOrigin?.listen(0, '127.0.0.1', resolve));
    const originPort = (slowOrigin.address() as { port: number }).port;
    const { child, port, logDir } = await startChild(`http://127.0.0.1:${originPort}`, {
      SHUTDOWN_TIMEOUT: '300',
    });
    const stuck = send(port, { path: '/stuck', headers: PLATFORM }).catch(
      (err: NodeJS.ErrnoException) => err.code ?? err.message,
    );
    await new Promise<void>((resolve) => slowOrigin?.once('request', () => resolve()));
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(await stuck).toMatch(/ECONNRESET|socket hang up/);
    const lines = parseLines(readLines(path.join(logDir, 'access.log')));
    expect(lines).toEqual([expect.objectContaining({ url: '/stuck', requestId: 'abc-123', aborted: true })]);
  });
});
