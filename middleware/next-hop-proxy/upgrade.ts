import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import { classify, respondUpgradeFailure } from './failure';
import { relayedFields, requestHead } from './headers';
import type { CompiledOptions } from './options';
import { upstreamPath } from './path';

const debug = debuglog('nexthop:proxy');

function headBlock(statusLine: string, headers: readonly string[], extra: string): string {
  let block = statusLine;
  for (let i = 0; i < headers.length; i += 2) block += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${block}${extra}\r\n`;
}

function tune(socket: Duplex): void {
  const tcp = socket as Partial<Socket>;
  tcp.setTimeout?.(0);
  tcp.setNoDelay?.(true);
  tcp.setKeepAlive?.(true, 1000);
}

/** Join the two upgraded connections; either closing or failing closes the other. */
function splice(client: Duplex, upstream: Duplex): void {
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', closeBoth);
  upstream.on('error', closeBoth);
  client.on('close', closeBoth);
  upstream.on('close', closeBoth);
  upstream.pipe(client).pipe(upstream);
}

/** The raw fields of an upgrade answer: hop-by-hop fields removed, Connection/Upgrade restored. */
function switchingHeaders(proxyRes: IncomingMessage): string[] {
  const flat = relayedFields(proxyRes);
  flat.push('Connection', 'Upgrade');
  if (proxyRes.headers.upgrade !== undefined) flat.push('Upgrade', proxyRes.headers.upgrade);
  return flat;
}

/**
 * Proxy an `Upgrade` request (WebSocket or any other protocol) to next-hop with the same
 * header rules as plain requests, then splice the two sockets. A non-101 answer is relayed
 * and the connection closed; a failure is answered with 502/504 on the raw socket.
 */
export function proxyUpgrade(c: CompiledOptions, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const path = upstreamPath(req.url ?? '/');
  if (c.filter !== undefined && !c.filter(path, req)) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const proxyReq = request({
    agent: c.agent,
    host: c.host,
    port: c.port,
    method: req.method,
    path,
    headers: requestHead(c, req, true).headers,
    setHost: false,
    timeout: c.timeout,
  });
  let answered = false;
  const abandon = () => {
    if (!answered) proxyReq.destroy();
  };
  socket.once('close', abandon);
  socket.on('error', abandon);
  proxyReq.on('timeout', () =>
    proxyReq.destroy(Object.assign(new Error('upgrade timed out'), { code: 'ETIMEDOUT' })),
  );
  proxyReq.on('error', (err: NodeJS.ErrnoException) => {
    if (answered) return;
    answered = true;
    debug('upgrade of %s failed: %s', path, err.code ?? err.message);
    respondUpgradeFailure(socket, classify(err));
  });
  proxyReq.on('response', (proxyRes) => {
    answered = true;
    const status = `HTTP/1.1 ${proxyRes.statusCode} ${proxyRes.statusMessage}\r\n`;
    socket.write(headBlock(status, relayedFields(proxyRes), 'Connection: close\r\n'));
    proxyRes.pipe(socket);
  });
  proxyReq.on('upgrade', (proxyRes, proxySocket, proxyHead) => {
    answered = true;
    socket.off('close', abandon);
    tune(socket);
    tune(proxySocket);
    socket.write(headBlock('HTTP/1.1 101 Switching Protocols\r\n', switchingHeaders(proxyRes), ''));
    if (proxyHead.length > 0) socket.write(proxyHead);
    if (head.length > 0) proxySocket.write(head);
    splice(socket, proxySocket);
  });
  proxyReq.end();
}
