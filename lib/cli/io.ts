import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { suggestion } from '../check-options';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What {@link parseCommandArgs} returns: the flags by name and the positional arguments. */
export interface ParsedArgs<T extends Options> {
  values: ReturnType<typeof parseArgs<{ options: T; allowPositionals: true; strict: true }>>['values'];
  positionals: string[];
}

/** Where a command writes and what it reads from its environment (injectable for tests). */
export interface CliIO {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** The real process's streams, environment and working folder. */
export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** A usage mistake: printed with the command's name and a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** node:util parseArgs, strict, with its errors turned into {@link UsageError}s. */
export function parseCommandArgs<T extends Options>(
  argv: readonly string[],
  options: T,
  maxPositionals = 1,
): ParsedArgs<T> {
  let parsed: ParsedArgs<T>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    // node's text names the flag as typed: "Unknown option '--quite'".
    const flag = /^Unknown option '(--[^']+)'$/.exec(message)?.[1];
    const names = Object.keys(options).map((name) => `--${name}`);
    throw new UsageError(flag === undefined ? message : `${message}${suggestion(flag, names)}`);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[maxPositionals]}"`);
  }
  return parsed;
}

/** Parse a whole number of milliseconds (or a port) from a flag, within bounds. */
export function parseIntFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max))
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Resolve a command's `[dir]` argument and check that it is a folder. */
export function folderArg(cwd: string, arg: string | undefined, mayBeMissing = false): string {
  const dir = path.resolve(cwd, arg ?? '.');
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (stat ? !stat.isDirectory() : !mayBeMissing) throw new UsageError(`${dir} is not a folder`);
  return dir;
}
