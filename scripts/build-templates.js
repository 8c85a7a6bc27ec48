#!/usr/bin/env node
// `npm run build` step: turns each examples/<name>/ into the `nexthop init --template <name>`
// template dist/templates/<name>/ (shipped in the package). The examples are the only copy
// of the code: the TypeScript variant is the example's source, the JavaScript variant is
// the same source with the types erased and the imports/exports written as CommonJS.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const prettier = require('prettier');
const ts = require('typescript');

const root = path.join(__dirname, '..');
// `node scripts/build-templates.js [examples folder] [output folder]`; tests pass both.
const EXAMPLES = path.resolve(process.argv[2] ?? path.join(root, 'examples'));
const OUT = path.resolve(process.argv[3] ?? path.join(root, 'dist', 'templates'));

/**
 * tsconfig.json of a generated TypeScript module: src and test compiled to dist/ as
 * CommonJS (the module's package.json has no "type"). `node16` module resolution is what
 * both TypeScript 5.9 and the current major accept; `node10` is gone from TypeScript 7
 * (TS5108), and the default `tsc --init` config (ESM syntax under CommonJS) fails with TS1295.
 */
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'node16',
    moduleResolution: 'node16',
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    types: ['node'],
    rootDir: '.',
    outDir: 'dist',
  },
  include: ['src', 'test'],
};

/** Replaces the example README's "Run it" section (repository commands) in a generated module. */
const COMMANDS = `## Commands

| command              | what it does                                                                                                     |
| -------------------- | ---------------------------------------------------------------------------------------------------------------- |
| \`npm start\`          | starts the server on \`$PORT\` (what the platform runs)                                                            |
| \`npm test\`           | runs the tests                                                                                                   |
| \`npx nexthop dev\`    | runs the whole edge chain locally: front on http://localhost:8080 → this app → emulated next-hop → a demo origin |
| \`npx nexthop doctor\` | checks this folder against the platform's rules (\`--run\` also starts it)                                         |

Options shown below (\`--https\`, \`--client-ip\`, …) are \`nexthop dev\` options:
\`npx nexthop dev --https\`. The app reads \`PORT\`, \`NEXT_HOP\` (default \`http://next-hop:80\`),
\`LOG_DIR\` (default \`/var/log/nodejs\`) and \`LOG_LEVEL\` (default \`info\`).
`;

const BLANK = '//__nexthop_blank_line__';

/** Top-level `import … from '…'` of the type-erased source, as a CommonJS require. */
function requireOf(line) {
  const m = line.match(/^import (?:(\w+)|\* as (\w+)|(\{[^}]*\})) from ('[^']+');$/);
  // `{ a as b }` is `{ a: b }` in a destructuring.
  const names = m?.[3]?.replace(/\b(\w+) as (\w+)\b/g, '$1: $2');
  if (m) return `const ${m[1] ?? m[2] ?? names} = require(${m[4]});`;
  const bare = line.match(/^import ('[^']+');$/);
  if (bare) return `require(${bare[1]});`;
  throw new Error(`cannot turn "${line}" into a require; use a named, default, namespace or bare import`);
}

/**
 * TypeScript source → CommonJS JavaScript a person would write: types erased by the
 * TypeScript compiler (ES modules kept), blank lines and comments kept, then imports turned
 * into `require` and `export` declarations into one `module.exports`, formatted by prettier.
 */
async function toJavaScript(source, file) {
  const marked = source.replace(/^[ \t]*$/gm, BLANK);
  const { outputText } = ts.transpileModule(marked, {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const exported = [];
  const lines = outputText.split('\n').map((text) => {
    let line = text;
    if (/^\s*\/\/__nexthop_blank_line__\s*$/.test(line)) return '';
    if (line.startsWith('import ')) return requireOf(line.trim());
    // A relative dynamic import (a test loading the server after setting its environment)
    // needs the file extension under ESM rules; CommonJS require finds server.js itself.
    line = line.replace(/await import\(('\.[^']*')\)/g, 'require($1)');
    const decl = line.match(/^export (const|let|function|async function|class) (\w+)/);
    if (decl) {
      exported.push(decl[2]);
      return line.slice('export '.length);
    }
    if (line === 'export {};') return ''; // TypeScript's marker of a module whose imports were all types
    if (/^export\b/.test(line)) throw new Error(`${file}: unsupported export "${line}"`);
    return line;
  });
  if (exported.length > 0) {
    // Before the "listen when run directly" block, so the exports read as the module's API.
    const main = lines.findIndex((l) => l.startsWith('if (require.main === module)'));
    const at = main === -1 ? lines.length : main;
    const comments = at > 0 && lines[at - 1].startsWith('//') ? 1 : 0;
    lines.splice(at - comments, 0, `module.exports = { ${exported.join(', ')} };`, '');
  }
  const options = (await prettier.resolveConfig(path.join(root, 'package.json'))) ?? {};
  return prettier.format(lines.join('\n'), { ...options, parser: 'babel' });
}

/** The example's README for a generated module: its own name, the module's commands. */
function moduleReadme(readme, example) {
  const sections = readme.split(/^(?=## )/m);
  const [head, ...rest] = sections;
  const intro = head.replace(
    /^# .*\n/,
    `# {{name}}\n\nAn edge module made with [nexthop](https://www.npmjs.com/package/nexthop) from its \`${example}\` example.\n`,
  );
  const body = rest.map((s) => (/^## Run it\b/.test(s) ? COMMANDS + '\n' : s));
  return [intro, ...body].join('').replace(/\n+$/, '\n');
}

function write(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

async function buildTemplate(name) {
  const from = path.join(EXAMPLES, name);
  const to = path.join(OUT, name);
  fs.rmSync(to, { recursive: true, force: true });
  write(path.join(to, 'template.json'), fs.readFileSync(path.join(from, 'template.json'), 'utf8'));
  write(
    path.join(to, 'README.md'),
    moduleReadme(fs.readFileSync(path.join(from, 'README.md'), 'utf8'), name),
  );
  write(path.join(to, 'ts', 'tsconfig.json'), `${JSON.stringify(TSCONFIG, null, 2)}\n`);
  // [example file, path in the module]; the test imports the server from its new place.
  const files = [
    ['server.ts', 'src/server'],
    ['server.test.ts', 'test/server.test'],
  ];
  for (const [file, dest] of files) {
    const source = fs.readFileSync(path.join(from, file), 'utf8').replaceAll("'./server'", "'../src/server'");
    // Under node16 rules a dynamic import() stays an ES import, which names the file it loads.
    write(
      path.join(to, 'ts', `${dest}.ts`),
      source.replace(/await import\('(\.[^']*)'\)/g, "await import('$1.js')"),
    );
    write(path.join(to, 'js', `${dest}.js`), await toJavaScript(source, file));
  }
}

async function main() {
  const names = fs
    .readdirSync(EXAMPLES, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(EXAMPLES, e.name, 'template.json')))
    .map((e) => e.name);
  fs.rmSync(OUT, { recursive: true, force: true });
  for (const name of names) await buildTemplate(name);
}

main().catch((err) => {
  console.error(`build-templates: ${err.message}`);
  process.exit(1);
});
