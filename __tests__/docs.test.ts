import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import * as nexthop from 'nexthop';
import { ERROR_CODES } from 'nexthop';

// The user docs against the code, both ways: the README's error table against ERROR_CODES,
// and every option of every exported factory against its reference page in docs/.

const ROOT = path.join(__dirname, '..');
const DOCS = path.join(ROOT, 'docs');

/** The cells of a Markdown table row, `\|` kept inside a cell. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

/** Every table in `markdown`: its header cells and its body rows (cells). */
function tables(markdown: string): { head: string[]; rows: string[][] }[] {
  const found: { head: string[]; rows: string[][] }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!/^\s*\|/.test(lines[i]) || !/^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1])) continue;
    const table = { head: cells(lines[i]), rows: [] as string[][] };
    for (i += 2; i < lines.length && /^\s*\|/.test(lines[i]); i++) table.rows.push(cells(lines[i]));
    found.push(table);
  }
  return found;
}

/** The text under the first heading matching `heading`, up to the next heading of its level or above. */
function section(markdown: string, heading: RegExp): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#{1,6} /.test(l) && heading.test(l));
  if (start < 0) return '';
  const level = /^#+/.exec(lines[start])![0].length;
  const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}} `).test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The names in backticks of a cell: "`latitude`, `longitude`" → ["latitude", "longitude"]. */
function codeNames(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
}

describe('README: the error table is ERROR_CODES', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = tables(section(readme, /^## Errors$/)).find((t) => /^code$/i.test(t.head[0]));

  test('the Errors section has one table whose first column is the code', () => {
    expect(table).toBeDefined();
  });

  test('every code in ERROR_CODES has a row, and every row is a code in ERROR_CODES', () => {
    const documented = table!.rows.map((row) => codeNames(row[0])[0]);
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(new Set(documented).size).toBe(documented.length);
  });

  test('each row gives the status the code is answered with (— for a start-up error, never sent)', () => {
    const statusColumn = table!.head.findIndex((h) => /^status$/i.test(h));
    expect(statusColumn).toBeGreaterThan(0);
    for (const row of table!.rows) {
      const code = codeNames(row[0])[0] as keyof typeof ERROR_CODES;
      const shown = row[statusColumn];
      const startUp = shown === '—' && /start-up/.test(row.join(' '));
      expect({ code, status: startUp ? ERROR_CODES[code] : shown }).toEqual({
        code,
        status: startUp ? ERROR_CODES[code] : String(ERROR_CODES[code]),
      });
    }
  });

  test('no other page tables the error codes again', () => {
    for (const file of fs.readdirSync(DOCS).filter((f) => f.endsWith('.md'))) {
      const text = fs.readFileSync(path.join(DOCS, file), 'utf8');
      const again = tables(text).filter(
        (t) => /^code$/i.test(t.head[0]) && t.rows.some((row) => /`ERR_NEXTHOP_/.test(row[0])),
      );
      expect({ file, tables: again.length }).toEqual({ file, tables: 0 });
    }
  });
});

/** One option of an exported factory, as its TypeScript type declares it. */
interface CodeOption {
  name: string;
  /** The npm package whose type declares it (e.g. helmet's options), or undefined for nexthop's own. */
  from?: string;
}

/**
 * The object types a type is made of: the members of unions (`Options | false`) and of
 * intersections (`HelmetOptions & { … }`), whose properties keep their declarations.
 */
function objectParts(type: ts.Type): ts.Type[] {
  if (type.isUnion() || type.isIntersection()) return type.types.flatMap(objectParts);
  return type.flags & ts.TypeFlags.Object ? [type] : [];
}

/** The type a parameter is declared with, `Readonly<Options>` read as `Options`. */
function declaredType(checker: ts.TypeChecker, param: ts.Symbol): ts.Type {
  const declaration = param.valueDeclaration as ts.ParameterDeclaration;
  let node = declaration.type;
  if (node && ts.isTypeReferenceNode(node) && node.typeName.getText() === 'Readonly' && node.typeArguments) {
    node = node.typeArguments[0];
  }
  return node ? checker.getTypeFromTypeNode(node) : checker.getTypeOfSymbolAtLocation(param, declaration);
}

/**
 * Every exported function of the package (lib/index.ts) with a parameter named `options`,
 * and the properties of that parameter's type (object members of a union such as
 * `Options | false`).
 */
function factoriesWithOptions(): Map<string, CodeOption[]> {
  const entry = path.join(ROOT, 'lib', 'index.ts');
  const program = ts.createProgram([entry], { strict: true, skipLibCheck: true, esModuleInterop: true });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const out = new Map<string, CodeOption[]>();
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declaration = symbol.valueDeclaration;
    if (!declaration) continue;
    const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
    for (const signature of type.getCallSignatures()) {
      const param = signature.getParameters().find((p) => p.name === 'options');
      if (!param) continue;
      const options = new Map<string, CodeOption>();
      for (const part of objectParts(declaredType(checker, param))) {
        for (const prop of checker.getPropertiesOfType(part)) {
          // A mapped type's properties (helmet's EitherKey) have no declaration of their own.
          const origin =
            prop.declarations?.[0] ?? part.aliasSymbol?.declarations?.[0] ?? part.symbol?.declarations?.[0];
          const file = origin?.getSourceFile().fileName ?? '';
          const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
          if (!options.has(prop.name)) options.set(prop.name, { name: prop.name, from: pkg });
        }
      }
      out.set(exported.name, [...options.values()]);
    }
  }
  return out;
}

/**
 * The options documented for `factory`: the first column of every table headed "option" in
 * the sections of docs/*.md whose heading names `factory(`, with the page each came from.
 */
function documentedOptions(factory: string): { names: string[]; pages: string[]; text: string } {
  const names: string[] = [];
  const pages: string[] = [];
  let text = '';
  for (const file of fs.readdirSync(DOCS).filter((f) => f.endsWith('.md'))) {
    const markdown = fs.readFileSync(path.join(DOCS, file), 'utf8');
    const body = section(markdown, new RegExp(`\\b${factory}\\(`));
    if (!body) continue;
    pages.push(file);
    text += body;
    for (const table of tables(body).filter((t) => /^option$/i.test(t.head[0]))) {
      for (const row of table.rows) names.push(...codeNames(row[0]));
    }
  }
  return { names, pages, text };
}

describe('docs/: every option the code accepts is documented once, and only those', () => {
  const factories = factoriesWithOptions();

  test('the exported factories are found', () => {
    expect([...factories.keys()]).toEqual(
      expect.arrayContaining(['createApp', 'serve', 'clientIp', 'nextHopProxy', 'accessLog', 'errorHandler']),
    );
  });

  describe.each([...factoriesWithOptions().keys()].sort())('%s', (factory) => {
    const code = factories.get(factory)!;
    const own = code.filter((o) => !o.from).map((o) => o.name);
    const docs = documentedOptions(factory);

    test('has a reference section in docs/ (a heading naming it with its parentheses)', () => {
      expect(docs.pages).not.toEqual([]);
    });

    test('every option of its type is in an option table there', () => {
      const missing = own.filter((name) => !docs.names.includes(name));
      expect({ factory, missing }).toEqual({ factory, missing: [] });
    });

    test('options it takes from another package are pointed to, not copied', () => {
      for (const pkg of new Set(code.map((o) => o.from).filter(Boolean))) expect(docs.text).toContain(pkg!);
    });

    test('every documented option is one it accepts, documented once', () => {
      const unknown = docs.names.filter((name) => !code.some((o) => o.name === name));
      expect({ factory, unknown }).toEqual({ factory, unknown: [] });
      const twice = docs.names.filter((name, i) => docs.names.indexOf(name) !== i);
      expect({ factory, twice }).toEqual({ factory, twice: [] });
    });
  });

  // Factories that only compile their options (no file, socket or process is touched): each
  // documented option, given as undefined (its default), must not be refused as unknown.
  const PURE = ['clientIp', 'forwardedProto', 'requireHttps', 'requestId', 'geo', 'securityHeaders'];
  const probe = [...factories.keys()].filter((name) =>
    [...PURE, 'nextHopProxy', 'accessLog', 'errorHandler'].includes(name),
  );
  test.each(probe)('%s accepts, at run time, every option its reference documents', (factory) => {
    const make = (nexthop as unknown as Record<string, (options: object) => unknown>)[factory];
    for (const name of documentedOptions(factory).names) {
      expect(() => make({ [name]: undefined })).not.toThrow();
    }
  });
});

describe('README: options live in docs/, not in the README', () => {
  test('the README has no option table', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(tables(readme).filter((t) => /^option$/i.test(t.head[0]))).toEqual([]);
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

describe('links between the docs lead somewhere', () => {
  const pages = [
    'README.md',
    'CONTRIBUTING.md',
    'CHANGELOG.md',
    'ARCHITECTURE.md',
    ...fs.readdirSync(DOCS).map((f) => path.join('docs', f)),
  ].filter((file) => file.endsWith('.md') && fs.existsSync(path.join(ROOT, file)));

  test.each(pages)('%s: every relative link names a file that exists, and a heading in it', (page) => {
    const text = fs.readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue;
      const [file, anchor] = target.split('#');
      const resolved = file ? path.join(ROOT, path.dirname(page), decodeURI(file)) : path.join(ROOT, page);
      if (!fs.existsSync(resolved)) {
        broken.push(target);
        continue;
      }
      if (!anchor || !resolved.endsWith('.md')) continue;
      const headings = fs
        .readFileSync(resolved, 'utf8')
        .replace(/```[\s\S]*?```/g, '')
        .split('\n')
        .filter((l) => /^#{1,6} /.test(l))
        .map((l) => slug(l.replace(/^#+ /, '')));
      if (!headings.includes(anchor)) broken.push(target);
    }
    expect({ page, broken }).toEqual({ page, broken: [] });
  });
});
