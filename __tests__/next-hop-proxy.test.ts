import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import express from 'express';
import { nextHopProxy, NexthopError } from 'nexthop';
import {
  listen,
  pattern,
  send,
  sha256,
  shut,
  startEchoUpstream,
  type Echo,
  type EchoUpstream,
} from './helpers/echo-upstream';

let upstream: EchoUpstream;
const servers: http.Server[] = [];

beforeAll(async () => {
  upstream = await startEchoUpstream();
});
afterAll(() => upstream.close());
afterEach(async () => {
  await Promise.all(servers.splice(0).map(shut));
});

/** Serve an Express app built by `build` on 127.0.0.1 and return its port. */
async function serveApp(build: (app: express.Express) => void): Promise<number> {
  const app = express();
  // The test client is a loopback peer: trusted, as the platform's nginx front is.
  app.set('trust proxy', 'loopback');
  build(app);
  const server = http.createServer(app);
  servers.push(server);
  return listen(server);
}

function proxyPort(options: Parameters<typeof nextHopProxy>[0] = {}): Promise<number> {
  return serveApp((app) => app.use(nextHopProxy({ target: upstream.url, ...options })));
}

/** Send raw bytes and read until the server closes or `until` matches. */
async function rawExchange(port: number, request: string, until = /\r\n\r\n[\s\S]*\}/): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(request);
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    if (until.test(text)) socket.end();
  });
  await once(socket, 'close');
  return text;
}

describe('paths and methods', () => {
  test('method, path and query go upstream exactly as sent, mounted at / or a subpath', async () => {
    const root = await proxyPort();
    const mounted = await serveApp((app) => app.use('/api', nextHopProxy({ target: upstream.url })));
    for (const [port, path] of [
      [root, '/a/b?x=1&y=%20z'],
      [mounted, '/api/v1/items?sort=desc'],
      [mounted, '/api'],
      [root, '/a/../b/%2e%2e/c?q=..'],
      [root, '/%2E%2E/%2e%2e/etc'],
    ] as const) {
      const reply = await send(port, { method: 'DELETE', path });
      expect(reply.status).toBe(200);
      expect(reply.json()).toMatchObject({ method: 'DELETE', url: path });
    }
  });

  test('an absolute-form target goes to next-hop with its path only (no open proxy)', async () => {
    const port = await proxyPort();
    const text = await rawExchange(
      port,
      'GET http://evil.example/x?y=1 HTTP/1.1\r\nHost: shop.example\r\n\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    const echo = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    expect(echo.url).toBe('/x?y=1');
    expect(echo.headers.host).toBe('shop.example');
    const bare = await rawExchange(port, 'GET http://evil.example HTTP/1.1\r\nHost: shop.example\r\n\r\n');
    expect(JSON.parse(bare.slice(bare.indexOf('\r\n\r\n') + 4)).url).toBe('/');
  });

  test('pathFilter: prefixes on segment boundaries, globs, functions; others go to next()', async () => {
    const cases: [Parameters<typeof nextHopProxy>[0], string, boolean][] = [
      [{ pathFilter: '/api' }, '/api/x', true],
      [{ pathFilter: '/api' }, '/api', true],
      [{ pathFilter: '/api' }, '/apix', false],
      [{ pathFilter: '/api/' }, '/api/x?y', true],
      [{ pathFilter: ['/a', '/b'] }, '/b/c', true],
      [{ pathFilter: ['/a', '/b'] }, '/c', false],
      [{ pathFilter: '/assets/**/*.js' }, '/assets/x/y.js', true],
      [{ pathFilter: '/assets/**/*.js' }, '/assets/x/y.css', false],
      [{ pathFilter: ['/a', '/img/*.png'] }, '/img/p.png', true],
      [{ pathFilter: (p: string) => p.endsWith('.html') }, '/x/index.html?z', true],
      [{ pathFilter: (p: string) => p.endsWith('.html') }, '/x/index.htm', false],
      [{ pathFilter: '/' }, '/anything', true],
    ];
    for (const [options, path, proxied] of cases) {
      const port = await serveApp((app) => {
        app.use(nextHopProxy({ target: upstream.url, ...options }));
        app.use((_req, res) => res.status(404).send('app'));
      });
      const reply = await send(port, { path });
      expect([path, reply.status]).toEqual([path, proxied ? 200 : 404]);
    }
  });
});

describe('request headers', () => {
  test('Host kept, one X-Forwarded-Proto, True-Client-IP kept, peer appended to X-Forwarded-For', async () => {
    const port = await proxyPort();
    const echo = (
      await send(port, {
        headers: [
          'Host', 'www.shop.example',
          'X-Forwarded-Proto', 'https',
          'X-Forwarded-For', '203.0.113.7, 10.0.0.2',
          'True-Client-IP', '203.0.113.7',
          'Cookie', 'a=1',
          'X-Dup', '1',
          'X-Dup', '2',
        ], // prettier-ignore
      })
    ).json();
    expect(echo.headers.host).toBe('www.shop.example');
    expect(echo.headers['x-forwarded-proto']).toBe('https');
    expect(echo.rawHeaders.filter((h) => /^x-forwarded-proto$/i.test(h))).toHaveLength(1);
    expect(echo.headers['true-client-ip']).toBe('203.0.113.7');
    expect(echo.headers['x-forwarded-for']).toBe('203.0.113.7, 10.0.0.2, 127.0.0.1');
    expect(echo.headers.cookie).toBe('a=1');
    expect(echo.headers['x-dup']).toBe('1, 2');
  });

  test('X-Forwarded-Proto: one value, the scheme the app trusts; forceHttps sends https', async () => {
    const plain = await proxyPort();
    const forced = await proxyPort({ forceHttps: true });
    const withProto = await serveApp((app) => {
      app.use((req, _res, next) => {
        Object.assign(req, { proto: 'https' }); // as forwardedProto() sets it
        next();
      });
      app.use(nextHopProxy({ target: upstream.url }));
    });
    const cases: [number, string[], string][] = [
      [plain, ['X-Forwarded-Proto', 'http'], 'http'],
      [plain, ['X-Forwarded-Proto', 'https, http'], 'https'],
      [plain, ['X-Forwarded-Proto', 'HTTPS'], 'https'],
      [plain, ['X-Forwarded-Proto', 'https', 'X-Forwarded-Proto', 'http'], 'https'],
      [plain, ['X-Forwarded-Proto', 'wss'], 'http'],
      [plain, [], 'http'],
      [forced, ['X-Forwarded-Proto', 'http'], 'https'],
      [forced, [], 'https'],
      [withProto, ['X-Forwarded-Proto', 'http'], 'https'],
    ];
    for (const [port, headers, expected] of cases) {
      const echo = (await send(port, { headers: ['Host', 'h', ...headers] })).json();
      expect([headers, echo.headers['x-forwarded-proto']]).toEqual([headers, expected]);
      expect(echo.rawHeaders.filter((h) => /^x-forwarded-proto$/i.test(h)).length).toBe(1);
    }
  });

  test('True-Client-IP from req.clientIp, else the peer; X-Request-Id from req.id; XFF configurable', async () => {
    const withContext = await serveApp((app) => {
      app.use((req, _res, next) => {
        Object.assign(req, { clientIp: '198.51.100.4', id: 'req-42' });
        next();
      });
      app.use(nextHopProxy({ target: upstream.url }));
    });
    const a = (await send(withContext, { headers: { 'X-Request-Id': 'client-sent' } })).json();
    expect(a.headers['true-client-ip']).toBe('198.51.100.4');
    expect(a.headers['x-request-id']).toBe('req-42');
    const b = (await send(await proxyPort(), { headers: { 'X-Request-Id': 'client-sent' } })).json();
    expect(b.headers['true-client-ip']).toBe('127.0.0.1');
    expect(b.headers['x-request-id']).toBe('client-sent');
    expect(b.headers['x-forwarded-for']).toBe('127.0.0.1');
    const c = (
      await send(await proxyPort({ xForwardedFor: false }), { headers: { 'X-Forwarded-For': '1.2.3.4' } })
    ).json();
    expect(c.headers['x-forwarded-for']).toBe('1.2.3.4');
    const d = (await send(await proxyPort({ xForwardedFor: false }))).json();
    expect(d.headers['x-forwarded-for']).toBeUndefined();
  });

  test('hop-by-hop request fields are removed, protected fields survive Connection', async () => {
    const port = await proxyPort();
    const echo = (
      await send(port, {
        headers: [
          'Host', 'h',
          'Connection', 'keep-alive, X-Hop, X-Forwarded-For, True-Client-IP',
          'X-Hop', 'secret',
          'Keep-Alive', 'timeout=5',
          'Proxy-Connection', 'keep-alive',
          'TE', 'trailers',
          'Upgrade', 'h2c',
          'X-Forwarded-For', '192.0.2.1',
          'True-Client-IP', '192.0.2.1',
          'X-End', 'end',
        ], // prettier-ignore
      })
    ).json();
    for (const gone of ['x-hop', 'keep-alive', 'proxy-connection', 'trailer', 'upgrade']) {
      expect([gone, echo.headers[gone]]).toEqual([gone, undefined]);
    }
    expect(echo.headers.connection).toBe('keep-alive'); // the proxy's own, to next-hop
    expect(echo.headers.te).toBe('trailers');
    expect(echo.headers['x-forwarded-for']).toBe('192.0.2.1, 127.0.0.1');
    expect(echo.headers['true-client-ip']).toBe('192.0.2.1');
    expect(echo.headers['x-end']).toBe('end');
    const te = (await send(port, { headers: { TE: 'gzip' } })).json();
    expect(te.headers.te).toBeUndefined();
    // Node's client refuses to send Trailer on a request without a chunked body: raw bytes.
    const text = await rawExchange(
      port,
      'GET /t HTTP/1.1\r\nHost: h\r\nTrailer: X-Sum\r\nX-After: 1\r\n\r\n',
    );
    const raw = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    expect([raw.headers.trailer, raw.headers['x-after']]).toEqual([undefined, '1']);
  });

  test('hop-by-hop response fields are removed; repeated Set-Cookie fields all arrive', async () => {
    const port = await serveApp((app) => {
      app.use((_req, res, next) => {
        res.setHeader('X-Set-Before', 'app'); // forces Node's header-merging path
        next();
      });
      app.use(nextHopProxy({ target: upstream.url }));
    });
    for (const p of [port, await proxyPort()]) {
      const reply = await send(p, { path: '/hop-by-hop' });
      expect(reply.body.toString()).toBe('hop');
      for (const gone of ['x-secret', 'proxy-connection', 'trailer', 'upgrade'])
        expect(reply.headers[gone]).toBeUndefined();
      expect(reply.headers['keep-alive']).not.toBe('timeout=5'); // Node's own value, if any
      expect(reply.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
      expect(reply.headers['x-kept']).toBe('yes');
    }
  });

  test('onProxyRequest edits method, path and fields; onProxyResponse edits response fields', async () => {
    const seen: unknown[] = [];
    const port = await proxyPort({
      onProxyRequest: (proxyReq, req) => {
        seen.push({ ...proxyReq, headers: { ...proxyReq.headers } });
        proxyReq.headers['x-added'] = `for ${req.method}`;
        delete proxyReq.headers.cookie;
        proxyReq.path = `/rewritten${proxyReq.path}`;
        proxyReq.method = 'PUT';
      },
      onProxyResponse: (proxyRes, req) => {
        seen.push(proxyRes.status);
        proxyRes.headers['cache-control'] = 'no-store';
        delete proxyRes.headers['x-upstream'];
        req.res?.setHeader('X-From-Hook', '1');
      },
    });
    const reply = await send(port, {
      method: 'POST',
      path: '/p?q=1',
      headers: { Cookie: 'a=1', 'Content-Type': 'text/plain', 'X-Forwarded-For': '1.1.1.1' },
      body: 'hello',
    });
    const echo = reply.json();
    expect(seen[0]).toMatchObject({
      method: 'POST',
      path: '/p?q=1',
      upgrade: false,
      headers: { cookie: 'a=1', 'x-forwarded-for': '1.1.1.1, 127.0.0.1', 'true-client-ip': '127.0.0.1' },
    });
    expect(seen[1]).toBe(200);
    expect([echo.method, echo.url]).toEqual(['PUT', '/rewritten/p?q=1']);
    expect(echo.headers['x-added']).toBe('for POST');
    expect(echo.headers.cookie).toBeUndefined();
    expect(echo.headers['content-length']).toBe('5');
    expect(echo.body).toBe('hello');
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.headers['x-upstream']).toBeUndefined();
    expect(reply.headers['x-from-hook']).toBe('1');
  });

  test('a hook that sets a field HTTP forbids: next(err) ERR_NEXTHOP_BAD_PROXY_REQUEST, nothing sent', async () => {
    const requests: string[] = [];
    const onRequest = (req: http.IncomingMessage) => requests.push(req.url ?? '');
    upstream.events.on('request', onRequest);
    const codes: string[] = [];
    const port = await serveApp((app) => {
      app.use(
        nextHopProxy({
          target: upstream.url,
          onProxyRequest: (proxyReq) => {
            proxyReq.headers['x-bad'] = 'a\r\nInjected: 1';
          },
        }),
      );
      app.use(
        (err: NexthopError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
          codes.push(err.code);
          res.status(err.status).end();
        },
      );
    });
    expect((await send(port, { path: '/forbidden' })).status).toBe(500);
    upstream.events.off('request', onRequest);
    expect(codes).toEqual(['ERR_NEXTHOP_BAD_PROXY_REQUEST']);
    expect(requests).not.toContain('/forbidden');
  });

  test.each(['onProxyRequest', 'onProxyResponse'] as const)(
    '%s that throws goes to next(err), no upstream header written',
    async (hook) => {
      const broken = () => {
        throw new Error(`${hook} broke`);
      };
      const port = await serveApp((app) => {
        app.use(nextHopProxy({ target: upstream.url, [hook]: broken }));
        app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
          res.status(500).send(err.message);
        });
      });
      const reply = await send(port);
      expect([reply.status, reply.body.toString(), reply.headers['x-upstream']]).toEqual([
        500,
        `${hook} broke`,
        undefined,
      ]);
    },
  );
});

test('a client gone before the proxy runs: nothing is sent upstream', async () => {
  const requests: string[] = [];
  const onRequest = (req: http.IncomingMessage) => requests.push(req.url ?? '');
  upstream.events.on('request', onRequest);
  const recorded: unknown[] = [];
  const port = await serveApp((app) => {
    app.use((req, res, next) => {
      res.once('close', () => setImmediate(() => recorded.push(res.locals.nexthopUpstream)));
      req.socket.destroy();
      setImmediate(next);
    });
    app.use(nextHopProxy({ target: upstream.url }));
  });
  await expect(send(port, { path: '/gone' })).rejects.toThrow();
  while (recorded.length === 0) await new Promise((r) => setImmediate(r));
  upstream.events.off('request', onRequest);
  expect(requests).not.toContain('/gone');
  expect(recorded[0]).toEqual({ error: 'ERR_NEXTHOP_CLIENT_ABORTED', ms: 0 });
});

describe('forwarding fields come only from trusted peers', () => {
  /** GET through an app trusting only 127.0.0.1, from `localAddress`; resolves with the echo. */
  async function fromPeer(localAddress: string, headers: Record<string, string>): Promise<Echo> {
    const app = express();
    app.set('trust proxy', '127.0.0.1');
    app.use(nextHopProxy({ target: upstream.url }));
    const server = http.createServer(app);
    servers.push(server);
    const port = await listen(server);
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, localAddress, headers, agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve(JSON.parse(text) as Echo));
      });
      req.on('error', reject);
    });
  }

  const forged = {
    'True-Client-IP': '6.6.6.6',
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-For': '6.6.6.6',
    'Section-IO-Geo-Country-Code': 'ZZ',
    'section-io-id': 'forged-id',
  };

  test('an untrusted peer: its True-Client-IP, X-Forwarded-Proto and section-io-* fields are not passed on', async () => {
    const echo = await fromPeer('127.0.0.2', forged);
    expect(echo.headers['true-client-ip']).toBe('127.0.0.2');
    expect(echo.headers['x-forwarded-proto']).toBe('http');
    expect(echo.headers['section-io-geo-country-code']).toBeUndefined();
    expect(echo.headers['section-io-id']).toBeUndefined();
    // X-Forwarded-For is a list: the peer is appended, so next-hop sees who sent the rest.
    expect(echo.headers['x-forwarded-for']).toBe('6.6.6.6, 127.0.0.2');
  });

  test('a trusted peer: the same fields are passed on', async () => {
    const echo = await fromPeer('127.0.0.1', forged);
    expect(echo.headers['true-client-ip']).toBe('6.6.6.6');
    expect(echo.headers['x-forwarded-proto']).toBe('https');
    expect(echo.headers['section-io-geo-country-code']).toBe('ZZ');
    expect(echo.headers['section-io-id']).toBe('forged-id');
  });

  test('without an Express app (a plain node server) no peer is trusted', async () => {
    const proxy = nextHopProxy({ target: upstream.url });
    const server = http.createServer((req, res) =>
      proxy(req as express.Request, res as express.Response, () => {}),
    );
    servers.push(server);
    const echo = (await send(await listen(server), { headers: forged })).json();
    expect([echo.headers['true-client-ip'], echo.headers['x-forwarded-proto']]).toEqual([
      '127.0.0.1',
      'http',
    ]);
    expect(echo.headers['section-io-id']).toBeUndefined();
  });
});

describe('bodies', () => {
  test('a body consumed by express.json / urlencoded / text / raw is re-sent with the right Content-Length', async () => {
    const port = await serveApp((app) => {
      app.use(express.json());
      app.use('/form', express.urlencoded({ extended: false }));
      app.use('/nested', express.urlencoded({ extended: true }));
      app.use(express.text());
      app.use(express.raw({ type: 'application/octet-stream' }));
      app.use(nextHopProxy({ target: upstream.url }));
    });
    const cases: [string, string, string | Buffer, string][] = [
      ['/json', 'application/json', '{"a": 1, "é": ["x", null]}', '{"a":1,"é":["x",null]}'],
      ['/json', 'application/vnd.api+json', '{"b":true}', '{"b":true}'],
      ['/form', 'application/x-www-form-urlencoded', 'a=1&b=x+y&a=2&c=%C3%A9', 'a=1&a=2&b=x%20y&c=%C3%A9'],
      [
        '/nested',
        'application/x-www-form-urlencoded',
        'u[name]=Al&u[tags][]=a&u[tags][]=b',
        'u%5Bname%5D=Al&u%5Btags%5D=a&u%5Btags%5D=b',
      ],
      ['/text', 'text/plain; charset=utf-8', 'héllo wörld', 'héllo wörld'],
      ['/raw', 'application/octet-stream', Buffer.from([0, 1, 2, 255]), '\u0000\u0001\u0002\ufffd'],
    ];
    for (const [path, type, body, expected] of cases) {
      const echo = (
        await send(port, { method: 'POST', path, headers: { 'Content-Type': type }, body })
      ).json();
      expect([path, echo.body]).toEqual([path, expected]);
      expect(echo.headers['content-length']).toBe(String(echo.bodyLength));
      expect(echo.headers['transfer-encoding']).toBeUndefined();
    }
  });

  test('Expect: 100-continue is answered here; next-hop gets the body without Expect', async () => {
    const port = await proxyPort();
    const echo = await new Promise<Echo>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'PUT',
          path: '/continue',
          headers: { Expect: '100-continue', 'Content-Length': 5 },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => resolve(JSON.parse(text) as Echo));
        },
      );
      req.on('continue', () => req.end('hello'));
      req.on('error', reject);
    });
    expect([echo.body, echo.headers.expect]).toEqual(['hello', undefined]);
  });

  test('text in a latin1 charset is re-encoded in that charset', async () => {
    const port = await serveApp((app) => {
      app.use(express.text({ type: 'text/*' }));
      app.use(nextHopProxy({ target: upstream.url }));
    });
    const bytes = Buffer.from('café', 'latin1');
    const echo = (
      await send(port, {
        method: 'PUT',
        headers: { 'Content-Type': 'text/plain; charset=iso-8859-1' },
        body: bytes,
      })
    ).json();
    expect(echo.bodyHash).toBe(sha256(bytes));
  });

  test('a body read by other middleware without req.body goes to next(err) ERR_NEXTHOP_BODY_CONSUMED', async () => {
    const codes: string[] = [];
    const port = await serveApp((app) => {
      app.use((req, _res, next) => {
        req.resume();
        req.on('end', () => next());
      });
      app.use(nextHopProxy({ target: upstream.url }));
      app.use(
        (err: NexthopError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
          codes.push(err.code);
          res.status(err.status).end();
        },
      );
    });
    const reply = await send(port, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: 'abc' });
    expect([reply.status, codes]).toEqual([500, ['ERR_NEXTHOP_BODY_CONSUMED']]);
  });

  test('10 MB streams each way with equal hashes, chunked and with Content-Length', async () => {
    const port = await proxyPort();
    const size = 10 * 1024 * 1024;
    const expected = sha256(pattern(size));
    for (const framing of ['chunked', 'length'] as const) {
      const echo = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/upload',
            headers: framing === 'length' ? { 'Content-Length': size } : { 'Transfer-Encoding': 'chunked' },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve(JSON.parse(text)));
          },
        );
        req.on('error', reject);
        (async () => {
          for (const chunk of pattern(size)) if (!req.write(chunk)) await once(req, 'drain');
          req.end();
        })().catch(reject);
      });
      expect(echo).toMatchObject({ bodyLength: size, bodyHash: expected });
    }
    const download = await send(port, { path: `/download?size=${size}` });
    expect(download.body.length).toBe(size);
    expect(sha256(download.body)).toBe(download.headers['x-body-hash']);
  });

  test('uploads stream: next-hop gets the first bytes before the client has sent the rest', async () => {
    const port = await proxyPort();
    const firstBytes = once(upstream.events, 'first-bytes');
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/stream',
      headers: { 'Content-Length': 8 },
    });
    const reply = new Promise<string>((resolve) =>
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve(text));
      }),
    );
    req.write('abcd');
    expect(await firstBytes).toEqual(['/stream']); // the client is still holding back 4 bytes
    req.end('efgh');
    expect(JSON.parse(await reply)).toMatchObject({ bodyLength: 8, body: 'abcdefgh' });
  });
});

test('the handler also runs on a plain node:http server (no Express), recording res.locals', async () => {
  const proxy = nextHopProxy({ target: upstream.url, pathFilter: '/p' });
  const records: unknown[] = [];
  const server = http.createServer((req, res) => {
    res.once('finish', () => records.push((res as http.ServerResponse & { locals?: object }).locals));
    proxy(req as express.Request, res as express.Response, () => res.writeHead(404).end('not proxied'));
  });
  servers.push(server);
  const port = await listen(server);
  const reply = await send(port, { path: '/p/x?y=1', method: 'POST', body: 'plain' });
  expect(reply.json()).toMatchObject({ url: '/p/x?y=1', body: 'plain' });
  expect((await send(port, { path: '/q' })).body.toString()).toBe('not proxied');
  expect(records[0]).toEqual({
    nexthopProxied: true,
    nexthopUpstream: { status: 200, ms: expect.any(Number) },
  });
});

describe('keep-alive to next-hop', () => {
  test('100 sequential requests reuse upstream connections', async () => {
    const port = await proxyPort();
    const before = upstream.connections;
    const client = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 100; i++) {
      const reply = await send(port, { path: `/n/${i}`, agent: client });
      expect(reply.status).toBe(200);
    }
    client.destroy();
    expect(upstream.connections - before).toBeLessThanOrEqual(2);
  });

  test('a request without a body goes without one: no chunked framing, Content-Length 0 for POST', async () => {
    const port = await proxyPort();
    const get = (await send(port, { method: 'GET' })).json();
    expect([get.headers['content-length'], get.headers['transfer-encoding']]).toEqual([undefined, undefined]);
    for (const method of ['POST', 'PUT', 'PATCH']) {
      // Raw bytes: Node's own client would frame an empty POST as chunked.
      const text = await rawExchange(port, `${method} /empty HTTP/1.1\r\nHost: h\r\n\r\n`);
      const echo = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
      expect([method, echo.headers['content-length'], echo.headers['transfer-encoding']]).toEqual([
        method,
        '0',
        undefined,
      ]);
    }
  });

  test('HEAD and 204/304 answers pass through without a body', async () => {
    const port = await proxyPort();
    const head = await send(port, { method: 'HEAD', path: '/h' });
    expect([head.status, head.body.length, head.headers['x-upstream']]).toEqual([200, 0, 'echo']);
    for (const status of [204, 304]) {
      const reply = await send(port, { path: `/s?status=${status}` });
      expect([reply.status, reply.body.length]).toEqual([status, 0]);
    }
  });
});

describe('options are checked at creation', () => {
  test.each<[string, () => unknown, RegExp]>([
    [
      'factory passed, not called',
      () =>
        (nextHopProxy as unknown as (...a: unknown[]) => unknown)(
          new http.IncomingMessage(new net.Socket()),
          {},
          () => {},
        ),
      /^nexthop nextHopProxy: call the factory: app\.use\(nextHopProxy\(\)\), not app\.use\(nextHopProxy\)$/,
    ],
    ['options not an object', () => nextHopProxy('http://x' as never), /options must be an object/],
    [
      'unknown option',
      () => nextHopProxy({ targt: 'http://x' } as never),
      /unknown option "targt" \(did you mean target\?\); known options: target, forceHttps/,
    ],
    [
      'hpm option changeOrigin',
      () => nextHopProxy({ changeOrigin: true } as never),
      /"changeOrigin" is not supported: next-hop routes on the browser's Host/,
    ],
    [
      'hpm option pathRewrite',
      () => nextHopProxy({ pathRewrite: {} } as never),
      /"pathRewrite" is not supported/,
    ],
    ['target type', () => nextHopProxy({ target: 80 as never }), /target must be a string or URL/],
    ['target not a URL', () => nextHopProxy({ target: 'next-hop' }), /target "next-hop" is not a URL/],
    ['target ftp', () => nextHopProxy({ target: 'ftp://next-hop' }), /must be an http: URL/],
    ['target with path', () => nextHopProxy({ target: 'http://next-hop/base' }), /must be an origin only/],
    [
      'forceHttps type',
      () => nextHopProxy({ target: 'http://x', forceHttps: 'yes' as never }),
      /forceHttps must be true or false/,
    ],
    [
      'xForwardedFor type',
      () => nextHopProxy({ target: 'http://x', xForwardedFor: 1 as never }),
      /xForwardedFor must be true or false/,
    ],
    [
      'timeout type',
      () => nextHopProxy({ target: 'http://x', timeout: 1.5 }),
      /timeout must be an integer number of milliseconds/,
    ],
    [
      'connectTimeout type',
      () => nextHopProxy({ target: 'http://x', connectTimeout: '5' as never }),
      /connectTimeout must be an integer/,
    ],
    [
      'keepAliveTimeout type',
      () => nextHopProxy({ target: 'http://x', keepAliveTimeout: NaN }),
      /keepAliveTimeout must be an integer number of milliseconds/,
    ],
    [
      'healthTimeout type',
      () => nextHopProxy({ target: 'http://x', healthTimeout: '3s' as never }),
      /healthTimeout must be an integer number of milliseconds/,
    ],
    [
      'connections type',
      () => nextHopProxy({ target: 'http://x', connections: '8' as never }),
      /connections must be an integer/,
    ],
    [
      'agent (removed)',
      () => nextHopProxy({ target: 'http://x', agent: new http.Agent() } as never),
      /"agent" is not supported: the proxy runs on an undici pool; tune it with connections/,
    ],
    [
      'maxSockets (renamed)',
      () => nextHopProxy({ target: 'http://x', maxSockets: 4 } as never),
      /"maxSockets" is not supported: it is called connections/,
    ],
    [
      'freeSocketTimeout (renamed)',
      () => nextHopProxy({ target: 'http://x', freeSocketTimeout: 4 } as never),
      /"freeSocketTimeout" is not supported: it is called keepAliveTimeout/,
    ],
    [
      'pathFilter type',
      () => nextHopProxy({ target: 'http://x', pathFilter: 5 as never }),
      /pathFilter must be a path, a non-empty array/,
    ],
    ['pathFilter empty', () => nextHopProxy({ target: 'http://x', pathFilter: [] }), /non-empty array/],
    [
      'pathFilter entry',
      () => nextHopProxy({ target: 'http://x', pathFilter: ['api'] }),
      /pathFilter entry "api" must be a path starting with "\/"/,
    ],
    [
      'healthPath',
      () => nextHopProxy({ target: 'http://x', healthPath: 'health' }),
      /healthPath must be false or a path/,
    ],
    [
      'healthPath query',
      () => nextHopProxy({ target: 'http://x', healthPath: '/h?x' }),
      /healthPath must be false or a path/,
    ],
    [
      'hook type',
      () => nextHopProxy({ target: 'http://x', onProxyRequest: 'x' as never }),
      /onProxyRequest must be a function/,
    ],
    [
      'hook type',
      () => nextHopProxy({ target: 'http://x', onProxyResponse: {} as never }),
      /onProxyResponse must be a function/,
    ],
  ])('TypeError: %s', (_name, create, message) => {
    expect(create).toThrow(TypeError);
    expect(create).toThrow(message);
  });

  test.each<[string, () => unknown, RegExp]>([
    [
      'timeout 0',
      () => nextHopProxy({ target: 'http://x', timeout: 0 }),
      /timeout must be from 1 to 2147483647 ms, got 0/,
    ],
    [
      'connectTimeout huge',
      () => nextHopProxy({ target: 'http://x', connectTimeout: 2 ** 31 }),
      /connectTimeout must be from 1/,
    ],
    [
      'connections 0',
      () => nextHopProxy({ target: 'http://x', connections: 0 }),
      /connections must be from 1 to 65535, got 0/,
    ],
    [
      'healthTimeout 0',
      () => nextHopProxy({ target: 'http://x', healthTimeout: 0 }),
      /healthTimeout must be from 1 to 2147483647 ms, got 0/,
    ],
  ])('RangeError: %s', (_name, create, message) => {
    expect(create).toThrow(RangeError);
    expect(create).toThrow(message);
  });

  test('an https: target is refused with the contract rule', () => {
    let caught: unknown;
    try {
      nextHopProxy({ target: 'https://next-hop:443' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NexthopError);
    expect((caught as NexthopError).code).toBe('ERR_NEXTHOP_NOT_PLAIN_HTTP');
    expect((caught as NexthopError).message).toMatch(/requires plain HTTP to next-hop .* forceHttps: true/);
  });

  test('the target defaults to NEXT_HOP from the environment', async () => {
    const saved = process.env.NEXT_HOP;
    process.env.NEXT_HOP = upstream.url;
    try {
      const port = await serveApp((app) => app.use(nextHopProxy()));
      expect((await send(port, { path: '/env' })).json().url).toBe('/env');
    } finally {
      if (saved === undefined) delete process.env.NEXT_HOP;
      else process.env.NEXT_HOP = saved;
    }
  });

  test('the handler is named and exposes upgrade(), upstreamSockets() and close()', async () => {
    const proxy = nextHopProxy({ target: 'http://127.0.0.1:1' });
    expect(proxy.name).toBe('nextHopProxyMiddleware');
    expect(typeof proxy.upgrade).toBe('function');
    expect(proxy.upstreamSockets()).toEqual({ busy: 0, idle: 0, queued: 0 });
    await proxy.close();
    const v6 = nextHopProxy({ target: new URL('http://[::1]:8080') });
    expect(v6.upstreamSockets()).toEqual({ busy: 0, idle: 0, queued: 0 });
    await v6.close();
  });
});
