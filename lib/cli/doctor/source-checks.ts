import fs from 'node:fs';
import path from 'node:path';
import type { GitignoreMatcher } from '../gitignore';
import { fail, pass, warn, type CheckResult } from './types';

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

/**
 * A pattern looked for line by line; any hit gives a finding naming where: a failure (✗)
 * for code that cannot work on the platform, else a warning.
 */
interface LineHint {
  readonly id: string;
  readonly rule: number;
  readonly status: 'fail' | 'warn';
  readonly hit: (line: string) => boolean;
  readonly passMessage: string;
  readonly foundMessage: string;
  readonly fix: string;
}

/** `.listen(3999)` or `.listen({ port: 3999 })`: a port written in the code instead of PORT. */
const FIXED_LISTEN = /\.listen\(\s*(?:\d+\s*[,)]|\{[^}]*\bport\s*:\s*\d+)/;
/** A proxy `target` with an https: URL: upstream calls go to next-hop over plain HTTP. */
const HTTPS_TARGET = /\btarget\s*:\s*(['"`])https:\/\//;
const isComment = (line: string) => /^\s*(?:\/\/|\/?\*)/.test(line);

const NEXT_HOP_PORT = /\bnext-hop:(\d+)/g;
const QUOTED = /(['"`])([^'"`\s]{1,300})\1/g;

/**
 * A quoted path that names a log file or folder outside /var/log/nodejs: it has a slash
 * (a bare name is usually joined to a folder variable), no glob, and ends in `.log` or
 * names a `log`/`logs` folder. Comment lines are skipped.
 */
function logPathOutside(line: string): boolean {
  if (isComment(line) || /log_?dir/i.test(line)) return false;
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
    status: 'warn',
    hit: (line) => /\b(?:https|tls)\.createServer\s*\(|\bcreateSecureServer\s*\(/.test(line),
    passMessage: 'no HTTPS/TLS server in the source',
    foundMessage: 'an HTTPS/TLS server is created at',
    fix: 'serve plain HTTP/1.1 on PORT: the platform terminates TLS at the edge',
  },
  {
    id: 'next-hop-url',
    rule: 2,
    status: 'fail',
    hit: (line) =>
      !isComment(line) &&
      (/https:\/\/next-hop\b/.test(line) || [...line.matchAll(NEXT_HOP_PORT)].some((m) => m[1] !== '80')),
    passMessage: 'no upstream URL other than http://next-hop:80',
    foundMessage: 'next-hop is reached over HTTPS or on a port other than 80 at',
    fix: 'call http://next-hop:80 and send X-Forwarded-Proto: https to reach the origin over HTTPS',
  },
  {
    id: 'proxy-target',
    rule: 2,
    status: 'fail',
    hit: (line) => !isComment(line) && HTTPS_TARGET.test(line),
    passMessage: 'no proxy target over HTTPS',
    foundMessage: 'a proxy target uses https: (upstream calls go to next-hop over plain HTTP) at',
    fix:
      'remove the target: nextHopProxy() sends to NEXT_HOP (http://next-hop:80 on the platform); ' +
      'to reach the origin over HTTPS use nextHopProxy({ forceHttps: true })',
  },
  {
    id: 'log-dir',
    rule: 3,
    status: 'warn',
    hit: logPathOutside,
    passMessage: 'no log file path outside /var/log/nodejs in the source',
    foundMessage: 'a log file path outside /var/log/nodejs is written at',
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
 * Source checks: the server listens on PORT (a port written in the code fails), no TLS
 * listener, upstream only http://next-hop:80 and no https: proxy target (failures), no
 * log file outside /var/log/nodejs.
 */
export function checkSources(dir: string, matcher: GitignoreMatcher | undefined): CheckResult[] {
  const files = listSources(dir, matcher);
  let readsPort = false;
  const fixedPorts: Hit[] = [];
  const hits = new Map<string, Hit[]>(LINE_HINTS.map((h) => [h.id, []]));
  for (const file of files) {
    const text = readSource(dir, file);
    if (text === undefined) continue;
    readsPort ||= READS_PORT.some((re) => re.test(text));
    text.split('\n').forEach((line, i) => {
      if (!isComment(line) && FIXED_LISTEN.test(line)) fixedPorts.push({ file, line: i + 1 });
      for (const hint of LINE_HINTS) if (hint.hit(line)) hits.get(hint.id)?.push({ file, line: i + 1 });
    });
  }
  const portFix = 'listen on process.env.PORT (nexthop serve() does)';
  const results: CheckResult[] = [
    fixedPorts.length > 0
      ? fail(
          'port-env',
          `the server listens on a port written in the code at ${where(fixedPorts)}: the platform gives the port in PORT`,
          'listen on process.env.PORT, e.g. server.listen(Number(process.env.PORT)) (nexthop serve() does)',
          1,
        )
      : files.length === 0
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
        : (hint.status === 'fail' ? fail : warn)(
            hint.id,
            `${hint.foundMessage} ${where(found)}`,
            hint.fix,
            hint.rule,
          ),
    );
  }
  return results;
}
