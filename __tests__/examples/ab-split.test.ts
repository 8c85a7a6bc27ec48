import type { ServeHandle } from 'nexthop';
import { send, startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream';
import { loadExample, serveExample } from '../helpers/examples';

const HEALTH = '/.well-known/section-io/aee-hc/healthz?ts=1';

/** The ab_variant cookie set on a response, if any. */
function variantCookie(setCookie: string[] | undefined): string | undefined {
  return setCookie?.find((c) => c.startsWith('ab_variant='));
}

describe('examples/ab-split', () => {
  let upstream: EchoUpstream;
  let server: ServeHandle;
  beforeAll(async () => {
    upstream = await startEchoUpstream();
    const { app } = await loadExample('ab-split', { NEXT_HOP: upstream.url });
    server = await serveExample(app);
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  it('assigns a new visitor a variant, rewrites the upstream path and sets the cookie on the proxied page', async () => {
    const res = await send(server.port, { path: '/products?id=7', headers: { Host: 'shop.example.com' } });
    expect(res.status).toBe(200);
    const cookie = variantCookie(res.headers['set-cookie']);
    const variant = cookie?.match(/^ab_variant=([ab]);/)?.[1];
    expect(cookie).toBe(`ab_variant=${variant}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax`);
    expect(res.json().url).toBe(`/${variant}/products?id=7`);
    expect(res.json().headers.host).toBe('shop.example.com');
  });

  it('is sticky: a visitor with a cookie keeps its variant and gets no new cookie', async () => {
    for (const variant of ['a', 'b']) {
      for (let i = 0; i < 3; i++) {
        const res = await send(server.port, {
          path: '/cart',
          headers: { Cookie: `x=1; ab_variant=${variant}` },
        });
        expect(res.json().url).toBe(`/${variant}/cart`);
        expect(variantCookie(res.headers['set-cookie'])).toBeUndefined();
      }
    }
  });

  it('splits new visitors between both variants', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const res = await send(server.port, { path: '/' });
      seen.add(res.json().url);
    }
    expect([...seen].sort()).toEqual(['/a/', '/b/']);
  });

  it('marks the cookie Secure when the browser used HTTPS, and not when a direct client only claims it', async () => {
    const secure = await send(server.port, { path: '/', headers: { 'X-Forwarded-Proto': 'https' } });
    expect(variantCookie(secure.headers['set-cookie'])).toMatch(/; SameSite=Lax; Secure$/);
    const plain = await send(server.port, { path: '/', headers: { 'X-Forwarded-Proto': 'http' } });
    expect(variantCookie(plain.headers['set-cookie'])).toMatch(/; SameSite=Lax$/);
  });

  it('reassigns a cookie naming no variant, and keeps the health check path as sent', async () => {
    const res = await send(server.port, { path: '/x', headers: { Cookie: 'ab_variant=c' } });
    expect(variantCookie(res.headers['set-cookie'])).toMatch(/^ab_variant=[ab];/);
    const health = await send(server.port, { path: HEALTH });
    expect(health.json().url).toBe(HEALTH);
    expect(health.headers['set-cookie']).toBeUndefined();
  });

  it('answers GET /variant itself', async () => {
    const res = await send(server.port, { path: '/variant', headers: { Cookie: 'ab_variant=a' } });
    expect(res.json()).toEqual({ variant: 'a', newVisitor: false });
  });
});
