// The proxy's transport (undici's pool) driven through a real Express app on 127.0.0.1
// against scripted raw TCP upstreams: response framing, reuse rules, limits, idle timeouts,
// backpressure, and what never reaches next-hop.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import express from 'express';
import {
  nextHopProxy,
  type NextHopProxyHandler,
  type NextHopProxyOptions,
  type UpstreamRecord,
} from 'nexthop';
import { listen, send, shut } from './helpers/echo-upstream';
import { eventually, onRequests, rawUpstream, type RawUpstream } from './helpers/raw-upstream';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

interface Proxy {
  port: number;
  handler: NextHopProxyHandler;
  records: (UpstreamRecord | undefined)[];
}

async function startProxy(options: NextHopProxyOptions, before?: express.RequestHandler): Promise<Proxy> {
  const records: (UpstreamRecord | undefined)[] = [];
  const handler = nextHopProxy(options);
  const app = express();
  app.use((_req, res, next) => {
    res.once('close', () => records.push(res.locals.nexthopUpstream as UpstreamRecord | undefined));
    next();
  });
  if (before) app.use(before);
  app.use(handler);
  const server = http.createServer(app);
  const port = await listen(server);
  closers.push(() => shut(server));
  return { port, handler, records };
}

/** An upstream answering every request with `respond(head, connection, index)`'s bytes. */
async function scripted(
  respond: (head: string, connection: number, index: number) => string | undefined,
): Promise<RawUpstream & { heads: string[] }> {
  const heads: string[] = [];
  const upstream = await rawUpstream((socket, connection) =>
    onRequests(socket, (head, index) => {
      heads.push(head);
      const bytes = respond(head, connection, index);
      if (bytes !== undefined) socket.write(bytes, 'latin1');
    }),
  );
  closers.push(() => upstream.close());
  return Object.assign(upstream, { heads });
}

const agent = () => {
  const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
  closers.push(async () => a.destroy());
  return a;
};

describe('response framing, relayed as the client expects', () => {
  // The last column: upstream connections for three requests. undici reuses a connection
  // after HEAD only in narrow cases, and not after a 304 whose
  // Content-Length announces a body it does not send (undici's choices: a closed connection
  // costs a reconnect, never a misread response).
  test.each<[string, string, string, number, string, number?]>([
    ['Content-Length', 'GET', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', 200, 'hello'],
    [
      'chunked with trailers',
      'GET',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-T: 1\r\n\r\n',
      200,
      'abcde',
    ],
    [
      'after a 103 interim answer (not relayed)',
      'GET',
      'HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
      201,
      'ok',
    ],
    [
      '304 announcing its length',
      'GET',
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n',
      304,
      '',
      3,
    ],
    ['204', 'DELETE', 'HTTP/1.1 204 No Content\r\n\r\n', 204, ''],
    ['304', 'GET', 'HTTP/1.1 304 Not Modified\r\nETag: "e"\r\n\r\n', 304, ''],
    ['HEAD with a length', 'HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n', 200, '', 3],
  ])('%s', async (_name, method, wire, status, body, connections = 1) => {
    const upstream = await scripted(() => wire);
    const proxy = await startProxy({ target: upstream.url });
    const client = agent();
    for (let i = 0; i < 3; i++) {
      const reply = await send(proxy.port, { method, path: `/x${i}`, agent: client });
      expect([reply.status, reply.body.toString()]).toEqual([status, body]);
    }
    // Framed responses leave the connection reusable: one upstream connection for all three.
    expect(upstream.accepted()).toBe(connections);
    expect(proxy.records.map((r) => r?.status)).toEqual([status, status, status]);
  });

  test('a body without length runs until next-hop closes; that connection is not reused', async () => {
    const upstream = await rawUpstream((socket) =>
      onRequests(socket, () => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close')),
    );
    closers.push(() => upstream.close());
    const proxy = await startProxy({ target: upstream.url });
    for (let i = 0; i < 2; i++) {
      const reply = await send(proxy.port, { path: '/stream' });
      expect([reply.status, reply.body.toString()]).toEqual([200, 'until close']);
    }
    expect(upstream.accepted()).toBe(2);
  });

  test('Connection: close, an HTTP/1.0 answer or bytes past the end: the next request opens a new connection', async () => {
    const answers = [
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na',
      'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ncEXTRA',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nd',
    ];
    const upstream = await scripted((_head, connection) => answers[connection]);
    const proxy = await startProxy({ target: upstream.url });
    const bodies = [];
    for (let i = 0; i < 4; i++) bodies.push((await send(proxy.port, { path: `/${i}` })).body.toString());
    expect(bodies).toEqual(['a', 'b', 'c', 'd']);
    expect(upstream.accepted()).toBe(4);
  });

  test('an upstream response the parser refuses is a 502 ERR_NEXTHOP_UPSTREAM_MALFORMED, and its connection closed', async () => {
    for (const wire of [
      'SSH-2.0-OpenSSH_9\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
      'HTTP/1.1 200 OK\r\nX-Bad: \x01\r\nContent-Length: 0\r\n\r\n',
      `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ]) {
      const upstream = await scripted(() => wire);
      const proxy = await startProxy({ target: upstream.url });
      const reply = await send(proxy.port, { path: '/bad' });
      expect([reply.status, reply.body.toString()]).toEqual([
        502,
        expect.stringContaining('next-hop sent a malformed response (ERR_NEXTHOP_UPSTREAM_MALFORMED)'),
      ]);
      await eventually(() => upstream.open.size === 0 && proxy.records.length === 1);
      expect(proxy.records[0]?.error).toBe('ERR_NEXTHOP_UPSTREAM_MALFORMED');
    }
  });
});

describe('the connection pool', () => {
  test('connections: requests beyond it wait in line for a free connection, and all are answered', async () => {
    let concurrent = 0;
    let peak = 0;
    const upstream = await rawUpstream((socket) =>
      onRequests(socket, () => {
        peak = Math.max(peak, ++concurrent);
        setTimeout(() => {
          concurrent--;
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        }, 100);
      }),
    );
    closers.push(() => upstream.close());
    const proxy = await startProxy({ target: upstream.url, connections: 2 });
    const replies = Promise.all(Array.from({ length: 6 }, (_, i) => send(proxy.port, { path: `/${i}` })));
    // Both connections carry a request while the others wait (busy counts connected ones).
    await eventually(() => {
      const { busy, queued } = proxy.handler.upstreamSockets();
      return busy === 2 && queued > 0;
    });
    expect((await replies).map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect([peak, upstream.accepted()]).toEqual([2, 2]);
    expect(proxy.handler.upstreamSockets()).toEqual({ busy: 0, idle: 2, queued: 0 });
  });

  test('a client gone while its request waits in line never reaches next-hop', async () => {
    const upstream = await scripted((head) =>
      head.startsWith('GET /slow') ? undefined : 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    );
    const proxy = await startProxy({ target: upstream.url, connections: 1 });
    const slow = http.get({ host: '127.0.0.1', port: proxy.port, path: '/slow', agent: false });
    slow.on('error', () => {});
    await eventually(() => upstream.heads.length === 1);
    const waiting = http.get({ host: '127.0.0.1', port: proxy.port, path: '/queued', agent: false });
    waiting.on('error', () => {});
    await eventually(() => proxy.handler.upstreamSockets().queued === 1);
    waiting.destroy();
    await eventually(() => proxy.records.length === 1);
    // The connection comes free: the abandoned request is dropped before a byte is written.
    slow.destroy();
    await eventually(() => proxy.records.length === 2 && proxy.handler.upstreamSockets().queued === 0);
    // Only this test's own paths count: another test file's probe may reach a port this
    // proxy took over (ports are shared by the jest workers).
    const paths = upstream.heads.map((h) => h.split(' ')[1]);
    expect(paths.filter((p) => p === '/slow' || p === '/queued')).toEqual(['/slow']);
    expect(proxy.records.map((r) => r?.error)).toEqual([
      'ERR_NEXTHOP_CLIENT_ABORTED',
      'ERR_NEXTHOP_CLIENT_ABORTED',
    ]);
  });

  test('idle connections close after keepAliveTimeout, or a second before a shorter Keep-Alive hint', async () => {
    const closedAfter = async (answer: string, options: NextHopProxyOptions): Promise<number> => {
      const upstream = await scripted(() => answer);
      const proxy = await startProxy({ target: upstream.url, ...options });
      await send(proxy.port);
      const start = Date.now();
      await eventually(() => upstream.open.size === 0, 5000);
      expect(proxy.handler.upstreamSockets()).toEqual({ busy: 0, idle: 0, queued: 0 });
      return Date.now() - start;
    };
    const plain = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
    const short = await closedAfter(plain, { keepAliveTimeout: 300 });
    expect(short).toBeGreaterThanOrEqual(250);
    expect(short).toBeLessThan(1500);
    const hinted = await closedAfter(
      'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=2\r\nContent-Length: 0\r\n\r\n',
      {},
    );
    expect(hinted).toBeGreaterThanOrEqual(900);
    expect(hinted).toBeLessThan(2500);
  });

  test('a connection next-hop closed while idle is dropped from the pool, not reused', async () => {
    const upstream = await scripted(
      (_head, connection) => `HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${connection}`,
    );
    const proxy = await startProxy({ target: upstream.url });
    expect((await send(proxy.port)).body.toString()).toBe('0');
    for (const socket of upstream.open) socket.end();
    await eventually(() => proxy.handler.upstreamSockets().idle === 0);
    expect((await send(proxy.port)).body.toString()).toBe('1');
  });

  test('idle pooled connections do not keep the process alive', async () => {
    const upstream = await scripted(() => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    const script = `
      const http = require('node:http');
      const { nextHopProxy } = require('nexthop');
      const proxy = nextHopProxy({ target: process.env.UPSTREAM, keepAliveTimeout: 60000 });
      const server = http.createServer(proxy).listen(0, '127.0.0.1', () => {
        http.get({ port: server.address().port, host: '127.0.0.1', agent: false }, (res) => {
          res.resume().on('end', () => {
            console.log(res.statusCode, JSON.stringify(proxy.upstreamSockets()));
            server.close();
          });
        });
      });`;
    const child = spawn(process.execPath, ['-e', script], {
      cwd: path.join(__dirname, '..'),
      env: { ...process.env, UPSTREAM: upstream.url },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(timer);
    expect([code, signal]).toEqual([0, null]);
    expect(out.trim()).toBe('200 {"busy":0,"idle":1,"queued":0}');
  });
});

describe('streaming and backpressure', () => {
  test('a client that does not read holds next-hop back; the whole body arrives once it reads', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    const upstream = await rawUpstream((socket) =>
      onRequests(socket, () => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`);
        const block = Buffer.alloc(64 * 1024, 0x61);
        const pump = () => {
          while (written < total) {
            written += block.length;
            if (!socket.write(block)) return void socket.once('drain', pump);
          }
        };
        pump();
      }),
    );
    closers.push(() => upstream.close());
    const proxy = await startProxy({ target: upstream.url });
    const req = http.get({ host: '127.0.0.1', port: proxy.port, path: '/big', agent: false });
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    res.pause();
    await new Promise((r) => setTimeout(r, 500));
    // Only what socket buffers hold went out: the upstream was paused, not drained into memory.
    expect(written).toBeLessThan(total / 2);
    let received = 0;
    res.on('data', (chunk: Buffer) => (received += chunk.length));
    res.resume();
    await once(res, 'end');
    expect([received, written]).toEqual([total, total]);
  });

  test('a chunked upload goes upstream chunked, whole', async () => {
    let body = '';
    const upstream = await rawUpstream((socket) => {
      socket.on('data', (chunk: Buffer) => {
        body += chunk.toString('latin1');
        if (body.endsWith('0\r\n\r\n')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    closers.push(() => upstream.close());
    const proxy = await startProxy({ target: upstream.url });
    const req = http.request({
      host: '127.0.0.1',
      port: proxy.port,
      method: 'POST',
      path: '/up',
      agent: false,
    });
    req.write('first,');
    // The rest only once next-hop has the first part: the body is still streaming, so its
    // length is unknown and it goes chunked.
    await eventually(() => body.includes('first,'));
    req.end('second');
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    expect(res.statusCode).toBe(200);
    const head = body.slice(0, body.indexOf('\r\n\r\n'));
    expect(head).toMatch(/\r\ntransfer-encoding: chunked/i);
    expect(head).not.toMatch(/content-length/i);
    expect(body.slice(head.length + 4)).toBe('6\r\nfirst,\r\n6\r\nsecond\r\n0\r\n\r\n');
  });
});

describe('what never reaches next-hop', () => {
  test('an X-Request-Id or client IP with a line break (set by some middleware) is an error, nothing is sent', async () => {
    const upstream = await scripted(() => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    for (const field of ['id', 'clientIp'] as const) {
      const proxy = await startProxy({ target: upstream.url }, (req, _res, next) => {
        (req as unknown as Record<string, string>)[field] = 'x\r\nInjected: yes';
        next();
      });
      const reply = await send(proxy.port, { path: '/inject' });
      expect(reply.status).toBe(500);
    }
    expect(upstream.heads).toEqual([]);
  });

  test('a method set by some middleware that is not an HTTP token is an error, nothing is sent', async () => {
    const upstream = await scripted(() => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    const proxy = await startProxy({ target: upstream.url }, (req, _res, next) => {
      req.method = 'GET /a HTTP/1.1\r\nHost: a\r\n\r\nDELETE';
      next();
    });
    expect((await send(proxy.port, { path: '/admin' })).status).toBe(500);
    expect(upstream.heads).toEqual([]);
  });
});
