import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// The import direction ARCHITECTURE.md describes: core helpers (lib/) → middleware
// (middleware/) → composition (createApp, serve, cluster, the public index, the CLI).
// A layer may import its own layer and those below it, never one above.

const ROOT = path.join(__dirname, '..');

/** Composition: the files that put core helpers and middleware together. */
const COMPOSITION = ['lib/app.ts', 'lib/serve.ts', 'lib/cluster.ts', 'lib/index.ts'];

const LAYERS = ['core', 'middleware', 'composition'] as const;
type Layer = (typeof LAYERS)[number];

function layerOf(file: string): Layer {
  if (file.startsWith('middleware/')) return 'middleware';
  if (COMPOSITION.includes(file) || file.startsWith('lib/cli/')) return 'composition';
  return 'core';
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(rel);
    return entry.name.endsWith('.ts') ? [rel] : [];
  });
}

/** The project files `file` imports (type-only imports included), as paths from the root. */
function localImports(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(path.join(ROOT, file), 'utf8'), true, true);
  return importedFiles
    .map(({ fileName }) => fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => {
      const target = path
        .relative(ROOT, path.resolve(ROOT, path.dirname(file), name))
        .split(path.sep)
        .join('/');
      return fs.existsSync(path.join(ROOT, `${target}.ts`)) ? `${target}.ts` : `${target}/index.ts`;
    });
}

const FILES = [...sourceFiles('lib'), ...sourceFiles('middleware')];

describe('layering: core → middleware → composition', () => {
  test('the scan finds the library and resolves every relative import to a file', () => {
    expect(FILES).toContain('lib/errors.ts');
    expect(FILES).toContain('middleware/client-ip.ts');
    for (const file of FILES) {
      for (const target of localImports(file))
        expect({ file, target, exists: fs.existsSync(path.join(ROOT, target)) }).toEqual({
          file,
          target,
          exists: true,
        });
    }
  });

  test.each(FILES.filter((file) => layerOf(file) !== 'composition'))(
    '%s imports nothing above its layer',
    (file) => {
      const rank = LAYERS.indexOf(layerOf(file));
      const upward = localImports(file).filter((target) => LAYERS.indexOf(layerOf(target)) > rank);
      expect(upward).toEqual([]);
    },
  );

  test('lib/index.ts only re-exports', () => {
    const text = fs.readFileSync(path.join(ROOT, 'lib/index.ts'), 'utf8');
    const statements = ts.createSourceFile('index.ts', text, ts.ScriptTarget.ES2022).statements;
    const other = statements.filter((s) => !ts.isExportDeclaration(s) || s.moduleSpecifier === undefined);
    expect(other.map((s) => s.getText(statements[0].getSourceFile()))).toEqual([]);
  });
});
