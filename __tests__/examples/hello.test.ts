import path from 'node:path';
import type { ServeHandle } from 'nexthop';
import { send, startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream';
import { loadExample, scratchDir, serveExample } from '../helpers/examples';
import { freePort, startNode, stop, type Child } from '../helpers/process';

describe('examples/hello', () => {
  let upstream: EchoUpstream;
  let server: ServeHandle;
  beforeAll(async () => {
    upstream = await startEchoUpstream();
    const { app } = await loadExample('hello', { NEXT_HOP: upstream.url });
    server = await serveExample(app);
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  it('answers GET /hello at the edge with the client IP, protocol and geo from the front', async () => {
    const res = await send(server.port, {
      path: '/hello',
      headers: {
        'True-Client-IP': '203.0.113.7',
        'X-Forwarded-Proto': 'https',
        'section-io-geo-country-code': 'nz',
        'section-io-geo-city': 'Auckland',
      },
    });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      message: 'Hello from the edge',
      clientIp: '203.0.113.7',
      protocol: 'https',
      country: 'NZ',
      city: 'Auckland',
    });
    expect(upstream.connections).toBe(0);
  });

  it('without platform headers reports the socket peer over http', async () => {
    const res = await send(server.port, { path: '/hello' });
    expect(res.json()).toMatchObject({ clientIp: '127.0.0.1', protocol: 'http' });
  });

  it('proxies every other path to next-hop with Host, path, query and forwarding headers', async () => {
    const res = await send(server.port, {
      method: 'POST',
      path: '/products?id=7',
      headers: { Host: 'shop.example.com', 'True-Client-IP': '203.0.113.7', 'X-Forwarded-Proto': 'https' },
      body: 'qty=2',
    });
    expect(res.status).toBe(200);
    const echo = res.json();
    expect(echo).toMatchObject({ method: 'POST', url: '/products?id=7', body: 'qty=2' });
    expect(echo.headers).toMatchObject({
      host: 'shop.example.com',
      'true-client-ip': '203.0.113.7',
      'x-forwarded-proto': 'https',
    });
  });
});

// The root `npm start` runs scripts/demo.js, which requires the built hello example's `app`.
describe('npm start (scripts/demo.js) serves the hello example', () => {
  let child: Child | undefined;
  afterAll(() => stop(child));

  it('answers /hello itself and proxies the rest to its demo upstream', async () => {
    const port = await freePort();
    const demo = path.join(__dirname, '..', '..', 'scripts', 'demo.js');
    child = startNode(demo, { PORT: String(port), LOG_DIR: scratchDir('nexthop-demo-logs-'), NEXT_HOP: '' });
    await child.waitFor(/listening on http:\/\/localhost:\d+/, 15_000);
    const hello = await send(port, { path: '/hello' });
    expect(hello.json()).toMatchObject({ message: 'Hello from the edge', clientIp: '127.0.0.1' });
    const proxied = await send(port, { path: '/any/path?q=1' });
    expect(proxied.json()).toMatchObject({
      answeredBy: expect.stringMatching(/demo upstream/),
      url: '/any/path?q=1',
    });
  });
});
