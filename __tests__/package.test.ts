import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packedTarball } from './helpers/pack';
import { tempDir } from './helpers/process';

// Installs the packed tarball into a fresh project, as a user would, and uses it from
// JavaScript and TypeScript. Dependencies come from the npm cache `npm ci` filled.
const ROOT = path.join(__dirname, '..');
const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    // The cache when it holds a package, else the registry: a cold cache works too.
    env: { ...process.env, npm_config_prefer_offline: 'true' },
  });

/** The documented public API: every runtime export of lib/index.ts, and nothing else. */
const PUBLIC_NAMES = [
  // Core: app factory, serving, configuration, logging, errors
  'createApp',
  'serve',
  'DEFAULT_KEEP_ALIVE_TIMEOUT',
  'DEFAULT_HEADERS_TIMEOUT',
  'DEFAULT_REQUEST_TIMEOUT',
  'DEFAULT_SHUTDOWN_TIMEOUT',
  'loadConfig',
  'LOG_LEVELS',
  'DEFAULT_PORT',
  'DEFAULT_NEXT_HOP',
  'DEFAULT_LOG_DIR',
  'createLogger',
  'closeLogger',
  'prepareLogDir',
  'NexthopError',
  'ConfigError',
  'ERROR_CODES',
  'isNexthopError',
  // Request context
  'compileTrust',
  'DEFAULT_TRUSTED_PROXIES',
  'TRUST_PRESETS',
  'normalizeIp',
  'clientIp',
  'forwardedProto',
  'requireHttps',
  'requestId',
  'geo',
  'parseGeo',
  'securityHeaders',
  // Next-hop proxy
  'nextHopProxy',
  'NEXT_HOP_PROXY_DEFAULTS',
  'HEALTH_PATH',
  // Logging
  'accessLog',
  'DEFAULT_REDACT_QUERY',
  'logger',
  'LOG_SUFFIX_ENV',
  'DEFAULT_LOG_MAX_SIZE',
  'DEFAULT_LOG_MAX_FILES',
  'DEFAULT_LOG_FLUSH_INTERVAL',
  // Resilience
  'errorHandler',
  'notFound',
  'RESTART_POLICY',
  'WORKER_ID_ENV',
  'SHUTDOWN_IDLE_GRACE',
];

describe('the npm package', () => {
  const work = tempDir('nexthop-pack-');
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  let tarball = '';
  let files: string[] = [];

  beforeAll(() => void ({ tarball, files } = packedTarball()), 120_000);

  test('ships only dist (templates included), README, LICENSE and package.json', () => {
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
    expect(files).toContain('LICENSE');
    // The entry point is esbuild's bundle (start-up time); types and the CLI stay per file.
    expect(files).toContain('dist/nexthop.js');
    expect(files).toContain('dist/nexthop.js.map');
    expect(files).toContain('dist/lib/index.d.ts');
    expect(files).toContain('dist/lib/cli/index.js');
    // Declaration maps could only point at .ts sources, which the package does not ship.
    expect(files.filter((f) => f.endsWith('.d.ts.map'))).toEqual([]);
    // Every compiled module has its source; nothing is left over from a deleted one.
    const orphans = files.filter(
      (f) =>
        /^dist\/(lib|middleware)\/.*\.js$/.test(f) &&
        !fs.existsSync(path.join(ROOT, f.slice('dist/'.length).replace(/\.js$/, '.ts'))),
    );
    expect(orphans).toEqual([]);
    // Templates are generated from examples/ at build time; init needs both variants of each.
    for (const name of fs.readdirSync(path.join(ROOT, 'examples'))) {
      for (const file of [
        'template.json',
        'README.md',
        'ts/src/server.ts',
        'ts/tsconfig.json',
        'js/src/server.js',
      ]) {
        expect(files).toContain(`dist/templates/${name}/${file}`);
      }
    }
    // Examples reach users as templates; their compiled copies stay out of the package.
    expect(files.filter((f) => f.startsWith('dist/examples/'))).toEqual([]);
    const stray = files.filter((f) => !/^(dist\/|README\.md$|LICENSE$|package\.json$)/.test(f));
    expect(stray).toEqual([]);
    // Templates carry the test a generated module starts with; nothing else ships a test.
    const tests = files.filter(
      (f) => !f.startsWith('dist/templates/') && /\.test\.|__tests__|\.tsbuildinfo/.test(f),
    );
    expect(tests).toEqual([]);
  });

  test('installs into a fresh project, requires, and its types compile', () => {
    const project = path.join(work, 'consumer');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    npm(['install', '--no-audit', '--no-fund', tarball, '@types/express@5', '@types/node@20'], project);

    const js = execFileSync(
      process.execPath,
      [
        '-e',
        [
          "const n = require('nexthop');",
          "const entry = require.resolve('nexthop').endsWith('dist/nexthop.js');",
          'console.log(typeof n.createApp, typeof n.serve, n.loadConfig({}).port, entry);',
        ].join(' '),
      ],
      { cwd: project, encoding: 'utf8' },
    );
    expect(js.trim()).toBe('function function 8080 true');

    // The ESM view shows the documented names and nothing else (`default` is module.exports).
    const esm = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import * as n from 'nexthop'; console.log(JSON.stringify(Object.keys(n)));",
      ],
      { cwd: project, encoding: 'utf8' },
    );
    expect((JSON.parse(esm) as string[]).sort()).toEqual([...PUBLIC_NAMES, 'default'].sort());

    // Source maps resolve inside the package: each source's text is in the map itself.
    const installed = path.join(project, 'node_modules', 'nexthop');
    const maps = files.filter((f) => f.endsWith('.js.map') && !f.startsWith('dist/templates/'));
    expect(maps).toContain('dist/nexthop.js.map');
    for (const file of maps) {
      const map = JSON.parse(fs.readFileSync(path.join(installed, file), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      expect({
        file,
        missing: map.sources.filter((_, i) => typeof map.sourcesContent?.[i] !== 'string'),
      }).toEqual({
        file,
        missing: [],
      });
    }

    fs.writeFileSync(
      path.join(project, 'index.ts'),
      [
        "import { createApp, serve, loadConfig, NexthopError, type Config, type ServeOptions } from 'nexthop';",
        "const config: Config = loadConfig({ PORT: '3000', LOG_DIR: './logs' });",
        'const app = createApp({ config });',
        "app.get('/hello', (req, res) => { res.json({ ip: req.ip, proto: req.protocol }); });",
        'const options: ServeOptions = { shutdownTimeout: 5000 };',
        'export const started = serve(app, options).then((h) => h.port);',
        "export const isOurs = (e: unknown) => e instanceof NexthopError && e.code === 'ERR_NEXTHOP_CONFIG';",
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'commonjs',
          target: 'ES2022',
          noEmit: true,
          types: ['node'],
        },
        files: ['index.ts'],
      }),
    );
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    expect(() => execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' })).not.toThrow();

    // The `nexthop` bin: linked by npm, runnable through its shebang.
    const bin = path.join(project, 'node_modules', '.bin', 'nexthop');
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()).toBe(version);
  }, 180_000);

  test('`npm pack` of a clean checkout builds, publishes no scripts, and installs without an install-scripts warning', () => {
    // A copy of the checkout (tracked files, this checkout's node_modules linked), packed
    // with its lifecycle scripts as `npm publish` would: prepack builds and strips.
    const checkout = path.join(work, 'checkout');
    const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    for (const file of tracked.split('\0').filter(Boolean)) {
      if (!fs.existsSync(path.join(ROOT, file))) continue;
      fs.mkdirSync(path.dirname(path.join(checkout, file)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, file), path.join(checkout, file));
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules'));
    const before = fs.readFileSync(path.join(checkout, 'package.json'), 'utf8');
    const out = path.join(work, 'packed');
    fs.mkdirSync(out);
    npm(['pack', '--pack-destination', out], checkout);
    // postpack put the repository's manifest back, scripts and all.
    expect(fs.readFileSync(path.join(checkout, 'package.json'), 'utf8')).toBe(before);
    expect(fs.existsSync(path.join(checkout, 'package.json.prepack'))).toBe(false);
    const [name] = fs.readdirSync(out);
    const packedJson = JSON.parse(
      execFileSync('tar', ['-xzOf', path.join(out, name), 'package/package.json'], { encoding: 'utf8' }),
    );
    expect(packedJson.scripts).toBeUndefined();
    expect(packedJson.bin).toEqual({ nexthop: './dist/lib/cli/index.js' });
    expect(packedJson.dependencies).toEqual(JSON.parse(before).dependencies);

    const project = path.join(work, 'fresh');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'fresh', private: true }));
    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', path.join(out, name)], {
      cwd: project,
      encoding: 'utf8',
      env: { ...process.env, npm_config_prefer_offline: 'true' },
    });
    expect(install.status).toBe(0);
    expect(install.stdout + install.stderr).not.toMatch(/install-scripts|prepare/);
    const bin = path.join(project, 'node_modules', '.bin', 'nexthop');
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()).toBe(JSON.parse(before).version);
  }, 240_000);
});
