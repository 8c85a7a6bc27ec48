#!/usr/bin/env node
/**
 * The `nexthop` command: `doctor`, `init` and `dev`. Each command parses its own flags
 * with node:util parseArgs and has its own `--help`.
 */
import { devCommand, DEV_HELP } from './dev';
import { doctorCommand, DOCTOR_HELP } from './doctor';
import { initCommand, INIT_HELP } from './init';
import { suggestion } from '../check-options';
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

// What may come first on the command line, for "did you mean".
const FIRST_WORDS = [...Object.keys(COMMANDS), 'help', '--help', '--version'];

function unknownCommand(word: string, io: CliIO): number {
  const kind = word.startsWith('-') ? 'option' : 'command';
  io.stderr.write(`nexthop: unknown ${kind} "${word}"${suggestion(word, FIRST_WORDS)}\n\n${MAIN_HELP}\n`);
  return 2;
}

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
    if (rest[0] !== undefined && !Object.hasOwn(COMMANDS, rest[0])) return unknownCommand(rest[0], io);
    io.stdout.write(`${rest[0] === undefined ? MAIN_HELP : COMMANDS[rest[0]].help}\n`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!command) return unknownCommand(first, io);
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
