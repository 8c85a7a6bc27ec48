import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { acquireLineFile } from '../lib/line-file';
import { parseLines, readLines, tempLogDir } from './helpers/logs';

const run = promisify(execFile);
const fixture = (name: string) => path.join(__dirname, 'fixtures', name);

/** `name`, `name.1`, `name.2` … of one log, oldest first. */
function series(dir: string, name: string): string[] {
  const rotated = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(`${name}.`) && /^\d+$/.test(f.slice(name.length + 1)))
    .sort((a, b) => Number(b.slice(name.length + 1)) - Number(a.slice(name.length + 1)));
  return [...rotated, ...(fs.existsSync(path.join(dir, name)) ? [name] : [])].map((f) => path.join(dir, f));
}

/** A line file that rotates at `maxSize` bytes keeping `maxFiles`, flushed by the test. */
const lineFile = (file: string, maxSize: number, maxFiles: number) =>
  acquireLineFile(file, { maxSize, maxFiles, flushInterval: 1000 });

/** Numbered lines of varying length, so rotation cuts fall anywhere. */
function numbered(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `{"i":${i},"pad":"${'p'.repeat((i * 7) % 131)}"}`);
}

describe('LineFile rotation', () => {
  test('rotates only between lines: every file within maxSize, all lines kept in order', () => {
    const dir = tempLogDir();
    const file = lineFile(path.join(dir, 'a.log'), 2048, 1000);
    const lines = numbered(3000);
    lines.forEach((line, i) => {
      file.write(`${line}\n`);
      if (i % 37 === 0) file.flush();
    });
    file.release();
    const files = series(dir, 'a.log');
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = fs.readFileSync(f, 'utf8');
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
      expect(text.endsWith('\n')).toBe(true);
    }
    expect(files.flatMap(readLines)).toEqual(lines);
  });

  test('keeps at most maxFiles old files: the newest lines survive, contiguous and whole', () => {
    const dir = tempLogDir();
    const file = lineFile(path.join(dir, 'b.log'), 1024, 3);
    const lines = numbered(2000);
    for (const line of lines) file.write(`${line}\n`);
    file.release();
    expect(fs.readdirSync(dir).sort()).toEqual(['b.log', 'b.log.1', 'b.log.2', 'b.log.3']);
    const kept = series(dir, 'b.log').flatMap(readLines);
    for (const f of series(dir, 'b.log')) expect(fs.statSync(f).size).toBeLessThanOrEqual(1024);
    expect(kept.length).toBeGreaterThan(10);
    expect(kept).toEqual(lines.slice(lines.length - kept.length));
  });

  test('maxFiles 0 keeps only the live file; a line longer than maxSize is written whole', () => {
    const dir = tempLogDir();
    const file = lineFile(path.join(dir, 'c.log'), 1024, 0);
    const long = `{"long":"${'L'.repeat(3000)}"}`;
    file.write('{"first":1}\n');
    file.flush();
    file.write(`${long}\n`);
    file.flush();
    expect(fs.readdirSync(dir)).toEqual(['c.log']);
    expect(readLines(path.join(dir, 'c.log'))).toEqual([long]);
    file.write('{"after":1}\n');
    file.release();
    expect(readLines(path.join(dir, 'c.log'))).toEqual(['{"after":1}']);
  });

  test('an open file continues from its size on disk; lines written after release are appended', () => {
    const dir = tempLogDir();
    const name = path.join(dir, 'd.log');
    fs.writeFileSync(name, `${'x'.repeat(1000)}\n`);
    const file = lineFile(name, 1100, 2);
    expect(acquireLineFile(name, { maxSize: 1, maxFiles: 0, flushInterval: 1 })).toBe(file);
    file.write(`${'y'.repeat(200)}\n`);
    file.release();
    file.release();
    expect(readLines(`${name}.1`)).toEqual(['x'.repeat(1000)]);
    file.write('{"late":true}\n');
    expect(readLines(name)).toEqual(['y'.repeat(200), '{"late":true}']);
  });

  test('a file renamed or removed by something else: the next write goes to a fresh file at the path', () => {
    const dir = tempLogDir();
    const name = path.join(dir, 'g.log');
    const file = lineFile(name, 1 << 20, 1);
    file.write('{"n":1}\n');
    file.flush();
    fs.renameSync(name, `${name}.old`);
    file.write('{"n":2}\n');
    file.flush();
    fs.unlinkSync(name);
    file.write('{"n":3}\n');
    file.release();
    expect(readLines(`${name}.old`)).toEqual(['{"n":1}']);
    expect(readLines(name)).toEqual(['{"n":3}']);
  });

  test('its folder removed under it: writing, rotating and closing neither throw nor loop', () => {
    const dir = tempLogDir();
    const file = lineFile(path.join(dir, 'h.log'), 1024, 2);
    file.write('{"n":1}\n');
    file.flush();
    fs.rmSync(dir, { recursive: true });
    for (const line of numbered(200)) file.write(`${line}\n`);
    expect(() => file.flush()).not.toThrow();
    expect(() => file.release()).not.toThrow();
  });

  test('the interval timer writes buffered lines without any explicit flush', async () => {
    const dir = tempLogDir();
    const name = path.join(dir, 'e.log');
    const file = acquireLineFile(name, { maxSize: 1 << 20, maxFiles: 1, flushInterval: 5 });
    file.write('{"n":1}\n');
    expect(readLines(name)).toEqual([]);
    const written = new Promise<void>((resolve) => {
      const watcher = fs.watch(name, () => {
        if (readLines(name).length === 1) {
          watcher.close();
          resolve();
        }
      });
    });
    await written;
    file.release();
    expect(readLines(name)).toEqual(['{"n":1}']);
  });
});

describe('LineFile failures are loud', () => {
  test('a full disk: the lost lines are counted on stderr, nothing throws', () => {
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const file = lineFile('/dev/full', 1 << 20, 0);
      file.write('{"a":1}\n{"a":2}\n');
      file.flush();
      file.write('{"a":3}\n');
      file.release();
      expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual([
        expect.stringMatching(
          /^nexthop logger: cannot write to \/dev\/full \(ENOSPC: .*\); 2 line\(s\) lost so far\n$/,
        ),
        expect.stringMatching(/; 3 line\(s\) lost so far\n$/),
      ]);
    } finally {
      stderr.mockRestore();
    }
  });

  test('a rotation that cannot rename says so and keeps every line in the live file', () => {
    const dir = tempLogDir();
    const name = path.join(dir, 'f.log');
    // A non-empty folder named f.log.1 makes rename(f.log, f.log.1) fail.
    fs.mkdirSync(`${name}.1`);
    fs.writeFileSync(path.join(`${name}.1`, 'keep'), '');
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const file = lineFile(name, 1024, 1);
      const lines = numbered(40);
      for (const line of lines) file.write(`${line}\n`);
      file.release();
      expect(String(stderr.mock.calls[0]?.[0])).toMatch(/^nexthop logger: cannot rotate .*f\.log \(/);
      expect(readLines(name)).toEqual(lines);
    } finally {
      stderr.mockRestore();
    }
  });
});

describe('no line lost, one writer per file', () => {
  test('process.exit() right after logging: every line is on disk, across rotations', async () => {
    const dir = tempLogDir();
    await run(process.execPath, [fixture('log-writer.js'), dir, '3000', 'exit', '8192']);
    const lines = parseLines(series(dir, 'app.log').flatMap(readLines));
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    for (const f of series(dir, 'app.log')) expect(fs.statSync(f).size).toBeLessThanOrEqual(8192);
  });

  test('two processes with their own NEXTHOP_LOG_SUFFIX never share, tear or lose a line', async () => {
    const dir = tempLogDir();
    const count = 2500;
    await Promise.all(
      ['w1', 'w2'].map((suffix) =>
        run(process.execPath, [fixture('log-writer.js'), dir, String(count)], {
          env: { ...process.env, NEXTHOP_LOG_SUFFIX: suffix },
        }),
      ),
    );
    for (const suffix of ['w1', 'w2']) {
      const files = series(dir, `app.${suffix}.log`);
      expect(files.length).toBeGreaterThan(5);
      const lines = parseLines(files.flatMap(readLines));
      expect(lines.every((l) => l.writer === suffix)).toBe(true);
      expect(lines.map((l) => l.i)).toEqual(Array.from({ length: count }, (_, i) => i));
    }
    expect(fs.existsSync(path.join(dir, 'app.log'))).toBe(false);
  });

  test('plain node:cluster workers without a suffix write worker-<id> files', async () => {
    const dir = tempLogDir();
    await run(process.execPath, [fixture('log-cluster.js'), dir, '1500']);
    for (const id of [1, 2]) {
      const lines = parseLines(series(dir, `app.worker-${id}.log`).flatMap(readLines));
      expect(lines.every((l) => l.writer === id)).toBe(true);
      expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 1500 }, (_, i) => i));
    }
  });

  test('two processes sharing a slot (a replacement beside the worker it replaces) tear or lose no line', async () => {
    const dir = tempLogDir();
    const count = 2500;
    await Promise.all(
      ['old', 'new'].map((writer) =>
        run(process.execPath, [fixture('log-writer.js'), dir, String(count), 'spread', '8192'], {
          env: { ...process.env, NEXTHOP_LOG_SUFFIX: 'worker-1', WRITER: writer },
        }),
      ),
    );
    const files = series(dir, 'app.worker-1.log');
    expect(files.length).toBeGreaterThan(5);
    const lines = parseLines(files.flatMap(readLines));
    for (const writer of ['old', 'new']) {
      const own = lines.filter((l) => l.writer === writer).map((l) => l.i);
      expect([writer, own]).toEqual([writer, Array.from({ length: count }, (_, i) => i)]);
    }
    expect(lines).toHaveLength(2 * count);
    // A file passes maxSize by at most a batch (64 KiB + 24 KiB) of each writer.
    for (const f of files) expect([f, fs.statSync(f).size <= 8192 + 2 * 90 * 1024]).toEqual([f, true]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });
});

describe('file names under PM2 (NODE_APP_INSTANCE)', () => {
  test('a process with NODE_APP_INSTANCE=2 writes the instance-2 files', async () => {
    const dir = tempLogDir();
    await run(process.execPath, [fixture('log-writer.js'), dir, '10'], {
      env: { ...process.env, NODE_APP_INSTANCE: '2', NEXTHOP_LOG_SUFFIX: '' },
    });
    expect(fs.readdirSync(dir).sort()).toEqual([
      'access.instance-2.log',
      'app.instance-2.log',
      'error.instance-2.log',
    ]);
    expect(readLines(path.join(dir, 'app.instance-2.log'))).toHaveLength(10);
  });

  test('cluster mode: after a reload the new workers append to the files of the instances they replace', async () => {
    const dir = tempLogDir();
    await run(process.execPath, [fixture('log-cluster.js'), dir, '800', 'pm2']);
    expect(
      fs.readdirSync(dir).filter((f) => !/^(access|app|error)\.instance-[01]\.log(\.\d+)?$/.test(f)),
    ).toEqual([]);
    for (const [instance, writers] of [
      [0, [1, 3]],
      [1, [2, 4]],
    ] as const) {
      const lines = parseLines(series(dir, `app.instance-${instance}.log`).flatMap(readLines));
      const expected = writers.flatMap((writer) => Array.from({ length: 800 }, (_, i) => [writer, i]));
      expect(lines.map((l) => [l.writer, l.i])).toEqual(expected);
    }
  });
});
