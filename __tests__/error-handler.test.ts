import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import express, { type Application } from 'express';
import winston from 'winston';
import request from 'supertest';
import { createApp, createLogger, errorHandler, loadConfig, NexthopError, type ErrorLogger } from 'nexthop';
import { escapeEcho, statusOf } from '../middleware/error-handler';

interface Line {
  level: string;
  message: string;
  meta: Record<string, unknown>;
}

function recorder(): ErrorLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const log = (level: string, message: string, meta: Record<string, unknown>) => {
    lines.push({ level, message, meta });
  };
  return { lines, log: log as unknown as ErrorLogger['log'] };
}

/** An app whose routes fail in every way Express 5 can see, ending with errorHandler. */
function failingApp(
  env = 'production',
  logger = recorder(),
): { app: Application; logger: ReturnType<typeof recorder> } {
  const app = express();
  app.set('env', env);
  app.use((req, _res, next) => {
    const id = req.get('x-test-id');
    if (id) (req as unknown as { id: string }).id = id;
    next();
  });
  app.get('/sync', () => {
    throw new Error('secret database password in message');
  });
  app.get('/async', async () => {
    await new Promise((r) => setImmediate(r));
    throw Object.assign(new Error('Too many widgets'), { status: 429, headers: { 'Retry-After': '7' } });
  });
  app.get('/next', (_req, _res, next) =>
    next(Object.assign(new Error('bad input <b>'), { statusCode: 400 })),
  );
  app.get('/kit', (_req, _res, next) =>
    next(new NexthopError('ERR_NEXTHOP_UPSTREAM_TIMEOUT', 'next-hop slow')),
  );
  app.get('/string', (_req, _res, next) => next('just a string'));
  app.get('/status/:n', (req, _res, next) =>
    next(Object.assign(new Error(`status ${req.params.n}`), { status: Number(req.params.n) })),
  );
  app.get('/expose', (_req, _res, next) =>
    next(Object.assign(new Error('maintenance until 10:00'), { status: 503, expose: true })),
  );
  app.get('/header-id', (_req, res, next) => {
    res.setHeader('x-request-id', 'from-header');
    res.setHeader('Content-Type', 'image/png');
    next(new Error('x'));
  });
  app.get('/after-headers', (_req, res, next) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('partial body');
    setTimeout(() => next(new Error('failed mid-stream')), 20);
  });
  app.use(errorHandler({ logger }));
  return { app, logger };
}

describe('errorHandler: status rules (finalhandler)', () => {
  test.each([
    [{ status: 404 }, 404],
    [{ statusCode: 422 }, 422],
    [{ status: 599 }, 599],
    [{ status: 302 }, 500],
    [{ status: 600 }, 500],
    [{ status: '404' }, 500],
    [{ status: 404.5 }, 500],
    [{ status: 200, statusCode: 409 }, 409],
    [{}, 500],
    ['a string', 500],
    [null, 500],
  ])('%j → %i', (err, expected) => {
    expect(statusOf(err)).toBe(expected);
  });

  test.each([
    ['/status/404', 404, 'status 404'],
    ['/status/418', 418, 'status 418'],
    ['/status/500', 500, 'Internal Server Error'],
    ['/status/502', 502, 'Bad Gateway'],
    ['/status/301', 500, 'Internal Server Error'],
    ['/expose', 503, 'maintenance until 10:00'],
  ])('%s answers %i with "%s"', async (path, status, message) => {
    const res = await request(failingApp().app).get(path).set('Accept', 'application/json');
    expect(res.status).toBe(status);
    expect(res.body.error.message).toBe(message);
  });
});

describe('errorHandler: every way an error reaches it', () => {
  test('a sync throw: 500, generic message, no leak of the real one, logged with stack', async () => {
    const { app, logger } = failingApp();
    const res = await request(app).get('/sync').set('Accept', 'application/json').set('x-test-id', 'abc-1');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      error: { status: 500, message: 'Internal Server Error', requestId: 'abc-1' },
    });
    expect(res.text).not.toContain('secret');
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0].level).toBe('error');
    expect(logger.lines[0].meta).toMatchObject({
      status: 500,
      requestId: 'abc-1',
      url: '/sync',
      method: 'GET',
    });
    expect(String(logger.lines[0].meta.stack)).toContain('secret database password');
  });

  test('a rejected promise from an async handler keeps its 4xx status, message and headers', async () => {
    const { app, logger } = failingApp();
    const res = await request(app).get('/async').set('Accept', 'application/json');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body.error.message).toBe('Too many widgets');
    expect(logger.lines[0].level).toBe('info');
    expect(logger.lines[0].meta.stack).toBeUndefined();
  });

  test('next(err) with statusCode', async () => {
    const res = await request(failingApp().app).get('/next');
    expect(res.status).toBe(400);
    expect(res.text).toBe('400 bad input <b>\n');
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  test('a NexthopError keeps its stable code and status', async () => {
    const res = await request(failingApp().app).get('/kit').set('Accept', 'application/json');
    expect(res.status).toBe(504);
    expect(res.body.error).toEqual({
      status: 504,
      message: 'Gateway Timeout',
      code: 'ERR_NEXTHOP_UPSTREAM_TIMEOUT',
    });
    const text = await request(failingApp().app).get('/kit');
    expect(text.text).toBe('504 Gateway Timeout\ncode: ERR_NEXTHOP_UPSTREAM_TIMEOUT\n');
  });

  test('a non-Error value is a 500', async () => {
    const { app, logger } = failingApp();
    const res = await request(app).get('/string');
    expect(res.status).toBe(500);
    expect(logger.lines[0].meta.err).toBe('just a string');
  });
});

describe('errorHandler: format', () => {
  test.each([
    [undefined, 'text/plain'],
    ['*/*', 'text/plain'],
    ['text/html,application/xhtml+xml,*/*;q=0.8', 'text/plain'],
    ['application/json', 'application/json'],
    ['application/json, text/plain;q=0.5', 'application/json'],
    ['text/plain, application/json;q=0.5', 'text/plain'],
    ['image/png', 'text/plain'],
  ])('Accept %s → %s', async (accept, type) => {
    const req = request(failingApp().app).get('/sync');
    if (accept) req.set('Accept', accept);
    const res = await req;
    expect(res.headers['content-type']).toBe(`${type}; charset=utf-8`);
    expect(res.headers['content-security-policy']).toBe("default-src 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
  });

  test('the request id falls back to the x-request-id response header; stale body headers go', async () => {
    const res = await request(failingApp().app).get('/header-id');
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe('500 Internal Server Error\nrequest id: from-header\n');
  });

  test('HEAD gets the headers and no body', async () => {
    const res = await request(failingApp().app).head('/sync');
    expect(res.status).toBe(500);
    expect(res.text).toBeUndefined();
  });

  test.each([
    ['development', true],
    ['production', false],
    ['test', false],
  ])('NODE_ENV=%s: stack in body is %s', async (env, shown) => {
    const json = await request(failingApp(env).app).get('/sync').set('Accept', 'application/json');
    expect(typeof json.body.error.stack === 'string').toBe(shown);
    const text = await request(failingApp(env).app).get('/sync');
    expect(text.text.includes('at ')).toBe(shown);
  });

  test('the stack option overrides the env; createApp sets the env from NODE_ENV', async () => {
    const logger = createLogger({ files: false, console: false });
    const app = createApp({ config: loadConfig({ NODE_ENV: 'development', LOG_DIR: '/tmp' }), logger });
    app.get('/x', () => {
      throw new Error('dev error');
    });
    app.use(errorHandler({ logger: recorder() }));
    const res = await request(app).get('/x').set('Accept', 'application/json');
    expect(res.body.error.stack).toContain('dev error');
    const off = express();
    off.set('env', 'development');
    off.get('/x', () => {
      throw new Error('dev error');
    });
    off.use(errorHandler({ stack: false }));
    expect((await request(off).get('/x').set('Accept', 'application/json')).body.error.stack).toBeUndefined();
  });

  test("without a logger option it writes to the app's logger, or nowhere for a plain app", async () => {
    const written: string[] = [];
    const sink = new PassThrough({ objectMode: true });
    sink.on('data', (info: { message: string }) => written.push(info.message));
    const logger = winston.createLogger({ transports: [new winston.transports.Stream({ stream: sink })] });
    const app = createApp({ config: loadConfig({ LOG_DIR: '/tmp' }), logger });
    app.get('/x', () => {
      throw new Error('boom');
    });
    app.use(errorHandler());
    await request(app).get('/x');
    expect(written).toContain('request failed');
    const plain = express();
    plain.get('/x', () => {
      throw new Error('boom');
    });
    plain.use(errorHandler());
    expect((await request(plain).get('/x')).status).toBe(500);
  });
});

describe('errorHandler: headers already sent', () => {
  test('the socket is destroyed instead of a second response', async () => {
    const { app, logger } = failingApp();
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const outcome = await new Promise<string>((resolve) => {
        http.get({ host: '127.0.0.1', port, path: '/after-headers' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('error', (e) => resolve(`${res.statusCode} ${body} ${e.message}`));
          res.on('end', () => resolve(`ended ${body}`));
        });
      });
      expect(outcome).toBe('200 partial body aborted');
      expect(logger.lines[0].meta.err).toBe('Error: failed mid-stream');
    } finally {
      server.close();
    }
  });
});

describe('errorHandler: escaping and validation', () => {
  test.each([
    ['/a/b', '/a/b'],
    ['/<script>alert(1)</script>', '/%3Cscript%3Ealert(1)%3C/script%3E'],
    ['/"quoted"\'', '/%22quoted%22%27'],
    ['/é', '/%C3%A9'],
    ['/a\r\nSet-Cookie: x', '/a%0D%0ASet-Cookie:%20x'],
    ['/x'.repeat(150), `${'/x'.repeat(100)}…`],
  ])('escapeEcho(%j)', (input, output) => {
    expect(escapeEcho(input)).toBe(output);
  });

  test.each([
    [errorHandler, /options must be an object/],
    [
      { stak: true },
      /^nexthop errorHandler: unknown option "stak" \(did you mean stack\?\); known options: logger, stack$/,
    ],
    [{ Logger: console }, /unknown option "Logger" \(did you mean logger\?\)/],
    ['x', /options must be an object/],
    [null, /options must be an object/],
    [{ logger: {} }, /logger must have a log\(level, message, meta\) method/],
    [{ stack: 'yes' }, /stack must be a boolean, got string/],
  ])('errorHandler(%p) throws a TypeError', (options, message) => {
    expect(() => errorHandler(options as never)).toThrow(TypeError);
    expect(() => errorHandler(options as never)).toThrow(message);
  });

  test('app.use(errorHandler) is caught on the first request with a clear message', async () => {
    const app = express();
    app.set('env', 'test'); // Express's own final handler then shows the message, quietly
    app.use(errorHandler as never);
    const res = await request(app).get('/');
    expect(res.status).toBe(500);
    expect(res.text).toContain('call the factory: app.use(errorHandler())');
  });
});
