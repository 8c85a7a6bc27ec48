import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { compileGitignore, type GitignoreMatcher } from '../gitignore';
import { fail, pass, type CheckResult } from './types';

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
