import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { compileGitignore, type GitignoreMatcher } from '../gitignore';
import { fail, pass, warn, type CheckResult } from './types';

/** Paths inside node_modules that must be ignored for node_modules to count as ignored. */
const NODE_MODULES_PROBES = ['node_modules/.package-lock.json', 'node_modules/express/index.js'];

/** The project's root .gitignore compiled, or undefined when there is none. */
export function readGitignore(dir: string): GitignoreMatcher | undefined {
  try {
    return compileGitignore(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** `.gitignore` exists and ignores node_modules; inside git, nothing under node_modules is tracked. */
export function checkGitignore(dir: string, matcher: GitignoreMatcher | undefined): CheckResult[] {
  const fix = 'add a line "node_modules/" to .gitignore';
  const results: CheckResult[] = [];
  if (!matcher) {
    results.push(fail('gitignore', 'no .gitignore', `create .gitignore with the line "node_modules/"`, 4));
  } else if (NODE_MODULES_PROBES.every((p) => matcher(p))) {
    results.push(pass('gitignore', '.gitignore ignores node_modules', 4));
  } else {
    results.push(
      fail(
        'gitignore',
        '.gitignore does not ignore node_modules (or a later "!" pattern re-includes it)',
        fix,
        4,
      ),
    );
  }
  results.push(checkTracked(dir));
  return results;
}

function checkTracked(dir: string): CheckResult {
  let out: string;
  try {
    execFileSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: dir, stdio: 'ignore' });
    out = execFileSync('git', ['ls-files', '-z', '--', 'node_modules'], { cwd: dir, encoding: 'utf8' });
  } catch {
    return pass(
      'node-modules-untracked',
      'not inside a git repository: nothing under node_modules is tracked',
      4,
    );
  }
  const tracked = out.split('\0').filter(Boolean);
  if (tracked.length === 0) return pass('node-modules-untracked', 'git tracks no file under node_modules', 4);
  return fail(
    'node-modules-untracked',
    `git tracks ${tracked.length} file(s) under node_modules (e.g. ${tracked[0]})`,
    'run `git rm -r --cached node_modules` and commit',
    4,
  );
}

const SOURCE_EXT = /\.(?:[cm]?js|[cm]?ts|jsx|tsx)$/;
const TEST_PATH = /(?:^|\/)(?:__tests__|tests?|__mocks__|fixtures)\/|\.(?:test|spec)\.[cm]?[jt]sx?$/;
const MAX_FILES = 5000;
const MAX_BYTES = 1_000_000;

/** Source files of the project (not ignored, not node_modules, not tests), relative paths. */
export function listSources(dir: string, matcher: GitignoreMatcher | undefined): string[] {
  const out: string[] = [];
  const queue = [''];
  while (queue.length > 0 && out.length < MAX_FILES) {
    const rel = queue.shift() as string;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.name === 'node_modules' || entry.name === '.git') continue;
      if (matcher?.(child, entry.isDirectory())) continue;
      if (entry.isDirectory()) queue.push(child);
      else if (entry.isFile() && SOURCE_EXT.test(entry.name) && !TEST_PATH.test(child)) out.push(child);
    }
  }
  return out.sort();
}

const READS_PORT = [
  /process\.env\.PORT\b/,
  /process\.env\[\s*['"`]PORT['"`]\s*\]/,
  /\{[^}]*\bPORT\b[^}]*\}\s*=\s*process\.env\b/,
  // nexthop's serve() and loadConfig() read PORT.
  /\b(?:serve|loadConfig)\s*\(/,
];
const TLS_SERVER = /\b(?:https|tls)\.createServer\s*\(|\bcreateSecureServer\s*\(/;
const HTTPS_NEXT_HOP = /https:\/\/next-hop\b/;
const NEXT_HOP_PORT = /\bnext-hop:(\d+)/g;

interface Hit {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

function where(hits: readonly Hit[]): string {
  const shown = hits.slice(0, 3).map((h) => `${h.file}:${h.line}`);
  return shown.join(', ') + (hits.length > 3 ? ` and ${hits.length - 3} more` : '');
}

/** Source hints (warnings): PORT read, no TLS listener, upstream only http://next-hop:80. */
export function checkSources(dir: string, matcher: GitignoreMatcher | undefined): CheckResult[] {
  const files = listSources(dir, matcher);
  let readsPort = false;
  const tls: Hit[] = [];
  const upstream: Hit[] = [];
  for (const file of files) {
    let text: string;
    try {
      const full = path.join(dir, file);
      if (fs.statSync(full).size > MAX_BYTES) continue;
      text = fs.readFileSync(full, 'utf8');
    } catch {
      continue;
    }
    if (!readsPort && READS_PORT.some((re) => re.test(text))) readsPort = true;
    text.split('\n').forEach((line, i) => {
      if (TLS_SERVER.test(line)) tls.push({ file, line: i + 1, text: line.trim() });
      const badPort = [...line.matchAll(NEXT_HOP_PORT)].some((m) => m[1] !== '80');
      if (HTTPS_NEXT_HOP.test(line) || badPort) upstream.push({ file, line: i + 1, text: line.trim() });
    });
  }
  const results: CheckResult[] = [];
  if (files.length === 0) {
    results.push(
      warn('port-env', 'no source files found to check', 'check that your server reads process.env.PORT', 1),
    );
  } else if (readsPort) {
    results.push(pass('port-env', 'the source reads PORT', 1));
  } else {
    results.push(
      warn(
        'port-env',
        'nothing in the source reads process.env.PORT',
        'listen on process.env.PORT (nexthop serve() does)',
        1,
      ),
    );
  }
  results.push(
    tls.length === 0
      ? pass('no-tls-server', 'no HTTPS/TLS server in the source', 1)
      : warn(
          'no-tls-server',
          `an HTTPS/TLS server is created at ${where(tls)}`,
          'serve plain HTTP/1.1 on PORT: the platform terminates TLS at the edge',
          1,
        ),
  );
  results.push(
    upstream.length === 0
      ? pass('next-hop-url', 'no upstream URL other than http://next-hop:80', 2)
      : warn(
          'next-hop-url',
          `next-hop is reached over HTTPS or on a port other than 80 at ${where(upstream)}`,
          'call http://next-hop:80 and send X-Forwarded-Proto: https to reach the origin over HTTPS',
          2,
        ),
  );
  return results;
}
