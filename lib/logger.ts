import fs from 'node:fs';
import path from 'node:path';
import * as winston from 'winston';
import type { Logger } from 'winston';
import { DEFAULT_LOG_DIR, type LogLevel } from './config';
import { NexthopError } from './errors';

export type { Logger } from 'winston';

/** winston stores the formatted line under this symbol (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Folder for the log files; created when missing. @default '/var/log/nodejs' (or `LOG_DIR`) */
  dir?: string;
  /** Lowest level written to `app.log` and stdout. @default 'info' (or `LOG_LEVEL`) */
  level?: LogLevel;
  /**
   * The concise stdout stream that `sectionctl logs` shows: `'pretty'` (coloured),
   * `'json'` (one JSON object a line), `false` (none). @default 'pretty' on a TTY, else 'json'
   */
  console?: 'pretty' | 'json' | false;
  /** Write the files at all. `false` keeps only stdout (tests, one-off scripts). @default true */
  files?: boolean;
}

/**
 * A winston transport that appends formatted lines to one file through a single
 * write stream, and whose `close()` resolves only once every line is on disk.
 * (winston's stock File transport can drop the tail of its buffer at exit.)
 */
// winston exports the transport base class at runtime as `Transport`, typed as `transport`.
type TransportClass = new (opts?: { level?: string }) => winston.transport;
const TransportBase = (winston as unknown as { Transport: TransportClass }).Transport;

export class FileLineTransport extends TransportBase {
  readonly filename: string;
  private readonly stream: fs.WriteStream;

  constructor(opts: { filename: string; level?: string }) {
    super({ level: opts.level });
    this.filename = opts.filename;
    this.stream = fs.createWriteStream(opts.filename, { flags: 'a' });
    this.stream.on('error', (err) => this.emit('error', err));
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    const line = info[MESSAGE];
    this.stream.write(`${typeof line === 'string' ? line : JSON.stringify(info)}\n`);
    callback();
  }

  /** Flush and close the file. Resolves when the data is handed to the OS. */
  flush(): Promise<void> {
    if (this.stream.closed || this.stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.stream.once('close', () => resolve());
      this.stream.end();
    });
  }

  override close(): void {
    void this.flush();
  }
}

/**
 * Make sure `dir` exists and this process can append to files in it — before the port
 * opens, because winston silently drops every line when it cannot write.
 *
 * @throws NexthopError `ERR_NEXTHOP_LOG_DIR` naming the folder, the OS error and the fix.
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

function consoleFormat(mode: 'pretty' | 'json'): winston.Logform.Format {
  if (mode === 'json') return winston.format.combine(winston.format.timestamp(), winston.format.json());
  return winston.format.combine(
    winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
    winston.format.colorize(),
    winston.format.printf(({ timestamp, level, message, stack, ...rest }) => {
      const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
      return `${String(timestamp)} ${level} ${String(message)}${extra}${stack ? `\n${String(stack)}` : ''}`;
    }),
  );
}

/**
 * Create nexthop's logger: `app.log` (level and above) and `error.log` (errors with
 * stack) under the log folder, plus a concise stdout stream. The folder is checked
 * first (see {@link prepareLogDir}).
 *
 * @example
 * const logger = createLogger({ dir: './logs', level: 'debug' });
 * logger.info('ready', { port: 8080 });
 */
export function createLogger(options: Readonly<LoggerOptions> = {}): Logger {
  const {
    dir = process.env.LOG_DIR || DEFAULT_LOG_DIR,
    level = (process.env.LOG_LEVEL?.toLowerCase() as LogLevel | undefined) || 'info',
    console: consoleMode = process.stdout.isTTY ? 'pretty' : 'json',
    files = true,
  } = options;
  const transports: winston.transport[] = [];
  if (files) {
    const folder = path.resolve(dir);
    prepareLogDir(folder, ['app.log', 'error.log']);
    transports.push(
      new FileLineTransport({ filename: path.join(folder, 'app.log') }),
      new FileLineTransport({ filename: path.join(folder, 'error.log'), level: 'error' }),
    );
  }
  if (consoleMode) {
    transports.push(new winston.transports.Console({ format: consoleFormat(consoleMode) }));
  }
  return winston.createLogger({
    level,
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      winston.format.timestamp(),
      winston.format.json(),
    ),
    transports,
    exitOnError: false,
  });
}

/**
 * Flush every file of `logger` and close it. Resolves when all lines are on disk;
 * `serve()` awaits it before the process exits.
 */
export async function closeLogger(logger: Logger): Promise<void> {
  // winston hands lines to its transports on a later tick: let them arrive first.
  await new Promise((resolve) => setImmediate(resolve));
  const files = logger.transports.filter((t): t is FileLineTransport => t instanceof FileLineTransport);
  // Detach before ending, so a line logged during exit goes to stdout, not to a closed file.
  for (const t of files) logger.remove(t);
  await Promise.all(files.map((t) => t.flush()));
}
