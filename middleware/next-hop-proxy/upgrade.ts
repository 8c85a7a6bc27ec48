import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import type { Dispatcher } from 'undici';
import { classify, respondUpgradeFailure } from './failure';
import { asHookHeaders, hookHeaders, requestHead, responseFields } from './headers';
import type { CompiledOptions, ProxyHeaders, ProxyRequest, ProxyResponse } from './options';
import { upstreamPath } from './path';

const debug = debuglog('nexthop:proxy');

type Fields = string[] | OutgoingHttpHeaders | ProxyHeaders;

function headBlock(statusLine: string, fields: Fields, extra: string): string {
  let block = statusLine;
  if (Array.isArray(fields)) {
    for (let i = 0; i < fields.length; i += 2) block += `${fields[i]}: ${fields[i + 1]}\r\n`;
  } else {
    for (const [name, value] of Object.entries(fields)) {
      for (const one of [value ?? []].flat()) block += `${name}: ${one}\r\n`;
    }
  }
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
  for (const side of [client, upstream]) side.on('error', closeBoth).on('close', closeBoth);
  upstream.pipe(client).pipe(upstream);
}

function rawValue(raw: readonly Buffer[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i].toString('latin1').toLowerCase() === name) return raw[i + 1].toString('latin1');
  return undefined;
}

/**
 * undici's handler for one `Upgrade` request: a 101 splices the client's socket to
 * next-hop's; any other answer (a 403 with its body, say) is relayed as sent and the
 * connection closed; a failure before an answer is a 502/504 on the raw socket.
 */
class UpgradeExchange implements Dispatcher.DispatchHandler {
  private abort: ((err?: Error) => void) | undefined = undefined;
  private answered = false;

  constructor(
    private readonly c: CompiledOptions,
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
  ) {
    const abandon = () => {
      if (!this.answered) this.abort?.();
      this.answered = true;
    };
    socket.once('close', abandon).on('error', abandon);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.answered || this.socket.destroyed) return abort();
    this.abort = abort;
  }

  onUpgrade(status: number, raw: Buffer[] | string[] | null, upstream: Duplex): void {
    const fields = this.edited(status, responseFields((raw ?? []) as Buffer[]));
    if (fields === undefined || this.answered) return void upstream.destroy();
    this.answered = true;
    const protocol = rawValue((raw ?? []) as Buffer[], 'upgrade') ?? this.req.headers.upgrade ?? 'websocket';
    tune(this.socket);
    tune(upstream);
    this.socket.write(
      headBlock(
        'HTTP/1.1 101 Switching Protocols\r\n',
        fields,
        `Connection: Upgrade\r\nUpgrade: ${protocol}\r\n`,
      ),
    );
    if (this.head.length > 0) upstream.write(this.head);
    splice(this.socket, upstream);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (status < 200 || this.answered) return true;
    const fields = this.edited(status, responseFields(raw));
    if (fields === undefined) return false;
    this.answered = true;
    this.socket.on('drain', resume);
    const line = `HTTP/1.1 ${status} ${statusText || STATUS_CODES[status] || ''}\r\n`;
    return this.socket.write(headBlock(line, fields, 'Connection: close\r\n'));
  }

  onData(chunk: Buffer): boolean {
    return this.socket.write(chunk);
  }

  onComplete(): void {
    this.socket.end();
  }

  onError(err: NodeJS.ErrnoException): void {
    debug('upgrade of %s failed: %s', this.req.url, err.code ?? err.message);
    if (this.answered) return void this.socket.destroy();
    this.answered = true;
    respondUpgradeFailure(this.socket, classify(err));
  }

  /** next-hop's fields after `onProxyResponse`, or undefined when the hook threw (then a 500). */
  private edited(status: number, fields: Fields): Fields | undefined {
    const hook = this.c.onProxyResponse;
    if (hook === undefined) return fields;
    const proxyRes: ProxyResponse = { status, headers: asHookHeaders(fields as string[]), upgrade: true };
    if (!runUpgradeHook(this.socket, () => hook(proxyRes, this.req))) {
      this.answered = true;
      this.abort?.();
      return undefined;
    }
    return proxyRes.headers;
  }
}

function runUpgradeHook(socket: Duplex, hook: () => void): boolean {
  try {
    hook();
    return true;
  } catch (err) {
    debug('an upgrade hook threw: %s', (err as Error).message);
    respondUpgradeFailure(socket, 'ERR_NEXTHOP_BAD_PROXY_REQUEST');
    return false;
  }
}

/**
 * Proxy an `Upgrade` request (WebSocket or any other protocol) to next-hop with the same
 * header rules as plain requests, then splice the two sockets. A path outside `pathFilter`
 * is answered 404.
 */
export function proxyUpgrade(c: CompiledOptions, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const path = upstreamPath(req.url ?? '/');
  if (c.filter !== undefined && !c.filter(path, req)) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const options: Dispatcher.DispatchOptions = {
    method: req.method as Dispatcher.HttpMethod,
    path,
    headers: requestHead(c, req).headers,
    upgrade: req.headers.upgrade ?? 'websocket',
  };
  const hook = c.onProxyRequest;
  if (hook !== undefined) {
    const proxyReq: ProxyRequest = {
      method: options.method,
      path,
      headers: hookHeaders(options.headers as string[]),
      upgrade: true,
    };
    if (!runUpgradeHook(socket, () => hook(proxyReq, req))) return;
    Object.assign(options, { method: proxyReq.method, path: proxyReq.path, headers: proxyReq.headers });
  }
  c.upstream.pool.dispatch(options, new UpgradeExchange(c, req, socket, head));
}
