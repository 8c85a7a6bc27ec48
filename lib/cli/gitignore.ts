/**
 * A `.gitignore` matcher with git's semantics (gitignore(5)): comments, `!` negation,
 * trailing-slash directory patterns, patterns anchored by a slash, `*`, `?`, `[...]`
 * and the three forms of `**`; and the rule that a file inside an ignored directory
 * cannot be re-included.
 */

interface Rule {
  readonly regex: RegExp;
  readonly negate: boolean;
  readonly dirOnly: boolean;
}

/** Tells whether a path (relative to the .gitignore's folder, `/`-separated) is ignored. */
export type GitignoreMatcher = (relPath: string, isDir?: boolean) => boolean;

function escapeRegex(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch;
}

/** Translate a `[...]` class starting at `i`; returns the regex source and the index after `]`. */
function charClass(glob: string, i: number): [string, number] | undefined {
  let j = i + 1;
  let negate = false;
  if (glob[j] === '!' || glob[j] === '^') {
    negate = true;
    j++;
  }
  let body = '';
  // A `]` right after the opening (or after the negation) is a literal.
  if (glob[j] === ']') {
    body += '\\]';
    j++;
  }
  for (; j < glob.length && glob[j] !== ']'; j++) {
    const ch = glob[j];
    if (ch === '\\' && j + 1 < glob.length) body += `\\${glob[++j]}`;
    else if (ch === '-') body += '-';
    else body += ch === '^' || ch === '[' ? `\\${ch}` : ch;
  }
  if (j >= glob.length) return undefined; // no closing bracket: the `[` is literal
  return [`[${negate ? '^' : ''}${body}]`, j + 1];
}

/** Translate the glob part of one pattern (no leading `!`, no trailing `/`) to a regex source. */
function globToRegex(glob: string): string {
  let out = '';
  let i = 0;
  while (i < glob.length) {
    const ch = glob[i];
    if (ch === '*' && glob[i + 1] === '*') {
      const atStart = i === 0;
      const afterSlash = i > 0 && glob[i - 1] === '/';
      const beforeSlash = glob[i + 2] === '/';
      const atEnd = i + 2 === glob.length;
      if ((atStart || afterSlash) && beforeSlash) {
        out += '(?:.*/)?'; // `**/`: zero or more directories
        i += 3;
        continue;
      }
      if (afterSlash && atEnd) {
        out += '.*'; // `/**`: everything inside
        i += 2;
        continue;
      }
      out += '[^/]*'; // any other run of asterisks is a plain `*`
      while (glob[i] === '*') i++;
      continue;
    }
    if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else if (ch === '[') {
      const cls = charClass(glob, i);
      if (cls) {
        out += cls[0];
        i = cls[1];
        continue;
      }
      out += '\\[';
    } else if (ch === '\\' && i + 1 < glob.length) out += escapeRegex(glob[++i]);
    else out += escapeRegex(ch);
    i++;
  }
  return out;
}

/** Parse one line into a rule, or undefined for blanks and comments. */
function parseLine(raw: string): Rule | undefined {
  let line = raw.replace(/\r$/, '');
  // Trailing spaces are ignored unless escaped with a backslash.
  line = line.replace(/(?<!\\)\s+$/, '').replace(/\\(\s)$/, '$1');
  if (line === '' || line.startsWith('#')) return undefined;
  let negate = false;
  if (line.startsWith('!')) {
    negate = true;
    line = line.slice(1);
  } else if (line.startsWith('\\!') || line.startsWith('\\#')) {
    line = line.slice(1);
  }
  let dirOnly = false;
  if (line.endsWith('/') && !line.endsWith('\\/')) {
    dirOnly = true;
    line = line.replace(/\/+$/, '');
  }
  if (line === '') return undefined;
  // A slash at the start or in the middle anchors the pattern to the .gitignore's folder.
  const anchored = line.includes('/');
  if (line.startsWith('/')) line = line.slice(1);
  const body = globToRegex(line);
  const source = anchored || body.startsWith('(?:.*/)?') ? `^${body}$` : `^(?:.*/)?${body}$`;
  return { regex: new RegExp(source), negate, dirOnly };
}

/**
 * Compile the text of a `.gitignore` into a matcher.
 *
 * @example
 * const ignored = compileGitignore('node_modules/\n');
 * ignored('node_modules', true); // true
 * ignored('node_modules/express/index.js'); // true
 */
export function compileGitignore(text: string): GitignoreMatcher {
  const rules = text
    .split('\n')
    .map(parseLine)
    .filter((r): r is Rule => r !== undefined);

  function decide(path: string, isDir: boolean): boolean {
    let ignored = false;
    for (const rule of rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.regex.test(path)) ignored = !rule.negate;
    }
    return ignored;
  }

  return function isIgnored(relPath: string, isDir = false): boolean {
    const parts = relPath
      .replace(/^\.?\/+/, '')
      .replace(/\/+$/, '')
      .split('/')
      .filter(Boolean);
    if (parts.length === 0) return false;
    // Git does not descend into an ignored folder, so nothing inside it can be re-included.
    for (let i = 1; i < parts.length; i++) {
      if (decide(parts.slice(0, i).join('/'), true)) return true;
    }
    return decide(parts.join('/'), isDir);
  };
}
