import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { FIXTURES, freePort, listeningPorts, startNode, stop, tempDir, type Child } from './helpers/process';
import { request } from './helpers/http';

const APP = path.join(FIXTURES, 'serve-app.js');
const dirs: string[] = [];
let child: Child | undefined;

async function start(env: NodeJS.ProcessEnv = {}): Promise<{ child: Child; port: number; logDir: string }> {
  const logDir = tempDir();
  dirs.push(logDir);
  const port = await freePort();
  child = startNode(APP, { PORT: String(port), LOG_DIR: logDir, ...env });
  await child.waitFor(/READY \d+/);
  return { child, port, logDir };
}

afterEach(async () => {
  await stop(child);
  child = undefined;
});
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function refused(port: number): Promise<string> {
  return request(port, '/hello').then(
    (r) => `answered ${r.status}`,
    (err: NodeJS.ErrnoException) => err.code ?? 'error',
  );
}

describe('a served app as a real process', () => {
  test('listens on PORT and on no other TCP port, speaking HTTP/1.1', async () => {
    const { child, port } = await start();
    expect(listeningPorts(child.proc.pid!)).toEqual([port]);
    const reply = await request(port, '/hello');
    expect(reply.status).toBe(200);
    expect(reply.httpVersion).toBe('1.1');
  });

  test('SIGTERM: the slow request finishes with 200, new connections are refused, exit 0, idle sockets do not hold it', async () => {
    const { child, port, logDir } = await start();
    const agent = new http.Agent({ keepAlive: true });
    await request(port, '/hello', { agent }); // an idle keep-alive connection stays open
    const slow = request(port, '/slow?ms=1500');
    await new Promise((r) => setTimeout(r, 200)); // the slow request is in flight
    const signalled = Date.now();
    child.proc.kill('SIGTERM');
    await child.waitFor(/stopped accepting connections/);
    expect(await refused(port)).toBe('ECONNREFUSED');
    const reply = await slow;
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('slow done');
    expect(reply.headers.connection).toBe('close');
    expect(await child.exited).toBe(0);
    // Exit follows the slow request (1.5 s), not the 76 s keep-alive timeout of the idle
    // socket: the bound sits far from both, so a loaded machine does not turn it red.
    expect(Date.now() - signalled).toBeLessThan(15_000);
    agent.destroy();
    const lines = fs.readFileSync(path.join(logDir, 'app.log'), 'utf8').trim().split('\n');
    expect(JSON.parse(lines[lines.length - 1]).message).toBe('server closed; all requests finished');
  });

  test('SIGINT drains the same way', async () => {
    const { child, port } = await start();
    const slow = request(port, '/slow?ms=500');
    await new Promise((r) => setTimeout(r, 100));
    child.proc.kill('SIGINT');
    expect((await slow).status).toBe(200);
    expect(await child.exited).toBe(0);
  });

  test('a second signal exits at once', async () => {
    const { child, port } = await start();
    const slow = request(port, '/slow?ms=20000').catch((err: Error) => err.message);
    await new Promise((r) => setTimeout(r, 200));
    const signalled = Date.now();
    child.proc.kill('SIGTERM');
    await child.waitFor(/shutting down/);
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(1);
    // Not the 20 s request nor the 10 s shutdown timeout.
    expect(Date.now() - signalled).toBeLessThan(8_000);
    expect(await slow).toMatch(/socket hang up|ECONNRESET/);
  });

  test('in-flight requests are cut after shutdownTimeout and the process still exits 0', async () => {
    const { child, port, logDir } = await start({ SHUTDOWN_TIMEOUT: '300' });
    const slow = request(port, '/slow?ms=20000').catch((err: Error) => err.message);
    const slower = request(port, '/slow?ms=30000').catch((err: Error) => err.message);
    await new Promise((r) => setTimeout(r, 200));
    const signalled = Date.now();
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    // The 300 ms shutdown timeout cut the 20 s and 30 s requests.
    expect(Date.now() - signalled).toBeLessThan(8_000);
    expect(await slow).toMatch(/socket hang up|ECONNRESET/);
    expect(await slower).toMatch(/socket hang up|ECONNRESET/);
    expect(child.stdout()).toContain('shutdown timeout reached');
    // The cut requests keep their access lines: written before the logs are flushed at exit.
    const access = fs
      .readFileSync(path.join(logDir, 'access.log'), 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { url: string; aborted?: boolean });
    expect(access.map((line) => line.url).sort()).toEqual(['/slow?ms=20000', '/slow?ms=30000']);
    expect(access.every((line) => line.aborted === true)).toBe(true);
  });

  test('drainDelay keeps answering before the listener closes', async () => {
    const { child, port } = await start({ DRAIN_DELAY: '800' });
    child.proc.kill('SIGTERM');
    await child.waitFor(/SIGTERM received: shutting down/);
    expect((await request(port, '/hello')).status).toBe(200);
    expect(await child.exited).toBe(0);
    expect(await refused(port)).toBe('ECONNREFUSED');
  });

  test("NODE_DEBUG=nexthop:* prints maintainer tracing to stderr through Node's util.debuglog", async () => {
    const { child } = await start({ NODE_DEBUG: 'nexthop:*' });
    child.proc.kill('SIGTERM');
    await child.waitFor(/NEXTHOP:SERVE \d+: signal SIGTERM/);
    expect(await child.exited).toBe(0);
  });

  test('without NODE_DEBUG there is no tracing on stderr', async () => {
    const { child } = await start();
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(child.stderr()).not.toMatch(/NEXTHOP:/);
  });
});

describe('runtime errors never take the app down', () => {
  test('a route that throws answers 500 and the next request is 200', async () => {
    const { port } = await start();
    expect((await request(port, '/throw')).status).toBe(500);
    expect((await request(port, '/hello')).status).toBe(200);
  });

  test.each([
    [
      '/reject-later',
      'unhandled promise rejection; the process keeps answering',
      'timer rejection on purpose',
    ],
    ['/throw-later', 'uncaught exception; the process keeps answering', 'timer throw on purpose'],
  ])('%s is logged with its stack and the process keeps answering', async (route, message, detail) => {
    const { child, port, logDir } = await start();
    expect((await request(port, route)).status).toBe(200);
    await child.waitFor(new RegExp(message));
    expect((await request(port, '/hello')).status).toBe(200);
    expect(child.proc.exitCode).toBeNull();
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    const errors = fs
      .readFileSync(path.join(logDir, 'error.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(errors).toEqual([
      expect.objectContaining({
        level: 'error',
        message,
        err: `Error: ${detail}`,
        stack: expect.stringContaining(detail),
      }),
    ]);
  });
});

describe('start-up errors are one clear message and exit 1', () => {
  test.each<[Record<string, string>, RegExp]>([
    [
      { PORT: 'abc' },
      /^nexthop \[ERR_NEXTHOP_CONFIG\]: invalid configuration:\n {2}- PORT="abc" is not a valid port/,
    ],
    [
      { PORT: '8080', NEXT_HOP: 'https://next-hop' },
      /NEXT_HOP="https:\/\/next-hop" uses https: the platform contract/,
    ],
    [
      { PORT: '8080', LOG_DIR: __filename },
      /^nexthop \[ERR_NEXTHOP_LOG_DIR\]: cannot write logs to ".*": a file is in the way/,
    ],
    // A folder no one can create, even root: Node's recursive mkdir never returns there.
    ...(process.platform === 'linux'
      ? [
          [
            { PORT: '8080', LOG_DIR: '/proc/nexthop-none/logs' },
            /^nexthop \[ERR_NEXTHOP_LOG_DIR\]: cannot write logs to "\/proc\/nexthop-none\/logs": the folder cannot be created \(ENOENT/,
          ] as [Record<string, string>, RegExp],
        ]
      : []),
  ])('%j', async (env, message) => {
    child = startNode(APP, env);
    expect(await child.exited).toBe(1);
    expect(child.stderr()).toMatch(message);
    expect(child.stderr()).not.toMatch(/^\s+at /m);
  });

  test('a port in use', async () => {
    const { port } = await start();
    const second = startNode(APP, { PORT: String(port), LOG_DIR: dirs[dirs.length - 1] });
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`nexthop [ERR_NEXTHOP_LISTEN]: port ${port} is already in use`);
  });
});
