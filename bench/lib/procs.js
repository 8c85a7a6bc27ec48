// Child processes for the harness: start pinned to a CPU when `taskset` works, wait for HTTP,
// read peak/current RSS from /proc, end by PID. Every child is tracked so that an interrupted
// run leaves nothing behind, and leads its own process group, ended as a whole: a SIGKILLed
// nginx master cannot end its worker, which would live on under PID 1.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const { setImmediate } = require('node:timers');
const { setTimeout: sleep } = require('node:timers/promises');

const started = new Set();
let reaper;

/**
 * Tell the reaper (bench/lib/reaper.js, started on first use) about a child pid ("add" or
 * "del") or the run's temp folder ("dir"). The reaper has a process group of its own too, so
 * that a signal to the harness's group (Ctrl-C in a terminal, `timeout -s KILL`) leaves it
 * alive to end the children, which that signal no longer reaches.
 */
function tellReaper(verb, pid) {
  if (!reaper) {
    reaper = spawn(process.execPath, [require.resolve('./reaper')], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    reaper.unref();
    reaper.stdin.unref();
  }
  reaper.stdin.write(`${verb} ${pid}\n`);
}

/** Whether `taskset -c 0` and `-c 1` work here (2+ CPUs in our affinity mask). */
function canPin() {
  if (os.availableParallelism() < 2) return false;
  const ok = (cpu) => spawnSync('taskset', ['-c', cpu, 'true'], { stdio: 'ignore' }).status === 0;
  return ok('0') && ok('1');
}

let pinning = false;
/** Turn CPU pinning on or off for every process started afterwards. */
function setPinning(on) {
  pinning = on;
}

/** Whether an executable is on PATH. */
function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Send `signal` to the process group `pid` leads (every child leads its own); false when the
 * group is gone. Only for a child not yet reaped, or just reaped: while any member lives the
 * kernel does not hand the number out again, and free numbers are reused only after wrapping.
 */
function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Start `cmd args` with `env` added, pinned to `cpu` ('0' or '1') when pinning is on
 * (`taskset` execs the command, so the PID is the command's own), as the leader of a new
 * process group (with nginx's worker in it). Output is kept (last 8 KB of each stream) to
 * explain failures.
 */
function start(cmd, args, { env = {}, cpu, cwd, name = cmd, stdin = 'ignore' } = {}) {
  const pinned = pinning && cpu !== undefined;
  const proc = spawn(pinned ? 'taskset' : cmd, pinned ? ['-c', String(cpu), cmd, ...args] : args, {
    env: { ...process.env, ...env },
    cwd,
    stdio: [stdin, 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  const keep = (text, chunk) => (text + chunk).slice(-8192);
  proc.stdout.on('data', (d) => (out = keep(out, d)));
  proc.stderr.on('data', (d) => (err = keep(err, d)));
  const exited = new Promise((resolve) => {
    proc.on('error', (e) => ((err += `\n${e.message}`), resolve(-1)));
    proc.on('exit', (code, signal) => resolve(code ?? signal));
  });
  const child = {
    name,
    proc,
    exited,
    get pid() {
      return proc.pid;
    },
    running: () => proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined,
    output: () => `${out}${err ? `\n[stderr]\n${err}` : ''}`.trim(),
    stdout: () => out,
    stop: (timeoutMs) => stop(child, timeoutMs),
  };
  started.add(child);
  if (proc.pid) tellReaper('add', proc.pid);
  exited.then(() => {
    started.delete(child);
    if (!proc.pid) return;
    // A member that outlived its leader (a worker whose master was SIGKILLed) goes too.
    signalGroup(proc.pid, 'SIGKILL');
    tellReaper('del', proc.pid);
  });
  return child;
}

/**
 * SIGTERM (nginx's master then ends its worker itself), then SIGKILL to the whole group after
 * `timeoutMs`; resolves once the process has exited.
 */
async function stop(child, timeoutMs = 5000) {
  if (child.running()) {
    child.proc.kill('SIGTERM');
    const timer = setTimeout(() => child.running() && signalGroup(child.pid, 'SIGKILL'), timeoutMs);
    await child.exited;
    clearTimeout(timer);
  }
  return child.exited;
}

/** Kill every child still running, with its process group (used on exit and on Ctrl-C). */
function killAll() {
  for (const child of started) if (child.running()) signalGroup(child.pid, 'SIGKILL');
}

/** A TCP port free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** One GET with a fresh connection: resolves { status, body } or rejects on a socket error. */
function get(url, timeoutMs = 2000, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/**
 * Poll `url` until it answers (any status) or `child` exits or `timeoutMs` passes.
 * Resolves with the first response; rejects with the child's output on failure.
 */
async function waitForHttp(url, child, timeoutMs = 15000, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await get(url, 1000);
    } catch {
      if (child && !child.running()) {
        throw new Error(`${child.name} exited before answering ${url}:\n${child.output()}`);
      }
      if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
      await sleep(everyMs);
    }
  }
}

/** Resolve with the first match of `pattern` in the child's stdout; reject on exit or timeout. */
function waitForOutput(child, pattern, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = child.stdout().match(pattern);
      if (m) finish(null, m);
      else if (!child.running())
        finish(new Error(`${child.name} exited before ${pattern}:\n${child.output()}`));
    };
    const timer = setTimeout(
      () => finish(new Error(`${child.name}: no ${pattern} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (err, m) => {
      clearTimeout(timer);
      child.proc.stdout.off('data', onData);
      child.proc.off('exit', onData);
      if (err) reject(err);
      else resolve(m);
    };
    // Run after procs' own 'data' listener has stored the chunk.
    const onData = () => setImmediate(check);
    child.proc.stdout.on('data', onData);
    child.proc.on('exit', onData);
    check();
  });
}

function statusField(pid, field) {
  try {
    const m = fs
      .readFileSync(`/proc/${pid}/status`, 'utf8')
      .match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** `pid` and its descendants (nginx: master and worker), from /proc/<pid>/stat parent ids. */
function processTree(pid) {
  const parents = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the ")" that ends the command name, which may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // the process ended while we read /proc
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** Peak resident set size in bytes (VmHWM) of `pid` plus its descendants. */
function peakRss(pid) {
  return processTree(pid).reduce((sum, p) => sum + statusField(p, 'VmHWM'), 0);
}

let ticksPerSecond;

/**
 * CPU time in seconds (user + system, /proc/<pid>/stat fields 14 and 15) used so far by `pid`
 * plus its descendants. Less sensitive than req/s to other processes sharing the machine.
 */
function cpuSeconds(pid) {
  ticksPerSecond ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // ended while we read
    }
  }
  return ticks / ticksPerSecond;
}

/** Current resident set size in bytes (VmRSS) of `pid` plus its descendants. */
function currentRss(pid) {
  return processTree(pid).reduce((sum, p) => sum + statusField(p, 'VmRSS'), 0);
}

module.exports = {
  canPin,
  setPinning,
  hasCommand,
  start,
  stop,
  killAll,
  freePort,
  get,
  waitForHttp,
  waitForOutput,
  peakRss,
  currentRss,
  cpuSeconds,
  processTree,
  signalGroup,
  tellReaper,
};
