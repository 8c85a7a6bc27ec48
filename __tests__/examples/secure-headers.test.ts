import http from 'node:http';
import type { ServeHandle } from 'nexthop';
import { listen, send, shut } from '../helpers/echo-upstream';
import { loadExample, serveExample } from '../helpers/examples';

const HSTS = 'max-age=31536000; includeSubDomains';
const HTTPS = { Host: 'shop.example.com', 'X-Forwarded-Proto': 'https' };

describe('examples/secure-headers', () => {
  let origin: http.Server;
  let server: ServeHandle;
  beforeAll(async () => {
    // An origin that reveals its software; /own-hsts sends its own HSTS and CSP.
    origin = http.createServer((req, res) => {
      const own = req.url === '/own-hsts';
      res.writeHead(200, {
        'Content-Type': 'text/html',
        Server: 'Apache/2.4.1',
        'X-Powered-By': 'PHP/8.1',
        'X-AspNet-Version': '4.0',
        ...(own
          ? { 'Strict-Transport-Security': 'max-age=60', 'Content-Security-Policy': "default-src 'none'" }
          : {}),
      });
      res.end(`origin page ${req.url}`);
    });
    const port = await listen(origin);
    const { app } = await loadExample('secure-headers', { NEXT_HOP: `http://127.0.0.1:${port}` });
    server = await serveExample(app);
  });
  afterAll(async () => {
    await server.close();
    await shut(origin);
  });

  it.each([
    ['GET', '/account?tab=orders', 301, 'https://shop.example.com/account?tab=orders'],
    ['HEAD', '/', 301, 'https://shop.example.com/'],
    ['POST', '/cart?add=7', 308, 'https://shop.example.com/cart?add=7'],
    ['GET', '/products/a%20b', 301, 'https://shop.example.com/products/a%20b'],
  ])('plain HTTP %s %s → %i to %s', async (method, path, status, location) => {
    const res = await send(server.port, { method, path, headers: { Host: 'shop.example.com' } });
    expect(res.status).toBe(status);
    expect(res.headers.location).toBe(location);
  });

  it('a Host that is not a host name gets 400, not a redirect', async () => {
    const res = await send(server.port, { path: '/', headers: { Host: 'evil.example/@x' } });
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  it('never redirects the platform health check: it is proxied over plain HTTP', async () => {
    const health = await send(server.port, { path: '/.well-known/section-io/aee-hc/healthz?ts=1' });
    expect(health.status).toBe(200);
    expect(health.body.toString()).toBe('origin page /.well-known/section-io/aee-hc/healthz?ts=1');
  });

  it("adds HSTS, CSP and helmet's other headers to the app's own page over HTTPS", async () => {
    const res = await send(server.port, { path: '/', headers: HTTPS });
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'strict-transport-security': HSTS,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'referrer-policy': 'no-referrer',
    });
    expect(res.headers['content-security-policy']).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('adds HSTS and nosniff to proxied pages and removes the headers revealing the origin', async () => {
    const res = await send(server.port, { path: '/products', headers: HTTPS });
    expect(res.body.toString()).toBe('origin page /products');
    expect(res.headers['strict-transport-security']).toBe(HSTS);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    for (const name of ['server', 'x-powered-by', 'x-aspnet-version'])
      expect(res.headers[name]).toBeUndefined();
    // helmet's own headers are the origin's business on proxied pages.
    expect(res.headers['content-security-policy']).toBeUndefined();
  });

  it("keeps the origin's own HSTS and CSP on proxied pages", async () => {
    const res = await send(server.port, { path: '/own-hsts', headers: HTTPS });
    expect(res.headers['strict-transport-security']).toBe('max-age=60');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'");
  });
});
