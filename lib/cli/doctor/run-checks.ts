import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { HEALTH_PATH } from '../../platform';
import { HAS_PROC, freePort, isAlive, listeningSockets, processTree, stopTree } from '../proc';
import { logSnapshot, logsResult } from './run-logs';
import { sigtermResults } from './run-sigterm';
import { fail, pass, warn, type CheckResult } from './types';

/** Settings of `doctor --run`. */
export interface RunOptions {
  /** Ms `npm start` gets to answer on PORT. @default 30000 */
  timeoutMs?: number;
  /** Ms the app gets to exit after SIGTERM. @default 10000 */
  graceMs?: number;
}

type Probe = { version: string; status: number } | { refused: true } | { error: string };

function probe(port: number): Promise<Probe> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: `${HEALTH_PATH}?ts=${Date.now()}`, agent: false, timeout: 2000 },
      (res) => {
        res.resume();
        resolve({ version: res.httpVersion, status: res.statusCode ?? 0 });
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      resolve(
        err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' ? { refused: true } : { error: err.message },
      );
    });
  });
}

/** The app's output, kept short for failure messages. */
function tailOf(child: ChildProcess): () => string | undefined {
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => {
    const text = tail.trim();
    return text ? `last output of npm start:\n${text.split('\n').slice(-6).join('\n')}` : undefined;
  };
}

/** `npm start` under observation: its output tail, how it exited, every PID seen in its tree. */
interface Started {
  readonly child: ChildProcess;
  readonly tail: () => string | undefined;
  readonly seen: Set<number>;
  exit?: string;
}

function startApp(dir: string, env: NodeJS.ProcessEnv): Started {
  const child = spawn('npm', ['start'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const started: Started = { child, tail: tailOf(child), seen: new Set() };
  child.on('exit', (code, signal) => (started.exit = signal ? `signal ${signal}` : `code ${code}`));
  child.on('error', (err) => (started.exit = err.message));
  return started;
}

function remember(app: Started): void {
  if (app.child.pid) processTree(app.child.pid).forEach((p) => app.seen.add(p));
}

/** Probe PORT every 100 ms until it answers, the app exits or the time is up. */
async function waitForAnswer(app: Started, port: number, timeoutMs: number): Promise<CheckResult[]> {
  const started = Date.now();
  let answer: Probe = { refused: true };
  while (Date.now() - started < timeoutMs && app.exit === undefined) {
    remember(app);
    answer = await probe(port);
    if (!('refused' in answer)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  remember(app);
  const results = [answerResult(answer, port, Date.now() - started, app.exit, timeoutMs, app.tail)];
  if ('status' in answer && answer.status >= 500) {
    results.push(
      warn(
        'run-health',
        `the health-check path ${HEALTH_PATH} answered ${answer.status} while next-hop was unreachable`,
        'answer the health check yourself when next-hop is down (nextHopProxy does); the platform counts 5xx as unhealthy',
      ),
    );
  }
  return results;
}

/**
 * `doctor --run`: start `npm start` with a free PORT and a temp LOG_DIR, check that it
 * answers HTTP/1.1 on PORT, listens on no other TCP port, exits on SIGTERM within the
 * grace period and wrote no log file outside LOG_DIR. Everything started is stopped by PID
 * before this resolves. Only loopback is used: NEXT_HOP points at a closed local port.
 */
export async function runChecks(dir: string, options: Readonly<RunOptions> = {}): Promise<CheckResult[]> {
  const { timeoutMs = 30_000, graceMs = 10_000 } = options;
  const port = await freePort();
  const closedPort = await freePort();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexthop-doctor-logs-'));
  const logsBefore = logSnapshot(dir);
  const app = startApp(dir, {
    ...process.env,
    PORT: String(port),
    LOG_DIR: logDir,
    NEXT_HOP: `http://127.0.0.1:${closedPort}`,
    NODE_ENV: 'production',
  });
  const results: CheckResult[] = [];
  try {
    results.push(...(await waitForAnswer(app, port, timeoutMs)));
    results.push(portsResult(port, [...app.seen].filter(isAlive), app.exit));
    if (app.exit === undefined && app.child.pid) {
      results.push(...(await sigtermResults(app.child.pid, app.seen, graceMs, app.tail)));
    }
  } finally {
    if (app.child.pid) await stopTree(app.child.pid, 1000, [...app.seen]);
  }
  results.push(logsResult(dir, logsBefore, logDir));
  fs.rmSync(logDir, { recursive: true, force: true });
  return results;
}

function answerResult(
  answer: Probe,
  port: number,
  ms: number,
  exit: string | undefined,
  timeoutMs: number,
  tail: () => string | undefined,
): CheckResult {
  if ('status' in answer) {
    if (answer.version === '1.1')
      return pass('run-answers', `answered HTTP/1.1 ${answer.status} on PORT=${port} in ${ms} ms`, 1);
    return fail(
      'run-answers',
      `answered with HTTP/${answer.version}, not HTTP/1.1`,
      'serve HTTP/1.1 (node:http does)',
      1,
    );
  }
  if ('error' in answer) {
    return {
      ...fail(
        'run-answers',
        `PORT=${port} does not speak plain HTTP/1.1 (${answer.error})`,
        'serve plain HTTP on PORT, never HTTPS: the platform terminates TLS at the edge',
        1,
      ),
      detail: tail(),
    };
  }
  const why = exit
    ? `npm start exited (${exit}) before answering`
    : `no answer on PORT=${port} within ${timeoutMs} ms`;
  return {
    ...fail('run-answers', why, 'listen on process.env.PORT with an HTTP/1.1 server', 1),
    detail: tail(),
  };
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `${new URL(`http://[${address}]/`).hostname}:${port}` : `${address}:${port}`;
}

function portsResult(port: number, pids: number[], exit: string | undefined): CheckResult {
  if (!HAS_PROC) {
    return warn(
      'run-one-port',
      'cannot list the listening sockets on this OS',
      'check that the app opens no other port',
      1,
    );
  }
  if (pids.length === 0) {
    return exit
      ? warn(
          'run-one-port',
          'the app was not running, so its ports could not be listed',
          'make npm start run',
          1,
        )
      : pass('run-one-port', 'listens on no TCP port', 1);
  }
  const sockets = listeningSockets(pids);
  const others = sockets.filter((s) => s.port !== port);
  if (others.length === 0) return pass('run-one-port', `listens on TCP port ${port} only`, 1);
  const list = others.map((s) => `${hostPort(s.address, s.port)} (pid ${s.pid})`).join(', ');
  return fail(
    'run-one-port',
    `listens on ${list}, besides PORT=${port}`,
    'listen on PORT only: the platform routes nothing to other ports (no second server, no debugger port)',
    1,
  );
}
