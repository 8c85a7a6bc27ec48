import fs from 'node:fs';
import path from 'node:path';
import validatePackageName from 'validate-npm-package-name';
import { suggestion } from '../../check-options';
import { UsageError } from '../io';
import { ownPackage } from '../package-root';

/** Options of {@link scaffold}. */
export interface InitOptions {
  /** Template name: one of the package's examples (`nexthop init --list`). @default 'hello' */
  template?: string;
  /** `'ts'` or `'js'`. @default 'ts' */
  language?: 'ts' | 'js';
  /** Package name. @default the folder's name, made a valid npm name */
  name?: string;
  /** Write into a non-empty folder. @default false */
  force?: boolean;
  /** Version spec of the nexthop dependency. @default `^<running nexthop version>` */
  nexthopSpec?: string;
}

/** A template's `template.json`. */
export interface TemplateMeta {
  description?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/**
 * The folder templates are read from: `dist/templates/` of the installed package, which
 * `npm run build` generates from the repository's `examples/` (see docs/examples.md).
 */
export function templatesDir(): string {
  return path.join(ownPackage().root, 'dist', 'templates');
}

/** Names of the templates shipped with this package. */
export function listTemplates(): string[] {
  return fs
    .readdirSync(templatesDir(), { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(templatesDir(), e.name, 'template.json')))
    .map((e) => e.name)
    .sort();
}

/**
 * A valid npm name made from a folder name: lowercased, other characters turned into `-`;
 * a name npm keeps for itself (a Node.js core module such as `cluster`) gets `-module`.
 */
function packageName(dir: string): string {
  const base =
    path
      .basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[._-]+|-+$/g, '')
      .slice(0, 200) || 'edge-module';
  return validatePackageName(base).validForNewPackages ? base : `${base}-module`;
}

/** Throw a UsageError naming what is wrong when `name` cannot be a new npm package's name. */
function checkPackageName(name: string, source: string): void {
  const { validForNewPackages, errors = [], warnings = [] } = validatePackageName(name);
  if (validForNewPackages) return;
  const example = packageName(name);
  throw new UsageError(
    `${source === '--name' ? `--name "${name}"` : `"${name}" (from ${source})`} is not a valid npm package name: ` +
      `${[...errors, ...warnings].join('; ')}; use lowercase letters, digits and - . _ ~ (e.g. --name ${example})`,
  );
}

function copyTree(from: string, to: string, name: string, written: string[], rel = ''): void {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dest = path.join(to, entry.name);
    if (entry.isDirectory()) {
      fs.mkdirSync(dest, { recursive: true });
      copyTree(src, dest, name, written, path.join(rel, entry.name));
    } else if (/\.(?:[cm]?[jt]s|json|md|txt|html|css)$/.test(entry.name)) {
      fs.writeFileSync(dest, fs.readFileSync(src, 'utf8').replaceAll('{{name}}', name));
      written.push(path.join(rel, entry.name));
    } else {
      fs.copyFileSync(src, dest);
      written.push(path.join(rel, entry.name));
    }
  }
}

// `exec`: npm runs the script with `sh -c` and passes SIGTERM to that shell only; exec makes
// the server that shell's process, so a SIGTERM sent to npm reaches it (graceful deploys).
function packageJson(name: string, meta: TemplateMeta, language: 'ts' | 'js', nexthopSpec: string): string {
  const own = ownPackage().devDependencies;
  const pin = (names: string[]) => Object.fromEntries(names.map((n) => [n, own[n] ?? '*']));
  const ts = language === 'ts';
  const devDependencies = {
    ...pin(
      ts ? ['@types/express', '@types/node', '@types/supertest', 'supertest', 'typescript'] : ['supertest'],
    ),
    ...meta.devDependencies,
  };
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    description: meta.description ?? 'An edge module built with nexthop',
    scripts: ts
      ? {
          build: 'tsc',
          prestart: 'npm run build',
          start: 'exec node dist/src/server.js',
          test: 'tsc && node --test',
        }
      : { start: 'exec node src/server.js', test: 'node --test' },
    engines: { node: '>=20.19.0' },
    dependencies: { nexthop: nexthopSpec, ...meta.dependencies },
    devDependencies,
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

const GITIGNORE = ['node_modules/', 'logs/', '*.log', '.env', 'coverage/'];

/**
 * Write a new project from a template into `dir` (no install). Returns the files written.
 * Throws a UsageError for an unknown template, a missing variant or a non-empty folder
 * without `force`.
 *
 * @example
 * scaffold('./my-module', { template: 'hello', language: 'ts' });
 */
export function scaffold(dir: string, options: Readonly<InitOptions> = {}): string[] {
  const { template = 'hello', language = 'ts', force = false } = options;
  const available = listTemplates();
  if (!available.includes(template)) {
    throw new UsageError(
      `unknown template "${template}"${suggestion(template, available)}; available: ${available.join(', ')}`,
    );
  }
  const root = path.join(templatesDir(), template);
  if (!fs.existsSync(path.join(root, language))) {
    throw new UsageError(
      `template "${template}" has no ${language === 'js' ? 'JavaScript' : 'TypeScript'} variant`,
    );
  }
  const existing = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f !== '.git') : [];
  if (existing.length > 0 && !force) {
    throw new UsageError(
      `${dir} is not empty (${existing.slice(0, 3).join(', ')}…); use --force to write into it anyway`,
    );
  }
  const name = options.name ?? packageName(dir);
  checkPackageName(name, options.name === undefined ? `the folder name "${path.basename(dir)}"` : '--name');
  const meta = JSON.parse(fs.readFileSync(path.join(root, 'template.json'), 'utf8')) as TemplateMeta;
  const spec = options.nexthopSpec ?? `^${ownPackage().version}`;
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (entry.name === 'template.json' || entry.name === 'ts' || entry.name === 'js') continue;
    if (entry.isDirectory()) {
      fs.mkdirSync(path.join(dir, entry.name), { recursive: true });
      copyTree(path.join(root, entry.name), path.join(dir, entry.name), name, written, entry.name);
    } else {
      fs.writeFileSync(
        path.join(dir, entry.name),
        fs.readFileSync(path.join(root, entry.name), 'utf8').replaceAll('{{name}}', name),
      );
      written.push(entry.name);
    }
  }
  copyTree(path.join(root, language), dir, name, written);
  fs.writeFileSync(path.join(dir, 'package.json'), packageJson(name, meta, language, spec));
  const ignore = language === 'ts' ? [...GITIGNORE, 'dist/'] : GITIGNORE;
  fs.writeFileSync(path.join(dir, '.gitignore'), `${ignore.join('\n')}\n`);
  written.push('package.json', '.gitignore');
  return written.sort();
}
