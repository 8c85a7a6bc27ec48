import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { CONSOLE_QUEUE_LIMIT, ConsoleStream } from '../lib/console-stream';
import { acquireLineFile } from '../lib/line-file';
import { parseLines, readLines, tempLogDir } from './helpers/logs';

const fixture = path.join(__dirname, 'fixtures', 'log-serve.js');

interface Pipeline {
  sh: ChildProcess;
  port: number;
  /** The app's own pid (the shell's child). */
  pid: number;
  /** Resolves with the first match in what the shell wrote to fd 4 (`EXIT <code>`, the reader's notes). */
  control(pattern: RegExp): Promise<RegExpMatchArray>;
}

/**
 * Run the served app as a shell runs `node log-serve.js 2>&1 | <reader>`: its stdout and
 * stderr are one real pipe(2) read by `reader`. The shell reports the app's exit code on
 * fd 4 (`EXIT <code>`); the app reports its port and pid over the IPC channel it inherits.
 */
async function pipeline(logDir: string, reader: string): Promise<Pipeline> {
  const script = `{ "$0" "$1" 2>&1; echo "EXIT $?" >&4; } | ${reader}`;
  const sh = spawn('sh', ['-c', script, process.execPath, fixture], {
    env: { ...process.env, LOG_DIR: logDir, LOG_LEVEL: 'info', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc', 'pipe'],
  });
  shells.push(sh);
  let text = '';
  const fd4 = sh.stdio[4] as NodeJS.ReadableStream;
  fd4.setEncoding('utf8');
  fd4.on('data', (chunk: string) => (text += chunk));
  const control = (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(text);
        if (m === null) return;
        fd4.off('data', check);
        sh.off('exit', gone);
        resolve(m);
      };
      const gone = () => reject(new Error(`the shell exited before ${pattern}: ${text}`));
      fd4.on('data', check);
      sh.once('exit', gone);
      check();
    });
  const { port, pid } = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    sh.once('message', resolve);
    sh.once('exit', (code) => reject(new Error(`the pipeline exited early (${code})`)));
  });
  return { sh, port, pid, control };
}

const shells: ChildProcess[] = [];
const apps: number[] = [];
afterEach(() => {
  for (const pid of apps.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const sh of shells.splice(0)) {
    sh.stdout?.resume();
    if (sh.exitCode === null && sh.signalCode === null) sh.kill('SIGKILL');
  }
});

/** GET on a fresh connection; rejects if no answer comes within 5 s (a stuck app fails the test, not the run). */
function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`no answer to ${urlPath} within 5 s`)));
    req.on('error', reject);
  });
}

function folderBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);
}

const messages = (dir: string, name: string) =>
  parseLines(readLines(path.join(dir, name))).map((l) => String(l.message));

describe('a closed stdout/stderr does not take the app down', () => {
  test('`node server.js 2>&1 | head -1`: after head exits the app keeps answering and SIGTERM exits 0', async () => {
    const dir = tempLogDir();
    const run = await pipeline(dir, '{ head -n 1 >/dev/null; echo HEAD-DONE >&4; }');
    apps.push(run.pid);
    await run.control(/HEAD-DONE/);
    const paths = Array.from({ length: 30 }, (_, i) => [`/log?i=${i}`, '/stdio']).flat();
    paths.splice(20, 0, '/crash-soon');
    for (const p of paths) expect([p, (await get(run.port, p)).status]).toEqual([p, 200]);
    process.kill(run.pid, 'SIGTERM');
    expect((await run.control(/EXIT (\d+)/))[1]).toBe('0');

    expect(readLines(path.join(dir, 'access.log'))).toHaveLength(paths.length);
    const app = messages(dir, 'app.log');
    expect(app.filter((m) => m === 'request line')).toHaveLength(30);
    // One line each says the console stopped; the failing write is never logged as a fault.
    expect(app.filter((m) => /^stdout failed \(EPIPE\): console output stops/.test(m))).toHaveLength(1);
    expect(app.filter((m) => /^stderr failed \(EPIPE\): console output stops/.test(m))).toHaveLength(1);
    expect(app.filter((m) => m.startsWith('uncaught exception'))).toHaveLength(1);
    expect(messages(dir, 'error.log')).toEqual([expect.stringMatching(/^uncaught exception/)]);
    expect(fs.readFileSync(path.join(dir, 'error.log'), 'utf8')).toContain('kaboom from a timer');
    expect(app).toContain('server closed; all requests finished');
    expect(folderBytes(dir)).toBeLessThan(256 * 1024);
  });
});

describe('a stdout nobody reads', () => {
  test('a full pipe: requests are answered, the console queue stays bounded, drops are counted in app.log', async () => {
    const dir = tempLogDir();
    // `cat` copies the pipe to the shell's stdout, which this test never reads: the pipe fills.
    const run = await pipeline(dir, 'cat');
    apps.push(run.pid);
    const n = 400;
    for (let i = 0; i < n; i++) expect((await get(run.port, `/log?i=${i}&pad=8000`)).status).toBe(200);
    const { stdoutWaiting } = JSON.parse((await get(run.port, '/stdio')).body) as { stdoutWaiting: number };
    expect(stdoutWaiting).toBeLessThanOrEqual(CONSOLE_QUEUE_LIMIT + 9000);
    process.kill(run.pid, 'SIGTERM');
    expect((await run.control(/EXIT (\d+)/))[1]).toBe('0');

    expect(readLines(path.join(dir, 'access.log'))).toHaveLength(n + 1);
    const lines = parseLines(readLines(path.join(dir, 'app.log')));
    const requestLines = lines.filter((l) => l.message === 'request line');
    expect(requestLines.map((l) => l.i)).toEqual(Array.from({ length: n }, (_, i) => i));
    const notices = lines.filter((l) => /^stdout\b/.test(String(l.message)));
    expect(notices.map((l) => l.message)).toEqual([
      expect.stringMatching(/^stdout is not being read: console lines are dropped until it drains/),
      expect.stringMatching(/^stdout: \d+ console line\(s\) dropped while it was not read$/),
    ]);
    expect(notices[1].dropped).toBeGreaterThan(0);
  });
});

describe('ConsoleStream', () => {
  const appLog = (dir: string) =>
    acquireLineFile(path.join(dir, 'app.log'), { maxSize: 1 << 20, maxFiles: 1, flushInterval: 1000 });

  test('past the queue limit lines are dropped; the drain notes how many', () => {
    const dir = tempLogDir();
    const file = appLog(dir);
    const waiting: (() => void)[] = [];
    const slow = new Writable({ write: (_chunk, _enc, done) => void waiting.push(() => done()) });
    const stream = new ConsoleStream(slow, 'stdout');
    const stop = stream.noticeTo(file);
    const big = `${'x'.repeat(CONSOLE_QUEUE_LIMIT / 2)}\n`;
    for (let i = 0; i < 5; i++) stream.write(big);
    expect(slow.writableLength).toBe(big.length * 2);
    // Once the reader catches up, every queued write completes and 'drain' fires.
    while (waiting.length > 0) waiting.shift()!();
    stream.write('after\n');
    expect(slow.writableLength).toBe('after\n'.length);
    stop();
    file.release();
    const notes = parseLines(readLines(path.join(dir, 'app.log')));
    expect(notes.map((l) => [l.level, l.message])).toEqual([
      ['warn', expect.stringMatching(/^stdout is not being read/)],
      ['warn', 'stdout: 3 console line(s) dropped while it was not read'],
    ]);
    expect(notes[1].dropped).toBe(3);
  });

  test('a stream that fails is given up: one note, no later write reaches it, nothing thrown', async () => {
    const dir = tempLogDir();
    const file = appLog(dir);
    let writes = 0;
    const broken = new Writable({
      write: (_chunk, _enc, done) => {
        writes++;
        done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const stream = new ConsoleStream(broken, 'stderr');
    const stop = stream.noticeTo(file);
    stream.write('one\n');
    await new Promise((resolve) => broken.once('close', resolve));
    stream.write('two\n');
    stream.write('three\n');
    stop();
    file.release();
    expect(writes).toBe(1);
    expect(parseLines(readLines(path.join(dir, 'app.log'))).map((l) => [l.message, l.code])).toEqual([
      ['stderr failed (EPIPE): console output stops; the log files keep every line', 'EPIPE'],
    ]);
  });
});
