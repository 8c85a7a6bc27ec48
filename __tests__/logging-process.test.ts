import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseLines, readLines, request, tempLogDir } from './helpers/logs';

const serveFixture = path.join(__dirname, 'fixtures', 'log-serve.js');

function childEnv(logDir: string): NodeJS.ProcessEnv {
  return { ...process.env, LOG_DIR: logDir, LOG_LEVEL: 'info', NODE_ENV: 'production' };
}

/** Fork the serve fixture and resolve once it listens. */
async function startApp(logDir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(serveFixture, [], { env: childEnv(logDir), stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
  });
  return { child, port };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Run the fixture to completion; resolves with its exit code and stderr. */
function runToExit(logDir: string, wrap: string[] = []): Promise<{ code: number | null; stderr: string }> {
  const [command, ...args] = [...wrap, process.execPath, serveFixture];
  const child = spawn(command, args, { env: childEnv(logDir), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('logs survive the process', () => {
  test('SIGTERM right after N requests: exactly N access lines on disk, exit 0', async () => {
    const dir = tempLogDir();
    const { child, port } = await startApp(dir);
    children.push(child);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const n = 150;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) => request(port, `/hello?i=${i}`, { agent })),
    );
    expect(replies.every((r) => r.status === 200)).toBe(true);
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    agent.destroy();

    const lines = parseLines(readLines(path.join(dir, 'access.log')));
    expect(lines).toHaveLength(n);
    expect(new Set(lines.map((l) => l.url)).size).toBe(n);
    const app = parseLines(readLines(path.join(dir, 'app.log'))).map((l) => l.message);
    expect(app.some((m) => String(m).startsWith('SIGTERM received'))).toBe(true);
    expect(app).toContain('server closed; all requests finished');
  });

  test('an uncaught exception reaches error.log, with its stack, before anything else happens', async () => {
    const dir = tempLogDir();
    const { child, port } = await startApp(dir);
    children.push(child);
    expect((await request(port, '/crash-soon', { agent: false })).status).toBe(200);
    // The throw runs right after that response; once a later request is answered it has run.
    expect((await request(port, '/hello', { agent: false })).status).toBe(200);
    // No graceful shutdown: the line must already be on disk.
    child.kill('SIGKILL');
    await exited(child);
    const errors = parseLines(readLines(path.join(dir, 'error.log')));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ level: 'error', err: 'Error: kaboom from a timer' });
    expect(errors[0].stack).toMatch(/^Error: kaboom from a timer\n\s+at /);
  });
});

describe('an unwritable log folder stops the start with one clear line', () => {
  test('LOG_DIR under a path that is a file: exit 1, the message on stderr, no stack', async () => {
    const parent = tempLogDir();
    const file = path.join(parent, 'not-a-folder');
    fs.writeFileSync(file, '');
    const logDir = path.join(file, 'logs');
    const { code, stderr } = await runToExit(logDir);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `nexthop [ERR_NEXTHOP_LOG_DIR]: cannot write logs to "${logDir}": a file is in the way, not a folder ` +
        `(ENOTDIR: not a directory, mkdir '${logDir}'). Set LOG_DIR to a folder (e.g. LOG_DIR=./logs) ` +
        'or move the file out of the way.\n',
    );
  });

  // root writes anywhere, so the read-only case needs an unprivileged user: `nobody` through
  // setpriv when the suite runs as root (CI), the current user otherwise.
  const asRoot = process.getuid?.() === 0;
  const setpriv = asRoot ? ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p)) : undefined;
  const canDrop = !asRoot || setpriv !== undefined;
  (canDrop ? test : test.skip)('a read-only folder: exit 1 naming the folder and EACCES', async () => {
    const parent = tempLogDir();
    const logDir = path.join(parent, 'logs');
    fs.mkdirSync(logDir);
    fs.chmodSync(parent, 0o755);
    fs.chmodSync(logDir, 0o555);
    const wrap = setpriv ? [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    if (setpriv) {
      // nobody must be able to read the package it runs: this fails with a clear error if not.
      execFileSync(setpriv, [
        ...wrap.slice(1),
        process.execPath,
        '-e',
        `require.resolve(${JSON.stringify(serveFixture)})`,
      ]);
    }
    const { code, stderr } = await runToExit(logDir, wrap);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      new RegExp(
        `^nexthop \\[ERR_NEXTHOP_LOG_DIR\\]: cannot write logs to "${logDir}": the folder is not writable \\(EACCES: permission denied`,
      ),
    );
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});
