import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { answerError, forward, tunnel } from './forward';
import { geoForIp, type Geo } from './geo';
import type { NextHopOutcome } from './next-hop';

/**
 * Who answered a request, as shown in the request log: the app itself (its own 502/504
 * when next-hop failed included), the origin through the app, next-hop (522/524 when the
 * origin failed), next-hop for a bypassed path, the front (the app not running), or nobody
 * (the client gave up first).
 */
export type AnsweredBy = 'app' | 'origin' | 'next-hop' | 'bypass' | 'front' | 'none';

/** One finished request, for the request log. */
export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  /** The status sent, or `'aborted'` when the client closed before the response was complete. */
  readonly status: number | 'aborted';
  readonly ms: number;
  readonly by: AnsweredBy;
  readonly id: string;
}

/** A running front. */
export interface Front {
  /** The port bound (useful with `port: 0`). */
  readonly port: number;
  /** Stop listening and cut every connection, WebSocket tunnels included. */
  close(): Promise<void>;
}

/** Options of {@link startFront}. */
export interface FrontOptions {
  port: number;
  /** Address to bind. @default '127.0.0.1' */
  listen?: string;
  /** `X-Forwarded-Proto: https` instead of http. @default false */
  https?: boolean;
  /** True-Client-IP to claim instead of the real peer. */
  clientIp?: string;
  /** Geo headers to send instead of the built-in table's. */
  geo?: Geo;
  /** Path prefixes routed straight to next-hop (nginx prefix `location`s). */
  bypass?: readonly string[];
  /** Host header to pass on instead of the one received. */
  hostHeader?: string;
  /** The app's port, or undefined while it is not running. */
  appPort: () => number | undefined;
  nextHopPort: number;
  /** What next-hop did with the request with this section-io-id, if it got it. */
  nextHopOutcome: (id: string) => NextHopOutcome | undefined;
  onRequest: (record: RequestRecord) => void;
}

const NOT_RUNNING = 'nexthop dev: the app is not running (starting, restarting or crashed); see the terminal';

/** Headers the edge sets itself: a client cannot send them through. */
const EDGE_HEADER = /^(?:true-client-ip|section-io-)/;

function peerIp(socket: net.Socket): string {
  return (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/** Who answered a request that got a response, from what next-hop did with it. */
function answeredBy(bypassed: boolean, outcome: NextHopOutcome | undefined): AnsweredBy {
  if (bypassed) return 'bypass';
  if (outcome === 'origin' || outcome === 'demo') return 'origin';
  if (outcome === 'unreachable') return 'next-hop';
  // Next-hop never got it (refused), never answered (timeout) or reset: the app answered.
  return 'app';
}

/** The headers the front sends on: the client's, minus edge headers, plus what the edge adds. */
function edgeHeadersFor(options: Readonly<FrontOptions>) {
  const proto = options.https ? 'https' : 'http';
  return function edgeHeaders(req: http.IncomingMessage, id: string): http.OutgoingHttpHeaders {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers))
      if (!EDGE_HEADER.test(name)) headers[name] = value;
    const client = options.clientIp ?? peerIp(req.socket);
    const prior = req.headers['x-forwarded-for'];
    headers['true-client-ip'] = client;
    headers['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
    headers['x-forwarded-proto'] = proto;
    headers['section-io-id'] = id;
    for (const [field, value] of Object.entries(options.geo ?? geoForIp(client))) {
      if (value !== undefined) headers[`section-io-geo-${field}`] = value;
    }
    if (options.hostHeader) headers.host = options.hostHeader;
    return headers;
  };
}

type EdgeHeaders = ReturnType<typeof edgeHeadersFor>;

/** Where a request goes: by path prefix to next-hop (bypass) or to the app, if it runs. */
function routerFor(options: Readonly<FrontOptions>) {
  const bypass = options.bypass ?? [];
  return function route(req: http.IncomingMessage) {
    const id = randomBytes(12).toString('hex');
    const path = req.url ?? '/';
    // nginx prefix locations: a plain string prefix of the path.
    const bypassed = bypass.some((prefix) => path.startsWith(prefix));
    const port = bypassed ? options.nextHopPort : options.appPort();
    const started = process.hrtime.bigint();
    const record = (status: number | 'aborted', answered?: AnsweredBy) => {
      const by =
        status === 'aborted' ? 'none' : (answered ?? answeredBy(bypassed, options.nextHopOutcome(id)));
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      options.onRequest({ method: req.method ?? 'GET', path, status, ms, by, id });
    };
    return { id, port, record };
  };
}

type Route = ReturnType<typeof routerFor>;

/** The front's answer when the app fails. */
function answerUpstreamError(res: http.ServerResponse, err: NodeJS.ErrnoException): void {
  // nginx's answers: 504 when the upstream is too slow, 502 for anything else.
  if (err.code === 'ETIMEDOUT') answerError(res, 504, 'nexthop dev front: upstream timed out (504)');
  else answerError(res, 502, `nexthop dev front: upstream failed (${err.code ?? err.message}) (502)`);
}

/** The front's request handler: to the app (or next-hop), 502 while the app is not running. */
function requestHandler(route: Route, edgeHeaders: EdgeHeaders) {
  return function emulatedFront(req: http.IncomingMessage, res: http.ServerResponse) {
    const { id, port, record } = route(req);
    let frontAnswered = false;
    res.on('close', () =>
      record(res.writableFinished ? res.statusCode : 'aborted', frontAnswered ? 'front' : undefined),
    );
    if (port === undefined) {
      frontAnswered = true;
      answerError(res, 502, NOT_RUNNING);
      return;
    }
    forward(req, res, { protocol: 'http:', host: '127.0.0.1', port }, edgeHeaders(req, id), 60_000, (err) => {
      frontAnswered = true;
      answerUpstreamError(res, err);
    });
  };
}

/** The front's upgrade handler: a tunnel (kept in `tunnels`) to the app or next-hop. */
function upgradeHandler(route: Route, edgeHeaders: EdgeHeaders, tunnels: Set<Duplex>) {
  return function emulatedFrontUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer) {
    const { id, port, record } = route(req);
    if (port === undefined) {
      record(502, 'front');
      socket.end(
        `HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: ${NOT_RUNNING.length}\r\n\r\n${NOT_RUNNING}`,
      );
      return;
    }
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    const headers = { ...edgeHeaders(req, id), connection: 'Upgrade', upgrade: req.headers.upgrade };
    tunnel(req, socket, head, { protocol: 'http:', host: '127.0.0.1', port }, headers, record);
  };
}

/** Listen where the options say; closing cuts every connection, tunnels included. */
async function listenFront(
  server: http.Server,
  options: Readonly<FrontOptions>,
  tunnels: Set<Duplex>,
): Promise<Front> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.listen ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close() {
      for (const socket of tunnels) socket.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Start the emulated platform front: it adds what the edge adds (True-Client-IP,
 * X-Forwarded-For, X-Forwarded-Proto, section-io-id, section-io-geo-*), keeps Host, and
 * routes by path prefix to the app or straight to next-hop.
 */
export async function startFront(options: Readonly<FrontOptions>): Promise<Front> {
  const route = routerFor(options);
  const edgeHeaders = edgeHeadersFor(options);
  const tunnels = new Set<Duplex>();
  const server = http.createServer(requestHandler(route, edgeHeaders));
  server.on('upgrade', upgradeHandler(route, edgeHeaders, tunnels));
  return listenFront(server, options, tunnels);
}
