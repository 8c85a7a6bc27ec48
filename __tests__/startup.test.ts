import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, freePort, startNode, stop, tempDir, type Child } from './helpers/process';

// serve() fails in one form: a rejected promise. Unhandled, it prints one line and exits 1.
const SCRIPT = path.join(FIXTURES, 'serve-misuse.js');
const dirs: string[] = [];
let child: Child | undefined;

afterEach(async () => {
  await stop(child);
  child = undefined;
});
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

async function run(
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const logDir = tempDir();
  dirs.push(logDir);
  child = startNode(SCRIPT, { PORT: String(await freePort()), LOG_DIR: logDir, ...env });
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

// [serve options, the one line it fails with]
const BAD_OPTIONS: [object, string][] = [
  [{ port: 'abc' }, 'TypeError: nexthop serve: port must be an integer from 0 to 65535, got "abc"'],
  [{ port: 70000 }, 'RangeError: nexthop serve: port must be an integer from 0 to 65535, got 70000'],
  [{ workers: 0 }, 'RangeError: nexthop serve: workers must be from 1 to 1024 (or "auto"), got 0'],
  [{ workers: 'many' }, 'TypeError: nexthop serve: workers must be an integer or "auto", got "many"'],
  [
    { keepAliveTimeout: '5s' },
    'TypeError: nexthop serve: keepAliveTimeout must be an integer number of milliseconds, got "5s"',
  ],
  [
    { prot: 1 },
    'TypeError: nexthop serve: unknown option "prot" (did you mean port?); known options: port, host, keepAliveTimeout',
  ],
  [
    { cert: 'x' },
    'nexthop [ERR_NEXTHOP_NOT_PLAIN_HTTP]: nexthop serve: option "cert" would make the server speak TLS or HTTP/2',
  ],
];

describe('an unhandled serve() failure exits 1 with one line on stderr', () => {
  test.each(
    BAD_OPTIONS.flatMap(([options, line]) =>
      ['forget', 'then', 'await-unhandled'].map((style) => [style, options, line] as const),
    ),
  )('%s serve(app, %j)', async (style, options, line) => {
    const { code, stdout, stderr } = await run({ STYLE: style, OPTIONS: JSON.stringify(options) });
    expect(code).toBe(1);
    expect(stderr.startsWith(line)).toBe(true);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stdout).not.toContain('READY');
  });
});

describe('a handled serve() failure is the caller’s: the process goes on', () => {
  test.each(
    BAD_OPTIONS.flatMap(([options, line]) =>
      ['await', 'catch'].map((style) => [style, options, line] as const),
    ),
  )('%s serve(app, %j)', async (style, options, line) => {
    const { code, stdout, stderr } = await run({ STYLE: style, OPTIONS: JSON.stringify(options) });
    // Nothing keeps the loop alive once serve() has failed: the script ends by itself.
    expect(code).toBe(0);
    const expected = line.startsWith('nexthop [') ? 'NexthopError: nexthop serve: option "cert"' : line;
    expect(stdout).toContain(`caught ${expected}`);
    expect(stderr).toBe('');
  });
});
