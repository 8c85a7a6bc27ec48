#!/usr/bin/env node
/**
 * The `nexthop` command: `doctor`, `init` and `dev`. Each command parses its own flags
 * with node:util parseArgs and has its own `--help`.
 */
import { devCommand, DEV_HELP } from './dev';
import { doctorCommand, DOCTOR_HELP } from './doctor';
import { initCommand, INIT_HELP } from './init';
import { UsageError, processIO, type CliIO } from './io';
import { ownPackage } from './package-root';

/** Help text of `nexthop` itself. */
export const MAIN_HELP = `Usage: nexthop <command> [options]

Commands:
  doctor [dir]   check a project against the edge platform's Node.js contract
  init [dir]     scaffold an edge module that passes doctor
  dev [dir]      run the edge chain locally: front → your app → emulated next-hop → origin

Options:
  --version, -v  print the version
  --help, -h     show this help; \`nexthop <command> --help\` for a command's options`;

type Command = (argv: readonly string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  doctor: { run: doctorCommand, help: DOCTOR_HELP },
  init: { run: initCommand, help: INIT_HELP },
  dev: { run: devCommand, help: DEV_HELP },
};

/**
 * Run the CLI with `argv` (without `node` and the script). Resolves with the exit code.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v') {
    io.stdout.write(`${ownPackage().version}\n`);
    return 0;
  }
  if (first === undefined || first === '--help' || first === '-h') {
    io.stdout.write(`${MAIN_HELP}\n`);
    return first === undefined ? 2 : 0;
  }
  if (first === 'help') {
    const target = rest[0] ? COMMANDS[rest[0]] : undefined;
    io.stdout.write(`${target ? target.help : MAIN_HELP}\n`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!command) {
    io.stderr.write(`nexthop: unknown command "${first}"\n\n${MAIN_HELP}\n`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`nexthop ${first}: ${err.message}\nSee \`nexthop ${first} --help\`.\n`);
      return 2;
    }
    io.stderr.write(`nexthop ${first}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`nexthop: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
