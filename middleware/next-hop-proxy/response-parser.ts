/**
 * An incremental HTTP/1.1 response parser for the proxy's own upstream client: it finds
 * the head, hands over the fields as a flat raw list, and frames the body (RFC 9112 §6.3)
 * without copying it — body bytes are slices of the socket's own chunks.
 */

/** How the body of a response is delimited. */
export const enum Framing {
  None,
  Length,
  Chunked,
  UntilClose,
}

/** A final (non-1xx) response head. */
export interface ResponseHead {
  status: number;
  reason: string;
  /** Header fields as received, `[name, value, name, value…]`, values trimmed. */
  fields: string[];
  framing: Framing;
  /** The connection may carry another request once this response is complete. */
  keepAlive: boolean;
  /** `Keep-Alive: timeout=N` from the upstream, in ms, when given. */
  keepAliveMs: number | undefined;
}

/** What the parser calls as it goes; `responseBody`'s `last` is true on the slice that completes it. */
export interface ResponseSink {
  responseHead(head: ResponseHead): void;
  responseBody(chunk: Buffer, last: boolean): void;
  /** The response is complete (after the head for a bodiless one, after the last slice otherwise). */
  responseEnd(): void;
}

/** A response the parser cannot accept; the proxy answers it as any upstream failure (502). */
export class ResponseParseError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`next-hop sent an invalid response: ${message}`);
    this.name = 'ResponseParseError';
    this.code = code;
  }
}

const enum State {
  Idle,
  Head,
  Body,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  Done,
}

const CR = 0x0d;
const LF = 0x0a;
const HEAD_END = Buffer.from('\r\n\r\n');
const BARE_LF_END = Buffer.from('\n\n');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\r\n]*))?$/;
const DIGITS = /^\d{1,15}$/;
const HEX = /^[0-9A-Fa-f]{1,13}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[\s,])timeout\s*=\s*(\d{1,9})/i;
/** Longest chunk-size line (size plus extensions) and trailer block accepted. */
const MAX_CHUNK_LINE = 4096;

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function hasToken(list: string, token: string): boolean {
  for (const part of list.split(',')) if (trimOws(part).toLowerCase() === token) return true;
  return false;
}

/** What the framing fields of one head say. */
interface Framed {
  length: number;
  chunked: boolean;
  transferEncoding: boolean;
  connection: string;
  keepAliveMs: number | undefined;
}

/**
 * One parser per upstream connection, reset for each request. Feed it the socket's chunks
 * with `execute`; tell it about the end of the stream with `finish`. Errors are thrown as
 * {@link ResponseParseError}; after one, the connection must be closed.
 */
export class ResponseParser {
  private state = State.Idle;
  private sink: ResponseSink | undefined;
  private headRequest = false;
  private pending: Buffer | undefined;
  private remaining = 0;
  private line = '';
  private trailerBytes = 0;
  /** Bytes arrived after the response ended: the connection is out of step, never reuse it. */
  excess = false;

  constructor(private readonly maxHeaderSize: number) {}

  /** Expect the response to a new request; a HEAD request's response has no body. */
  start(sink: ResponseSink, headRequest: boolean): void {
    this.sink = sink;
    this.headRequest = headRequest;
    this.state = State.Head;
    this.pending = undefined;
    this.line = '';
    this.excess = false;
  }

  /** Stop delivering: later bytes are ignored (the exchange was abandoned). */
  detach(): void {
    this.sink = undefined;
    this.state = State.Idle;
    this.pending = undefined;
  }

  /** Some byte of the response arrived (so it is too late to send the request again). */
  get started(): boolean {
    return this.state !== State.Head || this.pending !== undefined;
  }

  get complete(): boolean {
    return this.state === State.Done;
  }

  /** Bodies that end when the connection does. */
  get untilClose(): boolean {
    return this.state === State.Body && this.remaining === Infinity;
  }

  /** Parse the next bytes of the response, calling the sink as parts of it complete. */
  execute(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      switch (this.state) {
        case State.Head:
          offset = this.readHead(chunk, offset);
          break;
        case State.Body:
          offset = this.readBody(chunk, offset);
          break;
        case State.ChunkSize:
        case State.ChunkDataEnd:
        case State.Trailers:
          offset = this.readChunkLine(chunk, offset);
          break;
        case State.ChunkData:
          offset = this.readChunkData(chunk, offset);
          break;
        case State.Done:
          this.excess = true;
          return;
        default:
          return;
      }
    }
  }

  /**
   * The upstream closed its side: completes a body read until close, and is an error for
   * any other response still in progress (a truncated body must never look complete).
   */
  finish(): void {
    if (this.state === State.Body && this.remaining === Infinity) return this.done();
  }

  private done(): void {
    this.state = State.Done;
    this.sink?.responseEnd();
  }

  private readHead(chunk: Buffer, offset: number): number {
    let data = offset === 0 ? chunk : chunk.subarray(offset);
    let searchFrom = 0;
    if (this.pending !== undefined) {
      searchFrom = Math.max(0, this.pending.length - 3);
      data = Buffer.concat([this.pending, data]);
    }
    const end = data.indexOf(HEAD_END, searchFrom);
    if (end === -1) {
      // A head ended by bare LFs would otherwise wait for a CRLF that never comes.
      if (data.indexOf(BARE_LF_END, searchFrom) !== -1) {
        throw new ResponseParseError('HPE_CR_EXPECTED', 'header lines must end in CRLF');
      }
      if (data.length > this.maxHeaderSize) {
        throw new ResponseParseError(
          'HPE_HEADER_OVERFLOW',
          `the head is larger than ${this.maxHeaderSize} bytes`,
        );
      }
      this.pending = data;
      return chunk.length;
    }
    if (end > this.maxHeaderSize) {
      throw new ResponseParseError(
        'HPE_HEADER_OVERFLOW',
        `the head is larger than ${this.maxHeaderSize} bytes`,
      );
    }
    const consumedFromPending = this.pending === undefined ? 0 : this.pending.length;
    this.pending = undefined;
    const next = offset + end + 4 - consumedFromPending;
    this.onHead(data.toString('latin1', 0, end));
    return next;
  }

  private onHead(text: string): void {
    let eol = text.indexOf('\r\n');
    if (eol === -1) eol = text.length;
    const status = STATUS_LINE.exec(text.slice(0, eol));
    if (status === null) {
      throw new ResponseParseError(
        'HPE_INVALID_STATUS',
        `bad status line ${JSON.stringify(text.slice(0, 64))}`,
      );
    }
    const code = Number(status[2]);
    const framed: Framed = {
      length: -1,
      chunked: false,
      transferEncoding: false,
      connection: '',
      keepAliveMs: undefined,
    };
    const fields = this.readFields(text, eol, framed);
    if (code < 200) {
      // 101 without an Upgrade request would hand the connection to another protocol.
      if (code === 101)
        throw new ResponseParseError('HPE_UNEXPECTED_UPGRADE', '101 to a request that did not upgrade');
      // Interim responses (100 Continue, 103 Early Hints) are not relayed; the final one follows.
      return;
    }
    const http11 = status[1] === '1';
    const head: ResponseHead = {
      status: code,
      reason: status[3] ?? '',
      fields,
      framing: this.framing(code, framed),
      keepAlive: http11 ? !hasToken(framed.connection, 'close') : hasToken(framed.connection, 'keep-alive'),
      keepAliveMs: framed.keepAliveMs,
    };
    if (head.framing === Framing.UntilClose || (framed.transferEncoding && framed.length >= 0))
      head.keepAlive = false;
    if (framed.transferEncoding && framed.length >= 0) dropField(fields, 'content-length');
    this.enterBody(head, framed.length);
  }

  private readFields(text: string, from: number, framed: Framed): string[] {
    const fields: string[] = [];
    let lengths: string | undefined;
    let start = from + 2;
    while (start < text.length) {
      let eol = text.indexOf('\r\n', start);
      if (eol === -1) eol = text.length;
      const colon = text.indexOf(':', start);
      if (isOws(text.charCodeAt(start))) {
        throw new ResponseParseError('HPE_OBS_FOLD', 'a folded header line (obs-fold)');
      }
      const name = colon === -1 || colon > eol ? '' : text.slice(start, colon);
      if (!TOKEN.test(name)) {
        throw new ResponseParseError(
          'HPE_INVALID_HEADER_TOKEN',
          `bad header line ${JSON.stringify(text.slice(start, Math.min(eol, start + 64)))}`,
        );
      }
      const value = trimOws(text.slice(colon + 1, eol));
      fields.push(name, value);
      switch (name.length) {
        case 10:
          if (name.toLowerCase() === 'connection') framed.connection += `${value},`;
          else if (name.toLowerCase() === 'keep-alive') framed.keepAliveMs = keepAliveMs(value);
          break;
        case 14:
          if (name.toLowerCase() === 'content-length')
            lengths = lengths === undefined ? value : `${lengths},${value}`;
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            framed.transferEncoding = true;
            const codings = value.split(',');
            framed.chunked = trimOws(codings[codings.length - 1]).toLowerCase() === 'chunked';
          }
          break;
      }
      start = eol + 2;
    }
    if (lengths !== undefined) {
      framed.length = contentLength(lengths);
      // Repeated or listed equal values frame the body alike, but a client further down may
      // read them otherwise: relay one field.
      if (lengths.includes(',')) {
        dropField(fields, 'content-length');
        fields.push('Content-Length', String(framed.length));
      }
    }
    return fields;
  }

  private framing(code: number, framed: Framed): Framing {
    // RFC 9112 §6.3: these never have a body, whatever their fields say.
    if (this.headRequest || code === 204 || code === 304) return Framing.None;
    if (framed.transferEncoding) return framed.chunked ? Framing.Chunked : Framing.UntilClose;
    if (framed.length >= 0) return framed.length === 0 ? Framing.None : Framing.Length;
    return Framing.UntilClose;
  }

  private enterBody(head: ResponseHead, length: number): void {
    const sink = this.sink;
    switch (head.framing) {
      case Framing.None:
        this.state = State.Done;
        sink?.responseHead(head);
        if (this.state === State.Done) sink?.responseEnd();
        return;
      case Framing.Length:
        this.state = State.Body;
        this.remaining = length;
        break;
      case Framing.Chunked:
        this.state = State.ChunkSize;
        this.line = '';
        break;
      default:
        this.state = State.Body;
        this.remaining = Infinity;
    }
    sink?.responseHead(head);
  }

  private readBody(chunk: Buffer, offset: number): number {
    const available = chunk.length - offset;
    if (available < this.remaining) {
      this.remaining -= available;
      this.sink?.responseBody(offset === 0 ? chunk : chunk.subarray(offset), false);
      return chunk.length;
    }
    const end = offset + this.remaining;
    this.remaining = 0;
    this.state = State.Done;
    this.sink?.responseBody(chunk.subarray(offset, end), true);
    if (this.state === State.Done) this.sink?.responseEnd();
    return end;
  }

  private readChunkData(chunk: Buffer, offset: number): number {
    const take = Math.min(this.remaining, chunk.length - offset);
    this.remaining -= take;
    if (this.remaining === 0) this.state = State.ChunkDataEnd;
    this.sink?.responseBody(chunk.subarray(offset, offset + take), false);
    return offset + take;
  }

  /** Chunk-size lines, the CRLF after each chunk's data, and the trailer section. */
  private readChunkLine(chunk: Buffer, offset: number): number {
    const lf = chunk.indexOf(LF, offset);
    const end = lf === -1 ? chunk.length : lf + 1;
    this.line += chunk.toString('latin1', offset, end);
    if (this.line.length > MAX_CHUNK_LINE) {
      throw new ResponseParseError(
        'HPE_CHUNK_EXTENSIONS_OVERFLOW',
        'a chunk line or trailer section is too long',
      );
    }
    if (lf === -1) return end;
    const line = this.line;
    this.line = '';
    if (line.length < 2 || line.charCodeAt(line.length - 2) !== CR) {
      throw new ResponseParseError('HPE_LF_EXPECTED', 'a chunk line does not end in CRLF');
    }
    if (this.state === State.ChunkDataEnd) {
      if (line.length !== 2) throw new ResponseParseError('HPE_STRICT', 'chunk data longer than its size');
      this.state = State.ChunkSize;
    } else if (this.state === State.ChunkSize) {
      this.onChunkSize(line.slice(0, -2));
    } else if (line.length === 2) {
      // The empty line that ends the (dropped) trailer section.
      this.state = State.Done;
      this.sink?.responseBody(EMPTY, true);
      if (this.state === State.Done) this.sink?.responseEnd();
    } else {
      this.trailerBytes += line.length;
      if (this.trailerBytes > this.maxHeaderSize)
        throw new ResponseParseError('HPE_HEADER_OVERFLOW', 'the trailer section is too large');
    }
    return end;
  }

  private onChunkSize(line: string): void {
    const semicolon = line.indexOf(';');
    const size = trimOws(semicolon === -1 ? line : line.slice(0, semicolon));
    if (!HEX.test(size))
      throw new ResponseParseError(
        'HPE_INVALID_CHUNK_SIZE',
        `bad chunk size ${JSON.stringify(size.slice(0, 20))}`,
      );
    this.remaining = parseInt(size, 16);
    if (this.remaining === 0) {
      this.state = State.Trailers;
      this.trailerBytes = 0;
    } else {
      this.state = State.ChunkData;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Content-Length from one or more fields: identical decimal values, or a parse error. */
function contentLength(list: string): number {
  let value: string | undefined;
  for (const part of list.split(',')) {
    const item = trimOws(part);
    if (!DIGITS.test(item))
      throw new ResponseParseError(
        'HPE_INVALID_CONTENT_LENGTH',
        `bad Content-Length ${JSON.stringify(item.slice(0, 20))}`,
      );
    if (value !== undefined && Number(item) !== Number(value)) {
      throw new ResponseParseError('HPE_UNEXPECTED_CONTENT_LENGTH', 'Content-Length fields disagree');
    }
    value = item;
  }
  return Number(value);
}

function keepAliveMs(value: string): number | undefined {
  const match = KEEP_ALIVE_TIMEOUT.exec(value);
  return match === null ? undefined : Number(match[1]) * 1000;
}

function dropField(fields: string[], lower: string): void {
  for (let i = fields.length - 2; i >= 0; i -= 2) if (fields[i].toLowerCase() === lower) fields.splice(i, 2);
}
