import fs from 'node:fs';
import path from 'node:path';
import {
  createApp,
  createLogger,
  loadConfig,
  serve,
  RESTART_POLICY,
  DEFAULT_SHUTDOWN_TIMEOUT,
  WORKER_ID_ENV,
} from 'nexthop';
import { FIXTURES, startNode, stop, tempDir, type Child } from './helpers/process';
import { request } from './helpers/http';
import { alive, gone, logLines, loop, until, waitForLogs, type LogLine } from './helpers/cluster';
import { parseLines, readLines } from './helpers/logs';

const fixture = path.join(FIXTURES, 'cluster-app.js');
const logDir = tempDir();
afterAll(() => fs.rmSync(logDir, { recursive: true, force: true }));

let child: Child | undefined;
afterEach(async () => {
  const pids = child ? logLines(child).filter((l) => /^worker \d+ ready$/.test(l.message)) : [];
  await stop(child);
  // Workers notice the lost primary; never leave any behind.
  await gone(pids.map((l) => Number(l.pid)));
  child = undefined;
});

async function startCluster(env: Record<string, string>): Promise<{ port: number }> {
  child = startNode(fixture, { LOG_DIR: logDir, APP_PORT: '0', ...env });
  const m = await child.waitFor(/READY (\d+) primary/, 15_000);
  return { port: Number(m[1]) };
}

const workerPid = (line: LogLine) => Number(line.pid);

describe('serve({ workers }): validation and roles', () => {
  const app = () =>
    createApp({
      config: loadConfig({ LOG_DIR: logDir }),
      logger: createLogger({ dir: logDir, console: false }),
    });

  test.each([
    [0, RangeError, 'workers must be from 1 to 1024 (or "auto"), got 0'],
    [1025, RangeError, 'got 1025'],
    [1.5, TypeError, 'workers must be an integer or "auto", got 1.5'],
    ['many', TypeError, 'got "many"'],
    [null, TypeError, 'got null'],
  ])('workers: %p → %p', async (workers, type, message) => {
    await expect(serve(app(), { workers: workers as never })).rejects.toThrow(type);
    await expect(serve(app(), { workers: workers as never })).rejects.toThrow(message);
  });

  test('without workers nor WEB_CONCURRENCY: one process, no supervisor', async () => {
    const handle = await serve(app(), { port: 0, handleSignals: false, processGuards: false });
    expect(handle.role).toBe('single');
    expect(handle.supervisor).toBeUndefined();
    await handle.close();
  });
});

describe('serve() shutdown under keep-alive load (single process)', () => {
  test('busy keep-alive sockets get Connection: close, never a reset; then new connections are refused', async () => {
    const app = createApp({
      config: loadConfig({ LOG_DIR: logDir }),
      logger: createLogger({ dir: logDir, console: false }),
    });
    app.get('/pid', (_req, res) => res.json({ pid: process.pid }));
    const handle = await serve(app, { port: 0, handleSignals: false, processGuards: false });
    const traffic = loop(handle.port, '/pid', { concurrency: 6 });
    await until(() => traffic.result.ok > 200);
    const started = Date.now();
    await handle.close();
    // Busy sockets get their last response within the idle grace, far from the 10 s shutdown timeout.
    expect(Date.now() - started).toBeLessThan(DEFAULT_SHUTDOWN_TIMEOUT / 2);
    const result = await traffic.stop();
    const notRefused = result.errors.filter((e) => !e.includes('ECONNREFUSED'));
    expect(notRefused).toEqual([]);
    expect(result.ok).toBeGreaterThan(200);
  });
});

describe('cluster supervisor (real processes and signals)', () => {
  test('workers share the port, carry NEXTHOP_WORKER_ID, and a SIGKILLed one is replaced', async () => {
    const { port } = await startCluster({ WORKERS: '2' });
    const seen = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const body = JSON.parse((await request(port, '/pid', { agent: false })).body) as {
        pid: number;
        worker: string;
      };
      seen.set(body.worker, body.pid);
    }
    expect([...seen.keys()].sort()).toEqual(['1', '2']);
    expect(WORKER_ID_ENV).toBe('NEXTHOP_WORKER_ID');

    const [first] = await waitForLogs(child!, /^worker 1 ready$/);
    process.kill(workerPid(first), 'SIGKILL');
    const [exit] = await waitForLogs(child!, /^worker 1 \(pid \d+\) exited unexpectedly \(signal SIGKILL\)$/);
    expect(exit.level).toBe('error');
    await waitForLogs(child!, /^worker 1: starting a replacement in 100 ms$/);
    const ready = await waitForLogs(child!, /^worker 1 ready$/, 2);
    expect(workerPid(ready[1])).not.toBe(workerPid(first));
    expect((await request(port, '/pid', { agent: false })).status).toBe(200);
  });

  test('a replacement appends to the files of the worker it replaces: N workers, N sets of files', async () => {
    const dir = tempDir();
    try {
      child = startNode(fixture, { LOG_DIR: dir, APP_PORT: '0', WORKERS: '2' });
      const port = Number((await child.waitFor(/READY (\d+) primary/, 15_000))[1]);
      const [first] = await waitForLogs(child, /^worker 1 ready$/);
      process.kill(workerPid(first), 'SIGKILL');
      await waitForLogs(child, /^worker 1 ready$/, 2);
      // A hand-over too: worker 2 drains beside its replacement, both writing slot 2's files.
      const [second] = await waitForLogs(child, /^worker 2 ready$/);
      process.kill(workerPid(second), 'SIGTERM');
      await waitForLogs(child, /^worker 2 retired \(code 0\)$/);
      await waitForLogs(child, /^worker 2 ready$/, 2);
      for (let i = 0; i < 6; i++) expect((await request(port, '/pid', { agent: false })).status).toBe(200);
      child.proc.kill('SIGTERM');
      expect(await child.exited).toBe(0);
      expect(fs.readdirSync(dir).sort()).toEqual(
        ['access', 'app', 'error'].flatMap((log) => [
          `${log}.log`,
          `${log}.worker-1.log`,
          `${log}.worker-2.log`,
        ]),
      );
      const pids = (slot: number) =>
        parseLines(readLines(path.join(dir, `app.worker-${slot}.log`)))
          .filter((l) => String(l.message).startsWith('listening on port'))
          .map((l) => l.pid);
      // The SIGKILLed worker's lines of its last flushInterval may be lost; the others are kept.
      expect(pids(1).length).toBeGreaterThanOrEqual(1);
      expect(new Set(pids(2)).size).toBe(2);
      expect(pids(2)).toContain(workerPid(second));
      const access = [1, 2].flatMap((slot) => readLines(path.join(dir, `access.worker-${slot}.log`)));
      expect(access).toHaveLength(6);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('backoff grows ×1.5 from 100 ms for a worker that keeps exiting after it listens', async () => {
    await startCluster({ WORKERS: '1', EXIT_AFTER_READY_MS: '30' });
    const scheduled = await waitForLogs(child!, /^worker 1: starting a replacement in \d+ ms$/, 5, 15_000);
    const delays = scheduled.map((l) => Number(l.delay));
    const expected = [0, 1, 2, 3, 4].map((n) =>
      Math.round(RESTART_POLICY.initialDelay * RESTART_POLICY.factor ** n),
    );
    expect(delays).toEqual(expected);
    expect(expected).toEqual([100, 150, 225, 338, 506]);
    // Each replacement really waited: its fork came no sooner than the announced delay.
    const ready = await waitForLogs(child!, /^worker 1 ready$/, 5, 15_000);
    for (let i = 0; i < 4; i++) {
      const waited = Date.parse(ready[i + 1].time) - Date.parse(scheduled[i].time);
      expect(waited).toBeGreaterThanOrEqual(delays[i]);
    }
    expect(child!.proc.exitCode).toBeNull();
  });

  test('a crash loop before any worker listens ends the primary with a clear error and exit 1', async () => {
    child = startNode(fixture, { LOG_DIR: logDir, APP_PORT: '0', WORKERS: '2', CRASH_AT_START: '1' });
    expect(await child.exited).toBe(1);
    expect(child.stderr()).toContain(
      'nexthop [ERR_NEXTHOP_WORKER_CRASH_LOOP]: nexthop cluster: 5 workers in a row',
    );
    expect(child.stderr()).toContain('before any of them listened; giving up');
    expect(child.stderr()).toContain('fixture: worker failing at start on purpose');
    expect(child.stdout()).not.toContain('READY');
  });

  test('an uncaught exception: logged with stack, replacement first, no refused connection', async () => {
    const { port } = await startCluster({ WORKERS: '1' });
    const [first] = await waitForLogs(child!, /^worker 1 ready$/);
    const fresh = loop(port, '/pid', { concurrency: 3, fresh: true });
    const kept = loop(port, '/pid', { concurrency: 3 });
    await request(port, '/uncaught', { agent: false });
    const [fault] = await waitForLogs(child!, /^uncaught exception; worker 1 hands over/);
    expect(String(fault.stack)).toMatch(/Error: uncaught on purpose\n\s+at /);
    await waitForLogs(child!, /^worker 1 retired \(code 0\)$/);
    const ready = await waitForLogs(child!, /^worker 1 ready$/, 2);
    // Keep the load on the replacement for a moment, then count.
    await request(port, '/pid', { agent: false });
    const [a, b] = await Promise.all([fresh.stop(), kept.stop()]);
    expect({ failed: a.failed + b.failed, errors: [...a.errors, ...b.errors] }).toEqual({
      failed: 0,
      errors: [],
    });
    expect(a.ok + b.ok).toBeGreaterThan(20);
    expect(new Set([...a.pids, ...b.pids])).toEqual(new Set([workerPid(first), workerPid(ready[1])]));
    expect(alive(workerPid(first))).toBe(false);
  });

  test('SIGTERM to the primary: in-flight requests finish, workers drain, exit 0', async () => {
    const { port } = await startCluster({ WORKERS: '2' });
    const workers = (await waitForLogs(child!, /^worker \d ready$/, 2)).map(workerPid);
    const slow = request(port, '/slow?ms=800', { agent: false });
    await child!.waitFor(/SLOW START/);
    child!.proc.kill('SIGTERM');
    const reply = await slow;
    expect(reply.status).toBe(200);
    expect(reply.headers.connection).toBe('close');
    expect(await child!.exited).toBe(0);
    await gone(workers, 2_000);
    await expect(request(port, '/pid', { agent: false })).rejects.toThrow(/ECONNREFUSED/);
    expect(logLines(child!).map((l) => l.message)).toEqual(
      expect.arrayContaining(['stopping 2 workers', 'all workers stopped']),
    );
  });

  test('NEXTHOP_LOG_SUFFIX set for the whole cluster: each worker still writes files of its own', async () => {
    const dir = tempDir();
    try {
      child = startNode(fixture, { LOG_DIR: dir, APP_PORT: '0', WORKERS: '2', NEXTHOP_LOG_SUFFIX: 'w7' });
      const port = Number((await child.waitFor(/READY (\d+) primary/, 15_000))[1]);
      await waitForLogs(child, /^worker \d ready$/, 2);
      for (let i = 0; i < 6; i++) expect((await request(port, '/pid', { agent: false })).status).toBe(200);
      child.proc.kill('SIGTERM');
      expect(await child.exited).toBe(0);
      const files = fs.readdirSync(dir).sort();
      // The primary keeps the suffix as given; workers add `-worker-<id>`.
      expect(files).toEqual(expect.arrayContaining(['access.w7.log', 'app.w7.log', 'error.w7.log']));
      const workerAccess = files.filter((f) => /^access\.w7-worker-\d+\.log$/.test(f));
      expect(workerAccess).toHaveLength(2);
      const lines = workerAccess.flatMap((f) =>
        fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n').filter(Boolean),
      );
      expect(lines).toHaveLength(6);
      expect(fs.readFileSync(path.join(dir, 'access.w7.log'), 'utf8')).toBe('');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('SIGKILL of the primary leaves no orphan worker serving', async () => {
    const { port } = await startCluster({ WORKERS: '2' });
    const workers = (await waitForLogs(child!, /^worker \d ready$/, 2)).map(workerPid);
    expect(workers.every(alive)).toBe(true);
    child!.proc.kill('SIGKILL');
    await child!.exited;
    await gone(workers, 5_000);
    await expect(request(port, '/pid', { agent: false })).rejects.toThrow(/ECONNREFUSED/);
  });

  test('SIGTERM to one worker: it hands over like a fault, the primary keeps running', async () => {
    const { port } = await startCluster({ WORKERS: '1' });
    const [first] = await waitForLogs(child!, /^worker 1 ready$/);
    const fresh = loop(port, '/pid', { concurrency: 3, fresh: true });
    process.kill(workerPid(first), 'SIGTERM');
    await waitForLogs(child!, /^worker 1 retired \(code 0\)$/);
    const result = await fresh.stop();
    expect(result.failed).toBe(0);
    expect((await waitForLogs(child!, /^worker 1 ready$/, 2))[1].pid).not.toBe(first.pid);
    expect(child!.proc.exitCode).toBeNull();
  });
});
