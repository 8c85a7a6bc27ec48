import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import express from 'express';
import type { Application, NextFunction, Request, Response } from 'express';
import {
  accessLog,
  closeLogger,
  createApp,
  createLogger,
  loadConfig,
  nextHopProxy,
  type AccessLogOptions,
  type Logger,
} from 'nexthop';
import { redactUrl } from '../middleware/access-log/redact';
import { counter, listen, parseLines, rawRequest, readLines, request, tempLogDir } from './helpers/logs';

const FIELDS = [
  'time',
  'method',
  'url',
  'status',
  'bytes',
  'ms',
  'clientIp',
  'proto',
  'host',
  'userAgent',
  'referer',
  'requestId',
  'aborted',
];

interface Harness {
  app: Application;
  port: number;
  logger: Logger;
  closes: ReturnType<typeof counter>;
  /** Wait until n responses have closed, stop, flush, and return the parsed access lines. */
  finish(n: number): Promise<Record<string, unknown>[]>;
}

const open: http.Server[] = [];
afterEach(() => {
  for (const server of open.splice(0)) {
    server.close();
    server.closeAllConnections();
  }
});

/** createApp (accessLog mounted first) with routes added by `routes`, listening on 127.0.0.1. */
async function harness(
  options: AccessLogOptions | false,
  routes: (app: Application) => void,
): Promise<Harness> {
  const dir = tempLogDir();
  const logger = createLogger({ dir, console: false });
  const app = createApp({ logger, config: loadConfig({ LOG_DIR: dir }), accessLog: options });
  const closes = counter();
  app.use(function countCloses(_req: Request, res: Response, next: NextFunction) {
    res.on('close', () => closes.tick());
    next();
  });
  routes(app);
  const { server, port } = await listen(app);
  open.push(server);
  return {
    app,
    port,
    logger,
    closes,
    async finish(n) {
      await closes.reach(n);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await closeLogger(logger);
      return parseLines(readLines(path.join(dir, 'access.log')));
    },
  };
}

/** Start a request the server will never answer, and abort it once the route has it. */
function abortedRequest(port: number, arrived: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/slow?n=1', agent: false });
    req.on('error', () => resolve());
    req.end();
    void arrived.then(() => req.destroy());
  });
}

/** Routes of the pipelining tests: responses of different sizes, one of them late. */
function pipelineRoutes(app: Application): void {
  app.get('/slow', (_req, res) => void setTimeout(() => res.send('slow'), 50));
  app.get('/big', (_req, res) => res.send('b'.repeat(3000)));
  app.get('/small', (_req, res) => res.send('s'));
  app.get('/skipped', (_req, res) => res.send('not logged'));
}

/**
 * Send each batch of GETs pipelined on one connection (the next batch once the previous is
 * answered) and return every response's size as it crossed the wire, in order. The socket
 * stays open until the end: a client's end would abort the requests still queued.
 */
async function pipelined(port: number, batches: string[][]): Promise<number[]> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  let data = '';
  const sizes: number[] = [];
  const responses = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const scan = () => {
        for (;;) {
          const head = data.indexOf('\r\n\r\n');
          const length = head < 0 ? null : /content-length: (\d+)/i.exec(data.slice(0, head));
          if (!length || data.length < head + 4 + Number(length[1])) break;
          sizes.push(head + 4 + Number(length[1]));
          data = data.slice(head + 4 + Number(length[1]));
        }
        if (sizes.length < n) return;
        socket.off('data', onData);
        resolve();
      };
      const onData = (chunk: string) => ((data += chunk), scan());
      socket.on('data', onData);
      socket.once('error', reject);
    });
  let total = 0;
  for (const batch of batches) {
    socket.write(batch.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
    total += batch.length;
    await responses(total);
  }
  socket.destroy();
  return sizes;
}

describe('accessLog: one line per request', () => {
  test('N requests, aborted ones and proxy failures included, give exactly N JSON lines with every field', async () => {
    const slowArrived = counter();
    const h = await harness({}, (app) => {
      app.get('/hello', (_req, res) => {
        res.send('hello');
      });
      app.get('/slow', () => slowArrived.tick());
      app.get('/proxied-fail', (_req, res) => {
        res.locals.nexthopUpstream = { ms: 3.25, error: 'ERR_NEXTHOP_UPSTREAM_REFUSED' };
        res.status(502).send('bad gateway');
      });
      app.get('/proxied-ok', (_req, res) => {
        res.locals.nexthopUpstream = { status: 201, ms: 1.5 };
        res.status(201).send('created upstream');
      });
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const plan = [
      ...Array.from({ length: 12 }, () => '/hello'),
      '/proxied-fail',
      '/proxied-fail',
      '/proxied-ok',
      '/missing',
    ];
    const replies = await Promise.all(plan.map((p) => request(h.port, p, { agent })));
    expect(replies.map((r) => r.status)).toEqual([...Array(12).fill(200), 502, 502, 201, 404]);
    for (let i = 1; i <= 3; i++) await abortedRequest(h.port, slowArrived.reach(i));
    agent.destroy();

    const before = Date.now();
    const lines = await h.finish(plan.length + 3);
    expect(lines).toHaveLength(plan.length + 3);
    for (const line of lines) {
      for (const field of FIELDS) expect(line).toHaveProperty(field);
      expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(line.time as string)).toBeLessThanOrEqual(before);
      expect(line.method).toBe('GET');
      expect(typeof line.ms).toBe('number');
      expect(String(line.ms)).toMatch(/^\d+(\.\d{1,3})?$/);
      expect(line.clientIp).toMatch(/127\.0\.0\.1$/);
      expect(line.proto).toBe('http');
      expect(line.host).toBe(`127.0.0.1:${h.port}`);
    }
    const byUrl = (url: string) => lines.filter((l) => l.url === url);
    const hellos = byUrl('/hello');
    expect(hellos).toHaveLength(12);
    expect(hellos.every((l) => l.status === 200 && l.aborted === false)).toBe(true);
    // Bytes are per response, status line and headers included, even on a reused connection.
    expect(new Set(hellos.map((l) => l.bytes)).size).toBe(1);
    expect(hellos[0].bytes as number).toBeGreaterThan('HTTP/1.1 200 OK\r\n\r\nhello'.length);

    const aborted = byUrl('/slow?n=1');
    expect(aborted).toHaveLength(3);
    expect(aborted.every((l) => l.aborted === true && l.status === null && l.bytes === 0)).toBe(true);

    const failed = byUrl('/proxied-fail');
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({
      status: 502,
      upstreamStatus: null,
      upstreamMs: 3.25,
      error: 'ERR_NEXTHOP_UPSTREAM_REFUSED',
    });
    expect(byUrl('/proxied-ok')[0]).toMatchObject({ status: 201, upstreamStatus: 201, upstreamMs: 1.5 });
    expect(byUrl('/proxied-ok')[0]).not.toHaveProperty('error');
    expect(hellos[0]).not.toHaveProperty('upstreamStatus');
    expect(byUrl('/missing')[0]).toMatchObject({ status: 404, aborted: false });
  });

  test('through the real nextHopProxy: upstream status and time, a refused next-hop, a client abort', async () => {
    const hanging = counter();
    const upstream = await listen((req, res) => {
      if (req.url?.startsWith('/up/hang')) return hanging.tick();
      res.statusCode = 201;
      res.end('from upstream');
    });
    open.push(upstream.server);
    const refused = await listen(() => undefined);
    await new Promise((resolve) => refused.server.close(resolve));
    const h = await harness({}, (app) => {
      app.use('/up', nextHopProxy({ target: `http://127.0.0.1:${upstream.port}` }));
      app.use('/down', nextHopProxy({ target: `http://127.0.0.1:${refused.port}` }));
    });
    expect((await request(h.port, '/up/a', { agent: false })).status).toBe(201);
    expect((await request(h.port, '/down/b', { agent: false })).status).toBe(502);
    await new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: h.port, path: '/up/hang', agent: false });
      req.on('error', () => resolve());
      req.end();
      void hanging.reach(1).then(() => req.destroy());
    });
    const [up, down, aborted] = await h.finish(3);
    expect(up).toMatchObject({ url: '/up/a', status: 201, upstreamStatus: 201 });
    expect(up.upstreamMs).toEqual(expect.any(Number));
    expect(up).not.toHaveProperty('error');
    expect(aborted).toMatchObject({
      url: '/up/hang',
      status: null,
      aborted: true,
      error: 'ERR_NEXTHOP_CLIENT_ABORTED',
    });
    expect(down).toMatchObject({
      url: '/down/b',
      status: 502,
      upstreamStatus: null,
      error: 'ERR_NEXTHOP_UPSTREAM_REFUSED',
    });
  });

  test('the default stack fills requestId, clientIp and proto from the platform headers', async () => {
    const h = await harness({}, (app) => {
      app.get('/', (_req, res) => {
        res.send('ok');
      });
    });
    await request(h.port, '/', {
      agent: false,
      headers: {
        'section-io-id': 'edge-id-42',
        'true-client-ip': '203.0.113.9',
        'x-forwarded-proto': 'https',
      },
    });
    const [line] = await h.finish(1);
    expect(line).toMatchObject({ requestId: 'edge-id-42', clientIp: '203.0.113.9', proto: 'https' });
  });

  test('without the request context: requestId null, the socket address, req.protocol', async () => {
    const dir = tempLogDir();
    const logger = createLogger({ dir, console: false });
    const off = { clientIp: false, forwardedProto: false, requestId: false, geo: false } as const;
    const app = createApp({ logger, config: loadConfig({ LOG_DIR: dir }), ...off });
    const closes = counter();
    app.get('/', (_req, res) => {
      res.on('close', () => closes.tick());
      res.send('ok');
    });
    const { server, port } = await listen(app);
    open.push(server);
    await request(port, '/', { agent: false, headers: { 'x-forwarded-proto': 'https' } });
    await closes.reach(1);
    await closeLogger(logger);
    const [line] = parseLines(readLines(path.join(dir, 'access.log')));
    // Express's own req.protocol believes the loopback peer, as trust proxy says.
    expect(line).toMatchObject({ requestId: null, proto: 'https' });
    expect(line.clientIp).toMatch(/127\.0\.0\.1$/);
  });

  test('bytes counts each response alone when requests are pipelined on one connection', async () => {
    const h = await harness({ skip: ['/skipped'] }, pipelineRoutes);
    // Two pipelined batches on one connection, one request in each not logged (skip).
    const batches = [
      ['/slow?n=1', '/big?n=2', '/skipped', '/small?n=3'],
      ['/slow?n=4', '/small?n=5', '/skipped', '/big?n=6'],
    ];
    const sizes = await pipelined(h.port, batches);
    const lines = await h.finish(8);
    const bytes = Object.fromEntries(lines.map((l) => [l.url, l.bytes]));
    const expected = batches.flat().map((url, i) => [url, sizes[i]]);
    expect(bytes).toEqual(Object.fromEntries(expected.filter(([url]) => url !== '/skipped')));
    expect(new Set(sizes).size).toBeGreaterThan(1);
  });

  test("bytes stay each response's own when pipelined requests reach the access log out of order", async () => {
    const dir = tempLogDir();
    const logger = createLogger({ dir, console: false });
    const app = express();
    // An asynchronous step before the access log lets a later request overtake an earlier one.
    app.use((req, _res, next) => void (req.path === '/big' ? setTimeout(next, 30) : next()));
    app.use(accessLog({ logger }));
    pipelineRoutes(app);
    const { server, port } = await listen(app);
    open.push(server);
    const batch = ['/small?n=1', '/big?n=2', '/small?n=3'];
    const sizes = await pipelined(port, [batch]);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await closeLogger(logger);
    const lines = parseLines(readLines(path.join(dir, 'access.log')));
    expect(Object.fromEntries(lines.map((l) => [l.url, l.bytes]))).toEqual(
      Object.fromEntries(batch.map((url, i) => [url, sizes[i]])),
    );
  });

  test('ms covers the time spent in later middleware and the route', async () => {
    const h = await harness({}, (app) => {
      app.get('/wait', (_req, res) => {
        setTimeout(() => res.send('done'), 30);
      });
    });
    await request(h.port, '/wait', { agent: false });
    const [line] = await h.finish(1);
    expect(line.ms as number).toBeGreaterThanOrEqual(29);
  });
});

describe('accessLog: hostile input stays data', () => {
  const injection = '","status":200,"admin":true,"x":"';
  const vectors: [string, string][] = [
    ['double quotes and a JSON break-out', injection],
    ['backslashes', 'a\\b\\"c\\\\'],
    ['a tab', 'a\tb'],
    ['C1 CSI (0x9b) and NEL (0x85)', 'x\x9b2J\x85y'],
    ['a forged ANSI colour with CSI', '\x9b31mRED\x9b0m'],
    ['latin1 high bytes', '\xff\xfe\xc3\xa9'],
    ['an 8 KB value of quotes and backslashes', '"\\'.repeat(4096)],
  ];

  test.each(vectors)(
    '%s in User-Agent and Referer: the line is one JSON object with the value intact',
    async (_name, value) => {
      const h = await harness({ redactQuery: [] }, (app) => {
        app.get('/', (_req, res) => {
          res.send('ok');
        });
      });
      // Node allows 16 KB of headers in all: the 8 KB value goes whole in User-Agent only.
      const referer = value.slice(0, 1024);
      const raw = `GET /?q=%1b%0a%22 HTTP/1.1\r\nHost: x\r\nUser-Agent: ${value}\r\nReferer: ${referer}\r\nConnection: close\r\n\r\n`;
      const reply = await rawRequest(h.port, raw);
      expect(reply.startsWith('HTTP/1.1 200')).toBe(true);
      const lines = await h.finish(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ userAgent: value, referer, url: '/?q=%1b%0a%22', status: 200 });
      expect(lines[0]).not.toHaveProperty('admin');
    },
  );

  test('control characters from app data (fields) are escaped: no raw control byte reaches the file', async () => {
    const nasty = 'a\u0000b\u001b[2Jc\nd\re\u2028f\u0085g\u007f';
    const dir = tempLogDir();
    const logger = createLogger({ dir, console: false });
    const app = createApp({
      logger,
      config: loadConfig({ LOG_DIR: dir }),
      accessLog: { fields: (req) => ({ decoded: req.query.v, nested: { deep: nasty } }) },
    });
    app.get('/', (_req, res) => {
      res.send('ok');
    });
    const { server, port } = await listen(app);
    await request(port, `/?v=${encodeURIComponent(nasty)}`, { agent: false });
    server.close();
    await closeLogger(logger);
    const text = readLines(path.join(dir, 'access.log')).join('\n');
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    const [line] = parseLines(readLines(path.join(dir, 'access.log')));
    expect(line).toMatchObject({ decoded: nasty, nested: { deep: nasty } });
  });
});

describe('accessLog: credentials and redaction', () => {
  test('Cookie, Authorization, Proxy-Authorization and Set-Cookie are never logged', async () => {
    const h = await harness({ headers: ['x-trace'] }, (app) => {
      app.get('/', (_req, res) => {
        res.cookie('session', 'SETCOOKIE-SECRET').send('ok');
      });
    });
    await request(h.port, '/', {
      agent: false,
      headers: {
        cookie: 'sid=COOKIE-SECRET',
        authorization: 'Bearer AUTH-SECRET',
        'proxy-authorization': 'Basic PROXY-SECRET',
        'x-trace': 't-1',
      },
    });
    const lines = await h.finish(1);
    const text = JSON.stringify(lines);
    for (const secret of ['COOKIE-SECRET', 'AUTH-SECRET', 'PROXY-SECRET', 'SETCOOKIE-SECRET']) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0].headers).toEqual({ 'x-trace': 't-1' });
  });

  test('default redactQuery hides token-like parameters in url and referer', async () => {
    const h = await harness({}, (app) => {
      app.get('/cb', (_req, res) => {
        res.send('ok');
      });
    });
    await request(h.port, '/cb?code=abc&state=xyz&access%5Ftoken=t0k&TOKEN=T&flag', {
      agent: false,
      headers: { referer: 'https://example.com/login?password=hunter2&next=%2F#frag' },
    });
    const [line] = await h.finish(1);
    expect(line.url).toBe('/cb?code=[REDACTED]&state=xyz&access%5Ftoken=[REDACTED]&TOKEN=[REDACTED]&flag');
    expect(line.referer).toBe('https://example.com/login?password=[REDACTED]&next=%2F#frag');
  });

  test('redactQuery replaces the default list; redactHeaders hides logged header values', async () => {
    const h = await harness(
      {
        redactQuery: ['session'],
        redactHeaders: ['User-Agent', 'referer', 'x-tenant'],
        headers: ['x-tenant', 'x-absent'],
      },
      (app) => {
        app.get('/', (_req, res) => {
          res.send('ok');
        });
      },
    );
    await request(h.port, '/?session=s1&token=visible', {
      agent: false,
      headers: { 'user-agent': 'curl/8', referer: 'http://r/', 'x-tenant': 'acme' },
    });
    const [line] = await h.finish(1);
    expect(line).toMatchObject({
      url: '/?session=[REDACTED]&token=visible',
      userAgent: '[REDACTED]',
      referer: '[REDACTED]',
      headers: { 'x-tenant': '[REDACTED]', 'x-absent': null },
    });
  });

  test.each([
    ['/a', '/a'],
    ['/a?token=1', '/a?token=[REDACTED]'],
    ['/a?x=1&token=2&y', '/a?x=1&token=[REDACTED]&y'],
    ['/a?token', '/a?token'],
    ['/a?tok%65n=1', '/a?tok%65n=[REDACTED]'],
    ['/a?to+ken=1', '/a?to+ken=1'],
    ['/a?%E0%A4%A=1&token=2', '/a?%E0%A4%A=1&token=[REDACTED]'],
    ['/a?token=1#token=2', '/a?token=[REDACTED]#token=2'],
    ['/a?token=1&token=2', '/a?token=[REDACTED]&token=[REDACTED]'],
  ])('redactUrl(%j) → %j', (url, expected) => {
    expect(redactUrl(url, new Set(['token']))).toBe(expected);
  });
});

describe('accessLog: skip, sample, extra fields', () => {
  test('skip takes exact paths, prefixes ending in "/", RegExps (query ignored) and functions', async () => {
    const h = await harness({ skip: ['/healthz', '/static/', /^\/img\/.*\.png$/g] }, (app) => {
      app.use((_req, res) => {
        res.send('ok');
      });
    });
    const paths = [
      '/healthz',
      '/healthz?ts=1',
      '/healthz/x',
      '/static/a.js',
      '/static',
      '/img/a.png',
      '/img/b.png',
      '/img/a.jpg',
    ];
    for (const p of paths) await request(h.port, p, { agent: false });
    const lines = await h.finish(paths.length);
    expect(lines.map((l) => l.url)).toEqual(['/healthz/x', '/static', '/img/a.jpg']);

    const f = await harness({ skip: (req) => req.get('x-skip') === '1' }, (app) => {
      app.use((_req, res) => {
        res.send('ok');
      });
    });
    await request(f.port, '/a', { agent: false, headers: { 'x-skip': '1' } });
    await request(f.port, '/b', { agent: false });
    expect((await f.finish(2)).map((l) => l.url)).toEqual(['/b']);
  });

  test('sample keeps that fraction of successful requests, and every 5xx and aborted one', async () => {
    const slowArrived = counter();
    const h = await harness({ sample: 0.5 }, (app) => {
      app.get('/ok', (_req, res) => {
        res.send('ok');
      });
      app.get('/fail', (_req, res) => {
        res.status(503).send('no');
      });
      app.get('/slow', () => slowArrived.tick());
    });
    const draws = [0.1, 0.9, 0.4, 0.6];
    const random = jest.spyOn(Math, 'random').mockImplementation(() => draws.shift() ?? 0.99);
    try {
      for (let i = 0; i < 4; i++) await request(h.port, `/ok?i=${i}`, { agent: false });
      await request(h.port, '/fail', { agent: false });
      await abortedRequest(h.port, slowArrived.reach(1));
      const lines = await h.finish(6);
      expect(lines.map((l) => l.url)).toEqual(['/ok?i=0', '/ok?i=2', '/fail', '/slow?n=1']);
    } finally {
      random.mockRestore();
    }
  });

  test('fields adds values; built-in names are not overwritten; a throwing fields() keeps the line', async () => {
    let calls = 0;
    const h = await harness(
      {
        fields: (req, res) => {
          if (++calls === 2) throw new Error('fields broke');
          return {
            tenant: req.get('x-tenant') ?? null,
            cache: res.get('x-cache'),
            status: 999,
            skipped: undefined,
          };
        },
      },
      (app) => {
        app.get('/', (_req, res) => {
          res.set('x-cache', 'HIT').send('ok');
        });
      },
    );
    await request(h.port, '/', { agent: false, headers: { 'x-tenant': 'acme' } });
    await request(h.port, '/', { agent: false });
    const [first, second] = await h.finish(2);
    expect(first).toMatchObject({ tenant: 'acme', cache: 'HIT', status: 200 });
    expect(first).not.toHaveProperty('skipped');
    expect(second).toMatchObject({ status: 200, fieldsError: 'fields broke' });
  });
});

describe('accessLog: wiring and options', () => {
  test('createApp({ accessLog: false }) writes no access line', async () => {
    const h = await harness(false, (app) => {
      app.get('/', (_req, res) => {
        res.send('ok');
      });
    });
    await request(h.port, '/', { agent: false });
    expect(await h.finish(1)).toEqual([]);
  });

  test('in a plain express app, lines go to the root logger (the latest createApp logger)', async () => {
    const dir = tempLogDir();
    const logger = createLogger({ dir, console: false });
    createApp({ logger, config: loadConfig({ LOG_DIR: dir }), accessLog: false });
    const app = express();
    const closes = counter();
    app.use(accessLog());
    app.use((_req, res) => {
      res.on('close', () => closes.tick());
      res.send('plain');
    });
    const { server, port } = await listen(app);
    await request(port, '/plain', { agent: false });
    await closes.reach(1);
    server.close();
    await closeLogger(logger);
    expect(parseLines(readLines(path.join(dir, 'access.log'))).map((l) => l.url)).toEqual(['/plain']);
  });

  test('app.use(accessLog) without calling the factory fails the request with a clear TypeError', async () => {
    const app = express();
    let caught: unknown;
    app.use(accessLog as unknown as express.RequestHandler);
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      caught = err;
      res.status(500).end();
    });
    const { server, port } = await listen(app);
    open.push(server);
    expect((await request(port, '/', { agent: false })).status).toBe(500);
    expect(caught).toBeInstanceOf(TypeError);
    expect((caught as Error).message).toBe(
      'nexthop accessLog: call the factory: app.use(accessLog()), not app.use(accessLog)',
    );
  });

  test.each<[string, unknown, ErrorConstructor, string]>([
    ['options not an object', 'yes', TypeError, 'options must be an object'],
    [
      'unknown option',
      { skipPaths: ['/x'] },
      TypeError,
      'unknown option "skipPaths" (did you mean skip?); known options: logger, skip, sample',
    ],
    ['sample not a number', { sample: '0.5' }, TypeError, 'sample must be a number from 0 to 1, got 0.5'],
    ['sample NaN', { sample: NaN }, TypeError, 'sample must be a number from 0 to 1, got NaN'],
    ['sample above 1', { sample: 1.5 }, RangeError, 'sample must be from 0 to 1, got 1.5'],
    ['sample below 0', { sample: -0.1 }, RangeError, 'sample must be from 0 to 1, got -0.1'],
    ['fields not a function', { fields: { a: 1 } }, TypeError, 'fields must be a function'],
    ['headers not an array', { headers: 'x-a' }, TypeError, 'headers must be an array of header names'],
    [
      'headers entry not a token',
      { headers: ['x a'] },
      TypeError,
      'headers entry "x a" is not a header name',
    ],
    [
      'headers asks for cookie',
      { headers: ['Cookie'] },
      RangeError,
      'header "cookie" carries credentials and is never logged',
    ],
    [
      'headers asks for authorization',
      { headers: ['authorization'] },
      RangeError,
      'header "authorization" carries',
    ],
    ['headers asks for set-cookie', { headers: ['set-cookie'] }, RangeError, 'header "set-cookie" carries'],
    [
      'redactHeaders entry not a string',
      { redactHeaders: [1] },
      TypeError,
      'redactHeaders entry 1 is not a header name',
    ],
    [
      'redactQuery not an array',
      { redactQuery: 'token' },
      TypeError,
      'redactQuery must be an array of parameter names',
    ],
    [
      'redactQuery empty name',
      { redactQuery: [''] },
      TypeError,
      'redactQuery must be an array of parameter names',
    ],
    [
      'skip not array/function',
      { skip: '/healthz' },
      TypeError,
      'skip must be an array of paths and RegExps',
    ],
    [
      'skip relative path',
      { skip: ['healthz'] },
      TypeError,
      'skip entry "healthz" must be a path starting with "/"',
    ],
    ['skip number', { skip: [3] }, TypeError, 'skip entry "3" must be a path starting with "/" or a RegExp'],
  ])('%s → %p', (_name, options, Kind, message) => {
    const make = () => accessLog(options as AccessLogOptions);
    expect(make).toThrow(Kind);
    expect(make).toThrow(`nexthop accessLog: ${message}`);
  });
});
