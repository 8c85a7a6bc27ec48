import type * as http from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * How long a keep-alive socket must have been idle before shutdown closes it. A client
 * under load reuses its sockets within milliseconds, so those get one more response,
 * with `Connection: close`, instead of a close racing their next request (a reset, or a
 * 502 at nginx for a POST). Sockets idle longer than this are not in use and close at once.
 */
export const SHUTDOWN_IDLE_GRACE = 500;

const DROPPED = Symbol('nexthop.droppedResponse');
type Dropped = http.ServerResponse & { [DROPPED]?: true };

// Whole milliseconds of a monotonic clock: small integers, which V8 stores in the Map entry
// itself, where Date.now() (> 2^31) is a separate 16-byte number per idle connection.
const clock = (): number => Math.floor(performance.now());

/**
 * Per-connection bookkeeping for a shutdown that never cuts a request in its first byte:
 * which responses are in flight (to mark them `Connection: close`) and which keep-alive
 * connections are idle (to close them).
 *
 * Responses are found through their connection, never used as Map or Set keys: V8 gives an
 * object an identity hash when it first becomes a key, and doing that to every response
 * shows in a CPU profile of every request (`npm run bench -- --cpu-prof`). Connections live
 * long; each gets its hash once. A connection's entry is its response in flight, or the time
 * it went idle; the rare pipelined responses waiting behind the first are listed apart.
 */
export class ConnectionTracker {
  private readonly connections = new Map<Duplex, http.ServerResponse | number>();
  private readonly pipelined = new Map<Duplex, http.ServerResponse[]>();
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  private onSettled: (() => void) | undefined;
  /** One shared 'close' listener ('close' comes once): an idle connection holds no closure. */
  private readonly forget: (this: Duplex) => void;

  constructor(server: http.Server) {
    const onClose = (socket: Duplex): void => this.closed(socket);
    this.forget = function forget(this: Duplex): void {
      onClose(this);
    };
    server.on('connection', (socket: Duplex) => {
      this.connections.set(socket, clock());
      socket.on('close', this.forget);
    });
  }

  /** `count` responses are no longer in flight. */
  private leave(count: number): void {
    this.count -= count;
    if (this.count === 0) this.onSettled?.();
  }

  /** A connection closed: responses queued behind its current one never emit 'close' (node drops them). */
  private closed(socket: Duplex): void {
    const waiting = this.pipelined.get(socket);
    if (waiting !== undefined) {
      for (const res of waiting) (res as Dropped)[DROPPED] = true;
      this.leave(waiting.length);
    }
    this.connections.delete(socket);
    this.pipelined.delete(socket);
  }

  /**
   * Node adds each response's own 'close' listener to its socket; pushed after ours, it grows
   * the socket's listener array to 20 slots, which V8 keeps after Node removes it again.
   * Re-adding ours when the connection goes idle leaves a 2-slot array: ~150 bytes less per
   * idle keep-alive connection.
   */
  private watchIdle(socket: Duplex): void {
    socket.off('close', this.forget);
    socket.on('close', this.forget);
  }

  /** A response starts on its request's connection. */
  start(res: http.ServerResponse): void {
    this.count++;
    const socket = res.req.socket as Duplex;
    const entry = this.connections.get(socket);
    if (entry === undefined) return;
    if (typeof entry === 'number') return void this.connections.set(socket, res);
    const waiting = this.pipelined.get(socket);
    if (waiting === undefined) this.pipelined.set(socket, [res]);
    else waiting.push(res);
  }

  /** A response closed (finished or cut off); its connection may be idle now. */
  finish(res: http.ServerResponse): void {
    if ((res as Dropped)[DROPPED]) return; // counted out when its connection closed
    this.leave(1);
    const socket = res.req.socket as Duplex;
    const entry = this.connections.get(socket);
    if (entry === undefined) return;
    const waiting = this.pipelined.get(socket);
    if (entry === res) {
      const following = waiting?.shift();
      if (waiting !== undefined && waiting.length === 0) this.pipelined.delete(socket);
      this.connections.set(socket, following ?? clock());
      if (following === undefined) this.watchIdle(socket);
    } else if (waiting !== undefined) {
      const at = waiting.indexOf(res);
      if (at !== -1) waiting.splice(at, 1);
      if (waiting.length === 0) this.pipelined.delete(socket);
    }
  }

  /** Every response in flight. */
  *responses(): Generator<http.ServerResponse> {
    for (const entry of this.connections.values()) if (typeof entry !== 'number') yield entry;
    for (const waiting of this.pipelined.values()) yield* waiting;
  }

  /** How many responses are in flight. */
  inFlight(): number {
    return this.count;
  }

  /**
   * Resolves once every response has emitted 'close' (the access log writes its line then),
   * or after `limitMs`. A forced close destroys the sockets, and their responses close only
   * after the server's own 'close' has fired.
   */
  settled(limitMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const limit = setTimeout(resolve, limitMs);
      this.onSettled = () => {
        clearTimeout(limit);
        this.onSettled = undefined;
        resolve();
      };
    });
  }

  /** Close the connections idle for {@link SHUTDOWN_IDLE_GRACE}; come back for the others. */
  sweep(): void {
    clearTimeout(this.timer);
    const now = clock();
    let next = Infinity;
    for (const [socket, entry] of this.connections) {
      if (typeof entry !== 'number') continue;
      const left = entry + SHUTDOWN_IDLE_GRACE - now;
      if (left <= 0) socket.destroy();
      else next = Math.min(next, left);
    }
    // Timers run before the event loop reads its sockets: a request already sent on an "idle"
    // connection (nginx reusing it) may still sit unread. Sweeping after the poll phase lets
    // it arrive first and mark the connection busy, instead of being reset with it (a 502
    // for a POST).
    if (next !== Infinity) this.timer = setTimeout(() => setImmediate(() => this.sweep()), next).unref();
  }
}
