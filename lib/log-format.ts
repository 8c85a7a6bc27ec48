import { format, type Logform } from 'winston';
import { jsonString, jsonValue } from './json-line';

/** winston's symbol (triple-beam's MESSAGE) for the formatted line a transport writes. */
export const MESSAGE = Symbol.for('message');

type Info = Logform.TransformableInfo & Record<string, unknown>;

const FIXED_KEYS = new Set(['time', 'level', 'message']);

/** An Error as plain JSON-able fields (its own enumerable ones too, e.g. `code`). */
function plainError(err: Error): Record<string, unknown> {
  return { ...err, name: err.name, message: err.message, stack: err.stack };
}

function stampAndPlainErrors(info: Info): Info {
  info.time ??= new Date().toISOString();
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (value instanceof Error) info[key] = plainError(value);
  }
  return info;
}

/**
 * Shared by every transport: stamp `time` (ISO 8601 UTC) once, and turn Error values
 * (`logger.error(err)`, `{ err }` meta) into name/message/code/stack fields.
 */
export function normalize(): Logform.Format {
  return format.combine(format.errors({ stack: true }), format(stampAndPlainErrors)());
}

/**
 * One JSON object on one line: `time`, `level`, `message` first, then the other fields.
 * @example jsonLine({ time: '2026-01-02T03:04:05.678Z', level: 'warn', message: 'x', n: 1 })
 */
export function jsonLine(info: Record<string, unknown>): string {
  let line = `{"time":${jsonValue(info.time)},"level":${jsonString(String(info.level))},"message":${jsonValue(info.message)}`;
  for (const key of Object.keys(info)) {
    if (!FIXED_KEYS.has(key) && info[key] !== undefined)
      line += `,${jsonString(key)}:${jsonValue(info[key])}`;
  }
  return `${line}}`;
}

/** The app.log / error.log line (and the `'json'` console line). */
export function lineFormat(): Logform.Format {
  return format((info: Info) => {
    info[MESSAGE] = jsonLine(info);
    return info;
  })();
}

const LEVEL_COLOURS: Record<string, number> = {
  error: 31,
  warn: 33,
  info: 32,
  http: 35,
  verbose: 36,
  debug: 34,
  silly: 90,
};

// Control characters would let a message move the cursor or forge a new line on a terminal.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

function escapeControl(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

function prettyLine(info: Info, color: boolean): string {
  const level = String(info.level);
  const shown = color ? `\x1b[${LEVEL_COLOURS[level] ?? 0}m${level.padEnd(5)}\x1b[39m` : level.padEnd(5);
  const message = typeof info.message === 'string' ? info.message : jsonValue(info.message);
  let line = `${String(info.time).slice(11, 23)} ${shown} ${message.replace(CONTROL, escapeControl)}`;
  let stack = '';
  for (const key of Object.keys(info)) {
    if (FIXED_KEYS.has(key) || info[key] === undefined) continue;
    if (key === 'stack' && typeof info.stack === 'string') stack = info.stack;
    else line += ` ${key.replace(CONTROL, escapeControl)}=${jsonValue(info[key])}`;
  }
  if (stack) line += `\n${stack.replace(CONTROL_BUT_NEWLINE, escapeControl)}`;
  return line;
}

/**
 * The concise stdout stream: `'json'` prints the same line as app.log (no format of its
 * own); `'pretty'` prints `HH:MM:SS.mmm level message key=value…`, the level coloured when
 * `color` is true.
 */
export function consoleFormat(mode: 'pretty' | 'json', color: boolean): Logform.Format | undefined {
  if (mode === 'json') return undefined;
  return format((info: Info) => {
    info[MESSAGE] = prettyLine(info, color);
    return info;
  })();
}
