import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { doctor } from '../../lib/cli/doctor';
import type { CheckResult } from '../../lib/cli/doctor/types';
import { main } from '../../lib/cli/index';
import { CLI, FIXTURES, captureIO, copyFixture } from '../helpers/cli';

const GOOD = path.join(FIXTURES, 'doctor', 'good');

function edit(dir: string, file: string, change: (text: string) => string): void {
  const full = path.join(dir, file);
  fs.writeFileSync(full, change(fs.existsSync(full) ? fs.readFileSync(full, 'utf8') : ''));
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixtures are edited freely
type Json = Record<string, any>;
function editJson(dir: string, file: string, change: (json: Json) => void): void {
  edit(dir, file, (text) => {
    const json = JSON.parse(text);
    change(json);
    return JSON.stringify(json, null, 2);
  });
}
function git(dir: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd: dir,
    stdio: 'ignore',
  });
}
const notPassing = (results: CheckResult[]) => results.filter((r) => r.status !== 'pass');

// [what breaks, how the good fixture is broken, check id, status, text of the fix]
const BROKEN: [string, (dir: string) => void, string, 'fail' | 'warn', RegExp][] = [
  ['no package.json', (d) => fs.rmSync(path.join(d, 'package.json')), 'package-json', 'fail', /npm init/],
  [
    'package.json does not parse',
    (d) => edit(d, 'package.json', (t) => t.slice(0, -3)),
    'package-json',
    'fail',
    /JSON syntax/,
  ],
  [
    'package.json is an array',
    (d) => edit(d, 'package.json', () => '[]'),
    'package-json',
    'fail',
    /JSON syntax/,
  ],
  [
    'no start script',
    (d) => editJson(d, 'package.json', (j) => delete j.scripts.start),
    'start-script',
    'fail',
    /"start": "exec node server.js"/,
  ],
  [
    'start runs nodemon',
    (d) => editJson(d, 'package.json', (j) => (j.scripts.start = 'nodemon server.js')),
    'start-script',
    'warn',
    /production server/,
  ],
  [
    'start runs next dev',
    (d) => editJson(d, 'package.json', (j) => (j.scripts.start = 'next dev')),
    'start-script',
    'warn',
    /"dev" script/,
  ],
  [
    'start runs node --watch',
    (d) => editJson(d, 'package.json', (j) => (j.scripts.start = 'node --watch server.js')),
    'start-script',
    'warn',
    /production/,
  ],
  [
    'no engines.node',
    (d) => editJson(d, 'package.json', (j) => delete j.engines),
    'engines-node',
    'warn',
    /"engines": \{ "node": ">=20.19.0" \}/,
  ],
  [
    'no package-lock.json',
    (d) => fs.rmSync(path.join(d, 'package-lock.json')),
    'lockfile',
    'fail',
    /npm install/,
  ],
  [
    'package-lock.json does not parse',
    (d) => edit(d, 'package-lock.json', () => '{'),
    'lockfile',
    'fail',
    /npm install/,
  ],
  [
    'lockfileVersion 1',
    (d) =>
      editJson(d, 'package-lock.json', (j) => {
        j.lockfileVersion = 1;
        delete j.packages;
      }),
    'lockfile',
    'fail',
    /npm 7 or later/,
  ],
  [
    'a range changed in package.json only',
    (d) => editJson(d, 'package.json', (j) => (j.dependencies.ms = '^3.0.0')),
    'lockfile-sync',
    'fail',
    /npm install/,
  ],
  [
    'a dependency added to package.json only',
    (d) => editJson(d, 'package.json', (j) => (j.devDependencies = { jest: '^29.0.0' })),
    'lockfile-sync',
    'fail',
    /npm install/,
  ],
  [
    'a dependency removed from package.json only',
    (d) => editJson(d, 'package.json', (j) => delete j.dependencies),
    'lockfile-sync',
    'fail',
    /npm install/,
  ],
  [
    'a dependency without a resolved entry',
    (d) => editJson(d, 'package-lock.json', (j) => delete j.packages['node_modules/ms']),
    'lockfile-sync',
    'fail',
    /npm install/,
  ],
  ['a yarn.lock', (d) => edit(d, 'yarn.lock', () => '# yarn\n'), 'npm-only', 'fail', /delete yarn.lock/],
  [
    'a pnpm-lock.yaml',
    (d) => edit(d, 'pnpm-lock.yaml', () => 'lockfileVersion: 9\n'),
    'npm-only',
    'fail',
    /delete pnpm-lock.yaml/,
  ],
  ['a bun.lockb', (d) => edit(d, 'bun.lockb', () => 'x'), 'npm-only', 'fail', /delete bun.lockb/],
  [
    'packageManager yarn',
    (d) => editJson(d, 'package.json', (j) => (j.packageManager = 'yarn@4.1.0')),
    'npm-only',
    'fail',
    /packageManager/,
  ],
  ['no .gitignore', (d) => fs.rmSync(path.join(d, '.gitignore')), 'gitignore', 'fail', /node_modules\//],
  [
    '.gitignore without node_modules',
    (d) => edit(d, '.gitignore', () => 'logs/\n'),
    'gitignore',
    'fail',
    /node_modules\//,
  ],
  [
    '.gitignore re-includes node_modules',
    (d) => edit(d, '.gitignore', (t) => `${t}!node_modules/\n`),
    'gitignore',
    'fail',
    /node_modules\//,
  ],
  [
    'node_modules tracked by git',
    (d) => {
      fs.mkdirSync(path.join(d, 'node_modules', 'ms'), { recursive: true });
      fs.writeFileSync(path.join(d, 'node_modules', 'ms', 'index.js'), '');
      git(d, 'init', '-q');
      git(d, 'add', '-f', '.');
    },
    'node-modules-untracked',
    'fail',
    /git rm -r --cached node_modules/,
  ],
  [
    'a port written in the code',
    (d) => edit(d, 'server.js', (t) => t.replace('Number(process.env.PORT)', '3999')),
    'port-env',
    'fail',
    /listen on process\.env\.PORT/,
  ],
  [
    'a port written in listen options',
    (d) => edit(d, 'server.js', (t) => t.replace('Number(process.env.PORT)', "{ port: 3999, host: '::' }")),
    'port-env',
    'fail',
    /listen on process\.env\.PORT/,
  ],
  [
    'PORT not read',
    (d) =>
      edit(d, 'server.js', (t) => t.replace('Number(process.env.PORT)', 'Number(process.env.HTTP_PORT)')),
    'port-env',
    'warn',
    /process\.env\.PORT/,
  ],
  [
    'a proxy target over HTTPS',
    (d) => edit(d, 'proxy.js', () => "app.use(nextHopProxy({ target: 'https://api.example.com' }));\n"),
    'proxy-target',
    'fail',
    /forceHttps: true/,
  ],
  ['no source at all', (d) => fs.rmSync(path.join(d, 'server.js')), 'port-env', 'warn', /PORT/],
  [
    'an HTTPS server',
    (d) =>
      edit(
        d,
        'tls.js',
        () => "require('https').createServer({});\nconst https = require('https');\nhttps.createServer();\n",
      ),
    'no-tls-server',
    'warn',
    /terminates TLS/,
  ],
  [
    'https://next-hop',
    (d) => edit(d, 'up.js', () => "fetch('https://next-hop/api');\n"),
    'next-hop-url',
    'fail',
    /X-Forwarded-Proto: https/,
  ],
  [
    'next-hop on port 8080',
    (d) => edit(d, 'up.js', () => "const u = 'http://next-hop:8080';\n"),
    'next-hop-url',
    'fail',
    /http:\/\/next-hop:80/,
  ],
  [
    'a log file in the project folder',
    (d) => edit(d, 'log.js', () => "require('fs').createWriteStream('./logs/app.log');\n"),
    'log-dir',
    'warn',
    /LOG_DIR/,
  ],
  [
    'a log folder next to the code',
    (d) =>
      edit(d, 'log.js', () => "new winston.transports.File({ dirname: './logs', filename: 'app.log' });\n"),
    'log-dir',
    'warn',
    /LOG_DIR/,
  ],
  [
    'a log file elsewhere under /var/log',
    (d) => edit(d, 'log.js', () => "const file = '/var/log/app/error.log';\n"),
    'log-dir',
    'warn',
    /\/var\/log\/nodejs/,
  ],
];

/** The one quoted value after `"key": ` in a fix, e.g. the start script it suggests. */
function quoted(fix: string | undefined, key: string): string {
  const m = new RegExp(`"${key}": "([^"]+)"`).exec(fix ?? '');
  if (!m) throw new Error(`no "${key}" in the fix: ${fix}`);
  return m[1];
}

// [what breaks, how the good fixture is broken, the finding, how its fix is applied, with --run]
// Each fix is applied as its text says; then doctor (with --run where the fix touches how the
// app starts) must find nothing at all: the finding is gone and no other check objects.
const FIXES: [string, (dir: string) => void, string, (dir: string, fix: string) => void, boolean][] = [
  [
    'no start script, the server in src/',
    (d) => {
      fs.mkdirSync(path.join(d, 'src'));
      fs.renameSync(path.join(d, 'server.js'), path.join(d, 'src', 'server.js'));
      editJson(d, 'package.json', (j) => delete j.scripts.start);
    },
    'start-script',
    (d, fix) => editJson(d, 'package.json', (j) => (j.scripts.start = quoted(fix, 'start'))),
    true,
  ],
  [
    'a watcher as start, the server named by "main"',
    (d) => {
      fs.renameSync(path.join(d, 'server.js'), path.join(d, 'main.js'));
      fs.writeFileSync(path.join(d, 'index.js'), "module.exports = 'not the server';\n");
      editJson(d, 'package.json', (j) => {
        j.main = 'main.js';
        j.scripts.start = 'nodemon main.js';
      });
    },
    'start-script',
    (d, fix) => editJson(d, 'package.json', (j) => (j.scripts.start = /\("([^"]+)"\)/.exec(fix)?.[1] ?? fix)),
    true,
  ],
  [
    'no engines.node',
    (d) => editJson(d, 'package.json', (j) => delete j.engines),
    'engines-node',
    (d, fix) => editJson(d, 'package.json', (j) => (j.engines = { node: quoted(fix, 'node') })),
    false,
  ],
  [
    'a port written in the code',
    (d) =>
      edit(d, 'server.js', (t) =>
        t.replace('server.listen(Number(process.env.PORT))', 'server.listen(3999)'),
      ),
    'port-env',
    (d, fix) =>
      edit(d, 'server.js', (t) => t.replace('server.listen(3999)', /e\.g\. (\S+\))/.exec(fix)?.[1] ?? '')),
    true,
  ],
  [
    'a proxy target over HTTPS',
    (d) => edit(d, 'proxy.js', () => "app.use(nextHopProxy({ target: 'https://api.example.com' }));\n"),
    'proxy-target',
    (d, fix) =>
      edit(d, 'proxy.js', (t) =>
        t.replace(
          "nextHopProxy({ target: 'https://api.example.com' })",
          /use (nextHopProxy\(.*\))/.exec(fix)?.[1] ?? '',
        ),
      ),
    false,
  ],
  [
    'no .gitignore',
    (d) => fs.rmSync(path.join(d, '.gitignore')),
    'gitignore',
    (d, fix) => edit(d, '.gitignore', () => `${/the line "([^"]+)"/.exec(fix)?.[1]}\n`),
    false,
  ],
];

describe('doctor fixes agree with each other', () => {
  it.each(FIXES)(
    '%s: the fix clears %s and raises nothing else',
    async (_what, breakIt, id, apply, run) => {
      const dir = copyFixture('doctor', 'good');
      try {
        breakIt(dir);
        const before = notPassing(await doctor(dir, { run }));
        const finding = before.find((r) => r.id === id);
        expect(finding?.fix).toBeDefined();
        apply(dir, finding?.fix ?? '');
        expect(notPassing(await doctor(dir, { run, timeoutMs: 20_000, graceMs: 5000 }))).toEqual([]);
      } finally {
        fs.rmSync(path.dirname(dir), { recursive: true, force: true });
      }
    },
    60_000,
  );
});

describe('nexthop doctor on fixture projects', () => {
  it('passes every check on the good fixture', async () => {
    const results = await doctor(GOOD);
    expect(notPassing(results)).toEqual([]);
    expect(results.map((r) => r.id)).toEqual([
      'package-json',
      'start-script',
      'engines-node',
      'lockfile',
      'lockfile-sync',
      'npm-only',
      'gitignore',
      'node-modules-untracked',
      'port-env',
      'no-tls-server',
      'next-hop-url',
      'proxy-target',
      'log-dir',
    ]);
  });

  const rows = BROKEN.map(([what, breakIt, id, status, fix]) => [what, id, status, fix, breakIt] as const);
  it.each(rows)('%s: only %s gives %s, with its fix', async (_what, id, status, fix, breakIt) => {
    const dir = copyFixture('doctor', 'good');
    try {
      breakIt(dir);
      const bad = notPassing(await doctor(dir));
      expect(bad.map((r) => [r.id, r.status])).toEqual([[id, status]]);
      expect(bad[0].fix).toMatch(fix);

      const human = captureIO(dir);
      const code = await main(['doctor'], human.io);
      expect(code).toBe(status === 'fail' ? 1 : 0);
      expect(human.stdout()).toContain(`${status === 'fail' ? '✗' : '!'} ${bad[0].message}`);
      expect(human.stdout()).toContain(bad[0].fix);

      const quiet = captureIO(dir);
      expect(await main(['doctor', '--quiet'], quiet.io)).toBe(status === 'fail' ? 1 : 0);
      expect(quiet.stdout()).toBe('');
      // Quiet mode reports broken Musts only; warnings stay silent.
      if (status === 'fail') expect(quiet.stderr()).toContain(`✗ ${bad[0].message} — fix: ${bad[0].fix}`);
      else expect(quiet.stderr()).toBe('');
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  it('skips ignored folders and tests when looking for TLS servers and next-hop URLs', async () => {
    const dir = copyFixture('doctor', 'good');
    try {
      fs.mkdirSync(path.join(dir, 'test'));
      fs.writeFileSync(path.join(dir, 'test', 'tls.js'), "require('https').createServer();\n");
      fs.writeFileSync(path.join(dir, 'server.test.js'), "fetch('https://next-hop/');\n");
      fs.mkdirSync(path.join(dir, 'dist'));
      fs.writeFileSync(path.join(dir, 'dist', 'bundle.js'), "fetch('https://next-hop/');\n");
      fs.appendFileSync(path.join(dir, '.gitignore'), 'dist/\n');
      fs.writeFileSync(
        path.join(dir, 'log.js'),
        [
          "const a = path.join(process.env.LOG_DIR, 'app.log');",
          "const b = '/var/log/nodejs/error.log';",
          "const c = path.join(folder, 'error.log');",
          "const ignore = ['logs/**', '*.log'];",
          '// writes ./logs/app.log in development',
          ' * Logs go to `/tmp/x.log` (a comment)',
          "const catalog = 'catalog/items';",
          "const gitignore = ['node_modules/', 'logs/'];",
        ].join('\n'),
      );
      expect(notPassing(await doctor(dir))).toEqual([]);
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  it('--json prints every result and ok', async () => {
    const cap = captureIO(GOOD);
    expect(await main(['doctor', '--json'], cap.io)).toBe(0);
    const report = JSON.parse(cap.stdout());
    expect(report.ok).toBe(true);
    expect(report.dir).toBe(GOOD);
    expect(report.results).toHaveLength(13);
    expect(report.results[0]).toEqual({
      id: 'package-json',
      rule: 6,
      status: 'pass',
      message: 'package.json parses',
    });
  });

  it('--json reports ok: false and exits 1 when a Must fails', async () => {
    const dir = copyFixture('doctor', 'good');
    try {
      fs.rmSync(path.join(dir, 'package-lock.json'));
      const cap = captureIO(dir);
      expect(await main(['doctor', dir, '--json'], cap.io)).toBe(1);
      const report = JSON.parse(cap.stdout());
      expect(report.ok).toBe(false);
      expect(report.results.find((r: CheckResult) => r.status === 'fail').id).toBe('lockfile');
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  it('the installed binary in --quiet mode prints nothing and exits 0 on the good fixture', () => {
    const run = spawnSync(process.execPath, [CLI, 'doctor', '--quiet', GOOD], { encoding: 'utf8' });
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('the human report is plain text without a TTY and coloured with FORCE_COLOR', async () => {
    const plain = captureIO(GOOD);
    await main(['doctor'], plain.io);
    expect(plain.stdout()).not.toContain('\u001b[');
    expect(plain.stdout()).toMatch(/^ {2}✓ package\.json parses/m);
    expect(plain.stdout()).toContain('13 passed, 0 failed, 0 warning(s): ready for the platform');
    const coloured = captureIO(GOOD, { ...process.env, NO_COLOR: '', FORCE_COLOR: '1' });
    await main(['doctor'], coloured.io);
    expect(coloured.stdout()).toContain('\u001b[32m✓\u001b[39m');
  });

  it('rejects bad flag values with a usage error (exit 2)', async () => {
    const cap = captureIO(GOOD);
    expect(await main(['doctor', '--run', '--timeout', '5s'], cap.io)).toBe(2);
    expect(cap.stderr()).toContain(
      'nexthop doctor: --timeout must be an integer from 100 to 600000, got "5s"',
    );
    expect(cap.stderr()).toContain('nexthop doctor --help');
  });
});
