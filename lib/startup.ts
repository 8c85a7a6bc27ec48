import { inspect } from 'node:util';
import { NexthopError } from './errors';

/**
 * Arm a clean exit for a start-up error about to be thrown (or rejected). If the app
 * does not catch it, the process prints one readable message — the code, what was
 * wrong and the fix, without a stack of library frames — and exits 1. If the app
 * catches it, nothing happens: the listeners are gone by the next turn of the loop.
 */
export function startupError<E extends NexthopError>(err: E): E {
  const onUncaught = (thrown: unknown) => {
    if (thrown !== err) {
      // Not ours: behave as Node does without listeners.
      process.stderr.write(`${inspect(thrown)}\n`);
      process.exit(1);
    }
    process.stderr.write(`nexthop [${err.code}]: ${err.message}\n`);
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
