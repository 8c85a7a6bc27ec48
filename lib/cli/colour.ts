import { styleText } from 'node:util';

/** A function that wraps text in one ANSI style, or returns it unchanged when colour is off. */
export type Paint = (text: string) => string;

/** The styles the CLI uses. */
export interface Painter {
  readonly enabled: boolean;
  readonly red: Paint;
  readonly green: Paint;
  readonly yellow: Paint;
  readonly cyan: Paint;
  readonly magenta: Paint;
  readonly dim: Paint;
  readonly bold: Paint;
}

/** Where the output goes: anything with an optional `isTTY` flag. */
export interface ColourTarget {
  readonly isTTY?: boolean;
}

/**
 * Decide whether to colour a stream: never when `NO_COLOR` is set to a non-empty value
 * (no-color.org), always when `FORCE_COLOR` is set to anything but `0`, else only on a TTY.
 *
 * @example
 * wantsColour(process.stdout); // false when piped to a file
 */
export function wantsColour(stream: ColourTarget, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return env.FORCE_COLOR !== '0';
  return stream.isTTY === true;
}

type Style = Parameters<typeof styleText>[0];

function style(enabled: boolean, format: Style): Paint {
  if (!enabled) return (text) => text;
  // The decision is wantsColour's (NO_COLOR wins over FORCE_COLOR, as no-color.org asks):
  // Node's own check of process.stdout would overrule it.
  return (text) => styleText(format, text, { validateStream: false });
}

/**
 * Colour helpers for one output stream, degrading to plain text when {@link wantsColour} says no.
 *
 * @example
 * const c = createPainter(process.stdout);
 * console.log(c.green('✓'), 'all good');
 */
export function createPainter(stream: ColourTarget, env: NodeJS.ProcessEnv = process.env): Painter {
  const on = wantsColour(stream, env);
  return {
    enabled: on,
    red: style(on, 'red'),
    green: style(on, 'green'),
    yellow: style(on, 'yellow'),
    cyan: style(on, 'cyan'),
    magenta: style(on, 'magenta'),
    dim: style(on, 'dim'),
    bold: style(on, 'bold'),
  };
}

/** Colour for an HTTP status: 2xx green, 3xx cyan, 4xx yellow, 5xx red. */
export function paintStatus(c: Painter, status: number): string {
  const text = String(status);
  if (status >= 500) return c.red(text);
  if (status >= 400) return c.yellow(text);
  if (status >= 300) return c.cyan(text);
  return c.green(text);
}
