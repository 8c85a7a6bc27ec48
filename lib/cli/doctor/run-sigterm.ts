import { isAlive, processTree, signalAll, signalGroup, waitForExit } from '../proc';
import { fail, pass, warn, type CheckResult } from './types';

/**
 * SIGTERM as the platform may send it: first to the process it started (npm), like a
 * container runtime signalling its first process. npm passes it to the `sh -c` running the
 * start script, and that shell (dash) does not pass it on unless the script `exec`s the
 * server. When that first signal does not stop everything, every process left gets SIGTERM
 * itself: exiting then is a warning, not exiting is a failure.
 */
export async function sigtermResults(
  pid: number,
  seen: Set<number>,
  graceMs: number,
  tail: () => string | undefined,
): Promise<CheckResult[]> {
  processTree(pid).forEach((p) => seen.add(p));
  const tree = [...seen].filter(isAlive);
  const sent = Date.now();
  process.kill(pid, 'SIGTERM');
  if (await waitForExit(tree, graceMs)) {
    return [pass('run-sigterm', `exited ${Date.now() - sent} ms after SIGTERM to npm start`)];
  }
  const left = tree.filter(isAlive);
  const direct = Date.now();
  signalGroup(pid, 'SIGTERM');
  signalAll(left, 'SIGTERM');
  if (await waitForExit(left, graceMs)) {
    return [
      warn(
        'run-sigterm-npm',
        `SIGTERM to npm start did not reach the server (pids ${left.join(', ')} ran on): npm passes it to the shell running the start script, which does not pass it on`,
        'make the start script exec the server, e.g. "start": "exec node server.js", so it gets the signal itself',
      ),
      pass('run-sigterm', `exited ${Date.now() - direct} ms after SIGTERM to each process`),
    ];
  }
  return [
    {
      ...fail(
        'run-sigterm',
        `still running ${graceMs} ms after SIGTERM (pids ${left.filter(isAlive).join(', ')})`,
        'on SIGTERM stop accepting connections, finish in-flight requests and exit (nexthop serve() does)',
      ),
      detail: tail(),
    },
  ];
}
