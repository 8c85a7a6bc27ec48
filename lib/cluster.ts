import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { debuglog } from 'node:util';
import { WORKER_ID_ENV } from './config';
import { NexthopError } from './errors';
import { closeLogger, type Logger } from './logger';

const debug = debuglog('nexthop:cluster');

/**
 * How the primary replaces workers that exit unexpectedly (PM2's exponential backoff):
 * wait `initialDelay`, then ×`factor` per further exit up to `maxDelay`; back to
 * `initialDelay` once a worker has served for `resetAfter` ms. Before any worker has
 * ever listened, `maxStartupFailures` exits in a row end the primary (exit 1).
 */
export interface RestartPolicy {
  readonly initialDelay: number;
  readonly factor: number;
  readonly maxDelay: number;
  readonly resetAfter: number;
  readonly maxStartupFailures: number;
}

export const RESTART_POLICY: RestartPolicy = Object.freeze({
  initialDelay: 100,
  factor: 1.5,
  maxDelay: 15_000,
  resetAfter: 30_000,
  maxStartupFailures: 5,
});

export { WORKER_ID_ENV } from './config';

/** Extra time the primary gives workers beyond their own drain + shutdown timeout before SIGKILL. */
const KILL_MARGIN = 5_000;

type ShutdownMessage = { nexthop: 'shutdown'; drain: boolean };
type ReplaceMessage = { nexthop: 'replace'; reason: string };
/** A worker that stopped listening asks before exiting; the primary's answer is `bye-ack`. */
type ByeMessage = { nexthop: 'bye' | 'bye-ack' };

/** How long a worker waits for `bye-ack` before it exits anyway. */
const BYE_TIMEOUT = 1_000;

function isMessage<T extends { nexthop: string }>(msg: unknown, kind: T['nexthop']): msg is T {
  return typeof msg === 'object' && msg !== null && (msg as { nexthop?: unknown }).nexthop === kind;
}

/**
 * Validate `workers` (option or `WEB_CONCURRENCY`): a count from 1 to 1024 or `'auto'`
 * (one per core, `os.availableParallelism()`). `undefined` means a single process.
 */
export function resolveWorkers(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (value === 'auto') return os.availableParallelism();
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(
      `nexthop serve: workers must be an integer or "auto", got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  if (value < 1 || value > 1024) {
    throw new RangeError(`nexthop serve: workers must be from 1 to 1024 (or "auto"), got ${value}`);
  }
  return value;
}

/** True in a process forked by {@link supervise}. */
export function isSupervisedWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ID_ENV] !== undefined;
}

export interface SupervisorOptions {
  workers: number;
  logger: Logger;
  /** Given to workers on SIGTERM/SIGINT: serve's drainDelay and shutdownTimeout. */
  drainDelay: number;
  shutdownTimeout: number;
  /** Exit the primary with code 1 on a start-up crash loop (false: reject instead). */
  exitOnCrashLoop: boolean;
  policy?: RestartPolicy;
}

export interface Supervisor {
  /** The port the workers listen on (known once the first one listens). */
  readonly port: number;
  /** Process ids of the workers currently running. */
  pids(): number[];
  /** Drain every worker (same guarantees as serve's shutdown) and wait for all to exit. */
  close(): Promise<void>;
  /** Settles once every initial worker listens (rejects on a start-up crash loop). */
  readonly ready: Promise<void>;
}

interface WorkerState {
  slot: Slot;
  ready: boolean;
  /** 'doomed': asked for a replacement, still serving; 'retiring': told to shut down. */
  leaving?: 'doomed' | 'retiring';
  stableTimer?: NodeJS.Timeout;
}
interface Slot {
  id: number;
  worker?: Worker;
  timer?: NodeJS.Timeout;
}

function describeExit(code: number | null, signal: string | null): string {
  return signal ? `signal ${signal}` : `code ${String(code)}`;
}

function send(worker: Worker, msg: ShutdownMessage): void {
  if (worker.isConnected()) worker.send(msg);
  else worker.process.kill('SIGTERM');
}

/**
 * The cluster primary's state: one slot per worker id, the workers running (a slot briefly
 * holds two during a hand-over) and the restart backoff.
 */
class ClusterSupervisor implements Supervisor {
  readonly ready: Promise<void>;
  private readonly slots: Slot[];
  private readonly states = new Map<Worker, WorkerState>();
  private readonly policy: RestartPolicy;
  private readonly logger: Logger;
  private delay: number;
  private startupFailures = 0;
  private everReady = false;
  private boundPort = 0;
  private stopping: Promise<void> | undefined;
  private started!: { resolve: () => void; reject: (e: Error) => void };

  constructor(private readonly options: SupervisorOptions) {
    this.logger = options.logger;
    this.policy = options.policy ?? RESTART_POLICY;
    this.delay = this.policy.initialDelay;
    this.slots = Array.from({ length: options.workers }, (_, i) => ({ id: i + 1 }));
    this.ready = new Promise<void>((resolve, reject) => (this.started = { resolve, reject }));
  }

  get port(): number {
    return this.boundPort;
  }

  pids(): number[] {
    return [...this.states.keys()].map((w) => w.process.pid ?? 0);
  }

  close(): Promise<void> {
    return (this.stopping ??= this.stopAll());
  }

  start(): void {
    this.logger.info(`cluster primary: starting ${this.slots.length} workers`, {
      workers: this.slots.length,
      pid: process.pid,
    });
    for (const slot of this.slots) this.fork(slot);
  }

  private fork(slot: Slot): void {
    const worker = cluster.fork({ [WORKER_ID_ENV]: String(slot.id) });
    const state: WorkerState = { slot, ready: false };
    this.states.set(worker, state);
    slot.worker = worker;
    debug('forked worker %d (pid %d)', slot.id, worker.process.pid);
    worker.on('error', (err) => debug('worker %d ipc error %s', slot.id, err.message));
    worker.on('listening', (address) => this.onListening(worker, state, address.port));
    worker.on('message', (msg: unknown) => this.onMessage(worker, state, msg));
    worker.on('exit', (code, signal) => this.onExit(worker, state, code, signal));
  }

  private schedule(slot: Slot): void {
    if (slot.timer || this.stopping) return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * this.policy.factor, this.policy.maxDelay);
    this.logger.warn(`worker ${slot.id}: starting a replacement in ${Math.round(wait)} ms`, {
      worker: slot.id,
      delay: Math.round(wait),
    });
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (!this.stopping) this.fork(slot);
    }, wait);
  }

  private onListening(worker: Worker, state: WorkerState, boundPort: number): void {
    if (state.ready || this.stopping) return;
    state.ready = true;
    this.everReady = true;
    this.startupFailures = 0;
    this.boundPort = boundPort;
    this.logger.info(`worker ${state.slot.id} ready`, {
      worker: state.slot.id,
      pid: worker.process.pid,
      port: boundPort,
    });
    state.stableTimer = setTimeout(() => {
      this.delay = this.policy.initialDelay;
    }, this.policy.resetAfter);
    state.stableTimer.unref();
    // The replacement listens: the faulty worker it replaces may now stop accepting.
    for (const [other, s] of this.states) {
      if (s.slot === state.slot && s.leaving === 'doomed') {
        s.leaving = 'retiring';
        send(other, { nexthop: 'shutdown', drain: false });
      }
    }
    if (this.slots.every((s) => s.worker && this.states.get(s.worker)?.ready)) this.started.resolve();
  }

  private onMessage(worker: Worker, state: WorkerState, msg: unknown): void {
    // The IPC channel is ordered: by the time this arrives, the worker's own "stopped
    // listening" message has been handled, so no connection is sent its way any more, and
    // any connection sent before reaches it ahead of this answer (it hands those back).
    if (isMessage<ByeMessage>(msg, 'bye'))
      return void (worker.isConnected() && worker.send({ nexthop: 'bye-ack' }));
    if (!isMessage<ReplaceMessage>(msg, 'replace')) return;
    if (this.stopping) return send(worker, { nexthop: 'shutdown', drain: true });
    if (state.leaving || state.slot.worker !== worker) return;
    this.logger.warn(
      `worker ${state.slot.id}: ${msg.reason}; it keeps serving until its replacement listens`,
      {
        worker: state.slot.id,
        pid: worker.process.pid,
      },
    );
    state.leaving = 'doomed';
    state.slot.worker = undefined;
    this.schedule(state.slot);
  }

  private onExit(worker: Worker, state: WorkerState, code: number | null, signal: string | null): void {
    this.states.delete(worker);
    clearTimeout(state.stableTimer);
    const { slot } = state;
    if (slot.worker === worker) slot.worker = undefined;
    if (this.stopping) return;
    if (state.leaving) {
      this.logger.info(`worker ${slot.id} retired (${describeExit(code, signal)})`, { worker: slot.id });
      // Doomed but died before its replacement listened: the replacement is already scheduled.
      return;
    }
    this.logger.error(
      `worker ${slot.id} (pid ${worker.process.pid}) exited unexpectedly (${describeExit(code, signal)})`,
      { worker: slot.id, code, signal },
    );
    if (!this.everReady && ++this.startupFailures >= this.policy.maxStartupFailures) {
      return this.crashLoop(code, signal);
    }
    this.schedule(slot);
  }

  private crashLoop(code: number | null, signal: string | null): void {
    const err = new NexthopError(
      'ERR_NEXTHOP_WORKER_CRASH_LOOP',
      `nexthop cluster: ${this.startupFailures} workers in a row exited (last: ${describeExit(code, signal)}) ` +
        'before any of them listened; giving up. The cause is in the worker output above ' +
        '(e.g. a bad environment variable, the port in use, or an exception at start-up).',
    );
    this.logger.error(err.message, { code: err.code });
    void this.close().then(() => {
      if (!this.options.exitOnCrashLoop) return this.started.reject(err);
      process.stderr.write(`nexthop [${err.code}]: ${err.message}\n`);
      process.exit(1);
    });
  }

  private async stopAll(): Promise<void> {
    for (const slot of this.slots) clearTimeout(slot.timer);
    const exits = [...this.states.keys()].map((w) => new Promise((resolve) => w.once('exit', resolve)));
    this.logger.info(`stopping ${exits.length} workers`, { drainDelay: this.options.drainDelay });
    for (const [worker, state] of this.states) {
      if (state.ready) send(worker, { nexthop: 'shutdown', drain: true });
      else worker.process.kill('SIGTERM');
    }
    const killer = setTimeout(
      () => {
        this.logger.warn('workers did not exit in time; killing them');
        for (const worker of this.states.keys()) worker.process.kill('SIGKILL');
      },
      this.options.drainDelay + this.options.shutdownTimeout + KILL_MARGIN,
    );
    await Promise.all(exits);
    clearTimeout(killer);
    this.logger.info('all workers stopped');
    await closeLogger(this.logger);
  }
}

/**
 * Run in the cluster primary: fork `workers` processes running the same script (they
 * share the port through node:cluster), replace the ones that exit, hand over from a
 * faulty worker to its replacement, and drain them all on close. `ready` settles once
 * every initial worker listens.
 */
export function supervise(options: SupervisorOptions): Supervisor {
  const supervisor = new ClusterSupervisor(options);
  supervisor.start();
  return supervisor;
}

export interface WorkerHooks {
  /** Ask the primary for a replacement; resolves when this worker has shut down. */
  retire(reason: string): Promise<void>;
}

/**
 * Exiting right after the server closed can strand a connection the primary handed to this
 * worker just before it learnt the worker stopped listening: that connection would never
 * be answered. Wait for the primary to acknowledge first (it answers in channel order).
 */
function byePrimary(): Promise<void> {
  if (!process.connected || !process.send) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      process.off('message', onReply);
      process.off('disconnect', finish);
      resolve();
    };
    const onReply = (msg: unknown) => {
      if (isMessage<ByeMessage>(msg, 'bye-ack')) finish();
    };
    const timer = setTimeout(finish, BYE_TIMEOUT);
    process.on('message', onReply);
    process.once('disconnect', finish);
    process.send!({ nexthop: 'bye' } satisfies ByeMessage);
  });
}

/**
 * Run in a supervised worker after it listens. `shutdown(reason, drain)` is serve's graceful
 * shutdown. The primary's messages start it; so does the loss of the primary (SIGKILL):
 * a worker never keeps serving as an orphan.
 */
export function attachWorker(shutdown: (reason: string, drain: boolean) => Promise<void>): WorkerHooks {
  const id = process.env[WORKER_ID_ENV];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  let started = false;
  const begin = (reason: string, drain: boolean): Promise<void> => {
    if (started) return finished;
    started = true;
    void shutdown(`worker ${id}: ${reason}`, drain)
      .then(() => byePrimary())
      .then(() => {
        done();
        process.exit(0);
      });
    return finished;
  };
  process.on('message', (msg: unknown) => {
    if (isMessage<ShutdownMessage>(msg, 'shutdown')) {
      void begin(msg.drain ? 'asked to stop by the primary' : 'its replacement listens', msg.drain);
    }
  });
  process.once('disconnect', () => void begin('lost the primary process (IPC channel closed)', false));
  let asked = false;
  return {
    retire(reason: string): Promise<void> {
      if (!process.connected) return begin(reason, false);
      if (!asked) process.send?.({ nexthop: 'replace', reason } satisfies ReplaceMessage);
      asked = true;
      // Settles once the primary's shutdown message (or the loss of the primary) has run its course.
      return finished;
    },
  };
}
