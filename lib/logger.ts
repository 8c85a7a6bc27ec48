import cluster from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import winston, { type Logger } from 'winston';
import TransportStream from 'winston-transport';
import { checkOptions, optionNames, suggestion } from './check-options';
import { DEFAULT_LOG_DIR, LOG_LEVELS, WORKER_ID_ENV, type LogLevel } from './config';
import { consoleStreams, noticeStdioTo } from './console-stream';
import { NexthopError } from './errors';
import { acquireLineFile, type LineFile } from './line-file';
import { consoleFormat, lineFormat, MESSAGE, normalize } from './log-format';

export type { Logger } from 'winston';

/** Default size in bytes at which a log file is rotated: 20 MiB. */
export const DEFAULT_LOG_MAX_SIZE = 20 * 1024 * 1024;
/** Default number of rotated files kept per log (`access.log.1` … `access.log.5`). */
export const DEFAULT_LOG_MAX_FILES = 5;
/** Default longest time in ms a line waits in memory before it is written. */
export const DEFAULT_LOG_FLUSH_INTERVAL = 100;
/**
 * Environment variable naming a process's files (e.g. `w1`: `access.w1.log`, `app.w1.log`,
 * `error.w1.log`), so no two processes write or rotate the same file. No two live processes
 * may share a value; a slot nexthop knows (`NODE_APP_INSTANCE`, serve()'s worker slot) is added.
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
  /** Write the files at all. `false` keeps only stdout (tests, short scripts). @default true */
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
   * @default `NEXTHOP_LOG_SUFFIX`, joined by the process's slot: `instance-<n>` under PM2
   * (`NODE_APP_INSTANCE`), `worker-<slot>` in a worker of serve()'s cluster; none for a
   * single process
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

/** What a logger and its children share: its files, and where access lines go. */
interface LoggerState {
  files: LineFile[];
  readonly access: LineSink | undefined;
  /** Notes the console lines dropped so far and stops notices about stdout/stderr to app.log. */
  unwatch: (() => void) | undefined;
}
const STATE = Symbol('nexthop.logger');
type WithState = { [STATE]?: LoggerState };

/** A winston transport that appends each formatted line to a {@link LineFile}. */
class LineFileTransport extends TransportStream {
  constructor(
    private readonly file: LineFile,
    level?: LogLevel,
  ) {
    super({ level });
  }

  override log(info: Record<symbol, unknown>, next: () => void): void {
    this.file.write(`${info[MESSAGE] as string}\n`);
    next();
  }
}

/** A winston transport for the concise stdout stream, written through the guarded stdout. */
class ConsoleTransport extends TransportStream {
  override log(info: Record<symbol, unknown>, next: () => void): void {
    consoleStreams().stdout.write(`${info[MESSAGE] as string}${os.EOL}`);
    next();
  }
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
  const attempt = (what: string, action: () => void): void => {
    try {
      action();
    } catch (err) {
      fail(err as NodeJS.ErrnoException, what);
    }
  };
  attempt('the folder cannot be created', () => makeFolder(dir));
  // Probe with a real append: access(W_OK) says yes for root on read-only mounts.
  const probe = path.join(dir, `.nexthop-probe-${process.pid}`);
  attempt('the folder is not writable', () => (fs.closeSync(fs.openSync(probe, 'a')), fs.unlinkSync(probe)));
  for (const name of files) {
    attempt(`${name} cannot be appended to`, () => fs.closeSync(fs.openSync(path.join(dir, name), 'a')));
  }
}

/**
 * `mkdir -p`, a level at a time. Node's `mkdirSync(dir, { recursive: true })` never returns
 * when a pseudo-filesystem answers ENOENT although the parent exists (`/proc/nope`, as root):
 * here that ENOENT is the error.
 */
function makeFolder(dir: string): void {
  const parent = path.dirname(dir);
  try {
    fs.mkdirSync(dir);
    return;
  } catch (err) {
    const { code } = err as NodeJS.ErrnoException;
    if (code === 'EEXIST' && fs.statSync(dir).isDirectory()) return;
    if (code !== 'ENOENT' || parent === dir || fs.existsSync(parent)) throw err;
  }
  makeFolder(parent);
  makeFolder(dir);
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
 * The file-name suffix of a process that names none itself: its stable slot, so N processes
 * always write N sets of files and a replacement appends to the files of the process it
 * replaces. `NODE_APP_INSTANCE` (PM2's instance number) gives `instance-<n>`; a worker of
 * serve()'s cluster adds `worker-<slot>` (its `NEXTHOP_WORKER_ID`, kept by replacements);
 * both follow `NEXTHOP_LOG_SUFFIX` when it is set (`w7-worker-1`). A plain node:cluster
 * worker with none of these has no stable slot: `worker-<cluster.worker.id>`.
 */
function defaultSuffix(fromEnv: string): string {
  const parts = [fromEnv];
  const instance = process.env.NODE_APP_INSTANCE;
  // PM2 sets a whole number; other tools (node-config) give the variable other meanings.
  if (instance !== undefined && /^\d{1,6}$/.test(instance)) parts.push(`instance-${instance}`);
  const slot = cluster.isWorker ? process.env[WORKER_ID_ENV] : undefined;
  if (slot !== undefined) parts.push(`worker-${slot}`);
  else if (cluster.isWorker && cluster.worker && parts.join('') === '')
    parts.push(`worker-${cluster.worker.id}`);
  return parts.filter(Boolean).join('-');
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

/** The access, app and error files of a logger, checked first (see {@link prepareLogDir}). */
function openFiles(c: ReturnType<typeof compile>): LineFile[] {
  const names = ['access', 'app', 'error'].map((base) =>
    c.suffix ? `${base}.${c.suffix}.log` : `${base}.log`,
  );
  prepareLogDir(c.dir, names);
  return names.map((name) =>
    acquireLineFile(path.join(c.dir, name), { ...c.rotation, immediate: name.startsWith('error.') }),
  );
}

/**
 * Create nexthop's logger, a winston Logger: `app.log` (level and above), `error.log`
 * (errors with their stack) and `access.log` (written by {@link accessLog}, one JSON line
 * per request) under the log folder, plus a concise stdout stream. The folder is checked
 * first (see {@link prepareLogDir}); files rotate by size and stay bounded.
 *
 * @example
 * const logger = createLogger({ dir: './logs', level: 'debug' });
 * logger.info('ready', { port: 8080 });
 */
export function createLogger(options: Readonly<LoggerOptions> = {}): Logger {
  // First: from here on, an error of stdout or stderr is handled, even one met at start-up.
  const { stdout } = consoleStreams();
  const c = compile(options);
  const files = c.files ? openFiles(c) : [];
  const transports: TransportStream[] =
    files.length > 0 ? [new LineFileTransport(files[1]), new LineFileTransport(files[2], 'error')] : [];
  if (c.consoleMode) {
    const color = c.consoleMode === 'pretty' && !process.env.NO_COLOR;
    transports.push(new ConsoleTransport({ format: consoleFormat(c.consoleMode, color) }));
  }
  const logger = winston.createLogger({
    level: c.level,
    format: winston.format.combine(normalize(), lineFormat()),
    transports,
    exitOnError: false,
  });
  // A logger with no transport at all would make winston warn on every line.
  if (transports.length === 0) logger.silent = true;
  const state: LoggerState = {
    files,
    access: files[0] ?? (c.consoleMode ? stdout : undefined),
    unwatch: files.length > 0 ? noticeStdioTo(files[1]) : undefined,
  };
  // Child loggers (winston makes them with Object.create) find the same state.
  Object.defineProperty(logger, STATE, { value: state });
  return logger;
}

/**
 * Where access lines of `logger` go: its `access.log`, stdout when it has no files, or
 * undefined when it has neither. Child loggers share their parent's.
 * @example accessSinkOf(logger)?.write('{"method":"GET"}\n');
 */
export function accessSinkOf(logger: Logger): LineSink | undefined {
  return (logger as WithState)[STATE]?.access;
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
  const state = (logger as WithState)[STATE];
  if (state === undefined) return;
  state.unwatch?.();
  state.unwatch = undefined;
  for (const file of state.files.splice(0)) file.release();
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
