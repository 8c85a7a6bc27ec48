// Differential test: malformed and edge-case upstream responses, served raw, read once by
// Node's own client (http.request) and once through nextHopProxy(). The proxy must accept
// nothing Node rejects, frame what both accept the same way, reuse a connection only where
// Node does, and never after a response it refused.
import http from 'node:http';
import type net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import express from 'express';
import { nextHopProxy } from 'nexthop';
import { listen, shut } from './helpers/echo-upstream';
import { onRequests, rawUpstream, type RawUpstream } from './helpers/raw-upstream';

/** What a client made of one exchange: a whole response, or a failure. */
type Outcome = { ok: true; status: number; body: string } | { ok: false; why: string };

/** One row: bytes next-hop sends for the first request on a connection, in writes. */
interface Case {
  name: string;
  wire: string | string[];
  /** Close the connection after writing (a body read until close needs it). */
  close?: boolean;
}

const SECOND = 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nREUSED';
const big = 'x'.repeat(17 * 1024);

// The first request on each connection gets the row's bytes; a later request on the same
// connection gets `SECOND`, so reading REUSED tells that a connection was reused.
const CASES: Case[] = [
  { name: 'Content-Length body', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc' },
  {
    name: 'chunked body',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  },
  { name: 'no reason phrase', wire: 'HTTP/1.1 204 \r\n\r\n' },
  { name: 'HTTP/1.0, body until close', wire: 'HTTP/1.0 200 OK\r\n\r\nuntil close', close: true },
  { name: 'a CRLF before the status line', wire: '\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' },
  {
    name: 'space after the chunk size',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n',
  },
  {
    name: 'tab after the chunk size',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\t\r\nabc\r\n0\r\n\r\n',
  },
  {
    name: 'NUL in a chunk extension',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\0\r\nabc\r\n0\r\n\r\n',
  },
  {
    name: 'unclosed quote in a chunk extension',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a="b\r\nabc\r\n0\r\n\r\n',
  },
  {
    name: 'chunk size overflowing 64 bits',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nabc\r\n0\r\n\r\n',
  },
  {
    name: 'chunk data longer than its size',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n',
  },
  {
    name: 'trailer name with a space',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nBad Name: 1\r\n\r\n',
  },
  {
    name: 'folded trailer line',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n  more\r\n\r\n',
  },
  {
    name: 'NUL after chunked in Transfer-Encoding',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\0\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  },
  {
    name: 'bare CR in Connection',
    wire: 'HTTP/1.1 200 OK\r\nConnection: close\r\rContent-Length: 2\r\n\r\nok',
  },
  {
    name: 'two different Content-Lengths',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
  },
  { name: 'Content-Length list of equal values', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok' },
  { name: 'Content-Length with a sign', wire: 'HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok' },
  {
    name: 'Transfer-Encoding and Content-Length',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  },
  { name: 'space before the colon', wire: 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok' },
  { name: 'folded header line', wire: 'HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok' },
  {
    name: 'control character in a field value',
    wire: 'HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\nok',
  },
  { name: 'bare LF line ends', wire: 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok' },
  { name: 'four-digit status', wire: 'HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok' },
  { name: 'not HTTP at all', wire: 'SSH-2.0-OpenSSH_9.6\r\n\r\n' },
  {
    name: 'head larger than 16 KiB',
    wire: `HTTP/1.1 200 OK\r\nX-Big: ${big}\r\nContent-Length: 2\r\n\r\nok`,
  },
  {
    name: 'body shorter than Content-Length, then close',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc',
    close: true,
  },
  {
    name: '101 to a plain request',
    wire: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n',
  },
  {
    name: '100 Continue nobody asked for',
    wire: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  },
  {
    name: '100 Continue then a stray CRLF',
    wire: 'HTTP/1.1 100 Continue\r\n\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  },
  {
    name: 'bytes past the end of a 204',
    wire: 'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL',
  },
  {
    name: '16 KiB head in 1-byte writes',
    wire: [...`HTTP/1.1 200 OK\r\nX-Long: ${'y'.repeat(15 * 1024)}\r\nContent-Length: 2\r\n\r\nok`],
  },
];

/** Rows undici refuses although Node's client reads them (stricter, never laxer). */
const STRICTER = new Set(['100 Continue nobody asked for', '100 Continue then a stray CRLF']);

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

async function serve(c: Case): Promise<RawUpstream> {
  const upstream = await rawUpstream((socket: net.Socket) => {
    socket.setNoDelay(true);
    onRequests(socket, (_head, index) => {
      if (index > 0) return void socket.write(SECOND);
      void write(socket, c);
    });
  });
  closers.push(() => upstream.close());
  return upstream;
}

async function write(socket: net.Socket, c: Case): Promise<void> {
  for (const piece of typeof c.wire === 'string' ? [c.wire] : c.wire) {
    if (socket.destroyed) return;
    socket.write(piece, 'latin1');
    if (typeof c.wire !== 'string') await new Promise((r) => setImmediate(r));
  }
  if (c.close) socket.end();
}

/** One GET to 127.0.0.1:port with `agent`, read whole (an abort or error is a failure). */
function fetchOnce(port: number, agent: http.Agent | false): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve(res.complete ? { ok: true, status: res.statusCode ?? 0, body } : { ok: false, why: 'cut' }),
      );
      res.on('error', (err) => resolve({ ok: false, why: err.message }));
    });
    // Node hands a 101 to 'upgrade' listeners: for a plain request it is a failure too.
    req.on('upgrade', (_res, socket: net.Socket) => {
      socket.destroy();
      resolve({ ok: false, why: 'unexpected 101' });
    });
    req.on('error', (err) => resolve({ ok: false, why: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.setTimeout(5000, () => req.destroy(new Error('no answer in 5 s')));
  });
}

/** Two requests in a row through one keep-alive client of Node's: [first, second]. */
async function throughNode(c: Case): Promise<Outcome[]> {
  const upstream = await serve(c);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const port = Number(new URL(upstream.url).port);
  const outcomes = [await fetchOnce(port, agent), await fetchOnce(port, agent)];
  agent.destroy();
  return outcomes;
}

/** The same two requests through nextHopProxy() (the proxy's own answers count as failures). */
async function throughProxy(c: Case): Promise<Outcome[]> {
  const upstream = await serve(c);
  const proxy = nextHopProxy({ target: upstream.url, connections: 1, timeout: 5000 });
  const app = express();
  app.use(proxy);
  const server = http.createServer(app);
  const port = await listen(server);
  closers.push(async () => {
    await shut(server);
    await proxy.close();
  });
  const outcomes: Outcome[] = [];
  for (let i = 0; i < 2; i++) {
    const outcome = await fetchOnce(port, false);
    const own = outcome.ok && /\(ERR_NEXTHOP_[A-Z_]+\)\n$/.test(outcome.body);
    outcomes.push(own ? { ok: false, why: outcome.body.trim() } : outcome);
  }
  return outcomes;
}

describe('nextHopProxy reads upstream responses no more leniently than Node', () => {
  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const [node, nodeNext] = await throughNode(c);
    const [proxy, proxyNext] = await throughProxy(c);
    if (!node.ok) {
      // Nothing Node rejects is accepted, and the connection it came on is not reused.
      expect(proxy).toMatchObject({ ok: false });
    } else if (STRICTER.has(c.name)) {
      expect(proxy).toMatchObject({
        ok: false,
        why: expect.stringContaining('ERR_NEXTHOP_UPSTREAM_MALFORMED'),
      });
    } else {
      // Both accept: same status, same body (the same framing).
      expect(proxy).toEqual(node);
    }
    if (!proxy.ok) expect(proxyNext).not.toEqual({ ok: true, status: 200, body: 'REUSED' });
    // A connection is reused only where Node reuses it.
    if (proxyNext.ok && proxyNext.body === 'REUSED') expect(nodeNext).toEqual(proxyNext);
  });

  test('the table holds rows Node rejects and rows it accepts', async () => {
    const verdicts = await Promise.all(CASES.map(async (c) => (await throughNode(c))[0].ok));
    expect(verdicts.filter(Boolean).length).toBeGreaterThanOrEqual(6);
    expect(verdicts.filter((ok) => !ok).length).toBeGreaterThanOrEqual(15);
  });

  test('a 16 KiB head arriving a byte at a time never blocks the event loop for long', async () => {
    const slow = CASES.find((c) => c.name === '16 KiB head in 1-byte writes') as Case;
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    const [outcome] = await throughProxy(slow);
    histogram.disable();
    expect(outcome).toEqual({ ok: true, status: 200, body: 'ok' });
    // A parser that rescans what it buffered on each byte stalls for hundreds of ms here.
    expect(histogram.max / 1e6).toBeLessThan(250);
  });
});
