import http from 'node:http';
import type { Child } from './process';

/** A JSON log line written by nexthop's logger to a child's stdout. */
export interface LogLine {
  level: string;
  message: string;
  time: string;
  [key: string]: unknown;
}

/** Every JSON log line the child wrote to stdout so far. */
export function logLines(child: Child): LogLine[] {
  return child
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** Resolves with the `count` first log lines whose message matches; rejects on exit or timeout. */
export function waitForLogs(
  child: Child,
  message: RegExp,
  count = 1,
  timeoutMs = 10_000,
): Promise<LogLine[]> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = logLines(child).filter((l) => message.test(l.message));
      if (found.length >= count) return finish(() => resolve(found.slice(0, count)));
      if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
        finish(() =>
          reject(
            new Error(`child exited before ${count}× ${message}:\n${child.stdout()}\n${child.stderr()}`),
          ),
        );
      }
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new Error(`timeout waiting for ${count}× ${message}:\n${child.stdout()}\n${child.stderr()}`),
          ),
        ),
      timeoutMs,
    );
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      child.proc.stdout!.off('data', check);
      child.proc.off('exit', check);
      fn();
    };
    child.proc.stdout!.on('data', check);
    child.proc.on('exit', check);
    check();
  });
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once none of `pids` exists (processes that are not our children cannot be awaited). */
export async function gone(pids: number[], timeoutMs = 8_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > until) throw new Error(`still running: ${pids.filter(alive).join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface LoadResult {
  ok: number;
  failed: number;
  errors: string[];
  pids: Set<number>;
}

/** Resolves once `check()` is true, testing it every 10 ms (for counters of a running load). */
export async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met in ${timeoutMs} ms: ${check.toString()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Send `method` `path` requests from `concurrency` loops until `stop()` resolves. `fresh`: a new
 * TCP connection per request (any refused connection shows), else keep-alive.
 */
export function loop(
  port: number,
  path: string,
  options: { concurrency?: number; fresh?: boolean; method?: string; body?: string } = {},
): { result: LoadResult; stop(): Promise<LoadResult> } {
  const { concurrency = 4, fresh = false, method = 'GET', body: payload } = options;
  const agent = fresh ? false : new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { ok: 0, failed: 0, errors: [], pids: new Set() };
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path, agent, method }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          if (res.statusCode === 200) {
            result.ok += 1;
            const pid = (JSON.parse(body) as { pid?: number }).pid;
            if (pid) result.pids.add(pid);
          } else {
            result.failed += 1;
            result.errors.push(`status ${res.statusCode}`);
          }
          resolve();
        });
        res.on('error', (e) => (result.failed++, result.errors.push(e.message), resolve()));
      });
      req.on('error', (e) => (result.failed++, result.errors.push(e.message), resolve()));
      // A request left unanswered is a failure to report, not a hang of the whole test.
      req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
      req.end(payload);
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) await one();
  });
  return {
    result,
    async stop() {
      running = false;
      await Promise.all(loops);
      if (agent) agent.destroy();
      return result;
    },
  };
}
