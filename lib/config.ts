import net from 'node:net';
import path from 'node:path';
import { suggestion } from './check-options';
import { ConfigError } from './errors';

/** Env variable set in each worker forked by serve()'s cluster supervisor: its slot number, 1…workers, kept by its replacements. */
export const WORKER_ID_ENV = 'NEXTHOP_WORKER_ID';

/** Winston's npm levels, most severe first. `LOG_LEVEL` must be one of them. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The validated environment of a nexthop process. Frozen. */
export interface Config {
  /** `PORT`: the one port the HTTP server listens on. @default 8080 */
  readonly port: number;
  /**
   * `HOST`: the address serve() binds, e.g. `127.0.0.1` for a local run only this machine
   * reaches. @default undefined (all interfaces, as the platform needs)
   */
  readonly host: string | undefined;
  /** `NEXT_HOP` as a normalised origin with an explicit port. @default 'http://next-hop:80' */
  readonly nextHop: string;
  /** `LOG_DIR` resolved to an absolute path. @default '/var/log/nodejs' */
  readonly logDir: string;
  /** `LOG_LEVEL`, lowercased. @default 'info' */
  readonly logLevel: LogLevel;
  /** `NODE_ENV`. @default 'production' (no stack traces leak unless you ask for development) */
  readonly nodeEnv: string;
  /** `WEB_CONCURRENCY`: worker processes, `'auto'` for one per core. Unset means a single process. */
  readonly webConcurrency: number | 'auto' | undefined;
  /** Start-up notices worth a log line, e.g. that `PORT` was not set. */
  readonly notices: readonly string[];
}

/** Environment read by {@link loadConfig}: `process.env` or any plain record. */
export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_PORT = 8080;
export const DEFAULT_NEXT_HOP = 'http://next-hop:80';
export const DEFAULT_LOG_DIR = '/var/log/nodejs';

const CONTRACT_HTTP_RULE =
  'the platform contract requires plain HTTP to next-hop (http://next-hop:80); to have the platform ' +
  'reach the origin over HTTPS, keep NEXT_HOP on http and send the header X-Forwarded-Proto: https ' +
  '(nextHopProxy({ forceHttps: true }))';

type Parsed<T> = { value: T } | { problem: string };

function show(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** Parse a TCP port: digits only, no sign, no spaces, no leading zero, 1–65535. */
export function parsePort(value: string, name = 'PORT'): Parsed<number> {
  const n = /^[1-9][0-9]{0,4}$/.test(value) ? Number(value) : NaN;
  if (n >= 1 && n <= 65535) return { value: n };
  return {
    problem: `${name}=${show(value)} is not a valid port: use an integer from 1 to 65535, digits only (e.g. ${name}=8080)`,
  };
}

function parseNextHop(value: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { problem: `NEXT_HOP=${show(value)} is not a URL: use e.g. NEXT_HOP=http://next-hop:80` };
  }
  if (url.protocol === 'https:')
    return { problem: `NEXT_HOP=${show(value)} uses https: ${CONTRACT_HTTP_RULE}` };
  if (url.protocol !== 'http:') {
    return { problem: `NEXT_HOP=${show(value)} must be an http: URL with a host, e.g. http://next-hop:80` };
  }
  if (!url.hostname) return { problem: `NEXT_HOP=${show(value)} has no host: use e.g. http://next-hop:80` };
  if (
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    (url.pathname !== '/' && url.pathname !== '')
  ) {
    return {
      problem:
        `NEXT_HOP=${show(value)} must be an origin only (scheme, host, port): the proxy sends each ` +
        'request path as the client sent it; use e.g. http://next-hop:80',
    };
  }
  return { value: `http://${url.hostname}:${url.port || '80'}` };
}

function parseHost(value: string): Parsed<string> {
  const host = value.trim();
  if (
    net.isIP(host) !== 0 ||
    /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i.test(host)
  )
    return { value: host };
  return {
    problem: `HOST=${show(value)} is not an IP address or host name: use e.g. HOST=127.0.0.1 (unset: all interfaces)`,
  };
}

function parseLogDir(value: string): Parsed<string> {
  if (value.trim() === '' || value.includes('\0')) {
    return { problem: `LOG_DIR=${show(value)} is not a folder path: use e.g. LOG_DIR=/var/log/nodejs` };
  }
  return { value: path.resolve(value) };
}

function parseLogLevel(value: string): Parsed<LogLevel> {
  const level = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return { value: level as LogLevel };
  return {
    problem: `LOG_LEVEL=${show(value)} is not a level${suggestion(level, LOG_LEVELS)}: use one of ${LOG_LEVELS.join(', ')}`,
  };
}

function parseWorkers(value: string): Parsed<number | 'auto'> {
  if (value === 'auto') return { value };
  const n = /^[1-9][0-9]{0,3}$/.test(value) ? Number(value) : NaN;
  if (n >= 1 && n <= 1024) return { value: n };
  return {
    problem: `WEB_CONCURRENCY=${show(value)} is not a worker count: use an integer from 1 to 1024 or "auto" (one per core)`,
  };
}

/**
 * Read and validate nexthop's environment variables. Every problem is collected and
 * thrown together as one {@link ConfigError} (`code: 'ERR_NEXTHOP_CONFIG'`).
 *
 * @param env the environment to read. @default process.env
 * @example
 * const config = loadConfig(); // { port: 8080, nextHop: 'http://next-hop:80', ... }
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const notices: string[] = [];
  function take<T>(name: string, parse: (v: string) => Parsed<T>, fallback: T): T {
    const raw = env[name];
    if (raw === undefined) return fallback;
    const parsed = parse(raw);
    if ('problem' in parsed) {
      problems.push(parsed.problem);
      return fallback;
    }
    return parsed.value;
  }

  const port = take('PORT', parsePort, DEFAULT_PORT);
  if (env.PORT === undefined) notices.push(`PORT is not set; listening on ${DEFAULT_PORT}`);
  const config: Config = {
    port,
    host: take<string | undefined>('HOST', parseHost, undefined),
    nextHop: take('NEXT_HOP', parseNextHop, DEFAULT_NEXT_HOP),
    logDir: take('LOG_DIR', parseLogDir, DEFAULT_LOG_DIR),
    logLevel: take('LOG_LEVEL', parseLogLevel, 'info'),
    nodeEnv: env.NODE_ENV || 'production',
    webConcurrency: take<number | 'auto' | undefined>('WEB_CONCURRENCY', parseWorkers, undefined),
    notices: Object.freeze(notices),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}
