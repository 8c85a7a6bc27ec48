import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { securityHeaders, type SecurityHeadersOptions } from 'nexthop';

/** A stand-in next-hop: answers with its own CSP and nothing else security-related. */
let upstream: http.Server;
let upstreamUrl: string;
beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    res.setHeader('Content-Security-Policy', "default-src 'none'");
    res.setHeader('X-Powered-By', 'origin');
    res.end(`origin ${req.url}`);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => upstream.close(resolve)));

function appWith(options?: SecurityHeadersOptions) {
  const app = express();
  app.use(securityHeaders(options));
  app.get('/own', (_req, res) => res.send('own'));
  app.get('/own-csp', (_req, res) => {
    res.setHeader('Content-Security-Policy', "default-src 'self' cdn.example");
    res.send('own');
  });
  app.get('/write-head', (_req, res) => {
    res.writeHead(200, { 'X-Frame-Options': 'DENY', 'Content-Type': 'text/plain' });
    res.end('raw');
  });
  app.get('/implicit', (_req, res) => {
    res.statusCode = 204;
    res.end();
  });
  // The proxy marks responses from next-hop before http-proxy copies their head.
  app.use(
    '/proxied',
    createProxyMiddleware({
      target: upstreamUrl,
      on: {
        proxyRes: (_proxyRes, _req, res) => {
          (res as express.Response).locals.nexthopProxied = true;
        },
      },
    }),
  );
  return app;
}

const HELMET_HEADERS = [
  'content-security-policy',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-frame-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

describe('securityHeaders on the app’s own responses', () => {
  let app: express.Express;
  beforeAll(() => {
    app = appWith();
  });
  test.each(['/own', '/implicit'])('%s gets every helmet header and no X-Powered-By', async (path) => {
    const res = await request(app).get(path);
    for (const name of HELMET_HEADERS) expect([name, res.headers[name]]).toEqual([name, expect.any(String)]);
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
  });

  test('a header the route set itself wins, even though set after the middleware', async () => {
    const res = await request(app).get('/own-csp');
    expect(res.headers['content-security-policy']).toBe("default-src 'self' cdn.example");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  test('headers passed to writeHead win too', async () => {
    const res = await request(app).get('/write-head');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['strict-transport-security']).toMatch(/^max-age=/);
  });

  test('404s from Express get them as well', async () => {
    const res = await request(app).get('/missing').expect(404);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('securityHeaders and responses proxied from next-hop', () => {
  test('are left exactly as the origin sent them by default', async () => {
    const res = await request(appWith()).get('/proxied/page').expect(200);
    expect(res.text).toBe('origin /page');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'");
    expect(res.headers['x-powered-by']).toBe('origin');
    for (const name of HELMET_HEADERS.filter((n) => n !== 'content-security-policy')) {
      expect([name, res.headers[name]]).toEqual([name, undefined]);
    }
  });

  test('with proxiedResponses: true, missing headers are added and the origin’s kept', async () => {
    const res = await request(appWith({ proxiedResponses: true }))
      .get('/proxied/page')
      .expect(200);
    expect(res.headers['content-security-policy']).toBe("default-src 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toMatch(/^max-age=/);
  });
});

describe('securityHeaders options', () => {
  test('helmet options pass through', async () => {
    const app = appWith({
      contentSecurityPolicy: false,
      strictTransportSecurity: { maxAge: 60 },
      xFrameOptions: { action: 'deny' },
    });
    const res = await request(app).get('/own');
    expect(res.headers['content-security-policy']).toBeUndefined();
    expect(res.headers['strict-transport-security']).toBe('max-age=60; includeSubDomains');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  test('CSP directive functions (nonces) are evaluated per request', async () => {
    const app = express();
    app.use((_req, res, next) => {
      res.locals.nonce = Math.random().toString(36).slice(2);
      next();
    });
    app.use(
      securityHeaders({
        contentSecurityPolicy: {
          directives: {
            'script-src': ["'self'", (_req, res) => `'nonce-${(res as express.Response).locals.nonce}'`],
          },
        },
      }),
    );
    app.get('/', (_req, res) => res.send(res.locals.nonce));
    const a = await request(app).get('/');
    const b = await request(app).get('/');
    expect(a.headers['content-security-policy']).toContain(`script-src 'self' 'nonce-${a.text}'`);
    expect(b.headers['content-security-policy']).toContain(`'nonce-${b.text}'`);
    expect(a.text).not.toBe(b.text);
  });

  test('a failing CSP directive function goes to the error handler', async () => {
    const app = express();
    app.use(
      securityHeaders({
        contentSecurityPolicy: {
          directives: {
            'script-src': [
              () => {
                throw new Error('no nonce');
              },
            ],
          },
        },
      }),
    );
    app.get('/', (_req, res) => res.send('unreachable'));
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send(err.message);
    });
    expect((await request(app).get('/').expect(500)).text).toBe('no nonce');
  });

  const errors: [options: unknown, type: typeof TypeError, message: string][] = [
    [
      { proxiedResponses: 'yes' },
      TypeError,
      'nexthop securityHeaders: proxiedResponses must be true or false, got "yes"',
    ],
    [{ hstss: {} }, TypeError, 'nexthop securityHeaders: unknown option "hstss"'],
    [
      { contentSecurityPolicy: { directives: { 'default-src': "'self'; evil" } } },
      TypeError,
      'nexthop securityHeaders: Content-Security-Policy received an invalid directive value',
    ],
    [
      { crossOriginOpenerPolicy: { policy: 'nope' } },
      TypeError,
      'nexthop securityHeaders: Cross-Origin-Opener-Policy does not support',
    ],
  ];
  test.each(errors)('%j throws', (options, type, message) => {
    expect(() => securityHeaders(options as never)).toThrow(type);
    expect(() => securityHeaders(options as never)).toThrow(message);
  });
});
