import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { doctor } from '../../lib/cli/doctor';
import { compileGitignore } from '../../lib/cli/gitignore';
import { main } from '../../lib/cli/index';
import { listTemplates, scaffold } from '../../lib/cli/init';
import { captureIO, tempDir } from '../helpers/cli';
import { packedTarball } from '../helpers/pack';

const ROOT = path.join(__dirname, '..', '..');
const OWN = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

describe('nexthop init: scaffolding', () => {
  const work = tempDir('nexthop-init-');
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('ships the hello template and lists it', async () => {
    expect(listTemplates()).toContain('hello');
    const cap = captureIO(work);
    expect(await main(['init', '--list'], cap.io)).toBe(0);
    expect(cap.stdout()).toMatch(/^hello +The ten-line edge module/m);
  });

  it('writes a TypeScript module by default: start, build, test, .gitignore, README, server and test', () => {
    const dir = path.join(work, 'My Shop');
    const files = scaffold(dir);
    expect(files).toEqual(
      [
        '.gitignore',
        'README.md',
        'package.json',
        'src/server.ts',
        'test/server.test.ts',
        'tsconfig.json',
      ].sort(),
    );
    const pkg = readJson(path.join(dir, 'package.json'));
    expect(pkg.name).toBe('my-shop');
    expect(pkg.scripts).toEqual({
      build: 'tsc',
      prestart: 'npm run build',
      start: 'exec node dist/src/server.js',
      test: 'tsc && node --test',
    });
    expect(pkg.dependencies).toEqual({ nexthop: `^${OWN.version}` });
    // Dev tools pinned to the ranges nexthop itself is tested with.
    expect(pkg.devDependencies.typescript).toBe(OWN.devDependencies.typescript);
    expect(pkg.devDependencies.supertest).toBe(OWN.devDependencies.supertest);
    expect(pkg.engines.node).toBeDefined();
    const ignored = compileGitignore(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8'));
    expect(ignored('node_modules', true)).toBe(true);
    expect(ignored('dist/src/server.js')).toBe(true);
    expect(ignored('logs/app.log')).toBe(true);
    const app = fs.readFileSync(path.join(dir, 'src', 'server.ts'), 'utf8');
    for (const name of ['createApp', 'nextHopProxy', 'errorHandler']) expect(app).toContain(name);
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toMatch(/^# my-shop\n/);
    expect(fs.readFileSync(path.join(dir, 'test', 'server.test.ts'), 'utf8')).not.toContain('{{name}}');
  });

  it('writes plain JavaScript with --js', async () => {
    const dir = path.join(work, 'js-module');
    const cap = captureIO(work);
    expect(await main(['init', 'js-module', '--js', '--no-install', '--name', 'edge-js'], cap.io)).toBe(0);
    expect(cap.stdout()).toContain(`✓ created ${dir} (JavaScript, template hello)`);
    expect(cap.stdout()).toContain('skipped npm install');
    const pkg = readJson(path.join(dir, 'package.json'));
    expect(pkg.name).toBe('edge-js');
    expect(pkg.scripts).toEqual({ start: 'exec node src/server.js', test: 'node --test' });
    expect(Object.keys(pkg.devDependencies)).toEqual(['supertest']);
    expect(fs.existsSync(path.join(dir, 'src', 'server.js'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'tsconfig.json'))).toBe(false);
  });

  it('refuses a non-empty folder without --force, and writes into it with --force', async () => {
    const dir = path.join(work, 'busy');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine\n');
    const cap = captureIO(work);
    expect(await main(['init', 'busy', '--no-install'], cap.io)).toBe(2);
    expect(cap.stderr()).toContain(
      `nexthop init: ${dir} is not empty (notes.txt…); use --force to write into it anyway`,
    );
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
    expect(await main(['init', 'busy', '--no-install', '--force'], captureIO(work).io)).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine\n');
    expect(fs.existsSync(path.join(dir, 'package.json'))).toBe(true);
  });

  it('accepts a folder that only holds .git', () => {
    const dir = path.join(work, 'repo');
    fs.mkdirSync(path.join(dir, '.git'), { recursive: true });
    expect(() => scaffold(dir)).not.toThrow();
  });

  // [arguments, message on stderr]
  const MISTAKES: [string[], string][] = [
    [
      ['--template', 'nope'],
      'unknown template "nope"; available: ab-split, cluster, edge-api, hello, ip-guard, secure-headers',
    ],
    [['--template', 'helo'], 'unknown template "helo" (did you mean hello?); available: ab-split,'],
    [['--nexthop-path', 'missing-checkout'], 'is neither a folder with a package.json nor a .tgz file'],
    [
      ['--nexthop-path', '.', '--nexthop-version', '1'],
      'use either --nexthop-version or --nexthop-path, not both',
    ],
    [['--nexthop-version', ' '], '--nexthop-version must not be empty'],
    [
      ['--name', 'Bad Name!'],
      '--name "Bad Name!" is not a valid npm package name: name can only contain URL-friendly characters',
    ],
    [['--name', 'Bad Name!'], 'e.g. --name bad-name'],
    [['--name', '.hidden'], 'name cannot start with a period'],
    [['--name', 'a'.repeat(215)], 'name can no longer contain more than 214 characters'],
    [['--json'], '--json goes with --list'],
    [['--colour'], "Unknown option '--colour'"],
    [['b'], 'unexpected argument "b"'],
  ];
  it.each(MISTAKES)('init %j is a usage error: %s', async (args, message) => {
    const cap = captureIO(work);
    expect(await main(['init', path.join(work, 'never'), ...args.slice(0)], cap.io)).toBe(2);
    expect(cap.stderr()).toContain(message);
    expect(fs.existsSync(path.join(work, 'never'))).toBe(false);
  });

  it('--list --json prints the templates as JSON', async () => {
    const cap = captureIO(work);
    expect(await main(['init', '--list', '--json'], cap.io)).toBe(0);
    const list = JSON.parse(cap.stdout()) as { name: string; description: string }[];
    expect(list.map((t) => t.name)).toEqual(listTemplates());
    expect(list.find((t) => t.name === 'hello')?.description).toMatch(/^The ten-line edge module/);
  });

  it('a folder named like a Node.js core module gets a name npm accepts', () => {
    scaffold(path.join(work, 'cluster'));
    expect(readJson(path.join(work, 'cluster', 'package.json')).name).toBe('cluster-module');
  });

  it('a scoped --name is accepted', async () => {
    expect(await main(['init', 'scoped', '--no-install', '--name', '@shop/edge'], captureIO(work).io)).toBe(
      0,
    );
    expect(readJson(path.join(work, 'scoped', 'package.json')).name).toBe('@shop/edge');
  });

  it('a nexthop missing from the registry (E404) says to use --nexthop-path', async () => {
    // A registry of the test's own on loopback that has no package at all.
    const registry = http.createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"Not found"}');
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = registry.address() as AddressInfo;
      const cap = captureIO(work, {
        ...process.env,
        NO_COLOR: '1',
        npm_config_registry: `http://127.0.0.1:${port}/`,
        npm_config_fetch_retries: '0',
        npm_config_cache: path.join(work, 'empty-cache'),
      });
      expect(await main(['init', 'unpublished', '--js'], cap.io)).toBe(1);
      expect(cap.stderr()).toContain('E404');
      expect(cap.stderr()).toContain(`nexthop@^${OWN.version} is not on the npm registry this install uses`);
      expect(cap.stderr()).toContain('--nexthop-path');
    } finally {
      registry.close();
    }
  }, 60_000);

  it('--nexthop-version and --nexthop-path set the dependency', async () => {
    await main(['init', 'v', '--no-install', '--nexthop-version', '~0.1.0'], captureIO(work).io);
    expect(readJson(path.join(work, 'v', 'package.json')).dependencies.nexthop).toBe('~0.1.0');
    await main(['init', 'p', '--no-install', '--nexthop-path', ROOT], captureIO(work).io);
    expect(readJson(path.join(work, 'p', 'package.json')).dependencies.nexthop).toBe(`file:${ROOT}`);
  });
});

// One install per language from the packed local checkout (the npm cache when it holds a
// package, else the registry): init → doctor passes →
// npm start answers (doctor --run) → the generated test passes.
describe('nexthop init → doctor → npm start, installed from the local checkout', () => {
  const work = tempDir('nexthop-init-e2e-');
  let tarball = '';
  const installEnv = { ...process.env, NO_COLOR: '1', npm_config_prefer_offline: 'true' };
  beforeAll(() => void ({ tarball } = packedTarball()), 120_000);
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it.each([['ts'], ['js']])(
    '%s module passes doctor --run and its own test',
    async (language) => {
      const dir = path.join(work, `module-${language}`);
      const cap = captureIO(work, installEnv);
      const args = ['init', dir, '--nexthop-path', tarball, ...(language === 'js' ? ['--js'] : [])];
      expect(await main(args, cap.io)).toBe(0);
      expect(cap.stdout()).toContain('✓ installed; package-lock.json written');
      expect(readJson(path.join(dir, 'package.json')).dependencies.nexthop).toBe(`file:${tarball}`);

      const results = await doctor(dir, { run: true, timeoutMs: 60_000, graceMs: 10_000 });
      expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
      expect(results.map((r) => r.id)).toEqual(
        expect.arrayContaining(['run-answers', 'run-one-port', 'run-sigterm']),
      );

      const quiet = captureIO(dir);
      expect(await main(['doctor', '--quiet'], quiet.io)).toBe(0);
      expect(quiet.stdout() + quiet.stderr()).toBe('');

      const test = execFileSync('npm', ['test'], {
        cwd: dir,
        env: installEnv,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(test).toMatch(/# pass 1\b/);
      expect(test).toMatch(/# fail 0\b/);
    },
    120_000,
  );
});
