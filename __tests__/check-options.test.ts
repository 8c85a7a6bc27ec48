import fs from 'node:fs';
import {
  accessLog,
  clientIp,
  createApp,
  createLogger,
  errorHandler,
  forwardedProto,
  geo,
  loadConfig,
  nextHopProxy,
  notFound,
  requestId,
  requireHttps,
  securityHeaders,
  serve,
} from 'nexthop';
import { didYouMean } from '../lib/check-options';
import { tempDir } from './helpers/process';

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const quietApp = () =>
  createApp({ config: loadConfig({ LOG_DIR: dir }), logger: createLogger({ dir, console: false }) });

describe('every public factory and serve() reject an unknown option, naming the closest known one', () => {
  // [what is called, the call, the message: owner, option, suggestion (if any), start of the known list]
  const CASES: [string, () => unknown, string][] = [
    [
      'createApp',
      () => createApp({ requireHTTPS: true } as never),
      'nexthop createApp: unknown option "requireHTTPS" (did you mean requireHttps?); known options: config, logger, trustedProxies, accessLog,',
    ],
    [
      'createApp',
      () => createApp({ accesLog: false } as never),
      'unknown option "accesLog" (did you mean accessLog?)',
    ],
    ['createApp', () => createApp({ geoip: false } as never), 'unknown option "geoip" (did you mean geo?)'],
    [
      'createApp',
      () => createApp({ port: 8080 } as never),
      'nexthop createApp: unknown option "port"; known options: config, logger,',
    ],
    [
      'createLogger',
      () => createLogger({ bogus: 1 } as never),
      'nexthop createLogger: unknown option "bogus"; known options: dir, level,',
    ],
    [
      'createLogger',
      () => createLogger({ levle: 'info' } as never),
      'unknown option "levle" (did you mean level?)',
    ],
    [
      'errorHandler',
      () => errorHandler({ stak: true } as never),
      'nexthop errorHandler: unknown option "stak" (did you mean stack?); known options: logger, stack',
    ],
    [
      'notFound',
      () => notFound({ status: 410 } as never),
      'nexthop notFound: unknown option "status"; it takes no options',
    ],
    [
      'nextHopProxy',
      () => nextHopProxy({ timout: 1 } as never),
      'nexthop nextHopProxy: unknown option "timout" (did you mean timeout?); known options: target,',
    ],
    [
      'nextHopProxy',
      () => nextHopProxy({ pathfilter: '/x' } as never),
      'unknown option "pathfilter" (did you mean pathFilter?)',
    ],
    [
      'accessLog',
      () => accessLog({ redactQueries: [] } as never),
      'nexthop accessLog: unknown option "redactQueries" (did you mean redactQuery?); known options: logger,',
    ],
    [
      'clientIp',
      () => clientIp({ xForwardFor: false } as never),
      'nexthop clientIp: unknown option "xForwardFor" (did you mean xForwardedFor?); known options: trustedProxies, header, xForwardedFor',
    ],
    [
      'forwardedProto',
      () => forwardedProto({ forward: true } as never),
      'nexthop forwardedProto: unknown option "forward" (did you mean forwarded?)',
    ],
    [
      'geo',
      () => geo({ trustedProxy: [] } as never),
      'nexthop geo: unknown option "trustedProxy" (did you mean trustedProxies?)',
    ],
    [
      'requestId',
      () => requestId({ generator: () => 'x' } as never),
      'nexthop requestId: unknown option "generator" (did you mean generate?)',
    ],
    [
      'requireHttps',
      () => requireHttps({ skipPath: [] } as never),
      'nexthop requireHttps: unknown option "skipPath" (did you mean skipPaths?)',
    ],
    [
      'securityHeaders',
      () => securityHeaders({ HSTS: false } as never),
      'nexthop securityHeaders: unknown option "HSTS" (did you mean hsts?)',
    ],
  ];
  test.each(CASES)('%s: %#', (_owner, call, message) => {
    expect(call).toThrow(TypeError);
    expect(call).toThrow(message);
  });

  test.each([
    [{ prot: 1 }, 'nexthop serve: unknown option "prot" (did you mean port?); known options: port, host,'],
    [{ worker: 2 }, 'unknown option "worker" (did you mean workers?)'],
    [{ signals: false }, 'nexthop serve: unknown option "signals"; known options: port,'],
  ])('serve(app, %j) rejects', async (options, message) => {
    const served = serve(quietApp(), options as never);
    await expect(served).rejects.toThrow(TypeError);
    await expect(served).rejects.toThrow(message);
  });

  test('createApp checks its options before it touches the log folder', () => {
    // A typo must not be hidden behind ERR_NEXTHOP_LOG_DIR on a machine without /var/log/nodejs.
    expect(() =>
      createApp({ requireHTTPS: true, config: loadConfig({ LOG_DIR: '/proc/nope' }) } as never),
    ).toThrow('unknown option "requireHTTPS"');
  });

  // A feature takes its options, true or false; what an object spread would turn into
  // nonsense ('false' → options "0".."4") or silently into the defaults (1, null) is refused.
  test.each<[string, unknown, string]>([
    [
      'requireHttps',
      'false',
      'nexthop createApp: requireHttps must be true, false or an options object, got "false"',
    ],
    ['requireHttps', 1, 'requireHttps must be true, false or an options object, got 1'],
    ['accessLog', 'off', 'accessLog must be true, false or an options object, got "off"'],
    ['geo', null, 'geo must be true, false or an options object, got null'],
    ['clientIp', ['10.0.0.0/8'], 'clientIp must be true, false or an options object, got an array'],
  ])('createApp({ %s: %j }) throws a TypeError naming the feature', (name, value, message) => {
    const call = () => createApp({ [name]: value, config: loadConfig({ LOG_DIR: '/proc/nope' }) } as never);
    expect(call).toThrow(TypeError);
    expect(call).toThrow(message);
  });

  test('createApp takes true and false for each feature', () => {
    const app = createApp({
      config: loadConfig({ LOG_DIR: dir }),
      logger: createLogger({ dir, console: false }),
      accessLog: false,
      geo: true,
      requireHttps: true,
    } as never);
    expect(typeof app).toBe('function');
  });

  test('notFound({}) is a call, not a misuse', () => {
    expect(typeof notFound({})).toBe('function');
    expect(typeof notFound()).toBe('function');
  });
});

describe('didYouMean', () => {
  const LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'];
  // [input, candidates, suggestion or undefined]
  test.each<[string, string[], string | undefined]>([
    ['requireHTTPS', ['requireHttps', 'geo'], 'requireHttps'],
    ['accesLog', ['accessLog', 'clientIp'], 'accessLog'],
    ['prot', ['port', 'host'], 'port'],
    ['verbos', LEVELS, 'verbose'],
    ['warning', LEVELS, 'warn'],
    ['WARN', LEVELS, 'warn'],
    ['trace', LEVELS, undefined],
    ['bogus', ['dir', 'level', 'console', 'files'], undefined],
    ['x', ['a', 'b'], undefined],
    ['', ['port'], undefined],
    ['doctr', ['doctor', 'init', 'dev'], 'doctor'],
    ['--quite', ['--quiet', '--json'], '--quiet'],
    ['in', ['init', 'dev'], 'init'],
    ['do', ['doctor', 'dev'], undefined],
    ['hsts', ['hsts', 'hst'], 'hsts'],
  ])('%j among %j → %j', (input, candidates, expected) => {
    expect(didYouMean(input, candidates)).toBe(expected);
  });
});
