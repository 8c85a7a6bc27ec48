// Ends the harness's children if the harness itself dies without cleaning up (SIGKILL, a
// test runner's timeout): reads "add <pid>" / "del <pid>" lines on stdin, and when stdin
// closes (the harness is gone) kills every pid still listed with its process group (each
// child leads its own; nginx's worker is in its master's) and its descendants, by id, after
// checking that the pid is still the same process (same start time), never a recycled one;
// "dir <path>" names the run's temp folder, removed as well. Started in a process group of
// its own (bench/lib/procs.js), so a signal to the harness's group does not end it first.
'use strict';
const fs = require('node:fs');
const readline = require('node:readline');
const { processTree, signalGroup } = require('./procs');

const live = new Map();
let runDir;

/** Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), or null. */
function startTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return null;
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [verb, value] = line.split(/ (.*)/s, 2);
  if (verb === 'dir') runDir = value;
  const pid = Number(value);
  if (!Number.isInteger(pid) || pid <= 1) return;
  if (verb === 'add') live.set(pid, startTime(pid));
  if (verb === 'del') live.delete(pid);
});
lines.on('close', () => {
  for (const [pid, started] of live) {
    if (started === null || startTime(pid) !== started) continue;
    const tree = processTree(pid);
    signalGroup(pid, 'SIGKILL');
    for (const member of tree) {
      try {
        process.kill(member, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
  process.exit(0);
});
