import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { scratchDir } from '../helpers/examples';

// scripts/build-templates.js turns examples into init templates; here it runs on made-up
// examples in a temp folder: `node scripts/build-templates.js <examples> <out>`.
const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'build-templates.js');
const run = promisify(execFile);

const README =
  '# x — a title\n\nWhat it shows.\n\n## Run it\n\nnpm run example -- x\n\n## Try it\n\ncurl localhost:8080/\n';
const TEST =
  "import { test } from 'node:test';\n\ntest('loads', async () => {\n  const { app } = await import('./server');\n  void app;\n});\n";

/** Write examples/<name>/ with the given server.ts; returns the examples folder. */
function examples(servers: Record<string, string>): string {
  const dir = scratchDir('nexthop-build-templates-');
  for (const [name, server] of Object.entries(servers)) {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'server.ts'), server);
    fs.writeFileSync(path.join(dir, name, 'server.test.ts'), TEST);
    fs.writeFileSync(path.join(dir, name, 'README.md'), README);
    fs.writeFileSync(
      path.join(dir, name, 'template.json'),
      '{ "description": "d", "dependencies": { "a": "1" } }\n',
    );
  }
  return dir;
}

// [TypeScript line(s), JavaScript they must become]
const CONVERSIONS: [string, string][] = [
  ["import { a, b } from 'm';\nvoid [a, b];", "const { a, b } = require('m');\nvoid [a, b];"],
  ["import { a as b } from 'm';\nvoid b;", "const { a: b } = require('m');\nvoid b;"],
  ["import m from 'm';\nvoid m;", "const m = require('m');\nvoid m;"],
  ["import * as m from 'm';\nvoid m;", "const m = require('m');\nvoid m;"],
  ["import 'm';", "require('m');"],
  ["import type { T } from 'm';\nconst x: T = 1 as T;\nvoid x;", 'const x = 1;\nvoid x;'],
  [
    'interface Shape {\n  size: number;\n}\n\n/** Doubles. */\nexport function double(s: Shape): number {\n  return s.size * 2;\n}',
    '/** Doubles. */\nfunction double(s) {\n  return s.size * 2;\n}\n\nmodule.exports = { double };',
  ],
  [
    'export const app = 1;\n\n// Listens only when run directly.\nif (require.main === module) void app;',
    'const app = 1;\n\nmodule.exports = { app };\n\n// Listens only when run directly.\nif (require.main === module) void app;',
  ],
];

describe('scripts/build-templates.js', () => {
  it('writes each template: template.json, the module README, ts/ as is and js/ converted', async () => {
    const from = examples(Object.fromEntries(CONVERSIONS.map(([ts], i) => [`e${i}`, `${ts}\n`])));
    const out = scratchDir('nexthop-build-templates-out-');
    await run(process.execPath, [SCRIPT, from, out]);
    CONVERSIONS.forEach(([ts, js], i) => {
      const dir = path.join(out, `e${i}`);
      expect(fs.readFileSync(path.join(dir, 'ts', 'src', 'server.ts'), 'utf8')).toBe(`${ts}\n`);
      expect(fs.readFileSync(path.join(dir, 'js', 'src', 'server.js'), 'utf8')).toBe(`${js}\n`);
    });
    const first = path.join(out, 'e0');
    expect(JSON.parse(fs.readFileSync(path.join(first, 'template.json'), 'utf8'))).toEqual({
      description: 'd',
      dependencies: { a: '1' },
    });
    expect(JSON.parse(fs.readFileSync(path.join(first, 'ts', 'tsconfig.json'), 'utf8')).include).toEqual([
      'src',
      'test',
    ]);
    // The test imports the server from its place in the module; in JS through require.
    expect(fs.readFileSync(path.join(first, 'ts', 'test', 'server.test.ts'), 'utf8')).toContain(
      "await import('../src/server.js')",
    );
    expect(fs.readFileSync(path.join(first, 'js', 'test', 'server.test.js'), 'utf8')).toContain(
      "const { app } = require('../src/server');",
    );
    const readme = fs.readFileSync(path.join(first, 'README.md'), 'utf8');
    expect(readme).toMatch(
      /^# \{\{name\}\}\n\nAn edge module made with \[nexthop\]\(.*\) from its `e0` example\.\n\nWhat it shows\.\n\n## Commands\n/,
    );
    expect(readme).not.toContain('npm run example');
    expect(readme).toMatch(/## Try it\n\ncurl localhost:8080\/\n$/);
  }, 30_000);

  it.each([
    ["import x, { y } from 'm';\nvoid [x, y];\n", `cannot turn "import x, { y } from 'm';" into a require`],
    ['const app = 1;\nexport default app;\n', 'server.ts: unsupported export "export default app;"'],
    ['const a = 1;\nexport { a };\n', 'server.ts: unsupported export "export { a };"'],
  ])(
    'refuses %j: %s',
    async (ts, message) => {
      const out = scratchDir('nexthop-build-templates-out-');
      const failed = run(process.execPath, [SCRIPT, examples({ bad: ts }), out]);
      await expect(failed).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining(`build-templates: ${message}`),
      });
    },
    30_000,
  );
});
