import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { listTemplates } from '../../lib/cli/init';
import { CLI, processesIn, tempDir } from '../helpers/cli';
import { packedTarball } from '../helpers/pack';

// The newcomer's path, from the packed tarball into fresh folders: `nexthop init` then
// `nexthop dev` in the new module, and every TypeScript template compiled by the newest
// TypeScript that installs today and by the oldest nexthop supports (its own, ~5.9).
// Packages come from the registry when the npm cache lacks them.
const ROOT = path.join(__dirname, '..', '..');
const OWN = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const env = { ...process.env, NO_COLOR: '1', npm_config_prefer_offline: 'true' };
const run = (file: string, args: string[], cwd: string) =>
  execFileSync(file, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const work = tempDir('nexthop-quick-start-');
const myModule = path.join(work, 'my-module');
let dev: ChildProcess | undefined;

beforeAll(() => {
  const { tarball } = packedTarball();
  run(process.execPath, [CLI, 'init', 'my-module', '--nexthop-path', tarball], work);
}, 240_000);

afterAll(async () => {
  if (dev && dev.exitCode === null) {
    dev.kill('SIGINT');
    await new Promise((resolve) => dev?.once('exit', resolve));
  }
  fs.rmSync(work, { recursive: true, force: true });
});

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('quick start: nexthop init my-module && cd my-module && nexthop dev', () => {
  it('the new module runs under dev: its route answers, the rest reaches the demo origin', async () => {
    // What `npx nexthop dev` runs in the module: the bin npm linked.
    dev = spawn(path.join(myModule, 'node_modules', '.bin', 'nexthop'), ['dev', '--port', '0'], {
      cwd: myModule,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const ready = new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        const port = /front\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
        if (port && /^ready: /m.test(out)) resolve(Number(port));
      };
      dev?.stdout?.on('data', onData);
      dev?.stderr?.on('data', onData);
      dev?.once('exit', (code) => reject(new Error(`dev exited (${code}):\n${out}`)));
    });
    const port = await ready;
    // A module made by init passes doctor's static checks: dev has nothing to ask for.
    expect(out).not.toContain('before deploying');
    const hello = await get(port, '/hello');
    expect(hello.status).toBe(200);
    expect(JSON.parse(hello.body)).toMatchObject({ message: 'Hello from the edge', protocol: 'http' });
    const other = await get(port, '/products/1');
    expect(other.status).toBe(200);
    expect(JSON.parse(other.body).answeredBy).toBe('nexthop dev demo origin');
    dev.kill('SIGINT');
    await new Promise((resolve) => dev?.once('exit', resolve));
    expect(out).not.toMatch(/received again/);
    expect(processesIn(myModule).filter((p) => p !== process.pid)).toEqual([]);
  }, 120_000);
});

describe('TypeScript templates compile with the newest TypeScript and the oldest supported', () => {
  const tools = path.join(work, 'typescript');
  const versions = { newest: 'latest', oldest: OWN.devDependencies.typescript as string };

  beforeAll(() => {
    fs.mkdirSync(tools);
    fs.writeFileSync(path.join(tools, 'package.json'), '{ "name": "tools", "private": true }');
    run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        `ts-newest@npm:typescript@${versions.newest}`,
        `ts-oldest@npm:typescript@${versions.oldest}`,
      ],
      tools,
    );
    // Every template's dependencies, installed once beside the module's.
    run('npm', ['install', '--no-audit', '--no-fund', 'express-rate-limit@^8.7.5'], myModule);
    for (const name of listTemplates()) {
      const dir = path.join(work, `template-${name}`);
      run(process.execPath, [CLI, 'init', dir, '--template', name, '--no-install'], work);
      fs.symlinkSync(path.join(myModule, 'node_modules'), path.join(dir, 'node_modules'));
    }
  }, 240_000);

  const cases = listTemplates().flatMap((name) => [
    [name, 'newest'],
    [name, 'oldest'],
  ]);
  it.each(cases)(
    '%s with the %s TypeScript',
    (name, which) => {
      const tsc = path.join(tools, 'node_modules', `ts-${which}`, 'bin', 'tsc');
      const dir = path.join(work, `template-${name}`);
      const outDir = path.join(dir, `out-${which}`); // beside node_modules, which the output requires
      const result = (() => {
        try {
          return run(process.execPath, [tsc, '-p', dir, '--outDir', outDir], dir);
        } catch (err) {
          const e = err as { stdout?: string; stderr?: string };
          throw new Error(`tsc failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
        }
      })();
      expect(result).toBe('');
      expect(fs.existsSync(path.join(outDir, 'src', 'server.js'))).toBe(true);
      if (name === 'hello') {
        // The compiled test loads the compiled server (an ES import() of a CommonJS file) and passes.
        const test = run(process.execPath, ['--test', path.join(outDir, 'test')], dir);
        expect(test).toMatch(/# pass 1\b/);
      }
    },
    60_000,
  );

  it('the versions tested: the newest major that installs, and the supported floor (5.9)', () => {
    const major = (which: string) =>
      Number(
        /Version (\d+)\./.exec(
          run(
            process.execPath,
            [path.join(tools, 'node_modules', `ts-${which}`, 'bin', 'tsc'), '--version'],
            tools,
          ),
        )?.[1],
      );
    expect(major('oldest')).toBe(5);
    expect(major('newest')).toBeGreaterThanOrEqual(major('oldest'));
  });
});
