import fs from 'node:fs';
import { debuglog } from 'node:util';
import { consoleStreams } from './console-stream';

const debug = debuglog('nexthop:log-file');

/** Rotation and buffering settings of one log file. */
export interface LineFileOptions {
  /** Size in bytes after which the file is rotated. */
  readonly maxSize: number;
  /** Rotated files kept next to the live one (`name.1` newest … `name.N` oldest). */
  readonly maxFiles: number;
  /** Longest time in ms a line waits in memory before it is written. */
  readonly flushInterval: number;
  /** Write every line at once (error.log: rare lines that must never wait). */
  readonly immediate?: boolean;
}

/** Lines buffered past this many bytes are written at once, whatever the interval. */
const HIGH_WATER = 64 * 1024;
/**
 * Lines wait as one string until they reach this many characters, then are encoded into
 * the buffer together: a buffer write costs a native call and a flat copy of its string,
 * once per batch instead of once per line.
 */
const BATCH = 8 * 1024;
const NEWLINE = 0x0a;

const open = new Map<string, LineFile>();
let exitHookInstalled = false;

/** Every open file is flushed synchronously when the process exits, even by process.exit(). */
function flushAllOnExit(): void {
  for (const file of open.values()) file.flush();
}

/**
 * An append-only log file written in whole lines: lines collect in memory and go to the
 * OS in one synchronous `write` per batch, so no write is ever in flight when the process
 * exits and nothing is left for an 'exit' hook to lose. Rotation happens only between
 * lines (no line is torn across files) and keeps at most `maxFiles` old files.
 *
 * One instance per path in a process ({@link acquireLineFile}). Two processes may share a
 * path for a while (a replacement worker appends to the files of the one it replaces while
 * that one drains): each batch is one append, and rotation goes by the file on disk.
 */
export class LineFile {
  readonly path: string;
  private readonly options: LineFileOptions;
  private fd: number;
  private size = 0;
  /** Size at which the file rotates: maxSize, or further on after a rotation failed. */
  private limit: number;
  /** Lines not yet encoded (fewer than BATCH characters). */
  private pending = '';
  /** Encoded lines waiting to be written; room past HIGH_WATER for one batch (3 bytes a unit). */
  private readonly buffer = Buffer.allocUnsafe(HIGH_WATER + 3 * BATCH);
  private used = 0;
  private timer: NodeJS.Timeout | undefined;
  private refs = 0;
  private dropped = 0;

  constructor(path: string, options: LineFileOptions) {
    this.path = path;
    this.options = options;
    this.fd = fs.openSync(path, 'a');
    this.limit = options.maxSize;
  }

  /** Append one line; `line` must end with "\n" and contain no other newline. */
  write(line: string): void {
    if (this.fd < 0) {
      // Closed: a straggler after shutdown still reaches the disk, synchronously.
      this.appendClosed(line);
      return;
    }
    this.pending += line;
    if (this.options.immediate) this.flush();
    else {
      if (this.pending.length >= BATCH) this.encodePending();
      this.timer ??= setTimeout(this.onTimer, this.options.flushInterval).unref();
    }
  }

  /** Write every buffered line now (synchronously). */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.fd < 0) return;
    this.encodePending();
    this.writeBuffer();
  }

  private encodePending(): void {
    const text = this.pending;
    if (text === '') return;
    this.pending = '';
    // A UTF-16 unit takes at most 3 bytes in UTF-8: make sure the text fits before copying.
    if (this.used + text.length * 3 > this.buffer.length) {
      this.writeBuffer();
      if (text.length * 3 > this.buffer.length) {
        this.writeRotating(Buffer.from(text));
        return;
      }
    }
    this.used += this.buffer.write(text, this.used);
    if (this.used >= HIGH_WATER) this.writeBuffer();
  }

  private writeBuffer(): void {
    if (this.used === 0) return;
    const data = this.buffer.subarray(0, this.used);
    this.used = 0;
    // Written synchronously: the buffer is free again when this returns.
    this.writeRotating(data);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.flush();
  };

  /** Write `data`, rotating at line boundaries whenever the next bytes would pass maxSize. */
  private writeRotating(data: Buffer): void {
    this.followPath();
    let offset = 0;
    while (offset < data.length) {
      const room = this.limit - this.size;
      if (data.length - offset <= room) {
        this.writeAll(data, offset, data.length);
        return;
      }
      const cut = room > 0 ? data.lastIndexOf(NEWLINE, offset + room - 1) : -1;
      let end: number;
      if (cut >= offset) end = cut + 1;
      else if (this.size > 0) end = offset;
      else {
        // A single line longer than maxSize in an empty file: it is written whole.
        const newline = data.indexOf(NEWLINE, offset);
        end = newline === -1 ? data.length : newline + 1;
      }
      this.writeAll(data, offset, end);
      offset = end;
      if (offset < data.length && !this.rotate()) return this.writeAll(data, offset, data.length);
    }
  }

  private writeAll(data: Buffer, from: number, to: number): void {
    let at = from;
    try {
      while (at < to) at += fs.writeSync(this.fd, data, at, to - at);
    } catch (err) {
      this.reportLoss(err as NodeJS.ErrnoException, data, at, to);
    }
    this.size += at - from;
  }

  /** Disk full or I/O error: the lines cannot be kept anywhere; say so on stderr, counted. */
  private reportLoss(err: NodeJS.ErrnoException, data: Buffer, from: number, to: number): void {
    let lines = 0;
    for (let i = data.indexOf(NEWLINE, from); i !== -1 && i < to; i = data.indexOf(NEWLINE, i + 1)) lines++;
    this.dropped += lines;
    consoleStreams().stderr.write(
      `nexthop logger: cannot write to ${this.path} (${err.code ?? 'error'}: ${err.message}); ` +
        `${this.dropped} line(s) lost so far\n`,
    );
  }

  /**
   * name → name.1 → … → name.maxFiles (the oldest is replaced), then a fresh name. Done under
   * a lock file, as another process may write the same path: false when that one is rotating
   * it right now, or when no file with more room came of it (the folder is gone): the rest
   * of the batch then goes to the current file.
   */
  private rotate(): boolean {
    const roomBefore = this.limit - this.size;
    const lock = `${this.path}.lock`;
    if (!takeLock(lock)) return false;
    try {
      // Unless the other writer has rotated it already: then just go on in the fresh file.
      if (!this.rotatedElsewhere()) this.shiftFiles();
      this.followPath();
    } finally {
      releaseLock(lock);
    }
    return this.limit - this.size > roomBefore;
  }

  private shiftFiles(): void {
    debug('rotate %s at %d bytes', this.path, this.size);
    const { maxFiles, maxSize } = this.options;
    try {
      if (maxFiles === 0) fs.unlinkSync(this.path);
      for (let i = maxFiles - 1; i >= 1; i--) renameIfExists(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      if (maxFiles > 0) fs.renameSync(this.path, `${this.path}.1`);
      this.limit = maxSize;
    } catch (err) {
      // Keep writing to the same file rather than lose lines; the bound is exceeded, loudly,
      // and the next attempt waits for another maxSize.
      const e = err as NodeJS.ErrnoException;
      consoleStreams().stderr.write(
        `nexthop logger: cannot rotate ${this.path} (${e.code ?? 'error'}: ${e.message})\n`,
      );
      this.limit = this.size + maxSize;
    }
  }

  /**
   * Write to the file now at `path`, sized from the disk: another process may append to it
   * and rotate it too (a replacement worker beside the one it replaces).
   */
  private followPath(): void {
    if (this.rotatedElsewhere()) {
      try {
        const fd = fs.openSync(this.path, 'a');
        fs.closeSync(this.fd);
        this.fd = fd;
        this.limit = this.options.maxSize;
      } catch (err) {
        // The folder itself is gone: keep the open file rather than throw into the app.
        debug('cannot reopen %s: %s', this.path, (err as Error).message);
      }
    }
    this.size = fs.fstatSync(this.fd).size;
  }

  /** True when `path` is no longer the file this instance writes (rotated or removed). */
  private rotatedElsewhere(): boolean {
    try {
      return fs.statSync(this.path).ino !== fs.fstatSync(this.fd).ino;
    } catch {
      return true;
    }
  }

  private appendClosed(line: string): void {
    try {
      fs.appendFileSync(this.path, line);
    } catch (err) {
      this.reportLoss(err as NodeJS.ErrnoException, Buffer.from(line), 0, line.length);
    }
  }

  /** Take a reference (one per logger using this file). */
  retain(): this {
    this.refs++;
    return this;
  }

  /** Drop a reference; the last one flushes and closes the file. */
  release(): void {
    if (--this.refs > 0) return;
    this.flush();
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    if (open.get(this.path) === this) open.delete(this.path);
  }
}

/** A rotation takes milliseconds: a lock this old was left by a process that died in one. */
const STALE_LOCK = 10_000;

/** Create `lock` exclusively; false while another process holds it. */
function takeLock(lock: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.closeSync(fs.openSync(lock, 'wx'));
      return true;
    } catch (err) {
      // No lock can be made here at all: rotate without one rather than never.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true;
    }
    try {
      if (Date.now() - fs.statSync(lock).mtimeMs < STALE_LOCK) return false;
      fs.rmSync(lock, { force: true });
    } catch {
      return false;
    }
  }
  return false;
}

function releaseLock(lock: string): void {
  try {
    fs.rmSync(lock, { force: true });
  } catch (err) {
    debug('cannot remove %s: %s', lock, (err as Error).message);
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * The one {@link LineFile} of this process for `path` (opened on first use). The first
 * opener's options apply. Call `release()` once per acquire.
 * @example
 * const file = acquireLineFile('/var/log/nodejs/access.log', { maxSize: 20971520, maxFiles: 5, flushInterval: 100 });
 * file.write('{"ok":true}\n');
 * file.release();
 */
export function acquireLineFile(path: string, options: LineFileOptions): LineFile {
  let file = open.get(path);
  if (file === undefined) {
    file = new LineFile(path, options);
    open.set(path, file);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', flushAllOnExit);
    }
  }
  return file.retain();
}
