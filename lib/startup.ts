import { inspect } from 'node:util';
import { isNexthopError } from './errors';

const armed = new WeakSet<object>();

/** The one line a start-up error prints: `nexthop [CODE]: message`, or `TypeError: message`. */
function oneLine(err: unknown): string {
  if (isNexthopError(err)) return `nexthop [${err.code}]: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : `nexthop: start-up failed: ${inspect(err)}`;
}

/**
 * Arm a clean exit for a start-up error about to be thrown (or rejected). If the app
 * does not catch it, the process prints one readable message — the code or error name,
 * what was wrong and the fix, without a stack of library frames — and exits 1. If the
 * app catches it, nothing happens: the listeners are gone by the next turn of the loop.
 */
export function startupError<E>(err: E): E {
  if (typeof err !== 'object' || err === null || armed.has(err)) return err;
  armed.add(err);
  const onUncaught = (thrown: unknown) => {
    if (thrown !== err) {
      // Not ours: behave as Node does without listeners.
      process.stderr.write(`${inspect(thrown)}\n`);
      process.exit(1);
    }
    process.stderr.write(`${oneLine(err)}\n`);
    process.exit(1);
  };
  process.once('uncaughtException', onUncaught);
  process.once('unhandledRejection', onUncaught);
  // Unhandled rejections are reported before immediates run, so this is late enough.
  setImmediate(() => {
    process.removeListener('uncaughtException', onUncaught);
    process.removeListener('unhandledRejection', onUncaught);
  }).unref();
  return err;
}
