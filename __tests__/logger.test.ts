import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import {
  closeLogger,
  createApp,
  createLogger,
  loadConfig,
  logger as rootLogger,
  NexthopError,
  type Logger,
} from 'nexthop';
import { jsonString, jsonValue } from '../lib/json-line';
import { consoleFormat } from '../lib/log-format';
import { accessSinkOf } from '../lib/logger';
import { listen, parseLines, readLines, request, tempLogDir } from './helpers/logs';

const MESSAGE = Symbol.for('message');

function withEnv<T>(vars: Record<string, string | undefined>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return body();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function quietLogger(dir: string, extra: Parameters<typeof createLogger>[0] = {}): Logger {
  return createLogger({ dir, console: false, ...extra });
}

describe('createLogger files', () => {
  test('app.log gets LOG_LEVEL and above, error.log errors with their stack, access.log exists', async () => {
    const dir = tempLogDir();
    const logger = quietLogger(dir, { level: 'warn' });
    logger.info('not written');
    logger.warn('disk almost full', { freeMb: 12 });
    logger.error('upstream failed', {
      err: Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    logger.error(new Error('thrown'));
    await closeLogger(logger);
    const app = parseLines(readLines(path.join(dir, 'app.log')));
    expect(app.map((l) => l.message)).toEqual(['disk almost full', 'upstream failed', 'thrown']);
    expect(Object.keys(app[0]).slice(0, 3)).toEqual(['time', 'level', 'message']);
    expect(app[0]).toMatchObject({ level: 'warn', freeMb: 12 });
    expect(app[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(app[1].err).toMatchObject({ name: 'Error', message: 'ECONNREFUSED', code: 'ECONNREFUSED' });
    expect((app[1].err as { stack: string }).stack).toMatch(/^Error: ECONNREFUSED\n\s+at /);
    const errors = parseLines(readLines(path.join(dir, 'error.log')));
    expect(errors.map((l) => l.message)).toEqual(['upstream failed', 'thrown']);
    expect(errors[1].stack).toMatch(/^Error: thrown\n\s+at /);
    expect(fs.existsSync(path.join(dir, 'access.log'))).toBe(true);
  });

  test('LOG_DIR and LOG_LEVEL are the defaults when no option is given', async () => {
    const dir = tempLogDir();
    const logger = withEnv({ LOG_DIR: dir, LOG_LEVEL: 'DEBUG' }, () => createLogger({ console: false }));
    logger.debug('debug line');
    await closeLogger(logger);
    expect(parseLines(readLines(path.join(dir, 'app.log')))[0]).toMatchObject({
      level: 'debug',
      message: 'debug line',
    });
  });

  test('a suffix (option or NEXTHOP_LOG_SUFFIX) names every file of the process', async () => {
    const dir = tempLogDir();
    const a = quietLogger(dir, { suffix: 'w1' });
    const b = withEnv({ NEXTHOP_LOG_SUFFIX: 'w2' }, () => quietLogger(dir));
    a.error('from w1');
    b.error('from w2');
    await Promise.all([closeLogger(a), closeLogger(b)]);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'access.w1.log',
      'access.w2.log',
      'app.w1.log',
      'app.w2.log',
      'error.w1.log',
      'error.w2.log',
    ]);
    expect(parseLines(readLines(path.join(dir, 'error.w2.log')))[0].message).toBe('from w2');
  });

  test.each([
    [{ NODE_APP_INSTANCE: '3' }, 'app.instance-3.log'],
    [{ NODE_APP_INSTANCE: '3', NEXTHOP_LOG_SUFFIX: 'w7' }, 'app.w7-instance-3.log'],
    // node-config reads NODE_APP_INSTANCE too, with names: only PM2's numbers are slots.
    [{ NODE_APP_INSTANCE: 'staging' }, 'app.log'],
  ])('environment %p names the files %p', async (env, appLog) => {
    const dir = tempLogDir();
    const logger = withEnv({ NEXTHOP_LOG_SUFFIX: undefined, ...env }, () => quietLogger(dir));
    await closeLogger(logger);
    expect(fs.readdirSync(dir)).toContain(appLog);
  });

  test('a line logged after closeLogger still reaches the file', async () => {
    const dir = tempLogDir();
    const logger = quietLogger(dir);
    logger.info('before');
    await closeLogger(logger);
    logger.info('after');
    await closeLogger(logger);
    expect(parseLines(readLines(path.join(dir, 'app.log'))).map((l) => l.message)).toEqual([
      'before',
      'after',
    ]);
  });

  test('files: false and console: false makes a silent logger with no files', () => {
    const dir = tempLogDir();
    const logger = createLogger({ dir: path.join(dir, 'never'), files: false, console: false });
    logger.error('nowhere');
    expect(logger.silent).toBe(true);
    expect(fs.existsSync(path.join(dir, 'never'))).toBe(false);
  });

  test('without files, access lines go to stdout when there is a console, else nowhere', () => {
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      accessSinkOf(createLogger({ files: false, console: 'json' }))!.write('{"access":1}\n');
      expect(stdout.mock.calls.map((c) => String(c[0]))).toEqual(['{"access":1}\n']);
    } finally {
      stdout.mockRestore();
    }
    expect(accessSinkOf(createLogger({ files: false, console: false }))).toBeUndefined();
    const dir = tempLogDir();
    const logger = quietLogger(dir);
    expect(accessSinkOf(logger.child({ a: 1 }))).toBe(accessSinkOf(logger));
    return closeLogger(logger);
  });

  test('a missing folder is created with its missing parents', () => {
    const dir = path.join(tempLogDir(), 'a', 'b', 'logs');
    const logger = quietLogger(dir);
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    return closeLogger(logger);
  });

  test('an unwritable folder throws ERR_NEXTHOP_LOG_DIR naming it, the OS error and the fix', () => {
    const parent = tempLogDir();
    fs.writeFileSync(path.join(parent, 'file'), '');
    const dir = path.join(parent, 'file', 'logs');
    let caught: unknown;
    try {
      quietLogger(dir);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NexthopError);
    expect((caught as NexthopError).code).toBe('ERR_NEXTHOP_LOG_DIR');
    expect((caught as Error).message).toContain(
      `cannot write logs to "${dir}": a file is in the way, not a folder (ENOTDIR`,
    );
    expect((caught as Error).message).toContain('Set LOG_DIR to a folder (e.g. LOG_DIR=./logs)');
  });

  test.each<[string, Record<string, unknown>, ErrorConstructor, string]>([
    ['level unknown', { level: 'loud' }, RangeError, 'level "loud" is not one of error, warn, info'],
    [
      'level mistyped',
      { level: 'verbos' },
      RangeError,
      'level "verbos" (did you mean verbose?) is not one of error,',
    ],
    [
      'console unknown',
      { console: 'fancy' },
      RangeError,
      "console must be 'pretty', 'json' or false, got fancy",
    ],
    ['suffix with a slash', { suffix: '../w1' }, RangeError, 'suffix "../w1" must be 1-32 letters, digits'],
    [
      'suffix too long',
      { suffix: 'w'.repeat(33) },
      RangeError,
      `suffix "${'w'.repeat(33)}" must be 1-32 letters`,
    ],
    ['dir not a string', { dir: 42 }, TypeError, "dir must be a folder path, e.g. './logs', got 42"],
    ['dir empty', { dir: ' ' }, TypeError, 'dir must be a folder path'],
    ['files not a boolean', { files: 'yes' }, TypeError, 'files must be true or false, got yes'],
    ['maxSize not an integer', { maxSize: '10MB' }, TypeError, 'maxSize must be an integer, got 10MB'],
    ['maxSize too small', { maxSize: 100 }, RangeError, 'maxSize must be from 1024 to'],
    ['maxFiles negative', { maxFiles: -1 }, RangeError, 'maxFiles must be from 0 to 1000, got -1'],
    ['maxFiles fractional', { maxFiles: 1.5 }, TypeError, 'maxFiles must be an integer, got 1.5'],
    ['flushInterval zero', { flushInterval: 0 }, RangeError, 'flushInterval must be from 1 to 60000, got 0'],
  ])('%s → %p', (_name, options, Kind, message) => {
    const make = () =>
      createLogger({ files: false, console: false, ...options } as Parameters<typeof createLogger>[0]);
    expect(make).toThrow(Kind);
    expect(make).toThrow(`nexthop createLogger: ${message}`);
  });

  test('a bad NEXTHOP_LOG_SUFFIX is named as the source', () => {
    expect(() =>
      withEnv({ NEXTHOP_LOG_SUFFIX: 'a b' }, () => createLogger({ files: false, console: false })),
    ).toThrow(
      new RangeError(
        'nexthop createLogger: suffix "a b" (from NEXTHOP_LOG_SUFFIX) must be 1-32 letters, digits, "-" or "_" (e.g. "w1")',
      ),
    );
  });

  test('options that are not an object are refused', () => {
    expect(() => createLogger('./logs' as never)).toThrow(
      new TypeError('nexthop createLogger: options must be an object, e.g. createLogger({})'),
    );
  });

  test.each([
    [
      { bogus: 1 },
      'nexthop createLogger: unknown option "bogus"; known options: dir, level, console, files,',
    ],
    [{ Dir: './logs' }, 'unknown option "Dir" (did you mean dir?)'],
    [{ maxfiles: 2 }, 'unknown option "maxfiles" (did you mean maxFiles?)'],
    [{ consol: false }, 'unknown option "consol" (did you mean console?)'],
  ])('unknown option %j is refused, naming the closest known one', (options, message) => {
    expect(() => createLogger(options as never)).toThrow(TypeError);
    expect(() => createLogger(options as never)).toThrow(message);
  });
});

describe('stdout stream', () => {
  const info = (extra: Record<string, unknown> = {}) =>
    ({
      level: 'warn',
      message: 'cache cold',
      time: '2026-01-02T03:04:05.678Z',
      entries: 0,
      ...extra,
    }) as never;

  test('pretty: time, level, message and key=value on one line, coloured unless told not to', () => {
    const plain = consoleFormat('pretty', false)!.transform(info(), {}) as Record<symbol, string>;
    expect(plain[MESSAGE]).toBe('03:04:05.678 warn  cache cold entries=0');
    const coloured = consoleFormat('pretty', true)!.transform(info(), {}) as Record<symbol, string>;
    expect(coloured[MESSAGE]).toBe('03:04:05.678 \x1b[33mwarn \x1b[39m cache cold entries=0');
  });

  test('pretty: control characters in messages and keys are escaped; a stack follows on its own lines', () => {
    const out = consoleFormat('pretty', false)!.transform(
      info({ message: 'a\nFAKE 00:00:00 error\x1b[2J', 'k\n': 'v', stack: 'Error: x\n    at y' }),
      {},
    ) as Record<symbol, string>;
    expect(out[MESSAGE]).toBe(
      '03:04:05.678 warn  a\\u000aFAKE 00:00:00 error\\u001b[2J entries=0 k\\u000a="v"\nError: x\n    at y',
    );
  });

  test('json mode prints the app.log line itself; NO_COLOR turns colour off for pretty', () => {
    expect(consoleFormat('json', true)).toBeUndefined();
    const logger = withEnv({ NO_COLOR: '1' }, () => createLogger({ files: false, console: 'pretty' }));
    const transport = logger.transports[0] as winston.transport & { format: winston.Logform.Format };
    const out = transport.format.transform(info(), {}) as Record<symbol, string>;
    expect(out[MESSAGE]).not.toContain('\x1b');
  });
});

describe('root logger and req.log', () => {
  test('the root logger writes through the latest createApp logger; req.log carries the request id', async () => {
    const dir = tempLogDir();
    const logger = quietLogger(dir);
    const app = createApp({
      logger,
      config: loadConfig({ LOG_DIR: dir }),
      accessLog: false,
      requestId: false,
    });
    app.use((req, _res, next) => {
      if (req.get('x-id')) (req as unknown as { id: string }).id = req.get('x-id')!;
      next();
    });
    app.get('/work', (req, res) => {
      req.log.info('working');
      const first = req.log;
      (req as unknown as { id: string }).id = 'changed';
      req.log.info('id changed');
      res.json({ cached: first === req.log });
    });
    app.get('/own', (req, res) => {
      req.log = rootLogger.child({ custom: true });
      req.log.info('own logger');
      res.send('ok');
    });
    const { server, port } = await listen(app);
    await request(port, '/work', { agent: false, headers: { 'x-id': 'req-7' } });
    await request(port, '/work', { agent: false });
    await request(port, '/own', { agent: false });
    server.close();
    rootLogger.info('from the root', { part: 'boot' });
    await closeLogger(logger);
    const lines = parseLines(readLines(path.join(dir, 'app.log')));
    expect(lines.map((l) => [l.message, l.requestId])).toEqual([
      ['working', 'req-7'],
      ['id changed', 'changed'],
      ['working', undefined],
      ['id changed', 'changed'],
      ['own logger', undefined],
      ['from the root', undefined],
    ]);
    expect(lines[4]).toMatchObject({ custom: true });
    expect(lines[5]).toMatchObject({ part: 'boot' });
  });
});

describe('one-line JSON', () => {
  const controls = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('');
  test.each([
    ['plain ASCII', 'GET /a b'],
    ['quotes and backslashes', '"\\"\\\\'],
    ['every C0 control', controls],
    ['DEL and C1 controls', '\x7f\x80\x85\x9b\x9f'],
    ['line and paragraph separators', 'a\u2028b\u2029c'],
    ['a lone surrogate', 'a\ud800b'],
    ['an emoji (paired surrogates)', 'ok 😀'],
    ['8 KB of mixed hostile text', '"\x1b[31m\n\\'.repeat(1024)],
  ])('%s: one line, no raw control character, parses back to the same text', (_name, value) => {
    const out = jsonString(value);
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(JSON.parse(out)).toBe(value);
    expect(jsonValue({ v: value })).toBe(`{"v":${out}}`);
  });

  test('jsonValue survives cycles, BigInt and undefined', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(jsonValue(cyclic)).toBe('{"a":1,"self":"[Circular]"}');
    expect(jsonValue({ n: 10n })).toBe('{"n":"10"}');
    expect(jsonValue(undefined)).toBe('null');
  });
});

describe('winston is the logging API', () => {
  test('a winston Logger: child loggers, level changes and every call shape reach the files', async () => {
    const dir = tempLogDir();
    const logger = quietLogger(dir, { level: 'warn' });
    expect(logger).toBeInstanceOf(winston.Logger);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    logger.info('below the level');
    logger.warn(new Error('an error value'));
    logger.warn('meta with a message', { message: 'more', big: 10n, cyclic });
    logger.level = 'debug';
    logger.debug('debug after a level change');
    logger.child({ requestId: 'r-1' }).error('child error', { code: 'E1' });
    await closeLogger(logger);
    const app = parseLines(readLines(path.join(dir, 'app.log')));
    expect(app.map((l) => [l.level, l.message])).toEqual([
      ['warn', 'an error value'],
      ['warn', 'meta with a message more'],
      ['debug', 'debug after a level change'],
      ['error', 'child error'],
    ]);
    expect(app[1]).toMatchObject({ big: '10', cyclic: { a: 1, self: '[Circular]' } });
    expect(app[3]).toMatchObject({ requestId: 'r-1', code: 'E1' });
    expect(parseLines(readLines(path.join(dir, 'error.log')))).toEqual([app[3]]);
  });
});
