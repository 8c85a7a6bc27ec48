import type http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createPainter, paintStatus, type Painter } from '../colour';
import { readGitignore } from '../doctor/files-checks';
import { UsageError, parseCommandArgs, parseIntFlag, type CliIO } from '../io';
import { freePort } from '../proc';
import { AppProcess, watchSources } from './app-process';
import { destroyAgents } from './forward';
import { startFront, type RequestRecord } from './front';
import { parseGeo } from './geo';
import { startNextHop, type NextHopFault } from './next-hop';

/** Help text of `nexthop dev`. */
export const DEV_HELP = `Usage: nexthop dev [dir] [options]

Run the edge chain on this machine:
  client → front (:8080) → your app (npm start, PORT=free, LOG_DIR=./logs, NEXT_HOP=emulated)
         → emulated next-hop → --origin URL | built-in demo origin

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
  --help, -h                 show this help

Each request prints one line: method, path, status, time and who answered (app, origin via
the app, or bypass). Ctrl-C stops everything.`;

const OPTIONS = {
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
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parse `--next-hop-fault`. */
export function parseFault(text: string): NextHopFault {
  if (text === 'refuse' || text === 'timeout' || text === 'reset') return { kind: text };
  const slow = /^slow=(\d{1,7})$/.exec(text);
  if (slow) return { kind: 'slow', ms: Number(slow[1]) };
  throw new UsageError(
    `--next-hop-fault "${text}" is unknown; use refuse, timeout, reset or slow=<ms> (e.g. slow=2000)`,
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

function requestLine(c: Painter, r: RequestRecord, fault: NextHopFault | undefined): string {
  const by = r.by === 'app' ? c.cyan('app') : r.by === 'origin' ? c.magenta('origin') : c.yellow('bypass');
  const faultNote = fault && r.status >= 500 ? c.dim(` (next-hop fault: ${fault.kind})`) : '';
  return `${r.method.padEnd(7)} ${r.path} ${paintStatus(c, r.status)} ${c.dim(`${r.ms.toFixed(0)} ms`)} ${by}${faultNote}\n`;
}

/** `nexthop dev [dir]`: runs until SIGINT/SIGTERM (or the app crashes without --watch). */
export async function devCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS);
  if (values.help) {
    io.stdout.write(`${DEV_HELP}\n`);
    return 0;
  }
  const clientIp = values['client-ip'];
  if (clientIp !== undefined && net.isIP(clientIp) === 0) {
    throw new UsageError(`--client-ip "${clientIp}" is not an IP address`);
  }
  const dir = path.resolve(io.cwd, positionals[0] ?? '.');
  const fault = values['next-hop-fault'] === undefined ? undefined : parseFault(values['next-hop-fault']);
  const origin = values.origin === undefined ? undefined : parseOrigin(values.origin);
  const settings = {
    port: parseIntFlag('port', values.port, 8080, 0, 65535),
    geo: values.geo === undefined ? undefined : parseGeo(values.geo),
    bypass: values.bypass === undefined ? [] : parseBypass(values.bypass),
  };
  const c = createPainter(io.stdout, io.env);
  const say = (text: string) => io.stdout.write(`${text}\n`);

  const nextHop = await startNextHop({ origin, fault });
  const appPort = await freePort();
  const logDir = path.join(dir, 'logs');
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));
  const app = new AppProcess({
    dir,
    port: appPort,
    env: {
      NODE_ENV: 'development',
      ...io.env,
      PORT: String(appPort),
      LOG_DIR: logDir,
      NEXT_HOP: nextHop.url,
    },
    onOutput: (line, stream) =>
      (stream === 'stderr' ? io.stderr : io.stdout).write(`${c.dim('app │')} ${line}\n`),
    onReady: () =>
      say(
        `${c.green('ready')}: http://${values.listen ?? '127.0.0.1'}:${frontPort()} → app on PORT=${appPort}`,
      ),
    onCrash: (why) => {
      io.stderr.write(`${c.red('✗ the app stopped')} (${why})`);
      if (values.watch) io.stderr.write('; the emulator stays up and restarts it when a file changes\n');
      else {
        io.stderr.write('; stopping (use --watch to keep the emulator up)\n');
        finish(1);
      }
    },
  });

  let front: http.Server;
  try {
    front = await startFront({
      ...settings,
      listen: values.listen,
      https: values.https,
      clientIp,
      hostHeader: values['host-header'],
      appPort: () => app.port,
      nextHopPort: nextHop.port,
      reachedOrigin: (id) => nextHop.outcome(id) !== undefined,
      onRequest: (record) => io.stdout.write(requestLine(c, record, fault)),
    });
  } catch (err) {
    await nextHop.close();
    throw new UsageError(`cannot listen on port ${settings.port}: ${(err as Error).message}; use --port`);
  }
  function frontPort(): number {
    return (front.address() as net.AddressInfo).port;
  }

  say(c.bold('nexthop dev'));
  say(
    `  front      http://${values.listen ?? '127.0.0.1'}:${frontPort()}  X-Forwarded-Proto: ${values.https ? 'https' : 'http'}`,
  );
  say(`  app        npm start in ${dir}  PORT=${appPort} LOG_DIR=${logDir}`);
  say(
    `  next-hop   ${nextHop.url} → ${origin ? origin.origin : 'demo origin (echoes the request)'}${fault ? `  fault: ${values['next-hop-fault']}` : ''}`,
  );
  if (settings.bypass.length > 0) say(`  bypass     ${settings.bypass.join(', ')}`);
  app.start();

  const watcher = values.watch
    ? watchSources(dir, logDir, readGitignore(dir), (file) => {
        say(c.yellow(`↻ ${file} changed: restarting the app`));
        void app.stop().then(() => app.start());
      })
    : undefined;

  const onSignal = (signal: NodeJS.Signals) => {
    say(c.dim(`\n${signal}: stopping`));
    finish(0);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const code = await done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  watcher?.close();
  await app.stop();
  front.closeAllConnections();
  await new Promise((r) => front.close(r));
  await nextHop.close();
  destroyAgents();
  return code;
}
