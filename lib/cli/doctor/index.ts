import { createPainter } from '../colour';
import { folderArg, parseCommandArgs, parseIntFlag, type CliIO } from '../io';
import { checkGitignore, readGitignore } from './files-checks';
import { checkLockfile, checkPackageJson } from './package-checks';
import { runChecks } from './run-checks';
import { checkSources } from './source-checks';
import { fail, type CheckResult } from './types';

export type { CheckResult, CheckStatus } from './types';

/** Help text of `nexthop doctor`. */
export const DOCTOR_HELP = `Usage: nexthop doctor [dir] [options]

Check a project folder against the edge platform's Node.js contract, one line per rule:
✓ passes, ✗ fails (a Must is broken; the fix follows), ! warning.

Options:
  --run            also start \`npm start\` with a free PORT and a temp LOG_DIR and check that it
                   answers HTTP/1.1 on PORT, listens on no other TCP port, exits on SIGTERM
                   and writes no log file outside LOG_DIR
  --timeout <ms>   with --run: time npm start gets to answer (default 30000)
  --grace <ms>     with --run: time the app gets to exit after SIGTERM (default 10000)
  --quiet, -q      print nothing and exit 0 when every Must passes; else exit 1 with the
                   reasons on stderr (like the platform's validators)
  --json           print the results as JSON
  --help, -h       show this help

Exit code: 0 when every Must passes, 1 when one fails, 2 on a usage error.
No network is used, except loopback with --run.`;

const OPTIONS = {
  run: { type: 'boolean' },
  timeout: { type: 'string' },
  grace: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Options of {@link doctor}. */
export interface DoctorOptions {
  /** Also run the app (`doctor --run`). @default false */
  run?: boolean;
  /** With `run`: ms npm start gets to answer. @default 30000 */
  timeoutMs?: number;
  /** With `run`: ms the app gets to exit after SIGTERM. @default 10000 */
  graceMs?: number;
}

/**
 * Check a project folder against every checkable rule of the platform contract.
 *
 * @example
 * const results = await doctor('./my-module', { run: true });
 * const ok = results.every((r) => r.status !== 'fail');
 */
export async function doctor(dir: string, options: Readonly<DoctorOptions> = {}): Promise<CheckResult[]> {
  const { results: pkgResults, pkg } = checkPackageJson(dir);
  const matcher = readGitignore(dir);
  const results = [
    ...pkgResults,
    ...checkLockfile(dir, pkg),
    ...checkGitignore(dir, matcher),
    ...checkSources(dir, matcher),
  ];
  if (options.run) {
    if (pkg?.scripts?.start) results.push(...(await runChecks(dir, options)));
    else {
      const startFix = results.find((r) => r.id === 'start-script')?.fix ?? 'add a "start" script';
      results.push(fail('run-answers', '--run skipped: no start script', startFix, 1));
    }
  }
  return results;
}

/** `nexthop doctor [dir]`: returns the exit code. */
export async function doctorCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS);
  if (values.help) {
    io.stdout.write(`${DOCTOR_HELP}\n`);
    return 0;
  }
  const dir = folderArg(io.cwd, positionals[0]);
  const results = await doctor(dir, {
    run: values.run,
    timeoutMs: parseIntFlag('timeout', values.timeout, 30_000, 100, 600_000),
    graceMs: parseIntFlag('grace', values.grace, 10_000, 100, 600_000),
  });
  const failed = results.filter((r) => r.status === 'fail');
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ dir, ok: failed.length === 0, results }, null, 2)}\n`);
  } else if (values.quiet) {
    const c = createPainter(io.stderr, io.env);
    for (const r of failed)
      io.stderr.write(`${c.red('✗')} ${r.message} — fix: ${r.fix}\n${indent(r.detail, '    ')}`);
  } else {
    io.stdout.write(renderReport(dir, results, createPainter(io.stdout, io.env)));
  }
  return failed.length === 0 ? 0 : 1;
}

function indent(text: string | undefined, prefix: string): string {
  return text ? text.replace(/^/gm, prefix) + '\n' : '';
}

function renderReport(
  dir: string,
  results: readonly CheckResult[],
  c: ReturnType<typeof createPainter>,
): string {
  const lines = [c.bold(`nexthop doctor ${dir}`)];
  for (const r of results) {
    const rule = r.rule ? c.dim(` [rule ${r.rule}]`) : '';
    if (r.status === 'pass') lines.push(`  ${c.green('✓')} ${r.message}${rule}`);
    else if (r.status === 'fail')
      lines.push(`  ${c.red('✗')} ${r.message}${rule} — ${c.bold('fix:')} ${r.fix}`);
    else lines.push(`  ${c.yellow('!')} ${r.message}${rule} — fix: ${r.fix}`);
    if (r.detail) lines.push(c.dim(indent(r.detail, '      ').trimEnd()));
  }
  const count = (s: string) => results.filter((r) => r.status === s).length;
  const failed = count('fail');
  const summary = `${count('pass')} passed, ${failed} failed, ${count('warn')} warning(s)`;
  lines.push(failed === 0 ? c.green(`\n${summary}: ready for the platform`) : c.red(`\n${summary}`));
  return `${lines.join('\n')}\n`;
}
