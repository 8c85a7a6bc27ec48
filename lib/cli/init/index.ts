import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createPainter } from '../colour';
import { UsageError, folderArg, parseCommandArgs, type CliIO } from '../io';
import { ownPackage } from '../package-root';
import { listTemplates, scaffold, templatesDir, type TemplateMeta } from './scaffold';

export { listTemplates, scaffold, templatesDir } from './scaffold';
export type { InitOptions } from './scaffold';

/** Help text of `nexthop init`. */
export const INIT_HELP = `Usage: nexthop init [dir] [options]

Scaffold an edge module that passes \`nexthop doctor\`: package.json (start, build, test),
.gitignore, README.md, a server using createApp + nextHopProxy + errorHandler and a test,
then \`npm install\` to write package-lock.json.

Options:
  --template <name>          template to start from (default "hello"); see --list
  --list                     list the templates and exit
  --json                     with --list: print them as JSON ([{ "name", "description" }])
  --js                       plain JavaScript instead of TypeScript
  --name <name>              package name (default: the folder's name)
  --force                    write into a folder that is not empty (files with the same name are replaced)
  --no-install               skip \`npm install\` (no package-lock.json until you run it)
  --nexthop-version <range>  version range of the nexthop dependency (default ^<this version>)
  --nexthop-path <path>      depend on a local checkout folder or \`npm pack\` tarball instead (file:)
  --help, -h                 show this help

npm settings apply to the install, e.g. npm_config_prefer_offline=true to use the npm cache first.`;

const OPTIONS = {
  template: { type: 'string' },
  list: { type: 'boolean' },
  json: { type: 'boolean' },
  js: { type: 'boolean' },
  name: { type: 'string' },
  force: { type: 'boolean' },
  'no-install': { type: 'boolean' },
  'nexthop-version': { type: 'string' },
  'nexthop-path': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Run `npm install` in `dir`, its output passed on to stderr; resolves with the code and output. */
function npmInstall(dir: string, io: CliIO): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['install', '--no-audit', '--no-fund'], {
      cwd: dir,
      env: io.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.stdout.pipe(io.stderr, { end: false });
    child.stderr.pipe(io.stderr, { end: false });
    child.on('error', () => resolve({ code: 127, output }));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/** What to do when npm install failed, when the output tells why. */
function installAdvice(output: string, spec: string): string {
  if (/\bE404\b/.test(output) && /\bnexthop\b/.test(output)) {
    return (
      `\n  nexthop@${spec} is not on the npm registry this install uses. Depend on a local copy instead:\n` +
      '    nexthop init <dir> --nexthop-path <nexthop checkout folder or its `npm pack` .tgz>\n' +
      '  or pick a published version with --nexthop-version <range>.\n'
    );
  }
  if (/\bETARGET\b/.test(output) && /\bnexthop\b/.test(output)) {
    return `\n  no published nexthop matches "${spec}": pick another with --nexthop-version <range>, or use --nexthop-path.\n`;
  }
  return '';
}

function nexthopSpec(
  values: { 'nexthop-version'?: string; 'nexthop-path'?: string },
  cwd: string,
): string | undefined {
  if (values['nexthop-version'] !== undefined && values['nexthop-path'] !== undefined) {
    throw new UsageError('use either --nexthop-version or --nexthop-path, not both');
  }
  if (values['nexthop-version'] !== undefined) {
    if (values['nexthop-version'].trim() === '') throw new UsageError('--nexthop-version must not be empty');
    return values['nexthop-version'];
  }
  if (values['nexthop-path'] === undefined) return undefined;
  const local = path.resolve(cwd, values['nexthop-path']);
  const isTarball = /\.tgz$/.test(local) && fs.existsSync(local);
  if (!isTarball && !fs.existsSync(path.join(local, 'package.json'))) {
    throw new UsageError(`--nexthop-path ${local} is neither a folder with a package.json nor a .tgz file`);
  }
  return `file:${local}`;
}

/** `nexthop init [dir]`: returns the exit code. */
export async function initCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS);
  if (values.help) {
    io.stdout.write(`${INIT_HELP}\n`);
    return 0;
  }
  if (values.json && !values.list) throw new UsageError('--json goes with --list');
  if (values.list) {
    const templates = listTemplates().map((name) => {
      const meta = JSON.parse(
        fs.readFileSync(path.join(templatesDir(), name, 'template.json'), 'utf8'),
      ) as TemplateMeta;
      return { name, description: meta.description ?? '' };
    });
    if (values.json) io.stdout.write(`${JSON.stringify(templates, null, 2)}\n`);
    else for (const t of templates) io.stdout.write(`${t.name.padEnd(16)} ${t.description}\n`);
    return 0;
  }
  const dir = folderArg(io.cwd, positionals[0], true);
  const language = values.js ? 'js' : 'ts';
  const spec = nexthopSpec(values, io.cwd);
  const written = scaffold(dir, {
    template: values.template,
    language,
    name: values.name,
    force: values.force,
    nexthopSpec: spec,
  });
  const c = createPainter(io.stdout, io.env);
  io.stdout.write(
    `${c.green('✓')} created ${dir} (${language === 'ts' ? 'TypeScript' : 'JavaScript'}, template ${values.template ?? 'hello'})\n`,
  );
  for (const file of written) io.stdout.write(`  ${c.dim(file)}\n`);
  if (!values['no-install']) {
    io.stdout.write('running npm install…\n');
    const { code, output } = await npmInstall(dir, io);
    if (code !== 0) {
      io.stderr.write(
        `${c.red('✗')} npm install failed (exit ${code}); fix the problem above and run it in ${dir}\n` +
          installAdvice(output, spec ?? `^${ownPackage().version}`),
      );
      return 1;
    }
    io.stdout.write(`${c.green('✓')} installed; package-lock.json written\n`);
  } else {
    io.stdout.write(
      `${c.yellow('!')} skipped npm install: run it to write package-lock.json (doctor needs it)\n`,
    );
  }
  const relative = path.relative(io.cwd, dir);
  const rel = relative.startsWith('..') ? dir : relative || '.';
  io.stdout.write(
    `\nNext:\n  cd ${rel}\n  npx nexthop dev       # the edge chain on http://localhost:8080\n  npx nexthop doctor    # check against the platform's rules\n`,
  );
  return 0;
}
