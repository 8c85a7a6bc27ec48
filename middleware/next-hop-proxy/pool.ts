import { maxHeaderSize } from 'node:http';
import { connect, type Socket } from 'node:net';
import { ConnectTimeoutError } from './agent';
import { silenceError } from './failure';
import { ResponseParseError, ResponseParser, type ResponseHead, type ResponseSink } from './response-parser';

/** Settings of the proxy's own connection pool to next-hop. */
export interface PoolOptions {
  readonly host: string;
  readonly port: number;
  /** Connections in use at once; more requests wait in line for one. */
  readonly maxSockets: number;
  /** Idle time after which a kept-alive connection is closed, not reused. */
  readonly freeSocketTimeout: number;
  /** Longest name resolution plus TCP connect. */
  readonly connectTimeout: number;
  /** Longest silence on a connection in use (no byte either way). */
  readonly timeout: number;
}

/** The exchange a connection is lent to: the response goes to its sink methods. */
export interface PoolUser extends ResponseSink {
  /** A connection is ready for this request (at once, or when one comes free). */
  attached(conn: UpstreamConnection): void;
  /**
   * The connection broke before the response was complete. `stale`: it was a reused
   * connection and nothing of the response came (the request may never have reached it).
   */
  failed(err: NodeJS.ErrnoException, stale: boolean): void;
  /** The socket's write buffer drained: the request body may flow again. */
  drained(): void;
}

/** Counts of the pool's connections, e.g. for metrics. */
export interface PoolStats {
  /** Connections lent to a request (connecting included). */
  readonly busy: number;
  /** Kept-alive connections waiting for the next request. */
  readonly idle: number;
  /** Requests waiting for a connection (all `maxSockets` are busy). */
  readonly queued: number;
}

/** Where a connection is, for the pool's counts. */
const enum Place {
  Busy,
  Idle,
  Gone,
}

// Node's agent closes a socket one second before the upstream's Keep-Alive hint runs out.
const HINT_MARGIN = 1000;

function hangUp(): NodeJS.ErrnoException {
  return Object.assign(new Error('next-hop closed the connection before the response ended'), {
    code: 'ECONNRESET',
  });
}

/**
 * One keep-alive connection to next-hop and its response parser. Its socket listeners are
 * bound once per connection, so a request through it allocates no closure.
 */
export class UpstreamConnection {
  readonly socket: Socket;
  readonly parser = new ResponseParser(maxHeaderSize);
  user: PoolUser | undefined = undefined;
  /** It carried an earlier request (a reset on it may mean it went stale meanwhile). */
  reused = false;
  /** The whole request was written: the connection may carry the next one after this response. */
  requestSent = false;
  /** The response said the connection ends with it. */
  private lastResponse = false;
  /** Where the pool keeps it. */
  place: Place = Place.Busy;
  idleSince = 0;
  idleLimit: number;
  private error: NodeJS.ErrnoException | undefined;
  private connectTimer: NodeJS.Timeout | undefined;

  constructor(private readonly pool: UpstreamPool) {
    const o = pool.options;
    this.idleLimit = o.freeSocketTimeout;
    this.socket = connect({
      host: o.host,
      port: o.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 1000,
    });
    this.socket.setTimeout(o.timeout);
    this.connectTimer = setTimeout(this.onConnectTimeout, o.connectTimeout);
    this.socket.once('connect', this.onConnect);
    this.socket.on('data', this.onData);
    this.socket.on('end', this.onEnd);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
    this.socket.on('timeout', this.onTimeout);
    this.socket.on('drain', this.onDrain);
  }

  /** Lend the connection to `user` for one request. */
  attach(user: PoolUser, headRequest: boolean): void {
    this.user = user;
    this.requestSent = false;
    this.lastResponse = false;
    this.parser.start(this, headRequest);
    user.attached(this);
  }

  /** Write request bytes; false when the socket's buffer is full (wait for `drained`). */
  write(data: string | Buffer, encoding?: BufferEncoding): boolean {
    return encoding === undefined ? this.socket.write(data) : this.socket.write(data, encoding);
  }

  /** Close it, whatever it was doing; its user hears nothing more. */
  destroy(err?: Error): void {
    this.user = undefined;
    this.parser.detach();
    this.socket.destroy(err);
  }

  responseHead(head: ResponseHead): void {
    if (!head.keepAlive) this.lastResponse = true;
    else if (head.keepAliveMs !== undefined)
      this.idleLimit = Math.min(this.pool.options.freeSocketTimeout, head.keepAliveMs - HINT_MARGIN);
    this.user?.responseHead(head);
  }

  responseBody(chunk: Buffer, last: boolean): void {
    this.user?.responseBody(chunk, last);
  }

  responseEnd(): void {
    this.user?.responseEnd();
  }

  private readonly onConnect = (): void => {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  };

  private readonly onConnectTimeout = (): void => {
    this.connectTimer = undefined;
    this.socket.destroy(new ConnectTimeoutError(this.pool.options.connectTimeout));
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.user === undefined) return void this.socket.destroy();
    try {
      this.parser.execute(chunk);
    } catch (err) {
      return this.fail(err as NodeJS.ErrnoException, err instanceof ResponseParseError);
    }
    if (this.parser.complete && this.user !== undefined) this.responseEnded();
  };

  /** The response is complete: back to the pool when the connection can carry another. */
  private responseEnded(): void {
    this.user = undefined;
    this.parser.detach();
    const reusable = this.requestSent && !this.lastResponse && !this.parser.excess && this.idleLimit > 0;
    // Bytes already read past the response (held while paused) would be taken for the next one.
    if (!reusable || this.socket.destroyed || this.socket.readableLength > 0)
      return void this.socket.destroy();
    // The response can end in the same read whose earlier slices paused the socket for a
    // slow client; the next request must find it flowing.
    if (this.socket.isPaused()) this.socket.resume();
    this.pool.release(this);
  }

  /** `fromUpstream`: false for an error thrown by the user's own handling (never retried). */
  private fail(err: NodeJS.ErrnoException, fromUpstream = true): void {
    const user = this.user;
    const stale = fromUpstream && this.reused && !this.parser.started;
    this.destroy();
    user?.failed(err, stale);
  }

  private readonly onEnd = (): void => {
    // next-hop closed an idle connection: out of the pool now, not when 'close' comes a turn later.
    if (this.user === undefined) return this.pool.drop(this);
    // A body that runs until the connection closes ends here.
    this.parser.finish();
    if (this.parser.complete && this.user !== undefined) this.responseEnded();
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    this.error ??= err;
  };

  private readonly onClose = (): void => {
    clearTimeout(this.connectTimer);
    this.pool.forget(this);
    if (this.user !== undefined) this.fail(this.error ?? hangUp());
  };

  private readonly onTimeout = (): void => {
    if (this.user === undefined) return void this.socket.destroy();
    this.socket.destroy(silenceError(this.pool.options.timeout));
  };

  private readonly onDrain = (): void => {
    this.user?.drained();
  };
}

/**
 * The proxy's connections to next-hop: at most `maxSockets` in use, idle ones reused
 * most-recent-first (so surplus ones age out) and closed after `freeSocketTimeout` or just
 * before the upstream's own `Keep-Alive: timeout` hint, whichever is shorter. Idle
 * connections do not keep the process alive.
 */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  private readonly queue: Array<{ user: PoolUser; headRequest: boolean }> = [];
  private busy = 0;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(readonly options: PoolOptions) {}

  /** Lend a connection to `user` now, or as soon as one is free. */
  acquire(user: PoolUser, headRequest: boolean): void {
    const conn = this.idleConnection();
    if (conn !== undefined) {
      this.busy++;
      conn.socket.ref();
      return conn.attach(user, headRequest);
    }
    if (this.busy < this.options.maxSockets) {
      this.busy++;
      return new UpstreamConnection(this).attach(user, headRequest);
    }
    this.queue.push({ user, headRequest });
  }

  /** Take `user` out of the queue (its client left before a connection came free). */
  abandon(user: object): void {
    const i = this.queue.findIndex((entry) => entry.user === user);
    if (i !== -1) this.queue.splice(i, 1);
  }

  stats(): PoolStats {
    return { busy: this.busy, idle: this.idle.length, queued: this.queue.length };
  }

  private idleConnection(): UpstreamConnection | undefined {
    const now = Date.now();
    for (let conn = this.idle.pop(); conn !== undefined; conn = this.idle.pop()) {
      if (now - conn.idleSince < conn.idleLimit && conn.socket.writable) {
        conn.place = Place.Busy;
        return conn;
      }
      conn.place = Place.Gone;
      conn.destroy();
    }
    return undefined;
  }

  /** A connection finished its response and can carry another request. */
  release(conn: UpstreamConnection): void {
    conn.reused = true;
    const next = this.queue.shift();
    if (next !== undefined) return conn.attach(next.user, next.headRequest);
    this.busy--;
    conn.place = Place.Idle;
    conn.idleSince = Date.now();
    conn.socket.unref();
    this.idle.push(conn);
    this.sweepTimer ??= setTimeout(this.sweep, conn.idleLimit).unref();
  }

  /** Close an idle connection and take it out of the pool at once. */
  drop(conn: UpstreamConnection): void {
    if (conn.place === Place.Idle) this.idle.splice(this.idle.indexOf(conn), 1);
    if (conn.place !== Place.Busy) conn.place = Place.Gone;
    conn.destroy();
  }

  /** A connection closed: it no longer counts, and a queued request may open a new one. */
  forget(conn: UpstreamConnection): void {
    const place = conn.place;
    conn.place = Place.Gone;
    if (place === Place.Gone) return;
    if (place === Place.Idle) {
      this.idle.splice(this.idle.indexOf(conn), 1);
      return;
    }
    this.busy--;
    const next = this.queue.shift();
    if (next !== undefined) {
      this.busy++;
      new UpstreamConnection(this).attach(next.user, next.headRequest);
    }
  }

  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    const now = Date.now();
    let wait = Infinity;
    for (const conn of [...this.idle]) {
      const left = conn.idleLimit - (now - conn.idleSince);
      if (left <= 0) conn.destroy();
      else wait = Math.min(wait, left);
    }
    if (wait !== Infinity) this.sweepTimer = setTimeout(this.sweep, wait).unref();
  };
}
