import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { suggestion } from '../../check-options';
import { findServerFile, suggestedStart } from '../doctor/package-checks';
import { UsageError, folderArg, parseCommandArgs, parseIntFlag } from '../io';
import type { Launch } from './app-process';
import { parseGeo, type Geo } from './geo';
import type { NextHopFault } from './next-hop';

/** Help text of `nexthop dev`. */
export const DEV_HELP = `Usage: nexthop dev [dir] [options]

Run the edge chain on this machine:
  client → front (:8080) → your app (npm start, PORT=free, HOST=127.0.0.1, LOG_DIR=./logs,
         NEXT_HOP=emulated) → emulated next-hop → --origin URL | built-in demo origin

The app is started with \`npm start\`; a project without a start script runs its server file
(package.json "main", server.js, src/server.js, index.js, …) with node. A .env file in the
folder is loaded into the app's environment (variables already set win).

Options:
  --port <n>                 front port (default 8080; 0 picks a free one)
  --listen <addr>            front address to bind (default 127.0.0.1)
  --https                    the front sends X-Forwarded-Proto: https (as for an HTTPS browser)
  --client-ip <ip>           True-Client-IP to send (default: the real peer address)
  --geo <k=v,...>            section-io-geo-* values, e.g. country=US,city=Seattle
                             (default: a small built-in table keyed by the client IP)
  --host-header <host>       Host to pass on, as if browsers visited that name (default: as received)
  --bypass </a,/b>           path prefixes the front sends straight to next-hop, skipping the app
  --origin <url>             where next-hop forwards (default: a built-in demo origin that echoes
                             the request); HTTPS is used when X-Forwarded-Proto is https and the
                             origin accepts TLS on 443
  --next-hop-fault <fault>   refuse | timeout | reset | slow=<ms>: see the app's 502/504 paths
  --watch                    restart the app when a source file changes (the emulator stays up)
  --inspect[=[host:]port]    start the app's node with the inspector (default 127.0.0.1:9229)
  --help, -h                 show this help

Each request prints one line: method, path, status, time and who answered (app, origin via
the app, or bypass). Ctrl-C stops everything.`;

export const DEV_OPTIONS = {
  port: { type: 'string' },
  listen: { type: 'string' },
  https: { type: 'boolean' },
  'client-ip': { type: 'string' },
  geo: { type: 'string' },
  'host-header': { type: 'string' },
  bypass: { type: 'string' },
  origin: { type: 'string' },
  'next-hop-fault': { type: 'string' },
  watch: { type: 'boolean' },
  inspect: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * `--inspect` takes an optional value, which parseArgs cannot express: a bare `--inspect`
 * becomes `--inspect=` (an empty value: the inspector's default address).
 */
export function normaliseDevArgs(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((arg, i) => (arg === '--inspect' && (end === -1 || i < end) ? '--inspect=' : arg));
}

/** Parse `--inspect[=[host:]port]` into the node flag to pass on. */
export function parseInspect(text: string): string {
  if (text === '') return '--inspect';
  if (
    /^(?:(?:[a-z0-9.-]+|\[[0-9a-f:.]+\]):)?\d{1,5}$/i.test(text) &&
    Number(/\d+$/.exec(text)?.[0]) <= 65535
  ) {
    return `--inspect=${text}`;
  }
  throw new UsageError(
    `--inspect "${text}" is not a [host:]port; use e.g. --inspect or --inspect=127.0.0.1:9230`,
  );
}

/** Parse `--next-hop-fault`. */
export function parseFault(text: string): NextHopFault {
  if (text === 'refuse' || text === 'timeout' || text === 'reset') return { kind: text };
  const slow = /^slow=(\d{1,7})$/.exec(text);
  if (slow) return { kind: 'slow', ms: Number(slow[1]) };
  throw new UsageError(
    `--next-hop-fault "${text}" is unknown${suggestion(text, ['refuse', 'timeout', 'reset'])}; use refuse, timeout, reset or slow=<ms> (e.g. slow=2000)`,
  );
}

/** Parse `--origin`: an http(s) origin, no path, query or credentials. */
export function parseOrigin(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--origin "${text}" is not a URL; use e.g. --origin https://example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--origin "${text}" must be an http: or https: URL`);
  }
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/') {
    throw new UsageError(
      `--origin "${text}" must be an origin only (scheme, host, port): request paths are kept`,
    );
  }
  return url;
}

/** Parse `--bypass /static,/images`: each entry a path prefix starting with `/`. */
export function parseBypass(text: string): string[] {
  const list = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const bad = list.find((p) => !p.startsWith('/'));
  if (bad !== undefined)
    throw new UsageError(`--bypass entry "${bad}" must be a path prefix starting with "/"`);
  return list;
}

/** How to start the project's app: `npm start`, else `node <server file>`. */
function launchFor(dir: string, nodeArgs: readonly string[]): { launch: Launch; startHint?: string } {
  let pkg: { main?: unknown; scripts?: { start?: unknown } } = {};
  const file = path.join(dir, 'package.json');
  if (fs.existsSync(file)) {
    try {
      pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new UsageError(`${file} does not parse (${(err as Error).message}); fix its JSON syntax`);
    }
  }
  const start = pkg.scripts?.start;
  if (typeof start === 'string' && start.trim() !== '') return { launch: { kind: 'npm-start', nodeArgs } };
  const server = findServerFile(dir, typeof pkg === 'object' && pkg !== null ? pkg : {});
  if (server === undefined) {
    throw new UsageError(
      `${dir} has no "start" script in package.json and no server file (server.js, src/server.js, index.js, …); ` +
        'add a "start" script that starts your HTTP server, or scaffold a module with `nexthop init`',
    );
  }
  return {
    launch: { kind: 'node', file: server, nodeArgs },
    startHint: `add "scripts": { "start": "${suggestedStart(dir, { main: server })}" } to package.json`,
  };
}

/** Everything `dev` was asked for, parsed and validated. */
export interface DevSettings {
  readonly dir: string;
  readonly port: number;
  readonly listen: string;
  readonly https: boolean;
  readonly clientIp?: string;
  readonly geo?: Geo;
  readonly hostHeader?: string;
  readonly bypass: string[];
  readonly origin?: URL;
  readonly fault?: NextHopFault;
  readonly faultText?: string;
  readonly watch: boolean;
  /** How the app is started. */
  readonly launch: Launch;
  /** Without a start script: the one `doctor` will ask for. */
  readonly startHint?: string;
}

export function devSettings(values: DevValues, positionals: string[], cwd: string): DevSettings {
  const clientIp = values['client-ip'];
  if (clientIp !== undefined && net.isIP(clientIp) === 0) {
    throw new UsageError(`--client-ip "${clientIp}" is not an IP address`);
  }
  const faultText = values['next-hop-fault'];
  const dir = folderArg(cwd, positionals[0]);
  const nodeArgs = values.inspect === undefined ? [] : [parseInspect(values.inspect)];
  return {
    ...launchFor(dir, nodeArgs),
    dir,
    port: parseIntFlag('port', values.port, 8080, 0, 65535),
    listen: values.listen ?? '127.0.0.1',
    https: values.https ?? false,
    clientIp,
    geo: values.geo === undefined ? undefined : parseGeo(values.geo),
    hostHeader: values['host-header'],
    bypass: values.bypass === undefined ? [] : parseBypass(values.bypass),
    origin: values.origin === undefined ? undefined : parseOrigin(values.origin),
    fault: faultText === undefined ? undefined : parseFault(faultText),
    faultText,
    watch: values.watch ?? false,
  };
}

export type DevValues = ReturnType<typeof parseCommandArgs<typeof DEV_OPTIONS>>['values'];
