import { compileGitignore } from '../../lib/cli/gitignore';

// [gitignore text, path, is a directory, ignored?]
const VECTORS: [string, string, boolean, boolean][] = [
  // The four spellings the platform's users write, and nested copies.
  ['node_modules', 'node_modules', true, true],
  ['node_modules', 'node_modules/express/index.js', false, true],
  ['node_modules', 'packages/a/node_modules', true, true],
  ['node_modules/', 'node_modules', true, true],
  ['node_modules/', 'node_modules/.package-lock.json', false, true],
  ['node_modules/', 'node_modules', false, false], // a file named node_modules is not a folder
  ['/node_modules', 'node_modules/x.js', false, true],
  ['/node_modules', 'sub/node_modules', true, false], // anchored to the root
  ['**/node_modules', 'node_modules/x.js', false, true],
  ['**/node_modules', 'a/b/node_modules/x.js', false, true],
  ['node_modules/*', 'node_modules/express', true, true],
  ['node_modules/*', 'node_modules', true, false],
  // Negation: the last matching pattern wins.
  ['node_modules\n!node_modules', 'node_modules/x.js', false, false],
  ['node_modules/\n!node_modules/', 'node_modules', true, false],
  ['!node_modules\nnode_modules', 'node_modules/x.js', false, true],
  // A file inside an ignored folder cannot be re-included.
  ['node_modules/\n!node_modules/keep.js', 'node_modules/keep.js', false, true],
  ['node_modules/*\n!node_modules/keep.js', 'node_modules/keep.js', false, false],
  // Comments, blanks, escapes, trailing spaces, CRLF.
  ['# node_modules', 'node_modules', true, false],
  ['\\#notes', '#notes', false, true],
  ['\\!important', '!important', false, true],
  ['node_modules   ', 'node_modules', true, true],
  ['node_modules\r\n', 'node_modules', true, true],
  ['', 'node_modules', true, false],
  ['   ', 'node_modules', true, false],
  // Globs.
  ['*.log', 'logs/app.log', false, true],
  ['*.log', 'app.log.txt', false, false],
  ['/*.log', 'logs/app.log', false, false],
  ['?.js', 'a.js', false, true],
  ['?.js', 'ab.js', false, false],
  ['[abc].js', 'b.js', false, true],
  ['[!abc].js', 'b.js', false, false],
  ['[a-c].js', 'c.js', false, true],
  ['[a-c', '[a-c', false, false], // an unclosed bracket matches nothing (as `git check-ignore`)
  ['doc/**/*.md', 'doc/a/b/c.md', false, true],
  ['doc/**/*.md', 'doc/c.md', false, true],
  ['doc/**', 'doc/a/b', false, true],
  ['doc/**', 'doc', true, false],
  ['a/*/c', 'a/b/c', false, true],
  ['a/*/c', 'a/b/x/c', false, false],
  ['foo***bar', 'fooxbar', false, true],
  ['dist', 'src/dist/file.js', false, true],
  ['src/dist', 'x/src/dist', true, false], // a middle slash anchors
  ['a.b', 'axb', false, false], // dot is literal
  ['(x)+', '(x)+', false, true], // regex characters are literal
];

describe('compileGitignore', () => {
  it.each(VECTORS)('%j: %s (dir %s) → ignored %s', (text, path, isDir, expected) => {
    expect(compileGitignore(text)(path, isDir)).toBe(expected);
  });

  it('normalises leading ./ and / and trailing slashes in the path asked about', () => {
    const ignored = compileGitignore('node_modules/');
    expect(ignored('./node_modules/', true)).toBe(true);
    expect(ignored('/node_modules', true)).toBe(true);
    expect(ignored('', true)).toBe(false);
  });
});
