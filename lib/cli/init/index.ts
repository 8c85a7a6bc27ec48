import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createPainter } from '../colour';
import { UsageError, folderArg, parseCommandArgs, type CliIO } from '../io';
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
  --js                       plain JavaScript instead of TypeScript
  --name <name>              package name (default: the folder's name)
  --force                    write into a folder that is not empty (files with the same name are replaced)
  --no-install               skip \`npm install\` (no package-lock.json until you run it)
  --nexthop-version <range>  version range of the nexthop dependency (default ^<this version>)
  --nexthop-path <path>      depend on a local checkout folder or \`npm pack\` tarball instead (file:)
  --help, -h                 show this help

npm settings apply to the install, e.g. npm_config_offline=true to install from the npm cache.`;

const OPTIONS = {
  template: { type: 'string' },
  list: { type: 'boolean' },
  js: { type: 'boolean' },
  name: { type: 'string' },
  force: { type: 'boolean' },
  'no-install': { type: 'boolean' },
  'nexthop-version': { type: 'string' },
  'nexthop-path': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function npmInstall(dir: string, io: CliIO): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['install', '--no-audit', '--no-fund'], {
      cwd: dir,
      env: io.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(io.stderr, { end: false });
    child.stderr.pipe(io.stderr, { end: false });
    child.on('error', () => resolve(127));
    child.on('close', (code) => resolve(code ?? 1));
  });
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
  if (values.list) {
    for (const name of listTemplates()) {
      const meta = JSON.parse(
        fs.readFileSync(path.join(templatesDir(), name, 'template.json'), 'utf8'),
      ) as TemplateMeta;
      io.stdout.write(`${name.padEnd(16)} ${meta.description ?? ''}\n`);
    }
    return 0;
  }
  const dir = folderArg(io.cwd, positionals[0], true);
  const language = values.js ? 'js' : 'ts';
  const written = scaffold(dir, {
    template: values.template,
    language,
    name: values.name,
    force: values.force,
    nexthopSpec: nexthopSpec(values, io.cwd),
  });
  const c = createPainter(io.stdout, io.env);
  io.stdout.write(
    `${c.green('✓')} created ${dir} (${language === 'ts' ? 'TypeScript' : 'JavaScript'}, template ${values.template ?? 'hello'})\n`,
  );
  for (const file of written) io.stdout.write(`  ${c.dim(file)}\n`);
  if (!values['no-install']) {
    io.stdout.write('running npm install…\n');
    const code = await npmInstall(dir, io);
    if (code !== 0) {
      io.stderr.write(
        `${c.red('✗')} npm install failed (exit ${code}); fix the problem above and run it in ${dir}\n`,
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
