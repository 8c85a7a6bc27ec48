import ignore from 'ignore';

/** Tells whether a path (relative to the .gitignore's folder, `/`-separated) is ignored. */
export type GitignoreMatcher = (relPath: string, isDir?: boolean) => boolean;

/**
 * Compile the text of a `.gitignore` into a matcher with git's rules (gitignore(5), by the
 * `ignore` package that eslint and prettier use), including that a file inside an ignored
 * directory cannot be re-included.
 *
 * @example
 * const ignored = compileGitignore('node_modules/\n');
 * ignored('node_modules', true); // true
 * ignored('node_modules/express/index.js'); // true
 */
export function compileGitignore(text: string): GitignoreMatcher {
  const rules = ignore().add(text);
  return function isIgnored(relPath: string, isDir = false): boolean {
    const path = relPath.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    if (path === '') return false;
    // `ignore` tells a directory by its trailing slash.
    return rules.ignores(isDir ? `${path}/` : path);
  };
}
