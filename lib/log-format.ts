import type * as Winston from 'winston';
import { jsonString, jsonValue } from './json-line';

let winstonModule: typeof Winston | undefined;

/**
 * winston, loaded on first use: its modules take about 20 ms to load, which a process pays
 * only once it writes its first app-log line (see createLogger).
 */
export function loadWinston(): typeof Winston {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  winstonModule ??= require('winston') as typeof Winston;
  return winstonModule;
}

/** winston's symbols (triple-beam): the formatted line, and the level before colouring. */
const MESSAGE = Symbol.for('message');

type Info = Winston.Logform.TransformableInfo & Record<string, unknown>;

const FIXED_KEYS = new Set(['time', 'level', 'message']);

/** An Error as plain JSON-able fields (its own enumerable ones too, e.g. `code`). */
function plainError(err: Error): Record<string, unknown> {
  return { ...err, name: err.name, message: err.message, stack: err.stack };
}

/**
 * Shared by every transport: stamp `time` (ISO 8601 UTC) once, and turn Error values
 * (`logger.error(err)`, `{ err }` meta) into name/message/code/stack fields.
 */
export function normalize(): Winston.Logform.Format {
  const { format } = loadWinston();
  return format.combine(format.errors({ stack: true }), format(stampAndPlainErrors)());
}

function stampAndPlainErrors(info: Info): Info {
  info.time ??= new Date().toISOString();
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (value instanceof Error) info[key] = plainError(value);
  }
  return info;
}

/** One JSON object a line: `time`, `level`, `message` first, then the other fields. */
export function lineFormat(): Winston.Logform.Format {
  return loadWinston().format(jsonLine)();
}

function jsonLine(info: Info): Info {
  let line = `{"time":${jsonValue(info.time)},"level":${jsonString(String(info.level))},"message":${jsonValue(info.message)}`;
  for (const key of Object.keys(info)) {
    if (!FIXED_KEYS.has(key) && info[key] !== undefined)
      line += `,${jsonString(key)}:${jsonValue(info[key])}`;
  }
  info[MESSAGE] = `${line}}`;
  return info;
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

// winston's own test for printf-style tokens: with one, it leaves a meta object out of the line.
const FORMAT_TOKEN = /%[scdjifoO%]/;

/**
 * The lines winston writes for `logger.<level>(message)` or `logger.<level>(message, meta)`
 * with a string message and an object meta, built without winston: the info object is
 * assembled as winston's level method assembles it, then run through the same steps as
 * {@link normalize} and {@link lineFormat}. `json` is the app.log (and `'json'` console) line,
 * `pretty` the `'pretty'` console line. Undefined for any other call shape, which goes
 * through winston itself.
 */
export function directLines(
  level: string,
  args: readonly unknown[],
  color: boolean,
): { json: string; pretty: () => string } | undefined {
  const [message, meta] = args;
  if (typeof message !== 'string') return undefined;
  let info: Info;
  if (args.length === 1) {
    info = { message, level } as Info;
  } else if (args.length === 2 && typeof meta === 'object' && meta !== null && !FORMAT_TOKEN.test(message)) {
    const extra = meta as Record<string, unknown>;
    info = Object.assign({}, extra, { level, message }) as Info;
    // A template, as winston's: a Symbol message throws here as it does there.
    if (extra.message) info.message = `${info.message as string} ${extra.message as string}`;
    if (extra.stack) info.stack = extra.stack;
    if (extra.cause) info.cause = extra.cause;
  } else {
    return undefined;
  }
  const stamped = jsonLine(stampAndPlainErrors(info));
  return { json: stamped[MESSAGE] as string, pretty: () => prettyLine(stamped, color) };
}

/**
 * The concise stdout stream: `'json'` prints the same line as app.log; `'pretty'` prints
 * `HH:MM:SS.mmm level message key=value…`, the level coloured when `color` is true.
 */
export function consoleFormat(mode: 'pretty' | 'json', color: boolean): Winston.Logform.Format | undefined {
  if (mode === 'json') return undefined;
  return loadWinston().format((info: Info) => {
    info[MESSAGE] = prettyLine(info, color);
    return info;
  })();
}
