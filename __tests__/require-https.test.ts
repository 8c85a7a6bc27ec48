import express from 'express';
import request from 'supertest';
import { request as raw } from './helpers/http';
import { forwardedProto, isNexthopError, requireHttps, type RequireHttpsOptions } from 'nexthop';

function redirectApp(options?: RequireHttpsOptions, withForwardedProto = true) {
  const app = express();
  if (withForwardedProto) app.use(forwardedProto());
  app.use(requireHttps(options));
  app.all('/{*rest}', (req, res) => res.send(`served ${req.method} ${req.originalUrl}`));
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(isNexthopError(err) ? err.status : 500).send(isNexthopError(err) ? err.code : err.message);
  });
  return app;
}

describe('requireHttps redirects plain HTTP', () => {
  const app = redirectApp();
  const rows: [
    method: 'get' | 'head' | 'post' | 'put' | 'delete' | 'patch',
    path: string,
    host: string,
    status: number,
    location: string,
  ][] = [
    ['get', '/', 'example.com', 301, 'https://example.com/'],
    ['get', '/a/b?x=1&y=2', 'example.com', 301, 'https://example.com/a/b?x=1&y=2'],
    ['head', '/a', 'example.com', 301, 'https://example.com/a'],
    ['post', '/form', 'example.com', 308, 'https://example.com/form'],
    ['put', '/x', 'example.com', 308, 'https://example.com/x'],
    ['delete', '/x', 'example.com', 308, 'https://example.com/x'],
    ['patch', '/x', 'example.com', 308, 'https://example.com/x'],
    ['get', '/', 'Example.COM', 301, 'https://example.com/'],
    ['get', '/', 'example.com:8443', 301, 'https://example.com:8443/'],
    ['get', '/', '203.0.113.7', 301, 'https://203.0.113.7/'],
    ['get', '/', '[2001:db8::1]:8080', 301, 'https://[2001:db8::1]:8080/'],
    ['get', '//evil.example/path', 'example.com', 301, 'https://example.com//evil.example/path'],
    ['get', '/caf%C3%A9', 'example.com', 301, 'https://example.com/caf%C3%A9'],
  ];
  test.each(rows)('%s %s (Host %s) → %i %s', async (method, path, host, status, location) => {
    const res = await request(app)[method](path).set('Host', host).redirects(0);
    expect(res.status).toBe(status);
    expect(res.headers.location).toBe(location);
  });

  test('HTTPS requests pass through', async () => {
    const res = await request(app).post('/form').set('X-Forwarded-Proto', 'https').set('Host', 'example.com');
    expect(res.status).toBe(200);
    expect(res.text).toBe('served POST /form');
  });

  test('the health-check path is never redirected', async () => {
    for (const path of [
      '/.well-known/section-io/aee-hc/healthz?ts=123',
      '/.well-known/section-io/aee-hc/healthz',
    ]) {
      const res = await request(app).get(path).set('Host', 'example.com').redirects(0);
      expect(res.status).toBe(200);
    }
  });
});

describe('requireHttps refuses to redirect to a place the client chose', () => {
  const app = redirectApp();
  const badHosts = [
    'evil.example/path',
    'evil.example@good.example',
    'example.com:',
    'example.com:99999',
    'example.com:80:80',
    'exa mple.com',
    '-example.com',
    'example-.com',
    'example..com',
    'example.com.',
    'under_score.example',
    '999.1.1.1',
    '[2001:db8::1',
    '[zz::1]',
    '[2001:db8::1]x',
    `${'a'.repeat(64)}.com`,
    `${'a.'.repeat(130)}com`,
    '',
  ];
  test.each(badHosts)('Host %j → 400 ERR_NEXTHOP_BAD_HOST', async (host) => {
    const res = await request(app).get('/x').set('Host', host).redirects(0);
    expect(res.status).toBe(400);
    expect(res.text).toBe('ERR_NEXTHOP_BAD_HOST');
    expect(res.headers.location).toBeUndefined();
  });

  test('an absolute-form target is not redirected: 400 ERR_NEXTHOP_HTTPS_REQUIRED', async () => {
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const res = await raw(port, 'http://example.com/x', { headers: { host: 'example.com' } });
      expect(res.status).toBe(400);
      expect(res.body).toBe('ERR_NEXTHOP_HTTPS_REQUIRED');
    } finally {
      server.close();
    }
  });
});

describe('requireHttps options', () => {
  test('allowedHosts: exact names and *. wildcards; others get 400', async () => {
    const app = redirectApp({ allowedHosts: ['example.com', '*.example.net'] });
    const cases: [string, number][] = [
      ['example.com', 301],
      ['EXAMPLE.com:8080', 301],
      ['www.example.net', 301],
      ['a.b.example.net', 301],
      ['example.net', 400],
      ['www.example.com', 400],
      ['evil.com', 400],
      ['notexample.net', 400],
    ];
    for (const [host, status] of cases) {
      const res = await request(app).get('/').set('Host', host).redirects(0);
      expect([host, res.status]).toEqual([host, status]);
    }
  });

  test('skipPaths match on segment boundaries', async () => {
    const app = redirectApp({ skipPaths: ['/status', '/public/'] });
    const cases: [string, number][] = [
      ['/status', 200],
      ['/status/deep?x=1', 200],
      ['/statusx', 301],
      ['/public', 200],
      ['/public/a.css', 200],
      ['/other', 301],
    ];
    for (const [path, status] of cases) {
      const res = await request(app).get(path).set('Host', 'example.com').redirects(0);
      expect([path, res.status]).toEqual([path, status]);
    }
  });

  test('without forwardedProto before it, requireHttps reads the trusted header itself', async () => {
    const app = redirectApp({}, false);
    expect(
      (await request(app).get('/').set('X-Forwarded-Proto', 'https').set('Host', 'example.com')).status,
    ).toBe(200);
    expect((await request(app).get('/').set('Host', 'example.com').redirects(0)).status).toBe(301);
    const untrusting = redirectApp({ trustedProxies: [] }, false);
    const res = await request(untrusting)
      .get('/')
      .set('X-Forwarded-Proto', 'https')
      .set('Host', 'example.com')
      .redirects(0);
    expect(res.status).toBe(301);
  });

  const errors: [options: unknown, message: string][] = [
    [
      { allowedHosts: 'example.com' },
      'nexthop requireHttps: allowedHosts must be an array of host names, got "example.com"',
    ],
    [
      { allowedHosts: ['https://example.com'] },
      'nexthop requireHttps: allowedHosts entry "https://example.com" is not a host name',
    ],
    [{ allowedHosts: ['example.com:443'] }, 'allowedHosts entry "example.com:443" is not a host name'],
    [{ allowedHosts: [3] }, 'allowedHosts entry 3 is not a host name'],
    [{ skipPaths: '/status' }, 'nexthop requireHttps: skipPaths must be an array of paths, got "/status"'],
    [
      { skipPaths: ['status'] },
      'nexthop requireHttps: skipPaths entry "status" is not a path; use e.g. "/status"',
    ],
    [
      { trustedProxies: ['10.0.0.1/8'] },
      'nexthop requireHttps: trustedProxies entry "10.0.0.1/8" has host bits set',
    ],
    [{ hosts: [] }, 'nexthop requireHttps: unknown option "hosts"'],
  ];
  test.each(errors)('%j throws', (options, message) => {
    expect(() => requireHttps(options as never)).toThrow(message);
  });
});
