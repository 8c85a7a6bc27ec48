import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { createPainter, paintStatus, type Painter } from '../colour';
import { doctor } from '../doctor';
import { readGitignore } from '../doctor/files-checks';
import { UsageError, parseCommandArgs, type CliIO } from '../io';
import { freePort } from '../proc';
import { AppProcess, watchSources, type SourceWatcher } from './app-process';
import { destroyAgents } from './forward';
import { startFront, type Front, type RequestRecord } from './front';
import { startNextHop, type NextHop, type NextHopFault } from './next-hop';
import { DEV_HELP, DEV_OPTIONS, devSettings, normaliseDevArgs, type DevSettings } from './options';

export { DEV_HELP, parseBypass, parseFault, parseInspect, parseOrigin } from './options';

const WHO: Record<RequestRecord['by'], (c: Painter) => string> = {
  app: (c) => c.cyan('app'),
  origin: (c) => c.magenta('origin'),
  'next-hop': (c) => c.magenta('next-hop'),
  bypass: (c) => c.yellow('bypass'),
  front: (c) => c.yellow('front'),
  none: (c) => c.dim('no answer'),
};

/** One line of the request log: status (or `aborted`), time, who answered. */
function requestLine(c: Painter, r: RequestRecord, fault: NextHopFault | undefined): string {
  const status = r.status === 'aborted' ? c.yellow('aborted') : paintStatus(c, r.status);
  const faulty = r.status === 'aborted' || r.status >= 500;
  const faultNote = fault && faulty ? c.dim(` (next-hop fault: ${fault.kind})`) : '';
  return `${r.method.padEnd(7)} ${r.path} ${status} ${c.dim(`${r.ms.toFixed(0)} ms`)} ${WHO[r.by](c)}${faultNote}\n`;
}

/**
 * The project's `.env`, parsed as Node's `--env-file` reads it (util.parseEnv); variables
 * already set in dev's environment win, as with `--env-file`.
 */
function dotEnv(dir: string, env: NodeJS.ProcessEnv): { vars: NodeJS.ProcessEnv; count: number } {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, '.env'), 'utf8');
  } catch {
    return { vars: {}, count: 0 };
  }
  const parsed = parseEnv(text);
  const vars = Object.fromEntries(Object.entries(parsed).filter(([name]) => env[name] === undefined));
  return { vars, count: Object.keys(parsed).length };
}

/** The checks `nexthop doctor` fails today (static ones), to fix before deploying. */
async function doctorHints(dir: string, c: Painter): Promise<string> {
  const failed = (await doctor(dir)).filter((r) => r.status === 'fail');
  if (failed.length === 0) return '';
  const lines = failed.map((r) => `  ${c.red('✗')} ${r.message} — fix: ${r.fix}`);
  return `${c.yellow('before deploying')}, \`nexthop doctor\` wants:\n${lines.join('\n')}\n`;
}

/** What runs where, printed once at start-up. */
function banner(s: DevSettings, c: Painter, frontPort: number, appPort: number, nextHopUrl: string): string {
  const how =
    s.launch.kind === 'node' ? `node ${[...s.launch.nodeArgs, s.launch.file].join(' ')}` : 'npm start';
  const inspect =
    s.launch.nodeArgs.length > 0 ? `  (${s.launch.nodeArgs.join(' ')}: open chrome://inspect)` : '';
  const lines = [
    c.bold('nexthop dev'),
    `  front      http://${s.listen}:${frontPort}  X-Forwarded-Proto: ${s.https ? 'https' : 'http'}`,
    `  app        ${how} in ${s.dir}  PORT=${appPort} LOG_DIR=${path.join(s.dir, 'logs')}${inspect}`,
    `  next-hop   ${nextHopUrl} → ${s.origin ? s.origin.origin : 'demo origin (echoes the request)'}` +
      (s.faultText ? `  fault: ${s.faultText}` : ''),
  ];
  if (s.bypass.length > 0) lines.push(`  bypass     ${s.bypass.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** `nexthop dev [dir]`: runs until SIGINT/SIGTERM (or the app crashes without --watch). */
export async function devCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(normaliseDevArgs(argv), DEV_OPTIONS);
  if (values.help) {
    io.stdout.write(`${DEV_HELP}\n`);
    return 0;
  }
  return runDev(devSettings(values, positionals, io.cwd), io);
}

/** What a dev session's parts share: settings, terminal, painter. */
interface Session {
  readonly s: DevSettings;
  readonly io: CliIO;
  readonly c: Painter;
  readonly say: (text: string) => void;
}

/** The app's environment: .env under dev's own, with PORT, LOG_DIR and NEXT_HOP dev's. */
function appEnv(
  io: CliIO,
  dotenvVars: NodeJS.ProcessEnv,
  appPort: number,
  logDir: string,
  nextHopUrl: string,
) {
  return {
    NODE_ENV: 'development',
    // Only the front should reach the app: serve() binds where HOST says.
    HOST: '127.0.0.1',
    ...dotenvVars,
    ...io.env,
    PORT: String(appPort),
    LOG_DIR: logDir,
    NEXT_HOP: nextHopUrl,
  };
}

/** The app process, its output prefixed; a crash ends the session unless --watch. */
function createApp(
  { s, io, c, say }: Session,
  env: NodeJS.ProcessEnv,
  appPort: number,
  frontPort: () => number,
  finish: (code: number) => void,
): AppProcess {
  return new AppProcess({
    dir: s.dir,
    port: appPort,
    launch: s.launch,
    env,
    onOutput: (line, stream) =>
      (stream === 'stderr' ? io.stderr : io.stdout).write(`${c.dim('app │')} ${line}\n`),
    onReady: () => say(`${c.green('ready')}: http://${s.listen}:${frontPort()} → app on PORT=${appPort}`),
    onCrash: (why) => {
      io.stderr.write(`${c.red('✗ the app stopped')} (${why})`);
      if (s.watch) io.stderr.write('; the emulator stays up and restarts it when a file changes\n');
      else {
        io.stderr.write('; stopping (use --watch to keep the emulator up)\n');
        finish(1);
      }
    },
  });
}

/** The front, logging each request; a port it cannot bind is a usage error. */
async function openFront({ s, io, c }: Session, app: AppProcess, nextHop: NextHop): Promise<Front> {
  try {
    return await startFront({
      ...s,
      appPort: () => app.port,
      nextHopPort: nextHop.port,
      nextHopOutcome: (id) => nextHop.outcome(id),
      onRequest: (record) => io.stdout.write(requestLine(c, record, s.fault)),
    });
  } catch (err) {
    await nextHop.close();
    throw new UsageError(`cannot listen on ${s.listen}:${s.port}: ${(err as Error).message}; use --port`);
  }
}

/** The start-up text: banner, .env count, the launch note and doctor's hints. */
async function announce(
  { s, io, c, say }: Session,
  frontPort: number,
  appPort: number,
  nextHopUrl: string,
  dotenvCount: number,
): Promise<void> {
  io.stdout.write(banner(s, c, frontPort, appPort, nextHopUrl));
  if (dotenvCount > 0) say(`  .env       ${dotenvCount} variable(s) loaded (variables already set win)`);
  if (s.launch.kind === 'node') {
    say(c.yellow(`no "start" script: running node ${s.launch.file}; the platform runs \`npm start\``));
  }
  io.stdout.write(await doctorHints(s.dir, c));
}

/** With --watch, restart the app when a source file changes. */
function watchIfAsked({ s, c, say }: Session, logDir: string, app: AppProcess): SourceWatcher | undefined {
  if (!s.watch) return undefined;
  return watchSources(s.dir, logDir, readGitignore(s.dir), (file) => {
    say(c.yellow(`↻ ${file} changed: restarting the app`));
    void app.restart();
  });
}

/** Stop the app (letting it drain), then the front and next-hop. */
async function shutDown(app: AppProcess, front: Front, nextHop: NextHop): Promise<void> {
  // A second Ctrl-C while the app drains: signal it again, which a graceful server reads as
  // "exit now", and kill what is left.
  const hurry = () => void app.stop(0);
  process.on('SIGINT', hurry);
  process.on('SIGTERM', hurry);
  await app.dispose().finally(() => {
    process.off('SIGINT', hurry);
    process.off('SIGTERM', hurry);
  });
  await front.close();
  await nextHop.close();
  destroyAgents();
}

async function runDev(s: DevSettings, io: CliIO): Promise<number> {
  const c = createPainter(io.stdout, io.env);
  const session: Session = { s, io, c, say: (text: string) => io.stdout.write(`${text}\n`) };
  const nextHop = await startNextHop({ origin: s.origin, fault: s.fault });
  const appPort = await freePort();
  const logDir = path.join(s.dir, 'logs');
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));
  let frontPort = s.port;
  const dotenv = dotEnv(s.dir, io.env);
  const env = appEnv(io, dotenv.vars, appPort, logDir, nextHop.url);
  const app = createApp(session, env, appPort, () => frontPort, finish);
  const front = await openFront(session, app, nextHop);
  frontPort = front.port;
  await announce(session, front.port, appPort, nextHop.url, dotenv.count);
  app.start();
  const watcher = watchIfAsked(session, logDir, app);
  const code = await untilSignal(done, finish, (signal) =>
    session.say(
      c.dim(`\n${signal}: stopping (the app finishes its in-flight requests; again to stop it now)`),
    ),
  );
  watcher?.close();
  await shutDown(app, front, nextHop);
  return code;
}

/** Resolve with `done`'s code, or 0 on the first SIGINT/SIGTERM (Ctrl-C). */
async function untilSignal(
  done: Promise<number>,
  finish: (code: number) => void,
  onSignal: (signal: NodeJS.Signals) => void,
): Promise<number> {
  const handler = (signal: NodeJS.Signals) => {
    onSignal(signal);
    finish(0);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  try {
    return await done;
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  }
}
