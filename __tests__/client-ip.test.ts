import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { rateLimit } from 'express-rate-limit';
import { clientIp, compileTrust, forwardedProto, type ClientIpOptions } from 'nexthop';
import { request as raw } from './helpers/http';

/** An app echoing what clientIp decided and what Express's req.ip now says. */
function echoApp(options?: ClientIpOptions) {
  const app = express();
  app.use(clientIp(options));
  app.get('/', (req, res) => res.json({ clientIp: req.clientIp, ip: req.ip }));
  return app;
}

type Headers = Record<string, string | string[]>;

async function ask(app: express.Express, headers: Headers) {
  let call = request(app).get('/');
  for (const [name, value] of Object.entries(headers)) call = call.set(name, value as string);
  const res = await call.expect(200);
  return res.body as { clientIp: string; ip: string };
}

// The test client connects over loopback, which the default trust covers.
describe('clientIp from a trusted peer', () => {
  const app = echoApp();
  const rows: [name: string, headers: Headers, expected: string][] = [
    ['True-Client-IP alone', { 'True-Client-IP': '203.0.113.7' }, '203.0.113.7'],
    ['True-Client-IP with port', { 'True-Client-IP': '203.0.113.7:51234' }, '203.0.113.7'],
    ['True-Client-IP bracketed IPv6 with port', { 'True-Client-IP': '[2001:DB8::1]:443' }, '2001:db8::1'],
    ['True-Client-IP IPv4-mapped', { 'True-Client-IP': '::ffff:203.0.113.7' }, '203.0.113.7'],
    ['True-Client-IP padded', { 'True-Client-IP': '  198.51.100.2  ' }, '198.51.100.2'],
    [
      'True-Client-IP wins over a disagreeing X-Forwarded-For',
      { 'True-Client-IP': '203.0.113.7', 'X-Forwarded-For': '198.51.100.9' },
      '203.0.113.7',
    ],
    [
      'invalid True-Client-IP falls to X-Forwarded-For',
      { 'True-Client-IP': 'unknown', 'X-Forwarded-For': '198.51.100.9' },
      '198.51.100.9',
    ],
    [
      'duplicate True-Client-IP lines (joined by Node) fall to X-Forwarded-For',
      { 'True-Client-IP': ['203.0.113.7', '203.0.113.8'], 'X-Forwarded-For': '198.51.100.9' },
      '198.51.100.9',
    ],
    [
      'oversized True-Client-IP falls to X-Forwarded-For',
      { 'True-Client-IP': '9'.repeat(10_240), 'X-Forwarded-For': '198.51.100.9' },
      '198.51.100.9',
    ],
    [
      'X-Forwarded-For: rightmost untrusted wins over a spoofed leftmost',
      { 'X-Forwarded-For': '1.1.1.1, 198.51.100.9' },
      '198.51.100.9',
    ],
    [
      'X-Forwarded-For: trusted hops are skipped',
      { 'X-Forwarded-For': '1.1.1.1, 198.51.100.9, 10.0.0.5, 192.168.1.1' },
      '198.51.100.9',
    ],
    [
      'X-Forwarded-For: every hop trusted gives the leftmost',
      { 'X-Forwarded-For': '10.0.0.9, 10.0.0.5' },
      '10.0.0.9',
    ],
    ['X-Forwarded-For: IPv6 entries', { 'X-Forwarded-For': '2001:DB8::5, ::1' }, '2001:db8::5'],
    [
      'X-Forwarded-For: duplicate lines are one list',
      { 'X-Forwarded-For': ['1.1.1.1', '198.51.100.9'] },
      '198.51.100.9',
    ],
    [
      'X-Forwarded-For: garbage nearest us falls to the socket',
      { 'X-Forwarded-For': '198.51.100.9, unknown' },
      '127.0.0.1',
    ],
    ['X-Forwarded-For: empty entry falls to the socket', { 'X-Forwarded-For': '198.51.100.9,' }, '127.0.0.1'],
    [
      'X-Forwarded-For: 10 KB value falls to the socket',
      { 'X-Forwarded-For': `${'1'.repeat(10_240)}` },
      '127.0.0.1',
    ],
    [
      'X-Forwarded-For: hundreds of trusted hops stop at the hop limit',
      { 'X-Forwarded-For': `198.51.100.9, ${'10.0.0.1, '.repeat(300)}10.0.0.2` },
      '10.0.0.1',
    ],
    ['no headers: the socket address, IPv4-mapped collapsed', {}, '127.0.0.1'],
    ['empty True-Client-IP: the socket', { 'True-Client-IP': '' }, '127.0.0.1'],
  ];
  test.each(rows)('%s', async (_name, headers, expected) => {
    const body = await ask(app, headers);
    expect(body).toEqual({ clientIp: expected, ip: expected });
  });
});

describe('clientIp from an untrusted peer', () => {
  // Nothing trusted: loopback plays a peer on the internet.
  const rows: [name: string, options: ClientIpOptions][] = [
    ['empty list', { trustedProxies: [] }],
    ['CIDR list not covering loopback', { trustedProxies: ['10.0.0.0/8'] }],
    ['predicate saying no', { trustedProxies: () => false }],
  ];
  test.each(rows)('%s: headers are ignored, the socket address is the client', async (_name, options) => {
    const body = await ask(echoApp(options), {
      'True-Client-IP': '203.0.113.7',
      'X-Forwarded-For': '198.51.100.9',
    });
    expect(body).toEqual({ clientIp: '127.0.0.1', ip: '127.0.0.1' });
  });

  test('a predicate saying yes trusts the peer it is shown', async () => {
    const seen: string[] = [];
    const app = echoApp({
      trustedProxies: (address) => {
        seen.push(address);
        return address === '127.0.0.1';
      },
    });
    expect(await ask(app, { 'True-Client-IP': '203.0.113.7' })).toEqual({
      clientIp: '203.0.113.7',
      ip: '203.0.113.7',
    });
    expect(seen[0]).toBe('127.0.0.1');
  });
});

describe('clientIp options', () => {
  test('a custom header is read instead of True-Client-IP', async () => {
    const app = echoApp({ header: 'CF-Connecting-IP' });
    expect(
      (await ask(app, { 'CF-Connecting-IP': '203.0.113.7', 'True-Client-IP': '1.1.1.1' })).clientIp,
    ).toBe('203.0.113.7');
  });

  test('header: false and xForwardedFor: false leave the socket address', async () => {
    const app = echoApp({ header: false, xForwardedFor: false });
    expect((await ask(app, { 'True-Client-IP': '203.0.113.7', 'X-Forwarded-For': '1.1.1.1' })).clientIp).toBe(
      '127.0.0.1',
    );
  });

  const errors: [options: unknown, message: string][] = [
    [
      { trustedProxies: ['10.0.0/8'] },
      'nexthop clientIp: trustedProxies entry "10.0.0/8" is not a CIDR; use e.g. "10.0.0.0/8"',
    ],
    [{ trustedProxies: true }, 'nexthop clientIp: trustedProxies true would trust every peer'],
    [{ header: 'bad header' }, 'nexthop clientIp: header must be a header name or false, got "bad header"'],
    [{ header: 7 }, 'header must be a header name or false, got 7'],
    [{ header: {} }, 'header must be a header name or false, got an object'],
    [{ header: () => 'x' }, 'header must be a header name or false, got a function'],
    [{ header: ['a'] }, 'header must be a header name or false, got an array'],
    [{ header: null }, 'header must be a header name or false, got null'],
    [{ header: 'x'.repeat(100) + ' ' }, `got "${'x'.repeat(60)}…"`],
    [{ xForwardedFor: 'yes' }, 'nexthop clientIp: xForwardedFor must be true or false, got "yes"'],
    [
      { trustedProxy: [] },
      'nexthop clientIp: unknown option "trustedProxy" (did you mean trustedProxies?); known options: trustedProxies, header, xForwardedFor',
    ],
    ['x', 'nexthop clientIp: options must be an object'],
    [null, 'options must be an object'],
    [[], 'options must be an object'],
  ];
  test.each(errors)('%j throws a TypeError', (options, message) => {
    expect(() => clientIp(options as never)).toThrow(TypeError);
    expect(() => clientIp(options as never)).toThrow(message);
  });

  test('app.use(clientIp) without calling it fails with a clear message', async () => {
    const app = express();
    app.use(clientIp as never);
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send(err.message);
    });
    const res = await request(app).get('/').expect(500);
    expect(res.text).toBe('nexthop clientIp: call the factory: app.use(clientIp()), not app.use(clientIp)');
  });
});

describe('express-rate-limit after clientIp', () => {
  test('limits per True-Client-IP with zero ERR_ERL_* warnings', async () => {
    const messages: string[] = [];
    const logger = {
      warn: (e: unknown) => messages.push(String((e as Error).message ?? e)),
      error: (e: unknown) => messages.push(String((e as Error).message ?? e)),
    };
    const consoleSpy = jest.spyOn(console, 'warn');
    const consoleErrorSpy = jest.spyOn(console, 'error');
    const trust = compileTrust();
    const app = express();
    app.set('trust proxy', trust);
    app.use(clientIp({ trustedProxies: trust }));
    app.use(
      rateLimit({ windowMs: 60_000, limit: 2, standardHeaders: 'draft-8', legacyHeaders: false, logger }),
    );
    app.get('/', (req, res) => res.send(req.ip));

    // XFF and Forwarded too, as on the platform: each could trip a validation.
    const from = (ip: string) =>
      request(app)
        .get('/')
        .set('True-Client-IP', ip)
        .set('X-Forwarded-For', `${ip}, 10.0.0.2`)
        .set('Forwarded', `for=${ip}`);
    expect((await from('203.0.113.7')).status).toBe(200);
    expect((await from('203.0.113.7')).status).toBe(200);
    expect((await from('203.0.113.7')).status).toBe(429);
    const other = await from('2001:db8::1');
    expect(other.status).toBe(200);
    expect(other.text).toBe('2001:db8::1');

    expect(messages).toEqual([]);
    const erl = [...consoleSpy.mock.calls, ...consoleErrorSpy.mock.calls].flat().join(' ');
    expect(erl).not.toMatch(/ERR_ERL_/);
    consoleSpy.mockRestore();
    consoleErrorSpy.mockRestore();
  });

  test('control: the same logger does report ERR_ERL_* when trust proxy is left unset', async () => {
    const codes: string[] = [];
    const logger = {
      warn: (e: unknown) => codes.push((e as { code: string }).code),
      error: (e: unknown) => codes.push((e as { code: string }).code),
    };
    const app = express();
    app.use(clientIp());
    app.use(rateLimit({ windowMs: 60_000, limit: 5, logger }));
    app.get('/', (req, res) => res.send(req.ip));
    const res = await request(app).get('/').set('X-Forwarded-For', '198.51.100.9').expect(200);
    expect(res.text).toBe('198.51.100.9');
    expect(codes).toContain('ERR_ERL_UNEXPECTED_X_FORWARDED_FOR');
  });
});

describe('req.ip and req.protocol wiring', () => {
  test('a sub-app mounted after the middleware sees the same req.ip and req.protocol', async () => {
    const app = express();
    app.use(clientIp(), forwardedProto());
    const admin = express();
    admin.get('/who', (req, res) => res.json({ ip: req.ip, protocol: req.protocol, secure: req.secure }));
    app.use('/admin', admin);
    const res = await request(app)
      .get('/admin/who')
      .set('True-Client-IP', '203.0.113.7')
      .set('X-Forwarded-Proto', 'HTTPS')
      .expect(200);
    expect(res.body).toEqual({ ip: '203.0.113.7', protocol: 'https', secure: true });
  });

  test('requests the middleware did not see keep Express’s own req.ip', async () => {
    const app = express();
    app.use('/with', clientIp());
    app.get('/{*rest}', (req, res) => res.json({ ip: req.ip, clientIp: req.clientIp ?? null }));
    const seen = await request(app).get('/with/x').set('True-Client-IP', '203.0.113.7').expect(200);
    expect(seen.body).toEqual({ ip: '203.0.113.7', clientIp: '203.0.113.7' });
    const unseen = await request(app).get('/without').set('True-Client-IP', '203.0.113.7').expect(200);
    expect(unseen.body.clientIp).toBeNull();
    expect(unseen.body.ip).toMatch(/127\.0\.0\.1$/);
  });

  test('a plain node:http server gets own properties instead', async () => {
    const middleware = [clientIp(), forwardedProto()];
    const server = http.createServer((req, res) => {
      const r = req as unknown as express.Request;
      let i = 0;
      const next = () => {
        const handler = middleware[i++];
        if (handler) handler(r, res as unknown as express.Response, next);
        else res.end(JSON.stringify({ ip: r.ip, protocol: r.protocol, secure: r.secure }));
      };
      next();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const reply = await raw((server.address() as AddressInfo).port, '/', {
        headers: { 'true-client-ip': '203.0.113.7', 'x-forwarded-proto': 'https' },
      });
      expect(JSON.parse(reply.body)).toEqual({ ip: '203.0.113.7', protocol: 'https', secure: true });
      // Node's own prototype is never touched.
      expect(Object.getOwnPropertyDescriptor(http.IncomingMessage.prototype, 'ip')).toBeUndefined();
    } finally {
      server.close();
    }
  });
});

describe('clientIp over real sockets from other peer addresses', () => {
  /** Serve `app` on `host` and request it from the same address family; undefined if unavailable. */
  async function askOn(app: express.Express, host: string, headers: Record<string, string>) {
    const server = http.createServer(app);
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, host, () => resolve(true));
    });
    if (!listening) return undefined;
    try {
      const reply = await raw((server.address() as AddressInfo).port, '/', { host, headers });
      return JSON.parse(reply.body) as { clientIp: string; ip: string };
    } finally {
      server.close();
    }
  }

  test('an IPv6 loopback peer (::1) is trusted by default', async () => {
    const body = await askOn(echoApp(), '::1', { 'true-client-ip': '203.0.113.7' });
    if (body === undefined) return; // no IPv6 on this machine
    expect(body).toEqual({ clientIp: '203.0.113.7', ip: '203.0.113.7' });
    const untrusted = await askOn(echoApp({ trustedProxies: ['127.0.0.0/8'] }), '::1', {
      'true-client-ip': '203.0.113.7',
    });
    expect(untrusted).toEqual({ clientIp: '::1', ip: '::1' });
  });

  test('a peer on a non-loopback address is untrusted when only loopback is trusted', async () => {
    const address = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
    if (address === undefined) return; // no such interface here
    const headers = { 'true-client-ip': '203.0.113.7', 'x-forwarded-for': '198.51.100.9' };
    expect(await askOn(echoApp({ trustedProxies: ['loopback'] }), address, headers)).toEqual({
      clientIp: address,
      ip: address,
    });
    expect(await askOn(echoApp({ trustedProxies: [`${address}/32`] }), address, headers)).toEqual({
      clientIp: '203.0.113.7',
      ip: '203.0.113.7',
    });
  });
});
