import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import {
  failBeforeResponse,
  kExchange,
  relayHead,
  runHook,
  upstreamAborted,
  type Exchange,
  type Linked,
} from './exchange';
import { silenceError } from './failure';
import { editedResponseHeaders, headerObject, responseHeaders } from './headers';

/**
 * Send an exchange through node:http's client and the proxy's agent: the path taken when a
 * hook needs node's request/response objects or the user gave their own agent.
 */
export function sendWithAgent(ex: Exchange): void {
  const { c, req } = ex;
  const proxyReq = request({
    agent: c.agent,
    host: c.host,
    port: c.port,
    method: req.method,
    path: ex.path,
    // A flat list is written as is, in one go; a hook needs the object form to edit it.
    headers: c.onProxyRequest === undefined ? ex.headers : headerObject(ex.headers),
    setHost: false,
    timeout: c.timeout,
  }) as Linked<ClientRequest>;
  proxyReq[kExchange] = ex;
  ex.proxyReq = proxyReq;
  proxyReq.on('response', onUpstreamResponse);
  proxyReq.on('error', onUpstreamError);
  proxyReq.on('timeout', onUpstreamTimeout);
  if (c.onProxyRequest !== undefined && !runHook(ex, () => c.onProxyRequest?.(proxyReq, req))) return;
  if (ex.body === undefined) req.pipe(proxyReq);
  else proxyReq.end(ex.body ?? undefined);
}

function onUpstreamResponse(this: Linked<ClientRequest>, proxyRes: IncomingMessage): void {
  const ex = this[kExchange];
  if (ex.settled || ex.clientGone) return void this.destroy();
  const { res } = ex;
  ex.proxyRes = proxyRes;
  const hook = ex.c.onProxyResponse;
  if (hook !== undefined) {
    ex.locals.nexthopUpstream = { status: proxyRes.statusCode, ms: ex.elapsed() };
    if (!runHook(ex, () => hook(proxyRes, ex.req, res))) return;
  }
  const headers = hook === undefined ? responseHeaders(proxyRes.rawHeaders) : editedResponseHeaders(proxyRes);
  if (!relayHead(ex, proxyRes.statusCode ?? 502, headers)) {
    ex.proxyRes = undefined;
    return void this.destroy();
  }
  (proxyRes as Linked<IncomingMessage>)[kExchange] = ex;
  proxyRes.on('close', onUpstreamResponseClose);
  proxyRes.pipe(res);
}

function onUpstreamResponseClose(this: Linked<IncomingMessage>): void {
  if (!this.complete) upstreamAborted(this[kExchange], this[kExchange].timedOut);
}

function onUpstreamError(this: Linked<ClientRequest>, err: NodeJS.ErrnoException): void {
  const ex = this[kExchange];
  if (ex.proxyReq !== this || ex.settled || ex.clientGone || ex.proxyRes !== undefined) return;
  if (failBeforeResponse(ex, this.reusedSocket, err)) sendWithAgent(ex);
}

function onUpstreamTimeout(this: Linked<ClientRequest>): void {
  const ex = this[kExchange];
  if (ex.proxyRes?.complete) return;
  ex.timedOut = true;
  this.destroy(silenceError(ex.c.timeout));
}
