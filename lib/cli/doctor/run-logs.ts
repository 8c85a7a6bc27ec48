import fs from 'node:fs';
import path from 'node:path';
import { fail, pass, type CheckResult } from './types';

/** Log-looking files of the project (`*.log`, anything under a `logs`/`log` folder) → mtime. */
export function logSnapshot(
  dir: string,
  rel = '',
  out = new Map<string, number>(),
  depth = 0,
): Map<string, number> {
  if (depth > 4 || out.size > 2000) return out;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (entry.name === 'node_modules' || entry.name === '.git') continue;
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) logSnapshot(dir, child, out, depth + 1);
    else if (/\.log$/.test(entry.name) || /(?:^|\/)logs?\//.test(child)) {
      out.set(child, fs.statSync(path.join(dir, child), { throwIfNoEntry: false })?.mtimeMs ?? 0);
    }
  }
  return out;
}

function countFiles(dir: string): number {
  try {
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
  } catch {
    return 0;
  }
}

/** `run-logs` (rule 3): no log file appeared or changed in the project folder during the run. */
export function logsResult(dir: string, before: Map<string, number>, logDir: string): CheckResult {
  const written = [...logSnapshot(dir)].filter(([file, mtime]) => before.get(file) !== mtime).map(([f]) => f);
  if (written.length === 0) {
    return pass(
      'run-logs',
      `wrote no log file outside LOG_DIR (${countFiles(logDir)} file(s) in LOG_DIR)`,
      3,
    );
  }
  const shown =
    written.slice(0, 3).join(', ') + (written.length > 3 ? ` and ${written.length - 3} more` : '');
  return fail(
    'run-logs',
    `wrote log files in the project folder although LOG_DIR was set: ${shown}`,
    'write log files under process.env.LOG_DIR, default /var/log/nodejs (nexthop createLogger() does)',
    3,
  );
}
