import cluster from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as Winston from 'winston';
import type { Logger } from 'winston';
import { checkOptions, optionNames, suggestion } from './check-options';
import { DEFAULT_LOG_DIR, LOG_LEVELS, WORKER_ID_ENV, type LogLevel } from './config';
import { NexthopError } from './errors';
import { acquireLineFile, type LineFile } from './line-file';
import { consoleFormat, directLines, lineFormat, loadWinston, normalize } from './log-format';

export type { Logger } from 'winston';

/** winston stores the formatted line under this symbol (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

/** Default size in bytes at which a log file is rotated: 20 MiB. */
export const DEFAULT_LOG_MAX_SIZE = 20 * 1024 * 1024;
/** Default number of rotated files kept per log (`access.log.1` … `access.log.5`). */
export const DEFAULT_LOG_MAX_FILES = 5;
/** Default longest time in ms a line waits in memory before it is written. */
export const DEFAULT_LOG_FLUSH_INTERVAL = 100;
/**
 * Environment variable a cluster primary sets for each worker (e.g. `w1`, `w2`): the
 * worker then writes `access.w1.log`, `app.w1.log`, `error.w1.log`, so no two processes
 * ever write or rotate the same file. No two live processes may share a value.
 */
export const LOG_SUFFIX_ENV = 'NEXTHOP_LOG_SUFFIX';

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Folder for the log files; created when missing. @default '/var/log/nodejs' (or `LOG_DIR`) */
  dir?: string;
  /** Lowest level written to `app.log` and stdout. @default 'info' (or `LOG_LEVEL`) */
  level?: LogLevel;
  /**
   * The concise stdout stream that `sectionctl logs` shows: `'pretty'` (one short line,
   * coloured unless `NO_COLOR` is set), `'json'` (one JSON object a line), `false` (none).
   * @default 'pretty' when stdout is a TTY, else 'json'
   */
  console?: 'pretty' | 'json' | false;
  /** Write the files at all. `false` keeps only stdout (tests, one-off scripts). @default true */
  files?: boolean;
  /** Rotate a file when it would grow past this many bytes (at a line boundary). @default 20971520 (20 MiB) */
  maxSize?: number;
  /** Rotated files kept per log; older ones are deleted. `0` keeps none. @default 5 */
  maxFiles?: number;
  /** Longest time in ms a line waits in memory before it is written (error.log never waits). @default 100 */
  flushInterval?: number;
  /**
   * Per-process file name part: `'w1'` gives `access.w1.log`, `app.w1.log`, `error.w1.log`.
   * Letters, digits, `-` and `_`, at most 32.
   * @default `NEXTHOP_LOG_SUFFIX` (plus `-worker-<id>` in a worker of serve()'s cluster), else
   * `worker-<id>` in a cluster worker, else none
   * @example createLogger({ suffix: `w${slot}` })
   */
  suffix?: string;
}

/**
 * Where the access-log middleware writes: pre-formatted lines, no winston pipeline.
 * @example const sink: LineSink = { write: (line) => process.stdout.write(line) };
 */
export interface LineSink {
  /** Append one line ending with "\n". */
  write(line: string): void;
}

const ACCESS_SINK = Symbol('nexthop.accessSink');
const FILES = Symbol('nexthop.files');

interface LoggerInternals {
  [ACCESS_SINK]?: LineSink;
  [FILES]?: LineFile[];
}

// winston exports the transport base class at runtime as `Transport`, typed as `transport`.
type TransportClass = new (opts?: { level?: string }) => Winston.transport;
type FileLineTransportClass = new (file: LineFile, level?: string) => Winston.transport;
let FileLineTransport: FileLineTransportClass | undefined;

/**
 * A winston transport that appends each formatted line to a {@link LineFile} (the class is
 * made when winston is first loaded).
 * @example fileLineTransport(acquireLineFile('/var/log/nodejs/app.log', options), 'info')
 */
function fileLineTransport(file: LineFile, level?: string): Winston.transport {
  FileLineTransport ??= class FileLineTransport extends (
    (loadWinston() as unknown as { Transport: TransportClass }).Transport
  ) {
    readonly file: LineFile;

    constructor(file: LineFile, level?: string) {
      super({ level });
      this.file = file;
    }

    override log(info: Record<string | symbol, unknown>, callback: () => void): void {
      this.file.write(`${info[MESSAGE] as string}\n`);
      callback();
    }
  };
  return new FileLineTransport(file, level);
}

/**
 * Make sure `dir` exists and this process can append to files in it — before the port
 * opens, because winston silently drops every line when it cannot write.
 *
 * @throws NexthopError `ERR_NEXTHOP_LOG_DIR` naming the folder, the OS error and the fix.
 * @example prepareLogDir('/var/log/nodejs', ['app.log']);
 */
export function prepareLogDir(dir: string, files: readonly string[] = []): void {
  const fail = (err: NodeJS.ErrnoException, what: string): never => {
    const notAFolder = err.code === 'EEXIST' || err.code === 'ENOTDIR';
    const fix = notAFolder
      ? 'Set LOG_DIR to a folder (e.g. LOG_DIR=./logs) or move the file out of the way.'
      : 'Set LOG_DIR to a writable folder (e.g. LOG_DIR=./logs) or fix its permissions ' +
        `(e.g. mkdir -p ${dir} && chown "$(id -u)" ${dir}).`;
    throw new NexthopError(
      'ERR_NEXTHOP_LOG_DIR',
      `cannot write logs to "${dir}": ${notAFolder ? 'a file is in the way, not a folder' : what} ` +
        `(${err.message}). ${fix}`,
      { cause: err },
    );
  };
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    fail(err as NodeJS.ErrnoException, 'the folder cannot be created');
  }
  // Probe with a real append: access(W_OK) says yes for root on read-only mounts.
  const probe = path.join(dir, `.nexthop-probe-${process.pid}`);
  try {
    fs.closeSync(fs.openSync(probe, 'a'));
    fs.unlinkSync(probe);
  } catch (err) {
    fail(err as NodeJS.ErrnoException, 'the folder is not writable');
  }
  for (const name of files) {
    try {
      fs.closeSync(fs.openSync(path.join(dir, name), 'a'));
    } catch (err) {
      fail(err as NodeJS.ErrnoException, `${name} cannot be appended to`);
    }
  }
}

function checkCount(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`nexthop createLogger: ${name} must be an integer, got ${String(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`nexthop createLogger: ${name} must be from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * The file-name suffix of a process that sets none itself: `NEXTHOP_LOG_SUFFIX`, else
 * `worker-<id>` in a cluster worker. A worker forked by serve()'s supervisor inherits the
 * primary's environment, so a suffix set for the whole cluster gets the worker's part too
 * (`w7-worker-1`): two processes never share a file (each rotates its own).
 */
function defaultSuffix(fromEnv: string): string {
  const worker = cluster.isWorker && cluster.worker ? `worker-${cluster.worker.id}` : '';
  if (fromEnv === '') return worker;
  return worker !== '' && process.env[WORKER_ID_ENV] !== undefined ? `${fromEnv}-${worker}` : fromEnv;
}

const KNOWN_OPTIONS = optionNames<LoggerOptions>({
  dir: true,
  level: true,
  console: true,
  files: true,
  maxSize: true,
  maxFiles: true,
  flushInterval: true,
  suffix: true,
});

function compile(options: Readonly<LoggerOptions>) {
  checkOptions('createLogger', options, KNOWN_OPTIONS);
  const level = options.level ?? ((process.env.LOG_LEVEL?.trim().toLowerCase() || 'info') as LogLevel);
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new RangeError(
      `nexthop createLogger: level "${String(level)}"${suggestion(String(level), LOG_LEVELS)} is not one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  const consoleMode = options.console ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (consoleMode !== 'pretty' && consoleMode !== 'json' && consoleMode !== false) {
    throw new RangeError(
      `nexthop createLogger: console must be 'pretty', 'json' or false, got ${String(consoleMode)}`,
    );
  }
  const given = options.suffix ?? process.env[LOG_SUFFIX_ENV] ?? '';
  if (typeof given !== 'string' || (given !== '' && !/^[A-Za-z0-9_-]{1,32}$/.test(given))) {
    const source = options.suffix === undefined ? ` (from ${LOG_SUFFIX_ENV})` : '';
    throw new RangeError(
      `nexthop createLogger: suffix ${JSON.stringify(given)}${source} must be 1-32 letters, digits, "-" or "_" (e.g. "w1")`,
    );
  }
  const suffix = options.suffix ?? defaultSuffix(given);
  if (options.dir !== undefined && (typeof options.dir !== 'string' || options.dir.trim() === '')) {
    throw new TypeError(
      `nexthop createLogger: dir must be a folder path, e.g. './logs', got ${String(options.dir)}`,
    );
  }
  if (options.files !== undefined && typeof options.files !== 'boolean') {
    throw new TypeError(`nexthop createLogger: files must be true or false, got ${String(options.files)}`);
  }
  return {
    dir: path.resolve(options.dir ?? (process.env.LOG_DIR || DEFAULT_LOG_DIR)),
    level,
    consoleMode,
    files: options.files ?? true,
    suffix,
    rotation: {
      maxSize: checkCount('maxSize', options.maxSize, DEFAULT_LOG_MAX_SIZE, 1024, Number.MAX_SAFE_INTEGER),
      maxFiles: checkCount('maxFiles', options.maxFiles, DEFAULT_LOG_MAX_FILES, 0, 1000),
      flushInterval: checkCount(
        'flushInterval',
        options.flushInterval,
        DEFAULT_LOG_FLUSH_INTERVAL,
        1,
        60_000,
      ),
    },
  };
}

/** `app.log` → `app.w1.log` for suffix `w1`. */
function fileName(base: string, suffix: string): string {
  return suffix ? `${base}.${suffix}.log` : `${base}.log`;
}

/**
 * Create nexthop's logger: `app.log` (level and above), `error.log` (errors with their
 * stack) and `access.log` (written by {@link accessLog}, one JSON line per request) under
 * the log folder, plus a concise stdout stream. The folder is checked first (see
 * {@link prepareLogDir}); files rotate by size and stay bounded.
 *
 * @example
 * const logger = createLogger({ dir: './logs', level: 'debug' });
 * logger.info('ready', { port: 8080 });
 */
export function createLogger(options: Readonly<LoggerOptions> = {}): Logger {
  const c = compile(options);
  const files: LineFile[] = [];
  if (c.files) {
    const names = ['access', 'app', 'error'].map((base) => fileName(base, c.suffix));
    prepareLogDir(c.dir, names);
    const [access, app, error] = names.map((name, i) =>
      acquireLineFile(path.join(c.dir, name), { ...c.rotation, immediate: i === 2 }),
    );
    files.push(access, app, error);
  }
  const internals: LoggerInternals = {
    [FILES]: files,
    [ACCESS_SINK]: files[0] ?? (c.consoleMode ? process.stdout : undefined),
  };
  const color = c.consoleMode === 'pretty' && !process.env.NO_COLOR;
  // Lines of the plain shapes (the lifecycle lines serve() writes at `info`) are written here
  // exactly as winston's pipeline below would write them, so they do not load winston.
  const direct: DirectWriter = (level, args) => {
    const lines = directLines(level, args, color);
    if (lines === undefined) return false;
    if (files.length > 0) {
      files[1].write(`${lines.json}\n`);
      if (level === 'error') files[2].write(`${lines.json}\n`);
    }
    if (c.consoleMode)
      process.stdout.write(`${c.consoleMode === 'json' ? lines.json : lines.pretty()}${os.EOL}`);
    return true;
  };
  return lazyLogger(
    c.level,
    internals,
    () => {
      const winston = loadWinston();
      const transports: Winston.transport[] = [];
      if (files.length > 0)
        transports.push(fileLineTransport(files[1]), fileLineTransport(files[2], 'error'));
      if (c.consoleMode) {
        transports.push(new winston.transports.Console({ format: consoleFormat(c.consoleMode, color) }));
      }
      const logger = winston.createLogger({
        level: c.level,
        format: winston.format.combine(normalize(), lineFormat()),
        transports,
        exitOnError: false,
      });
      // Loggers with no transport at all would make winston warn on every line.
      if (transports.length === 0) logger.silent = true;
      // Child loggers (Object.create of this one) find the same files and access sink.
      for (const key of [FILES, ACCESS_SINK] as const) {
        Object.defineProperty(logger, key, { get: () => internals[key], enumerable: false });
      }
      return logger;
    },
    direct,
  );
}

/** Writes one line of a call's arguments without winston; false when it cannot (see directLines). */
type DirectWriter = (level: string, args: readonly unknown[]) => boolean;

const LEVEL_RANK: ReadonlyMap<string, number> = new Map(LOG_LEVELS.map((level, rank) => [level, rank]));

/** What a lazy logger and its lazy children share: the level, and whether winston is in use. */
interface LazyRoot {
  readonly threshold: number;
  built: boolean;
}

/**
 * The winston logger `build()` makes, built on first real use. Until then, a call of a level
 * method below the level (`logger.debug()` at `info`) is a no-op, as winston's would be, and
 * `child()` returns another such stand-in (`req.log` makes one per request), and a root
 * logger's line of a plain shape (`logger.info('listening', { port })`) is written by
 * `direct` as winston would write it: winston is not loaded at all, so start-up does not pay
 * for it (about 20 ms). Anything else (another call shape, a child's line, `add()`,
 * `level = …`, events, `instanceof`) builds the logger and goes to it, so the object behaves
 * as the winston Logger it stands for.
 */
function lazyLogger(
  root: LazyRoot | LogLevel,
  internals: LoggerInternals,
  build: () => Logger,
  direct?: DirectWriter,
): Logger {
  const shared: LazyRoot =
    typeof root === 'string' ? { threshold: LEVEL_RANK.get(root) ?? 2, built: false } : root;
  let real: Logger | undefined;
  const methods = new Map<PropertyKey, { from: unknown; bound: unknown }>();
  const directMethods = new Map<string, (...args: unknown[]) => Logger>();
  /** `logger.<level>` before winston is built: the line written directly when its shape allows. */
  const directMethod = (level: string, write: DirectWriter): ((...args: unknown[]) => Logger) => {
    let method = directMethods.get(level);
    if (method === undefined) {
      method = (...args: unknown[]): Logger => {
        // A reference taken before winston was built still goes to it once it is.
        if (real !== undefined || shared.built || !write(level, args)) {
          const logger = load();
          (logger[level as LogLevel] as (...a: unknown[]) => unknown)(...args);
        }
        return proxy;
      };
      directMethods.set(level, method);
    }
    return method;
  };
  const load = (): Logger => {
    if (real === undefined) {
      real = build();
      shared.built = true;
    }
    return real;
  };
  const own = (key: PropertyKey): key is typeof FILES | typeof ACCESS_SINK =>
    key === FILES || key === ACCESS_SINK;
  const proxy: Logger = new Proxy(internals as unknown as Logger, {
    get(target, key) {
      if (own(key)) return (target as unknown as LoggerInternals)[key];
      if (real === undefined && !shared.built) {
        if (key === 'child') return lazyChild;
        const rank = typeof key === 'string' ? LEVEL_RANK.get(key) : undefined;
        if (rank !== undefined && rank > shared.threshold) return skipLine;
        if (rank !== undefined && direct !== undefined) return directMethod(key as string, direct);
      }
      const logger = load();
      const value: unknown = Reflect.get(logger, key, logger);
      if (typeof value !== 'function') return value;
      // Methods run on the winston logger itself (its streams and events keep their `this`).
      const cached = methods.get(key);
      if (cached !== undefined && cached.from === value) return cached.bound;
      const bound = (value as (...args: unknown[]) => unknown).bind(logger);
      methods.set(key, { from: value, bound });
      return bound;
    },
    set(target, key, value) {
      if (own(key)) return Reflect.set(target, key, value);
      return Reflect.set(load(), key, value);
    },
    has: (_target, key) => own(key) || Reflect.has(load(), key),
    ownKeys: (target) => [...Reflect.ownKeys(load()), ...Reflect.ownKeys(target)],
    getOwnPropertyDescriptor(target, key) {
      if (own(key)) return Reflect.getOwnPropertyDescriptor(target, key);
      const found = Reflect.getOwnPropertyDescriptor(load(), key);
      return found && { ...found, configurable: true };
    },
    defineProperty: (target, key, descriptor) =>
      Reflect.defineProperty(own(key) ? target : load(), key, descriptor),
    deleteProperty: (target, key) => Reflect.deleteProperty(own(key) ? target : load(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(load()),
  });
  function skipLine(): Logger {
    return proxy;
  }
  function lazyChild(meta: object): Logger {
    return lazyLogger(shared, internals, () => load().child(meta));
  }
  return proxy;
}

/**
 * Where access lines of `logger` go: its `access.log`, stdout when it has no files, or
 * undefined when it has neither. Child loggers share their parent's.
 * @example accessSinkOf(logger)?.write('{"method":"GET"}\n');
 */
export function accessSinkOf(logger: Logger): LineSink | undefined {
  return (logger as unknown as LoggerInternals)[ACCESS_SINK];
}

/**
 * Flush every file of `logger` and close it. Resolves when all lines are handed to the
 * OS; `serve()` awaits it before the process exits. A line logged afterwards is still
 * appended (synchronously), never dropped.
 *
 * @example await closeLogger(logger);
 */
export async function closeLogger(logger: Logger): Promise<void> {
  // winston hands lines through its stream pipeline: let any queued one arrive first.
  await new Promise((resolve) => setImmediate(resolve));
  const internals = logger as unknown as LoggerInternals;
  const files = internals[FILES] ?? [];
  internals[FILES] = [];
  for (const file of files) file.release();
}

let root: Logger | undefined;
let fallback: Logger | undefined;

function currentRoot(): Logger {
  if (root) return root;
  fallback ??= createLogger({ files: false });
  return fallback;
}

/**
 * Point the exported root {@link logger} at `target` (createApp and serve do it with the
 * app's logger).
 * @example setRootLogger(createLogger({ dir: './logs' }));
 */
export function setRootLogger(target: Logger): void {
  root = target;
}

/**
 * The process's root logger, for app code outside a request. It writes through the
 * logger of the latest `createApp()` (its files and stdout); before any app exists it
 * writes to stdout only. In a request, prefer `req.log` (it carries the request id).
 *
 * @example
 * import { logger } from 'nexthop';
 * logger.warn('cache cold', { entries: 0 });
 */
export const logger: Logger = new Proxy({} as Logger, {
  get(_target, key) {
    const target = currentRoot();
    const value: unknown = Reflect.get(target, key, target);
    return typeof value === 'function' ? value.bind(target) : value;
  },
  set: (_target, key, value) => Reflect.set(currentRoot(), key, value),
  has: (_target, key) => Reflect.has(currentRoot(), key),
});

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * A child of the app's logger whose lines carry this request's `requestId`
       * (apps made by `createApp`).
       * @example req.log.info('cart updated', { items: 3 });
       */
      log: Logger;
    }
  }
}

const REQUEST_LOG = Symbol('nexthop.requestLog');

interface RequestLogCache {
  id: unknown;
  log: Logger;
}

/**
 * Give every request of an app a lazy `req.log`: built on first use (no cost for requests
 * that do not log), rebuilt if `req.id` changes after it was first read.
 * @example installRequestLog(app.request, logger); // createApp does this
 */
export function installRequestLog(requestPrototype: object, base: Logger): void {
  Object.defineProperty(requestPrototype, 'log', {
    configurable: true,
    enumerable: false,
    get(this: { id?: unknown; [REQUEST_LOG]?: RequestLogCache }): Logger {
      const id = this.id;
      const cached = this[REQUEST_LOG];
      if (cached && cached.id === id) return cached.log;
      const log = id === undefined ? base : base.child({ requestId: id });
      this[REQUEST_LOG] = { id, log };
      return log;
    },
    set(this: object, value: Logger) {
      Object.defineProperty(this, 'log', { value, writable: true, configurable: true, enumerable: true });
    },
  });
}
