import fs from 'node:fs';
import path from 'node:path';
import { fail, pass, warn, type CheckResult } from './types';

/** The parts of package.json doctor reads. */
export interface PackageJson {
  name?: string;
  main?: string;
  scripts?: Record<string, string>;
  engines?: Record<string, string>;
  packageManager?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** Start commands that run a file watcher or a development server, not a production server. */
const WATCHERS: readonly [RegExp, string][] = [
  [/\bnodemon\b/, 'nodemon'],
  [/\bts-node-dev\b/, 'ts-node-dev'],
  [/\btsx\s+watch\b/, 'tsx watch'],
  [/--watch\b/, '--watch'],
  [/\bnext\s+dev\b/, 'next dev'],
  [/\bnuxt\s+dev\b/, 'nuxt dev'],
  [/\bastro\s+dev\b/, 'astro dev'],
  [/\bremix\s+dev\b/, 'remix dev'],
  [/\bvite(?!\s+(?:build|preview))(?:\s|$)/, 'vite'],
  [/\bwebpack(?:-dev-server|\s+serve)\b/, 'webpack dev server'],
  [/\bparcel(?!\s+build)(?:\s|$)/, 'parcel'],
  [/\breact-scripts\s+start\b/, 'react-scripts start'],
  [/\bng\s+serve\b/, 'ng serve'],
];

const DEP_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies'] as const;
const FOREIGN_LOCKFILES = ['yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'bun.lock'];

function readJson(file: string): { value?: unknown; error?: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : String(err) };
  }
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: `does not parse: ${(err as Error).message}` };
  }
}

/** package.json: exists and parses, a start script that is not a watcher, engines.node. */
export function checkPackageJson(dir: string): { results: CheckResult[]; pkg?: PackageJson } {
  const { value, error } = readJson(path.join(dir, 'package.json'));
  if (error === 'missing') {
    return {
      results: [
        fail('package-json', 'no package.json', 'run `npm init -y`, or scaffold with `nexthop init`', 6),
      ],
    };
  }
  if (error || typeof value !== 'object' || value === null || Array.isArray(value)) {
    const why = error ?? 'is not a JSON object';
    return {
      results: [fail('package-json', `package.json ${why}`, 'fix the JSON syntax of package.json', 6)],
    };
  }
  const pkg = value as PackageJson;
  const results = [pass('package-json', 'package.json parses', 6), checkStart(dir, pkg)];
  const node = pkg.engines?.node;
  results.push(
    typeof node === 'string' && node.trim() !== ''
      ? pass('engines-node', `engines.node is declared ("${node}")`)
      : warn(
          'engines-node',
          'engines.node is not declared',
          `add "engines": { "node": "${NODE_FLOOR}" } to package.json (nexthop's own floor)`,
        ),
  );
  return { results, pkg };
}

/** The Node.js versions nexthop runs on, as an engines range. */
export const NODE_FLOOR = '>=20.19.0';

/** Where a server usually lives, in the order they are tried after package.json "main". */
const SERVER_FILES = [
  'server.js',
  'src/server.js',
  'index.js',
  'src/index.js',
  'app.js',
  'src/app.js',
  'server.mjs',
  'src/server.mjs',
  'server.cjs',
  'src/server.cjs',
];

/**
 * The project's server file (relative path): package.json "main" when it exists, else the
 * first usual name that starts a server (`listen(` or `serve(`), else the first that exists.
 */
export function findServerFile(dir: string, pkg: { main?: unknown } = {}): string | undefined {
  const exists = (f: string) => fs.statSync(path.join(dir, f), { throwIfNoEntry: false })?.isFile();
  if (typeof pkg.main === 'string' && exists(pkg.main)) return path.posix.normalize(pkg.main);
  const found = SERVER_FILES.filter(exists);
  const listens = found.find((f) =>
    /\b(?:listen|serve)\s*\(/.test(fs.readFileSync(path.join(dir, f), 'utf8')),
  );
  return listens ?? found[0];
}

/**
 * The start script to suggest: `exec` so that a SIGTERM sent to npm reaches the server
 * (npm passes it to the shell running the script only), which `doctor --run` checks.
 */
export function suggestedStart(dir: string, pkg: PackageJson): string | undefined {
  const file = findServerFile(dir, pkg);
  return file === undefined ? undefined : `exec node ${file}`;
}

function checkStart(dir: string, pkg: PackageJson): CheckResult {
  const start = pkg.scripts?.start;
  const suggested = suggestedStart(dir, pkg);
  if (typeof start !== 'string' || start.trim() === '') {
    return fail(
      'start-script',
      'package.json has no "start" script',
      suggested
        ? `add "scripts": { "start": "${suggested}" } to package.json`
        : 'add "scripts": { "start": "exec node <your server file>" } to package.json (the command that starts your HTTP server; for TypeScript, the compiled file, built by a "prestart" script)',
      6,
    );
  }
  const watcher = WATCHERS.find(([re]) => re.test(start));
  if (watcher) {
    return warn(
      'start-script',
      `"start" runs a watcher or dev server (${watcher[1]}): "${start}"`,
      `make "start" run the production server (${suggested ? `"${suggested}"` : 'e.g. "exec node server.js"'}); keep the watcher in a "dev" script`,
      6,
    );
  }
  return pass('start-script', `"start" script: ${start}`, 6);
}

/** package-lock.json: present, written by npm ≥ 7, in sync with package.json; no other lockfiles. */
export function checkLockfile(dir: string, pkg: PackageJson | undefined): CheckResult[] {
  const results: CheckResult[] = [];
  const { value, error } = readJson(path.join(dir, 'package-lock.json'));
  const install = 'run `npm install` and commit package-lock.json';
  if (error === 'missing') {
    results.push(fail('lockfile', 'no package-lock.json', install, 5));
  } else if (error || typeof value !== 'object' || value === null) {
    results.push(fail('lockfile', `package-lock.json ${error ?? 'is not a JSON object'}`, install, 5));
  } else {
    const lock = value as { lockfileVersion?: unknown; packages?: Record<string, Record<string, unknown>> };
    const version = typeof lock.lockfileVersion === 'number' ? lock.lockfileVersion : 0;
    if (version < 2 || typeof lock.packages !== 'object' || lock.packages === null) {
      results.push(
        fail(
          'lockfile',
          `package-lock.json has lockfileVersion ${String(lock.lockfileVersion)}: not written by npm 7 or later`,
          'delete it and run `npm install` with npm 7 or later',
          5,
        ),
      );
    } else {
      results.push(pass('lockfile', `package-lock.json written by npm (lockfileVersion ${version})`, 5));
      if (pkg) results.push(checkLockSync(pkg, lock.packages));
    }
  }
  results.push(checkForeignLockfiles(dir, pkg));
  return results;
}

function checkLockSync(pkg: PackageJson, packages: Record<string, Record<string, unknown>>): CheckResult {
  const root = packages[''] ?? {};
  const problems: string[] = [];
  for (const field of DEP_FIELDS) {
    const wanted = pkg[field] ?? {};
    const locked = (root[field] ?? {}) as Record<string, string>;
    for (const [name, range] of Object.entries(wanted)) {
      if (locked[name] === undefined) problems.push(`${name}@${range} is not in the lock`);
      else if (locked[name] !== range)
        problems.push(`${name} is "${range}" in package.json, "${locked[name]}" in the lock`);
      else if (field !== 'optionalDependencies' && packages[`node_modules/${name}`] === undefined) {
        problems.push(`${name} has no resolved entry in the lock`);
      }
    }
    for (const name of Object.keys(locked)) {
      if (wanted[name] === undefined)
        problems.push(`${name} is in the lock's ${field} but not in package.json`);
    }
  }
  if (problems.length === 0) return pass('lockfile-sync', 'package-lock.json agrees with package.json', 5);
  const shown =
    problems.slice(0, 3).join('; ') + (problems.length > 3 ? `; and ${problems.length - 3} more` : '');
  return fail(
    'lockfile-sync',
    `package-lock.json does not agree with package.json: ${shown}`,
    'run `npm install` and commit both files (`npm ci` on the platform fails otherwise)',
    5,
  );
}

function checkForeignLockfiles(dir: string, pkg: PackageJson | undefined): CheckResult {
  const found = FOREIGN_LOCKFILES.filter((f) => fs.existsSync(path.join(dir, f)));
  if (found.length > 0) {
    return fail(
      'npm-only',
      `${found.join(', ')} found: the platform installs with npm only`,
      `delete ${found.join(' and ')} and use npm (package-lock.json)`,
      5,
    );
  }
  const manager = pkg?.packageManager;
  if (typeof manager === 'string' && !manager.startsWith('npm@')) {
    return fail(
      'npm-only',
      `package.json "packageManager" is "${manager}": the platform installs with npm only`,
      'remove "packageManager" or set it to npm',
      5,
    );
  }
  return pass('npm-only', 'no yarn, pnpm or bun lockfile', 5);
}
