import type { IncomingMessage } from 'node:http';
import type { Response } from 'express';
import { Exchange, failBeforeResponse, kExchange, relayHead, upstreamAborted, type Linked } from './exchange';
import { requestHeadText, responseHeaders } from './headers';
import type { PoolUser, UpstreamConnection } from './pool';
import type { ResponseHead } from './response-parser';

const LAST_CHUNK = '0\r\n\r\n';

/**
 * An exchange carried by the proxy's own HTTP/1.1 client (./pool): the request head is
 * written as one string, bodies flow both ways with backpressure, and the response's
 * slices go straight to `res` without a stream of their own in between.
 */
export class PooledExchange extends Exchange implements PoolUser {
  private requestText = '';
  /** The request body is streamed from `req` (chunked upstream when `chunked`). */
  private chunked = false;
  private pumping = false;
  private ended = false;
  private drainHooked = false;

  /** Queue the exchange for a connection; the head is built (and checked) first. */
  send(chunked: boolean): void {
    this.chunked = chunked;
    this.requestText = requestHeadText(this.req.method, this.path, this.headers);
    this.c.pool?.acquire(this, this.req.method === 'HEAD');
  }

  /** Write the request on the connection the pool lent (the body too when it is held). */
  attached(conn: UpstreamConnection): void {
    if (this.settled || this.clientGone) return void conn.destroy();
    this.conn = conn;
    const { body } = this;
    if (body === undefined) {
      conn.write(this.requestText, 'latin1');
      return this.pump();
    }
    if (body !== null) conn.socket.cork();
    conn.write(this.requestText, 'latin1');
    if (body !== null) {
      conn.write(body);
      conn.socket.uncork();
    }
    conn.requestSent = true;
  }

  private pump(): void {
    const req = this.req as unknown as Linked<IncomingMessage, PooledExchange>;
    req[kExchange] = this;
    this.pumping = true;
    req.on('data', onRequestData);
    req.on('end', onRequestEnd);
  }

  /** Also stop reading the client's upload. */
  override abortUpstream(): void {
    this.stopPump();
    super.abortUpstream();
  }

  /** The body went out whole (or is abandoned): stop listening to the client's upload. */
  stopPump(): void {
    if (!this.pumping) return;
    this.pumping = false;
    this.req.off('data', onRequestData);
    this.req.off('end', onRequestEnd);
  }

  /** One piece of a streamed upload; the client is paused while the connection's buffer is full. */
  writeBody(chunk: Buffer): void {
    const conn = this.conn;
    if (conn === undefined) return;
    let ok: boolean;
    if (this.chunked) {
      conn.socket.cork();
      conn.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      conn.write(chunk);
      ok = conn.write('\r\n', 'latin1');
      conn.socket.uncork();
    } else {
      ok = conn.write(chunk);
    }
    if (!ok) this.req.pause();
  }

  /** The upload ended: close the chunked framing; the connection may be reused after the response. */
  endBody(): void {
    this.stopPump();
    const conn = this.conn;
    if (conn === undefined) return;
    if (this.chunked) conn.write(LAST_CHUNK, 'latin1');
    conn.requestSent = true;
  }

  /** The connection can take more of the upload. */
  drained(): void {
    if (this.pumping) this.req.resume();
  }

  /** Relay next-hop's status and fields (a 502 instead when Node refuses a field). */
  responseHead(head: ResponseHead): void {
    if (this.settled || this.clientGone) return void this.conn?.destroy();
    if (!relayHead(this, head.status, responseHeaders(head.fields))) {
      this.stopPump();
      this.conn?.destroy();
    }
  }

  /** Relay a slice of the body; hold next-hop back while the client's buffer is full. */
  responseBody(chunk: Buffer, last: boolean): void {
    const { res } = this;
    if (last) {
      this.ended = true;
      res.end(chunk.length === 0 ? undefined : chunk);
      return;
    }
    if (chunk.length === 0 || res.write(chunk)) return;
    // The client reads slower than next-hop sends: hold the upstream socket until it drains.
    this.conn?.socket.pause();
    if (!this.drainHooked) {
      this.drainHooked = true;
      (res as unknown as Linked<Response, PooledExchange>)[kExchange] = this;
      res.on('drain', onClientDrain);
    }
  }

  /** The response is complete: end `res` (if the last slice did not) and stop the upload. */
  responseEnd(): void {
    if (!this.ended) {
      this.ended = true;
      this.res.end();
    }
    // next-hop answered before the upload ended: the rest is not sent (the connection closes).
    this.stopPump();
    this.conn = undefined;
  }

  /** The connection broke: send again when safe, else answer 502/504 or cut the client off. */
  failed(err: NodeJS.ErrnoException, stale: boolean): void {
    this.conn = undefined;
    this.stopPump();
    if (this.settled || this.clientGone) return;
    if (err.code === 'ETIMEDOUT') this.timedOut = true;
    if (this.responding) return upstreamAborted(this, this.timedOut);
    if (failBeforeResponse(this, stale, err)) this.c.pool?.acquire(this, this.req.method === 'HEAD');
  }
}

function onRequestData(this: Linked<IncomingMessage, PooledExchange>, chunk: Buffer): void {
  this[kExchange].writeBody(chunk);
}

function onRequestEnd(this: Linked<IncomingMessage, PooledExchange>): void {
  this[kExchange].endBody();
}

function onClientDrain(this: Linked<Response, PooledExchange>): void {
  this[kExchange].conn?.socket.resume();
}
