import type { Writable } from 'node:stream';
import type { LineFile } from './line-file';
import { jsonLine } from './log-format';

/**
 * Most bytes of console output that may wait for a reader that is behind (1 MiB). Past it,
 * console lines are dropped, and counted, until the stream has drained.
 */
export const CONSOLE_QUEUE_LIMIT = 1024 * 1024;

/**
 * stdout or stderr as nexthop writes to it. A log shipper that goes away
 * (`node server.js | head -1`) or never reads must neither take the app down nor make it
 * buffer without bound, and the files must keep every line:
 * - a stream that fails (EPIPE, EBADF, a closed stream) is given up for good; its error is
 *   handled here, so it is never an uncaught exception, and a line in app.log says so;
 * - past CONSOLE_QUEUE_LIMIT bytes waiting for the reader, lines are dropped; app.log says
 *   when dropping starts and, once the stream drains (or the logger closes), how many.
 * Notices go to app.log directly, never through a console stream (that may be what failed).
 */
export class ConsoleStream {
  private failed = false;
  private dropping = false;
  private dropped = 0;
  /** The app.log files of the loggers writing here (a count per file: loggers may share one). */
  private readonly noticeFiles = new Map<LineFile, number>();

  constructor(
    private readonly stream: Writable,
    private readonly name: string,
  ) {
    stream.on('error', (err: NodeJS.ErrnoException) => this.fail(err));
  }

  /** Write one line, or drop it when the stream failed or its reader is too far behind. */
  write(line: string): void {
    if (this.failed) return;
    if (this.dropping || this.stream.writableLength >= CONSOLE_QUEUE_LIMIT) return this.drop();
    this.stream.write(line);
  }

  /** Send notices about this stream to `file` (an app.log) until the returned function is called. */
  noticeTo(file: LineFile): () => void {
    this.noticeFiles.set(file, (this.noticeFiles.get(file) ?? 0) + 1);
    return () => {
      const left = (this.noticeFiles.get(file) ?? 1) - 1;
      if (left > 0) this.noticeFiles.set(file, left);
      else this.noticeFiles.delete(file);
    };
  }

  /** Note the lines dropped since the last note, if any. */
  reportDropped(): void {
    if (this.dropped === 0) return;
    const { dropped } = this;
    this.dropped = 0;
    this.notice(`${this.name}: ${dropped} console line(s) dropped while it was not read`, { dropped });
  }

  private drop(): void {
    this.dropped++;
    if (this.dropping) return;
    this.dropping = true;
    this.notice(
      `${this.name} is not being read: console lines are dropped until it drains ` +
        `(more than ${CONSOLE_QUEUE_LIMIT} bytes wait); the log files keep every line`,
      {},
    );
    this.stream.once('drain', () => {
      this.dropping = false;
      this.reportDropped();
    });
  }

  private fail(err: NodeJS.ErrnoException): void {
    if (this.failed) return;
    this.failed = true;
    this.reportDropped();
    this.notice(
      `${this.name} failed (${err.code ?? err.message}): console output stops; the log files keep every line`,
      { code: err.code },
    );
  }

  private notice(message: string, fields: Record<string, unknown>): void {
    const line = `${jsonLine({ time: new Date().toISOString(), level: 'warn', message, ...fields })}\n`;
    for (const file of this.noticeFiles.keys()) file.write(line);
  }
}

// Kept on the stream itself: every copy of this module in the process (a test runner's
// fresh module registries, the package loaded twice) shares one guard per stream.
const GUARD = Symbol.for('nexthop.consoleStream');

function guarded(stream: Writable & { [GUARD]?: ConsoleStream }, name: string): ConsoleStream {
  return (stream[GUARD] ??= new ConsoleStream(stream, name));
}

/**
 * Send notices about stdout and stderr to `file` (an app.log). The returned function notes
 * the lines dropped so far, then stops them (closeLogger calls it).
 * @example const stop = noticeStdioTo(appLog); … stop();
 */
export function noticeStdioTo(file: LineFile): () => void {
  const both = Object.values(consoleStreams());
  const stops = both.map((stream) => stream.noticeTo(file));
  return () => {
    for (const stream of both) stream.reportDropped();
    for (const stop of stops) stop();
  };
}

/**
 * The process's guarded stdout and stderr (made on first use: from then on, an error of
 * either stream is handled, whoever wrote to it).
 * @example consoleStreams().stdout.write('{"level":"info"}\n');
 */
export function consoleStreams(): { stdout: ConsoleStream; stderr: ConsoleStream } {
  return { stdout: guarded(process.stdout, 'stdout'), stderr: guarded(process.stderr, 'stderr') };
}
