import type { ServeHandle } from 'nexthop';
import { send, startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream';
import { loadExample, serveExample } from '../helpers/examples';

const LIMIT = 5;

describe('examples/ip-guard', () => {
  let upstream: EchoUpstream;
  const servers: ServeHandle[] = [];
  const warnings: string[] = [];
  const collect = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
  beforeAll(async () => {
    upstream = await startEchoUpstream();
    jest.spyOn(console, 'error').mockImplementation(collect);
    jest.spyOn(console, 'warn').mockImplementation(collect);
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    for (const s of servers) await s.close();
    await upstream.close();
  });

  async function start(env: Record<string, string>): Promise<number> {
    const { app } = await loadExample('ip-guard', {
      NEXT_HOP: upstream.url,
      RATE_LIMIT: String(LIMIT),
      ...env,
    });
    const server = await serveExample(app);
    servers.push(server);
    return server.port;
  }
  const from = (ip: string, extra: Record<string, string> = {}) => ({ 'True-Client-IP': ip, ...extra });

  describe('behind the module front (loopback is a trusted proxy)', () => {
    let port: number;
    beforeAll(async () => (port = await start({ DENY_CIDRS: '198.51.100.0/24, 2001:db8:bad::/48' })));

    it.each([
      ['198.51.100.7', 403],
      ['2001:db8:bad::1', 403],
      ['203.0.113.7', 200],
      ['2001:db8::1', 200],
    ])('client %s gets %i', async (ip, status) => {
      const res = await send(port, { path: '/whoami', headers: from(ip) });
      expect(res.status).toBe(status);
      expect(res.json()).toMatchObject({ clientIp: ip });
    });

    it('proxies allowed requests and never lets a denied one reach next-hop', async () => {
      const before = upstream.connections;
      expect((await send(port, { path: '/shop', headers: from('198.51.100.9') })).status).toBe(403);
      expect(upstream.connections).toBe(before);
      const ok = await send(port, { path: '/shop?x=1', headers: from('192.0.2.10') });
      expect(ok.json()).toMatchObject({ url: '/shop?x=1' });
    });

    it('limits each client separately on req.ip: 429 after the limit, others unaffected', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < LIMIT + 2; i++) {
        statuses.push((await send(port, { path: '/whoami', headers: from('192.0.2.77') })).status);
      }
      expect(statuses).toEqual([...Array(LIMIT).fill(200), 429, 429]);
      const limited = await send(port, { path: '/whoami', headers: from('192.0.2.77') });
      expect(limited.headers['retry-after']).toBeDefined();
      expect(limited.json()).toEqual({ error: 'too many requests' });
      expect((await send(port, { path: '/whoami', headers: from('192.0.2.78') })).status).toBe(200);
    });

    it('never refuses or counts the platform health check', async () => {
      for (let i = 0; i < LIMIT + 1; i++) {
        const res = await send(port, {
          path: '/.well-known/section-io/aee-hc/healthz',
          headers: from('198.51.100.7'),
        });
        expect(res.status).toBe(200);
      }
    });
  });

  describe('reached directly by an untrusted peer (the front is on 10.0.0.0/8)', () => {
    let port: number;
    beforeAll(async () => (port = await start({ TRUSTED_PROXIES: '10.0.0.0/8', DENY_CIDRS: '127.0.0.0/8' })));

    it('a spoofed True-Client-IP or X-Forwarded-For does not unlock a denied address', async () => {
      const spoofed = { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https' };
      const res = await send(port, { path: '/whoami', headers: from('203.0.113.7', spoofed) });
      expect(res.status).toBe(403);
      expect(res.json()).toEqual({ error: 'forbidden', clientIp: '127.0.0.1' });
    });
  });

  describe('reached directly by an untrusted peer that is allowed', () => {
    let port: number;
    beforeAll(async () => (port = await start({ TRUSTED_PROXIES: '10.0.0.0/8' })));

    it('rotating spoofed addresses does not reset its rate limit', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < LIMIT + 2; i++) {
        const ip = `203.0.113.${i + 1}`;
        const res = await send(port, { path: '/whoami', headers: from(ip, { 'X-Forwarded-For': ip }) });
        statuses.push(res.status);
        if (res.status === 200) expect(res.json()).toEqual({ clientIp: '127.0.0.1', ip: '127.0.0.1' });
      }
      expect(statuses).toEqual([...Array(LIMIT).fill(200), 429, 429]);
    });
  });

  describe('with an allow list', () => {
    let port: number;
    beforeAll(
      async () => (port = await start({ ALLOW_CIDRS: '203.0.113.0/24', DENY_CIDRS: '203.0.113.66' })),
    );

    it.each([
      ['203.0.113.7', 200],
      ['192.0.2.1', 403],
      ['203.0.113.66', 403], // denied inside the allowed network: deny wins
    ])('client %s gets %i', async (ip, status) => {
      expect((await send(port, { path: '/whoami', headers: from(ip) })).status).toBe(status);
    });
  });

  it('express-rate-limit printed no ERR_ERL_* validation warning', () => {
    expect(warnings.filter((w) => /ERR_ERL_/.test(w))).toEqual([]);
  });

  it('refuses a bad RATE_LIMIT and a bad CIDR at start-up', async () => {
    await expect(start({ RATE_LIMIT: '0' })).rejects.toThrow('RATE_LIMIT must be a positive integer, got 0');
    await expect(start({ DENY_CIDRS: '10.0.0/8' })).rejects.toThrow(/"10\.0\.0\/8" is not a CIDR/);
    await expect(start({ ALLOW_CIDRS: '10.0.0.1/8' })).rejects.toThrow(
      /has host bits set; use "10\.0\.0\.0\/8"/,
    );
  });
});
