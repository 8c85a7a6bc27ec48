import http from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import { freePort } from '../proc';
import type { Duplex } from 'node:stream';
import { answerError, forward, tunnel, type Target } from './forward';

/** A fault the emulated next-hop simulates (`--next-hop-fault`). */
export type NextHopFault =
  { kind: 'refuse' } | { kind: 'timeout' } | { kind: 'reset' } | { kind: 'slow'; ms: number };

/** Options of {@link startNextHop}. */
export interface NextHopOptions {
  /** The origin; undefined for the built-in demo origin. */
  origin?: URL;
  fault?: NextHopFault;
  /** Ms the origin gets to answer before next-hop answers 524. @default 100000 */
  originTimeoutMs?: number;
}

/** What the emulated next-hop did with a request, by its `section-io-id`. */
export type NextHopOutcome = 'origin' | 'demo' | 'timeout' | 'reset' | 'unreachable';

/** A running emulated next-hop. */
export interface NextHop {
  /** The URL to give the app as NEXT_HOP. */
  readonly url: string;
  readonly port: number;
  /** What happened to the request with this `section-io-id`, if it reached next-hop. */
  outcome(id: string): NextHopOutcome | undefined;
  close(): Promise<void>;
}

/** A built-in origin that answers every request with a JSON echo of what it received. */
export function startDemoOrigin(): Promise<http.Server> {
  const server = http.createServer(function demoOrigin(req, res) {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const body = JSON.stringify(
        {
          answeredBy: 'nexthop dev demo origin',
          method: req.method,
          url: req.url,
          headers: req.headers,
          bodyBytes: bytes,
        },
        null,
        2,
      );
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-demo-origin': '1' });
      res.end(`${body}\n`);
    });
  });
  server.on('upgrade', (_req: http.IncomingMessage, socket: Duplex) => {
    const text = 'the nexthop dev demo origin does not speak WebSocket; use --origin';
    socket.end(
      `HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: ${text.length}\r\n\r\n${text}`,
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Whether `host:port` accepts a TLS handshake (checked once per origin, 3 s at most). */
function probeTls(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, servername: host, timeout: 3000 }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
  });
}

/** Where the origin is reached, per scheme; the HTTPS answer is probed once and kept. */
function originRouter(origin: URL) {
  const host = origin.hostname.replace(/^\[|\]$/g, '');
  const plain: Target = {
    protocol: origin.protocol === 'https:' ? 'https:' : 'http:',
    host,
    port: Number(origin.port) || (origin.protocol === 'https:' ? 443 : 80),
    servername: host,
  };
  const secure: Target = {
    protocol: 'https:',
    host,
    port: origin.protocol === 'https:' ? plain.port : 443,
    servername: host,
  };
  let supportsTls: Promise<boolean> | undefined;
  // Like the platform: X-Forwarded-Proto: https asks for HTTPS to the origin, when it has it.
  return async function targetFor(req: http.IncomingMessage): Promise<Target> {
    if (plain.protocol === 'https:' || req.headers['x-forwarded-proto'] !== 'https') return plain;
    supportsTls ??= probeTls(secure.host, secure.port);
    return (await supportsTls) ? secure : plain;
  };
}

type Note = (req: http.IncomingMessage, outcome: NextHopOutcome) => void;

/** What next-hop did with each request, by `section-io-id`; the newest 10 000 are kept. */
function outcomeBook() {
  const outcomes = new Map<string, NextHopOutcome>();
  const note: Note = (req, outcome) => {
    const id = req.headers['section-io-id'];
    if (typeof id !== 'string') return;
    outcomes.set(id, outcome);
    if (outcomes.size > 10_000) outcomes.delete(outcomes.keys().next().value as string);
  };
  return { note, get: (id: string) => outcomes.get(id) };
}

/** The configured fault, applied to a request; resolves true when it must go no further. */
function faultInjector(fault: NextHopFault | undefined, note: Note) {
  return async function faulted(req: http.IncomingMessage): Promise<boolean> {
    if (fault?.kind === 'timeout') {
      note(req, 'timeout');
      req.resume(); // read the request, never answer
      return true;
    }
    if (fault?.kind === 'reset') {
      note(req, 'reset');
      req.socket.resetAndDestroy();
      return true;
    }
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.ms));
    return false;
  };
}

/** Where requests go: the origin, or the demo origin when there is none. */
function routeFor(origin: URL | undefined, demo: http.Server | undefined) {
  if (origin) return originRouter(origin);
  return async (): Promise<Target> => ({
    protocol: 'http:',
    host: '127.0.0.1',
    port: (demo?.address() as net.AddressInfo).port,
  });
}

/** Next-hop's answer when the origin fails. */
function answerOriginError(res: http.ServerResponse, err: NodeJS.ErrnoException): void {
  // The platform's statuses: 524 when the origin is too slow, 522 when it cannot be reached.
  if (err.code === 'ETIMEDOUT')
    answerError(res, 524, 'nexthop dev next-hop: the origin did not answer in time (524)');
  else
    answerError(res, 522, `nexthop dev next-hop: cannot reach the origin (${err.code ?? err.message}) (522)`);
}

/** What the emulated next-hop's server needs to handle a request. */
interface NextHopHandling {
  faulted: (req: http.IncomingMessage) => Promise<boolean>;
  route: (req: http.IncomingMessage) => Promise<Target>;
  note: Note;
  /** The outcome of a request passed on: `demo` or `origin`. */
  passedOn: NextHopOutcome;
  originTimeoutMs: number;
}

/** The emulated next-hop's server: faults first, then requests and upgrades to the origin. */
function nextHopServer(h: NextHopHandling): http.Server {
  const server = http.createServer(async function emulatedNextHop(req, res) {
    if (await h.faulted(req)) return;
    const target = await h.route(req);
    h.note(req, h.passedOn);
    forward(req, res, target, req.headers, h.originTimeoutMs, (err) => {
      h.note(req, 'unreachable');
      answerOriginError(res, err);
    });
  });
  server.on(
    'upgrade',
    async function emulatedNextHopUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer) {
      if (await h.faulted(req)) return;
      const target = await h.route(req);
      h.note(req, h.passedOn);
      tunnel(req, socket, head, target, req.headers, () => {});
    },
  );
  return server;
}

/** Listen on a loopback port; closing cuts every connection and stops the demo origin. */
async function listenNextHop(
  server: http.Server,
  outcome: NextHop['outcome'],
  demo: http.Server | undefined,
): Promise<NextHop> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    outcome,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => server.close(r));
      if (demo) {
        demo.closeAllConnections();
        await new Promise((r) => demo.close(r));
      }
    },
  };
}

/**
 * Start the emulated next-hop on a loopback port: it forwards to the origin (or the demo
 * origin) keeping Host, path, query and headers, and can simulate faults.
 *
 * @example
 * const nextHop = await startNextHop({ fault: { kind: 'timeout' } });
 * spawn('npm', ['start'], { env: { ...process.env, NEXT_HOP: nextHop.url } });
 */
export async function startNextHop(options: Readonly<NextHopOptions> = {}): Promise<NextHop> {
  const { fault, originTimeoutMs = 100_000 } = options;
  const outcomes = outcomeBook();
  if (fault?.kind === 'refuse') {
    // Nothing listens: connections are refused, as when next-hop is down.
    const port = await freePort();
    return { url: `http://127.0.0.1:${port}`, port, outcome: () => undefined, close: async () => {} };
  }
  const demo = options.origin ? undefined : await startDemoOrigin();
  const server = nextHopServer({
    faulted: faultInjector(fault, outcomes.note),
    route: routeFor(options.origin, demo),
    note: outcomes.note,
    passedOn: demo ? 'demo' : 'origin',
    originTimeoutMs,
  });
  return listenNextHop(server, outcomes.get, demo);
}
