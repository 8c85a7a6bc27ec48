import fs from 'node:fs';
import path from 'node:path';
import type { GitignoreMatcher } from '../gitignore';
import { pass, warn, type CheckResult } from './types';

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

/** A pattern looked for line by line; any hit gives a warning naming where. */
interface LineHint {
  readonly id: string;
  readonly rule: number;
  readonly hit: (line: string) => boolean;
  readonly passMessage: string;
  readonly warnMessage: string;
  readonly fix: string;
}

const NEXT_HOP_PORT = /\bnext-hop:(\d+)/g;
const QUOTED = /(['"`])([^'"`\s]{1,300})\1/g;

/**
 * A quoted path that names a log file or folder outside /var/log/nodejs: it has a slash
 * (a bare name is usually joined to a folder variable), no glob, and ends in `.log` or
 * names a `log`/`logs` folder. Comment lines are skipped.
 */
function logPathOutside(line: string): boolean {
  if (/^\s*(?:\/\/|\/?\*)/.test(line) || /log_?dir/i.test(line)) return false;
  return [...line.matchAll(QUOTED)].some(([, , value]) => {
    if (!value.includes('/') || value.includes('*') || /^\/var\/log\/nodejs(?:\/|$)/.test(value))
      return false;
    return /\.log$/.test(value) || /(?:^|\/)logs?(?:\/.|$)/.test(value);
  });
}

const LINE_HINTS: readonly LineHint[] = [
  {
    id: 'no-tls-server',
    rule: 1,
    hit: (line) => /\b(?:https|tls)\.createServer\s*\(|\bcreateSecureServer\s*\(/.test(line),
    passMessage: 'no HTTPS/TLS server in the source',
    warnMessage: 'an HTTPS/TLS server is created at',
    fix: 'serve plain HTTP/1.1 on PORT: the platform terminates TLS at the edge',
  },
  {
    id: 'next-hop-url',
    rule: 2,
    hit: (line) =>
      /https:\/\/next-hop\b/.test(line) || [...line.matchAll(NEXT_HOP_PORT)].some((m) => m[1] !== '80'),
    passMessage: 'no upstream URL other than http://next-hop:80',
    warnMessage: 'next-hop is reached over HTTPS or on a port other than 80 at',
    fix: 'call http://next-hop:80 and send X-Forwarded-Proto: https to reach the origin over HTTPS',
  },
  {
    id: 'log-dir',
    rule: 3,
    hit: logPathOutside,
    passMessage: 'no log file path outside /var/log/nodejs in the source',
    warnMessage: 'a log file path outside /var/log/nodejs is written at',
    fix: 'write log files under process.env.LOG_DIR, default /var/log/nodejs (nexthop createLogger() does)',
  },
];

interface Hit {
  readonly file: string;
  readonly line: number;
}

function where(hits: readonly Hit[]): string {
  const shown = hits.slice(0, 3).map((h) => `${h.file}:${h.line}`);
  return shown.join(', ') + (hits.length > 3 ? ` and ${hits.length - 3} more` : '');
}

function readSource(dir: string, file: string): string | undefined {
  try {
    const full = path.join(dir, file);
    return fs.statSync(full).size > MAX_BYTES ? undefined : fs.readFileSync(full, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Source hints (warnings only): something reads PORT, no TLS listener, upstream only
 * http://next-hop:80, no log file outside /var/log/nodejs.
 */
export function checkSources(dir: string, matcher: GitignoreMatcher | undefined): CheckResult[] {
  const files = listSources(dir, matcher);
  let readsPort = false;
  const hits = new Map<string, Hit[]>(LINE_HINTS.map((h) => [h.id, []]));
  for (const file of files) {
    const text = readSource(dir, file);
    if (text === undefined) continue;
    readsPort ||= READS_PORT.some((re) => re.test(text));
    text.split('\n').forEach((line, i) => {
      for (const hint of LINE_HINTS) if (hint.hit(line)) hits.get(hint.id)?.push({ file, line: i + 1 });
    });
  }
  const portFix = 'listen on process.env.PORT (nexthop serve() does)';
  const results: CheckResult[] = [
    files.length === 0
      ? warn('port-env', 'no source files found to check', portFix, 1)
      : readsPort
        ? pass('port-env', 'the source reads PORT', 1)
        : warn('port-env', 'nothing in the source reads process.env.PORT', portFix, 1),
  ];
  for (const hint of LINE_HINTS) {
    const found = hits.get(hint.id) ?? [];
    results.push(
      found.length === 0
        ? pass(hint.id, hint.passMessage, hint.rule)
        : warn(hint.id, `${hint.warnMessage} ${where(found)}`, hint.fix, hint.rule),
    );
  }
  return results;
}
