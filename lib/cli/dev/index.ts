import path from 'node:path';
import { createPainter, paintStatus, type Painter } from '../colour';
import { readGitignore } from '../doctor/files-checks';
import { UsageError, parseCommandArgs, type CliIO } from '../io';
import { freePort } from '../proc';
import { AppProcess, watchSources } from './app-process';
import { destroyAgents } from './forward';
import { startFront, type Front, type RequestRecord } from './front';
import { startNextHop, type NextHopFault } from './next-hop';
import { DEV_HELP, DEV_OPTIONS, devSettings, type DevSettings } from './options';

export { DEV_HELP, parseBypass, parseFault, parseOrigin } from './options';

/** One line of the request log. */
function requestLine(c: Painter, r: RequestRecord, fault: NextHopFault | undefined): string {
  const by = r.by === 'app' ? c.cyan('app') : r.by === 'origin' ? c.magenta('origin') : c.yellow('bypass');
  const faultNote = fault && r.status >= 500 ? c.dim(` (next-hop fault: ${fault.kind})`) : '';
  return `${r.method.padEnd(7)} ${r.path} ${paintStatus(c, r.status)} ${c.dim(`${r.ms.toFixed(0)} ms`)} ${by}${faultNote}\n`;
}

/** What runs where, printed once at start-up. */
function banner(s: DevSettings, c: Painter, frontPort: number, appPort: number, nextHopUrl: string): string {
  const lines = [
    c.bold('nexthop dev'),
    `  front      http://${s.listen}:${frontPort}  X-Forwarded-Proto: ${s.https ? 'https' : 'http'}`,
    `  app        npm start in ${s.dir}  PORT=${appPort} LOG_DIR=${path.join(s.dir, 'logs')}`,
    `  next-hop   ${nextHopUrl} → ${s.origin ? s.origin.origin : 'demo origin (echoes the request)'}` +
      (s.faultText ? `  fault: ${s.faultText}` : ''),
  ];
  if (s.bypass.length > 0) lines.push(`  bypass     ${s.bypass.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** `nexthop dev [dir]`: runs until SIGINT/SIGTERM (or the app crashes without --watch). */
export async function devCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, DEV_OPTIONS);
  if (values.help) {
    io.stdout.write(`${DEV_HELP}\n`);
    return 0;
  }
  return runDev(devSettings(values, positionals, io.cwd), io);
}

async function runDev(s: DevSettings, io: CliIO): Promise<number> {
  const c = createPainter(io.stdout, io.env);
  const say = (text: string) => io.stdout.write(`${text}\n`);
  const nextHop = await startNextHop({ origin: s.origin, fault: s.fault });
  const appPort = await freePort();
  const logDir = path.join(s.dir, 'logs');
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));
  let frontPort = s.port;
  const app = new AppProcess({
    dir: s.dir,
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
    onReady: () => say(`${c.green('ready')}: http://${s.listen}:${frontPort} → app on PORT=${appPort}`),
    onCrash: (why) => {
      io.stderr.write(`${c.red('✗ the app stopped')} (${why})`);
      if (s.watch) io.stderr.write('; the emulator stays up and restarts it when a file changes\n');
      else {
        io.stderr.write('; stopping (use --watch to keep the emulator up)\n');
        finish(1);
      }
    },
  });
  let front: Front;
  try {
    front = await startFront({
      ...s,
      appPort: () => app.port,
      nextHopPort: nextHop.port,
      reachedOrigin: (id) => nextHop.outcome(id) !== undefined,
      onRequest: (record) => io.stdout.write(requestLine(c, record, s.fault)),
    });
  } catch (err) {
    await nextHop.close();
    throw new UsageError(`cannot listen on ${s.listen}:${s.port}: ${(err as Error).message}; use --port`);
  }
  frontPort = front.port;
  io.stdout.write(banner(s, c, front.port, appPort, nextHop.url));
  app.start();
  const watcher = s.watch
    ? watchSources(s.dir, logDir, readGitignore(s.dir), (file) => {
        say(c.yellow(`↻ ${file} changed: restarting the app`));
        void app.restart();
      })
    : undefined;
  const code = await untilSignal(done, finish, (signal) => say(c.dim(`\n${signal}: stopping`)));
  watcher?.close();
  await app.dispose();
  await front.close();
  await nextHop.close();
  destroyAgents();
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
