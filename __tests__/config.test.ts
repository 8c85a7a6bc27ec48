import { ConfigError, loadConfig } from 'nexthop';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_NEXTHOP_CONFIG');
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      nextHop: 'http://next-hop:80',
      logDir: '/var/log/nodejs',
      logLevel: 'info',
      nodeEnv: 'production',
      webConcurrency: undefined,
    });
    expect(config.notices).toEqual(['PORT is not set; listening on 8080']);
    expect(Object.isFrozen(config)).toBe(true);
  });

  test('reads process.env by default', () => {
    const saved = process.env.PORT;
    process.env.PORT = '9123';
    try {
      expect(loadConfig().port).toBe(9123);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  test.each([
    ['1', 1],
    ['80', 80],
    ['8080', 8080],
    ['65535', 65535],
  ])('PORT=%j is valid', (value, port) => {
    const config = loadConfig({ PORT: value });
    expect(config.port).toBe(port);
    expect(config.notices).toEqual([]);
  });

  test.each([
    '',
    '0',
    '65536',
    '80abc',
    '8080.5',
    ' 8080 ',
    '-1',
    '+80',
    '0x50',
    '08080',
    '1e3',
    'abc',
    '99999999',
  ])('PORT=%j is refused naming the variable, the value and the rule', (value) => {
    const [problem, ...rest] = problemsOf({ PORT: value });
    expect(rest).toEqual([]);
    expect(problem).toContain(`PORT=${JSON.stringify(value)}`);
    expect(problem).toContain('integer from 1 to 65535');
  });

  test.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['localhost', 'localhost'],
    [' 0.0.0.0 ', '0.0.0.0'],
  ])('HOST=%j is the address to bind (%j)', (value, host) => {
    expect(loadConfig({ HOST: value }).host).toBe(host);
  });

  test('HOST unset means all interfaces', () => {
    expect(loadConfig({}).host).toBeUndefined();
  });

  test.each(['', 'http://127.0.0.1', '127.0.0.1:80', 'a b', '-x'])('HOST=%j is refused', (value) => {
    const [problem, ...rest] = problemsOf({ HOST: value });
    expect(rest).toEqual([]);
    expect(problem).toContain(`HOST=${JSON.stringify(value)} is not an IP address or host name`);
  });

  test.each([
    ['http://next-hop:80', 'http://next-hop:80'],
    ['http://next-hop', 'http://next-hop:80'],
    ['http://127.0.0.1:9000', 'http://127.0.0.1:9000'],
    ['http://next-hop:80/', 'http://next-hop:80'],
    ['HTTP://Next-Hop:80', 'http://next-hop:80'],
  ])('NEXT_HOP=%j is normalised to %j', (value, expected) => {
    expect(loadConfig({ NEXT_HOP: value }).nextHop).toBe(expected);
  });

  test.each([
    [
      'https://next-hop:443',
      /uses https: the platform contract requires plain HTTP.*X-Forwarded-Proto: https/,
    ],
    ['ftp://next-hop', /must be an http: URL/],
    ['next-hop:80', /must be an http: URL/],
    ['not a url', /is not a URL/],
    ['', /is not a URL/],
    ['http://next-hop:80/api', /must be an origin only/],
    ['http://user:pw@next-hop', /must be an origin only/],
    ['http://next-hop/?a=1', /must be an origin only/],
  ])('NEXT_HOP=%j is refused', (value, message) => {
    const [problem] = problemsOf({ NEXT_HOP: value });
    expect(problem).toMatch(message);
    expect(problem).toContain('NEXT_HOP=');
  });

  test('LOG_DIR is resolved to an absolute path; empty is refused', () => {
    expect(loadConfig({ LOG_DIR: 'logs' }).logDir).toBe(`${process.cwd()}/logs`);
    expect(problemsOf({ LOG_DIR: '' })[0]).toMatch(/LOG_DIR="" is not a folder path/);
    expect(problemsOf({ LOG_DIR: 'a\0b' })[0]).toMatch(/LOG_DIR=.* is not a folder path/);
  });

  test.each([
    ['debug', 'debug'],
    ['WARN', 'warn'],
    [' info ', 'info'],
    ['silly', 'silly'],
  ])('LOG_LEVEL=%j → %j', (value, level) => {
    expect(loadConfig({ LOG_LEVEL: value }).logLevel).toBe(level);
  });

  test.each([
    ['trace', 'LOG_LEVEL="trace" is not a level: use one of error, warn, info, http, verbose, debug, silly'],
    ['verbos', 'LOG_LEVEL="verbos" is not a level (did you mean verbose?): use one of error, warn, info,'],
    ['warning', 'LOG_LEVEL="warning" is not a level (did you mean warn?): use one of error, warn,'],
    ['dbug', 'LOG_LEVEL="dbug" is not a level (did you mean debug?): use one of error,'],
    ['', 'LOG_LEVEL="" is not a level: use one of error,'],
  ])('LOG_LEVEL=%j outside winston levels is refused with the list', (value, problem) => {
    expect(problemsOf({ LOG_LEVEL: value })[0]).toContain(problem);
  });

  test.each([
    ['1', 1],
    ['4', 4],
    ['auto', 'auto'],
  ])('WEB_CONCURRENCY=%j → %j', (value, workers) => {
    expect(loadConfig({ WEB_CONCURRENCY: value }).webConcurrency).toBe(workers);
  });

  test.each(['0', '-2', 'many', '2.5', '5000', ''])('WEB_CONCURRENCY=%j is refused', (value) => {
    expect(problemsOf({ WEB_CONCURRENCY: value })[0]).toMatch(/WEB_CONCURRENCY=.* is not a worker count/);
  });

  test('NODE_ENV is passed through', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).nodeEnv).toBe('development');
  });

  test('every problem is reported at once in one error', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: 'abc', NEXT_HOP: 'https://next-hop', LOG_LEVEL: 'loud' });
    } catch (err) {
      caught = err;
    }
    const err = caught as ConfigError;
    expect(err.problems).toHaveLength(3);
    expect(err.message).toMatch(/^invalid configuration \(3 problems\):\n {2}- PORT=/);
    expect(err.message).toContain('NEXT_HOP="https://next-hop"');
    expect(err.message).toContain('LOG_LEVEL="loud"');
  });

  test('a long hostile value is shortened in the message', () => {
    const [problem] = problemsOf({ PORT: 'x'.repeat(10_000) });
    expect(problem.length).toBeLessThan(300);
  });
});
