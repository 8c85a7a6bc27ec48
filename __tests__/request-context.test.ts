import fs from 'node:fs';
import request from 'supertest';
import { rateLimit } from 'express-rate-limit';
import { createApp, createLogger, loadConfig, type CreateAppOptions } from 'nexthop';
import { tempDir } from './helpers/process';

const logDir = tempDir();
afterAll(() => fs.rmSync(logDir, { recursive: true, force: true }));

function app(options: Omit<CreateAppOptions, 'config' | 'logger'> = {}) {
  const logger = createLogger({ dir: logDir, console: false });
  const created = createApp({ config: loadConfig({ LOG_DIR: logDir }), logger, ...options });
  created.get('/ctx', (req, res) =>
    res.json({
      ip: req.ip,
      clientIp: req.clientIp,
      proto: req.proto,
      protocol: req.protocol,
      secure: req.secure,
      id: req.id,
      geo: req.geo,
    }),
  );
  return created;
}

const platformHeaders = {
  'True-Client-IP': '203.0.113.7',
  'X-Forwarded-For': '203.0.113.7, 10.1.0.3',
  'X-Forwarded-Proto': 'HTTPS',
  'section-io-id': 'edge-abc',
  'section-io-geo-country-code': 'nz',
  Host: 'shop.example.com',
};

function platformRequest(target: ReturnType<typeof app>, path = '/ctx') {
  let call = request(target).get(path);
  for (const [k, v] of Object.entries(platformHeaders)) call = call.set(k, v);
  return call;
}

describe('createApp mounts the request context', () => {
  test('every middleware is on by default and they agree', async () => {
    const res = await platformRequest(app()).expect(200);
    expect(res.body).toEqual({
      ip: '203.0.113.7',
      clientIp: '203.0.113.7',
      proto: 'https',
      protocol: 'https',
      secure: true,
      id: 'edge-abc',
      geo: { countryCode: 'NZ' },
    });
    expect(res.headers['x-request-id']).toBe('edge-abc');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  test('trust proxy is the one compiled trust, never true', () => {
    const created = app({ trustedProxies: ['192.0.2.0/24'] });
    const trust = created.get('trust proxy');
    expect(typeof trust).toBe('function');
    expect(created.get('trust proxy fn')).toBe(trust);
    expect(trust('192.0.2.5')).toBe(true);
    expect(trust('127.0.0.1')).toBe(false);
  });

  test('trustedProxies applies to every middleware: loopback untrusted ignores all headers', async () => {
    const res = await platformRequest(app({ trustedProxies: ['192.0.2.0/24'] })).expect(200);
    expect(res.body).toMatchObject({ ip: '127.0.0.1', proto: 'http', secure: false, geo: {} });
    expect(res.body.id).not.toBe('edge-abc');
  });

  test('each feature can be turned off with false', async () => {
    const res = await platformRequest(
      app({ clientIp: false, forwardedProto: false, requestId: false, geo: false, securityHeaders: false }),
    ).expect(200);
    expect(res.body.clientIp).toBeUndefined();
    expect(res.body.proto).toBeUndefined();
    expect(res.body.id).toBeUndefined();
    expect(res.body.geo).toBeUndefined();
    expect(res.headers['x-request-id']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBeUndefined();
  });

  test('per-feature options reach the middleware', async () => {
    const res = await platformRequest(app({ requestId: { header: 'X-Trace-Id' } })).expect(200);
    expect(res.headers['x-trace-id']).toBe('edge-abc');
  });

  test('requireHttps is off by default and on with true', async () => {
    const plain = (target: ReturnType<typeof app>) =>
      request(target).get('/ctx?a=1').set('Host', 'shop.example.com').redirects(0);
    expect((await plain(app())).status).toBe(200);
    const redirected = await plain(app({ requireHttps: true }));
    expect(redirected.status).toBe(301);
    expect(redirected.headers.location).toBe('https://shop.example.com/ctx?a=1');
    // Mounted after requestId: the redirect is traceable.
    expect(redirected.headers['x-request-id']).toEqual(expect.any(String));
    expect(
      (await platformRequest(app({ requireHttps: { allowedHosts: ['shop.example.com'] } }))).status,
    ).toBe(200);
  });

  test('bad options fail at createApp with the middleware’s message', () => {
    expect(() => app({ trustedProxies: ['10.0.0/8'] })).toThrow(
      'nexthop createApp: trustedProxies entry "10.0.0/8" is not a CIDR; use e.g. "10.0.0.0/8"',
    );
    expect(() => app({ requestId: { header: 'a b' } })).toThrow(
      'nexthop requestId: header must be a header name',
    );
  });

  test('express-rate-limit keyed on req.ip: per-client limits, zero ERR_ERL_* reports', async () => {
    const reports: unknown[] = [];
    const logger = { warn: (e: unknown) => reports.push(e), error: (e: unknown) => reports.push(e) };
    const created = app();
    created.use('/limited', rateLimit({ windowMs: 60_000, limit: 1, logger }));
    created.get('/limited', (req, res) => res.send(req.ip));
    const from = (ip: string) =>
      request(created)
        .get('/limited')
        .set('True-Client-IP', ip)
        .set('X-Forwarded-For', `198.51.100.1, ${ip}, 10.0.0.2`)
        .set('Forwarded', `for=${ip}`);
    expect((await from('203.0.113.7')).status).toBe(200);
    expect((await from('203.0.113.7')).status).toBe(429);
    expect((await from('203.0.113.8')).status).toBe(200);
    expect(reports).toEqual([]);
  });
});
