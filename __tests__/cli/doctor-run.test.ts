import fs from 'node:fs';
import path from 'node:path';
import { doctor } from '../../lib/cli/doctor';
import type { CheckResult } from '../../lib/cli/doctor/types';
import { main } from '../../lib/cli/index';
import { isAlive } from '../../lib/cli/proc';
import { FIXTURES, captureIO, copyFixture, processesIn } from '../helpers/cli';

const fixture = (name: string) => path.join(FIXTURES, 'doctor', name);
const RUN = { run: true, timeoutMs: 10_000, graceMs: 1500 };
const runResults = (results: CheckResult[]) => results.filter((r) => r.id.startsWith('run-'));
const byId = (results: CheckResult[], id: string) => results.find((r) => r.id === id) as CheckResult;

describe('nexthop doctor --run', () => {
  afterEach(() => {
    // Whatever happened, doctor stopped everything it started.
    for (const name of ['good', 'wrong-port', 'extra-port', 'ignores-sigterm'])
      expect(processesIn(fixture(name))).toEqual([]);
  });

  it('passes a module that answers HTTP/1.1 on PORT only and exits on SIGTERM', async () => {
    const results = runResults(await doctor(fixture('good'), RUN));
    expect(results.map((r) => [r.id, r.status])).toEqual([
      ['run-answers', 'pass'],
      ['run-one-port', 'pass'],
      ['run-sigterm', 'pass'],
      ['run-logs', 'pass'],
    ]);
    expect(byId(results, 'run-logs').message).toBe(
      'wrote no log file outside LOG_DIR (0 file(s) in LOG_DIR)',
    );
    expect(byId(results, 'run-answers').message).toMatch(/^answered HTTP\/1\.1 200 on PORT=\d+ in \d+ ms$/);
    expect(byId(results, 'run-one-port').message).toMatch(/^listens on TCP port \d+ only$/);
  });

  it('warns when SIGTERM to npm does not reach the server (no exec in the start script)', async () => {
    const dir = copyFixture('doctor', 'good');
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      pkg.scripts.start = 'node server.js';
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
      const results = runResults(await doctor(dir, { ...RUN, graceMs: 1000 }));
      expect(results.map((r) => [r.id, r.status])).toEqual([
        ['run-answers', 'pass'],
        ['run-one-port', 'pass'],
        ['run-sigterm-npm', 'warn'],
        ['run-sigterm', 'pass'],
        ['run-logs', 'pass'],
      ]);
      expect(byId(results, 'run-sigterm-npm').fix).toContain('"start": "exec node server.js"');
      expect(processesIn(dir)).toEqual([]);
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  it('fails a module that ignores PORT and listens elsewhere, naming the port', async () => {
    const results = runResults(await doctor(fixture('wrong-port'), { ...RUN, timeoutMs: 1500 }));
    const answers = byId(results, 'run-answers');
    expect(answers.status).toBe('fail');
    expect(answers.message).toMatch(/^no answer on PORT=\d+ within 1500 ms$/);
    expect(answers.fix).toContain('process.env.PORT');
    expect(answers.detail).toMatch(/listening on (\d+)/);
    const port = /listening on (\d+)/.exec(answers.detail as string)?.[1];
    const ports = byId(results, 'run-one-port');
    expect(ports.status).toBe('fail');
    expect(ports.message).toContain(`[::]:${port} (pid `);
    expect(byId(results, 'run-sigterm').status).toBe('pass');
  });

  it('fails a module that opens a second listening port besides PORT', async () => {
    const results = runResults(await doctor(fixture('extra-port'), RUN));
    expect(results.map((r) => [r.id, r.status])).toEqual([
      ['run-answers', 'pass'],
      ['run-one-port', 'fail'],
      ['run-sigterm', 'pass'],
      ['run-logs', 'pass'],
    ]);
    expect(byId(results, 'run-one-port').message).toMatch(
      /^listens on 127\.0\.0\.1:\d+ \(pid \d+\), besides PORT=\d+$/,
    );
    expect(byId(results, 'run-one-port').fix).toContain('listen on PORT only');
  });

  it('fails a module that ignores SIGTERM, then kills it', async () => {
    const cap = captureIO(fixture('ignores-sigterm'));
    expect(await main(['doctor', '--run', '--quiet', '--grace', '1000'], cap.io)).toBe(1);
    expect(cap.stdout()).toBe('');
    expect(cap.stderr()).toMatch(
      /✗ still running 1000 ms after SIGTERM \(pids \d+(?:, \d+)*\) — fix: on SIGTERM stop accepting/,
    );
    expect(cap.stderr()).toContain('SIGTERM ignored'); // the app's own output, as detail
    // Every process it named is gone (or a zombie awaiting its parent) once doctor returns.
    const pids = /\(pids ([\d, ]+)\)/.exec(cap.stderr())![1].split(', ').map(Number);
    expect(pids.filter(isAlive)).toEqual([]);
  });

  it('fails a start script that exits at once, with its output', async () => {
    const dir = copyFixture('doctor', 'good');
    try {
      fs.writeFileSync(path.join(dir, 'server.js'), "console.error('boom'); process.exit(1);\n");
      const results = runResults(await doctor(dir, RUN));
      expect(byId(results, 'run-answers').message).toBe('npm start exited (code 1) before answering');
      expect(byId(results, 'run-answers').detail).toContain('boom');
      expect(results.map((r) => r.id)).toEqual(['run-answers', 'run-one-port', 'run-logs']);
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  it('fails a module that speaks TLS on PORT', async () => {
    const dir = copyFixture('doctor', 'good');
    try {
      // A raw TCP server answering with TLS-like bytes: not HTTP at all.
      fs.writeFileSync(
        path.join(dir, 'server.js'),
        "const net = require('node:net');\n" +
          'const s = net.createServer((c) => c.end(Buffer.from([0x16, 3, 1, 0, 2, 2, 0]))).listen(Number(process.env.PORT));\n' +
          "process.on('SIGTERM', () => { s.close(); process.exit(0); });\n",
      );
      const answers = byId(runResults(await doctor(dir, RUN)), 'run-answers');
      expect(answers.status).toBe('fail');
      expect(answers.message).toMatch(/does not speak plain HTTP\/1\.1/);
      expect(answers.fix).toContain('never HTTPS');
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
  it('fails a module that writes log files in its folder instead of LOG_DIR, and counts those in LOG_DIR', async () => {
    const dir = copyFixture('doctor', 'good');
    try {
      fs.appendFileSync(
        path.join(dir, 'server.js'),
        "require('node:fs').mkdirSync('logs', { recursive: true });\n" +
          "require('node:fs').writeFileSync('logs/app.log', 'started\\n');\n" +
          "require('node:fs').writeFileSync(require('node:path').join(process.env.LOG_DIR, 'ok.log'), 'x');\n",
      );
      const logs = byId(runResults(await doctor(dir, RUN)), 'run-logs');
      expect(logs.status).toBe('fail');
      expect(logs.message).toBe(
        'wrote log files in the project folder although LOG_DIR was set: logs/app.log',
      );
      expect(logs.fix).toContain('process.env.LOG_DIR');
      fs.rmSync(path.join(dir, 'logs'), { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'server.js'),
        fs.readFileSync(path.join(dir, 'server.js'), 'utf8').replace(/^.*logs\/app\.log.*$/m, ''),
      );
      const ok = byId(runResults(await doctor(dir, RUN)), 'run-logs');
      expect(ok.message).toBe('wrote no log file outside LOG_DIR (1 file(s) in LOG_DIR)');
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});
