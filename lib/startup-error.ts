import { isNexthopError } from './errors';

/**
 * Make a start-up error print as one clear line if nobody catches it.
 *
 * `serve(createApp())` in a user's entry file: when the log folder is unwritable the
 * throw reaches the top level, and Node would print our source line and a stack under
 * the message. Until the current turn ends, a one-shot listener catches exactly this
 * error, prints `nexthop: <message>` to stderr and exits 1. A caller that catches the
 * error (a test, a supervisor) never meets the listener: it is removed on the next turn.
 */
export function exitCleanlyIfUncaught(err: unknown): void {
  if (!isNexthopError(err)) return;
  const onUncaught = (thrown: unknown): void => {
    if (thrown !== err) return;
    process.stderr.write(`nexthop: ${err.message} [${err.code}]\n`);
    process.exit(1);
  };
  process.on('uncaughtException', onUncaught);
  setImmediate(() => process.off('uncaughtException', onUncaught)).unref();
}
