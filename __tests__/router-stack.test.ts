import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
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
import { mountedHandlers } from '../lib/router-stack';
import { request } from './helpers/http';
import { FIXTURES, freePort, startNode, stop, tempDir, type Child } from './helpers/process';

// serve() walks the app's router once at start-up: a factory mounted uncalled fails fast,
// a root nextHopProxy() ahead of routes is warned about.
const SCRIPT = path.join(FIXTURES, 'serve-misuse.js');
const dirs: string[] = [];
let child: Child | undefined;

afterEach(async () => {
  await stop(child);
  child = undefined;
});
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function logDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
}

// [how the script mounts it, the one line serve() fails with]
const UNCALLED: [string, string][] = [
  ['proxy-uncalled', 'app.use(nextHopProxy) mounts the factory itself; call it: app.use(nextHopProxy())'],
  [
    'error-handler-uncalled',
    'app.use(errorHandler) mounts the factory itself; call it: app.use(errorHandler())',
  ],
  ['client-ip-uncalled', 'app.use(clientIp) mounts the factory itself; call it: app.use(clientIp())'],
  [
    'mounted-uncalled',
    "app.use('/shop', nextHopProxy) mounts the factory itself; call it: app.use('/shop', nextHopProxy())",
  ],
  [
    'route-uncalled',
    "app.get('/missing', notFound) mounts the factory itself; call it: app.get('/missing', notFound())",
  ],
  [
    'router-uncalled',
    "app.use('/api', accessLog) mounts the factory itself; call it: app.use('/api', accessLog())",
  ],
];

describe('a factory mounted uncalled fails serve() at start-up, before the port opens', () => {
  test.each(UNCALLED)('%s', async (mount, message) => {
    child = startNode(SCRIPT, { MOUNT: mount, PORT: String(await freePort()), LOG_DIR: logDir() });
    expect(await child.exited).toBe(1);
    expect(child.stderr()).toBe(`TypeError: nexthop serve: ${message}\n`);
    expect(child.stdout()).not.toContain('listening on port');
  });
});

function appLog(dir: string): { level: string; message: string; routes?: string[] }[] {
  return fs
    .readFileSync(path.join(dir, 'app.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

describe('a root nextHopProxy() ahead of routes is warned about at start-up', () => {
  async function started(mount: string): Promise<{ dir: string; port: number }> {
    const dir = logDir();
    const port = await freePort();
    child = startNode(SCRIPT, { MOUNT: mount, STYLE: 'then', PORT: String(port), LOG_DIR: dir });
    await child.waitFor(/READY \d+/);
    return { dir, port };
  }

  test('the warning names every route it hides, and the app still serves', async () => {
    const { dir, port } = await started('proxy-before-routes');
    expect((await request(port, '/early')).status).toBe(200);
    child!.proc.kill('SIGTERM');
    expect(await child!.exited).toBe(0);
    const warnings = appLog(dir).filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toBe(
      'nextHopProxy() is mounted at the root before 4 routes it hides (every request goes to next-hop ' +
        'first): GET /hello, GET/POST /api/items, ALL /any, GET /users/me; mount it after your routes, ' +
        'or give it a pathFilter',
    );
  });

  test.each(['proxy-after-routes', 'filtered-proxy-before-routes', 'fine'])(
    '%s: no warning',
    async (mount) => {
      const { dir } = await started(mount);
      child!.proc.kill('SIGTERM');
      expect(await child!.exited).toBe(0);
      expect(appLog(dir).filter((l) => l.level === 'warn')).toEqual([]);
    },
  );
});

describe('mountedHandlers: the router stack as serve() sees it', () => {
  test('paths of routes, middleware and nested routers, in order', () => {
    const app = express();
    const api = express.Router();
    const first = (_q: unknown, _r: unknown, n: () => void) => n();
    api.get('/items/:id', first);
    api.use(first);
    app.use(first);
    app.use('/api', api);
    app.route('/x').get(first).post(first);
    app.route('/any').all(first);
    expect(mountedHandlers(app).map(({ method, path, topLevel }) => [method, path, topLevel])).toEqual([
      ['use', '/', true],
      ['get', '/api/items/:id', false],
      ['use', '/api', false],
      ['get', '/x', true],
      ['post', '/x', true],
      ['all', '/any', true],
    ]);
  });
});

describe('factories passed uncalled are type errors', () => {
  // The compile-time half lives in __tests__/types/factory-misuse.ts (npm run typecheck);
  // this half checks every factory is recognised at run time too.
  test.each([
    ['accessLog', accessLog],
    ['clientIp', clientIp],
    ['errorHandler', errorHandler],
    ['forwardedProto', forwardedProto],
    ['geo', geo],
    ['nextHopProxy', nextHopProxy],
    ['notFound', notFound],
    ['requestId', requestId],
    ['requireHttps', requireHttps],
    ['securityHeaders', securityHeaders],
  ])('in-process: app.use(%s) rejects serve() with a TypeError', async (name, factory) => {
    const dir = logDir();
    const app = createApp({
      config: loadConfig({ LOG_DIR: dir }),
      logger: createLogger({ dir, console: false }),
    });
    app.use(factory as never);
    await expect(serve(app, { port: 0, handleSignals: false, processGuards: false })).rejects.toThrow(
      new TypeError(`nexthop serve: app.use(${name}) mounts the factory itself; call it: app.use(${name}())`),
    );
  });
});
