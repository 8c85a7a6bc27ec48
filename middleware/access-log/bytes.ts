import type { Socket } from 'node:net';
import type { Response } from 'express';
import type { Started } from './format';

type Counted = Response & Record<symbol, Started | undefined>;
const PIPELINED = Symbol('nexthop.accessLogPipelined');
type PipelinedSocket = Socket & { [PIPELINED]?: true; _httpMessage?: Counted | null };

/**
 * A response's bytes are the socket's count from when the response has the socket to its
 * 'prefinish' (all its bytes handed to the socket). That matters with pipelining only: a
 * pipelined response waits for the ones before it and gets the socket when they are done,
 * and the next one takes the socket over (and writes) before this one's 'close', whatever
 * order the requests reached the middleware in. So once a connection is seen pipelining,
 * its responses take both ends on their own events; other connections pay nothing for it.
 *
 * `started` is the key under which one accessLog() instance keeps a response's start record.
 */
export function byteCounter(started: symbol) {
  function countFromHere(this: Counted, socket: Socket): void {
    const record = this[started];
    if (record !== undefined) record.bytes = socket.bytesWritten;
  }
  function countToHere(this: Counted): void {
    const record = this[started];
    if (record !== undefined && this.socket !== null) record.end = this.socket.bytesWritten;
  }
  /** A request is waiting behind another: from now on its connection's responses count their end. */
  function notePipelining(socket: PipelinedSocket): void {
    if (socket[PIPELINED]) return;
    socket[PIPELINED] = true;
    // The response holding the socket (node's `_httpMessage`, stable since node 0.x).
    const holder = socket._httpMessage;
    const record = holder?.[started];
    if (holder == null || record === undefined || record.end !== undefined) return;
    // Ended, it has handed all its bytes to the socket, and nothing else has written since.
    if (holder.writableEnded) record.end = socket.bytesWritten;
    else holder.on('prefinish', countToHere);
  }
  return {
    /** The socket's count where `res` starts, or -1 while it waits behind a pipelined one. */
    start(res: Response): number {
      const socket = res.req.socket as PipelinedSocket;
      if (res.socket === null) notePipelining(socket);
      return res.socket === null ? -1 : socket.bytesWritten;
    },
    /** Once `res` has its start record: hook the events that settle its two ends. */
    watch(res: Response): void {
      if (res.socket === null) res.once('socket', countFromHere);
      if ((res.req.socket as PipelinedSocket)[PIPELINED]) res.on('prefinish', countToHere);
    },
  };
}
