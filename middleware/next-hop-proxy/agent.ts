import { Agent, type ClientRequestArgs } from 'node:http';
import { createConnection, type NetConnectOpts, type Socket } from 'node:net';

/** Settings of the default upstream agent. */
export interface NextHopAgentOptions {
  maxSockets: number;
  freeSocketTimeout: number;
  connectTimeout: number;
}

/** Error a socket is destroyed with when name resolution plus TCP connect takes too long. */
export class ConnectTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`connect to next-hop took longer than ${ms} ms`);
    this.name = 'ConnectTimeoutError';
  }
}

function onConnectTimeout(socket: Socket, ms: number): void {
  socket.destroy(new ConnectTimeoutError(ms));
}

/**
 * A keep-alive agent for next-hop: bounded sockets, idle sockets closed after
 * `freeSocketTimeout` (below the upstream's idle timeout, so the upstream never closes a
 * socket we are about to reuse), LIFO reuse so surplus sockets age out, and a connect
 * timeout that costs nothing on reused sockets (the timer lives on the new socket only).
 */
export class NextHopAgent extends Agent {
  readonly connectTimeout: number;

  constructor({ maxSockets, freeSocketTimeout, connectTimeout }: NextHopAgentOptions) {
    super({
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets,
      maxFreeSockets: maxSockets,
      timeout: freeSocketTimeout,
      scheduling: 'lifo',
    });
    this.connectTimeout = connectTimeout;
  }

  /** Node's agent calls this for every new socket. */
  override createConnection(options: ClientRequestArgs): Socket {
    const socket = createConnection(options as NetConnectOpts);
    const timer = setTimeout(onConnectTimeout, this.connectTimeout, socket, this.connectTimeout);
    const clear = () => clearTimeout(timer);
    socket.once('connect', clear);
    socket.once('close', clear);
    return socket;
  }
}
