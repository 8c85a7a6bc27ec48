#!/usr/bin/env node
// Faults under load, measured, on 127.0.0.1 only. Runs __tests__/fixtures/cluster-app.js
// (a nexthop app) as real child processes and injects real faults:
//   1. sigkill   — 2-worker cluster, keep-alive load, one worker SIGKILLed every period:
//                  only requests in flight on that worker may fail; they are counted.
//   2. graceful  — same cluster, alternately an uncaughtException in a worker and SIGTERM
//                  of a worker: zero failed requests.
//   3. throws    — single process, a route throwing on every 10th request: every other
//                  request succeeds, same pid throughout, RSS at start and end.
//   4. sigterm   — single process with a drain delay, SIGTERM under load: zero failed
//                  in-flight requests, new connections refused only after the drain delay,
//                  exit 0 within drain + shutdown timeout.
// Usage: node bench/faults.js [--short] [--json]
//   --short: a few seconds per scenario (run by `npm test`); default: 60 s per scenario.
// Exit code 0 when every expectation holds, 1 otherwise. Prints one JSON report.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const short = process.argv.includes('--short');
const FIXTURE = path.join(__dirname, '..', '__tests__', 'fixtures', 'cluster-app.js');
const DURATION = short ? 2_400 : 60_000;
const FAULT_EVERY = short ? 800 : 10_000;
const CONCURRENCY = short ? 4 : 8;
const DRAIN_DELAY = short ? 500 : 2_000;
const SHUTDOWN_TIMEOUT = 5_000;
const REQUEST_TIMEOUT = 5_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Start the fixture; resolves with the child, its port and its parsed JSON log lines. */
function start(env) {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexthop-faults-'));
  const proc = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, NODE_ENV: 'production', LOG_DIR: logDir, APP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
  const ready = new Promise((resolve, reject) => {
    const check = () => {
      const m = out.match(/READY (\d+)/);
      if (m) resolve(Number(m[1]));
    };
    proc.stdout.on('data', check);
    exited.then((code) => reject(new Error(`fixture exited (${code}) before READY:\n${out}\n${err}`)));
  });
  const cleanup = () => fs.rmSync(logDir, { recursive: true, force: true });
  return { proc, ready, exited, logs, cleanup, stderr: () => err };
}

/** Keep-alive (or fresh-connection) request loops; counts outcomes by reason. */
function load(port, urlPath, { concurrency = CONCURRENCY, fresh = false } = {}) {
  const agent = fresh ? false : new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const r = { sent: 0, ok: 0, failed: 0, statuses: {}, reasons: {}, pids: new Set(), failures: [] };
  let running = true;
  const fail = (reason) => {
    r.failed += 1;
    r.failures.push({ at: Date.now(), reason });
    r.reasons[reason] = (r.reasons[reason] ?? 0) + 1;
  };
  const one = () =>
    new Promise((resolve) => {
      r.sent += 1;
      const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          r.statuses[res.statusCode] = (r.statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode === 200) {
            r.ok += 1;
            r.pids.add(JSON.parse(body).pid);
          }
          resolve();
        });
        res.on('error', (e) => (fail(e.code ?? e.message), resolve()));
      });
      // A connection the cluster primary was handing to a worker at the instant that worker
      // was SIGKILLed is never answered nor closed: the client's timeout is what ends it.
      req.setTimeout(REQUEST_TIMEOUT, () =>
        req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })),
      );
      req.on('error', (e) => (fail(e.code ?? e.message), resolve()));
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) await one();
  });
  return {
    result: r,
    async stop() {
      running = false;
      await Promise.all(loops);
      if (agent) agent.destroy();
      return { ...r, pids: r.pids.size, failures: undefined };
    },
  };
}

const workerPids = (child) =>
  child
    .logs()
    .filter((l) => /^worker \d+ ready$/.test(l.message))
    .map((l) => ({ worker: l.worker, pid: l.pid }));

/** The pid currently serving as worker `id` (its latest "ready" line, still alive). */
function currentPid(child, id) {
  const lines = workerPids(child).filter((w) => w.worker === id);
  return lines.length ? lines[lines.length - 1].pid : undefined;
}

async function clusterScenario(name, inject) {
  const child = start({ WORKERS: '2' });
  const port = await child.ready;
  const traffic = load(port, '/pid');
  const faults = [];
  const began = Date.now();
  let n = 0;
  const replaced = () => child.logs().filter((l) => /^worker \d+ ready$/.test(l.message)).length - 2;
  // A fixed number of faults (short: 2, long: 5), however slow a loaded machine makes each one.
  const FAULTS = Math.floor(DURATION / FAULT_EVERY) - 1;
  while (n < FAULTS) {
    await sleep(FAULT_EVERY);
    // One worker down at a time, as in production: on a loaded machine a replacement can take
    // longer than the period, and faulting the other worker meanwhile would leave none.
    for (let waited = 0; replaced() < faults.length && waited < 10_000; waited += 50) await sleep(50);
    const id = (n % 2) + 1;
    faults.push(await inject(child, port, id, n));
    n += 1;
  }
  await sleep(Math.max(0, DURATION - (Date.now() - began)));
  // Let the last fault's replacement take over under load before counting.
  for (let waited = 0; replaced() < faults.length && waited < 10_000; waited += 50) await sleep(50);
  const result = await traffic.stop();
  const restarts = replaced();
  child.proc.kill('SIGTERM');
  const exit = await child.exited;
  child.cleanup();
  return { scenario: name, durationMs: DURATION, faults, restarts, ...result, exit };
}

async function sigkill() {
  return clusterScenario('sigkill', async (child, _port, id) => {
    const pid = currentPid(child, id);
    process.kill(pid, 'SIGKILL');
    return `SIGKILL worker ${id} (pid ${pid})`;
  });
}

async function graceful() {
  return clusterScenario('graceful', async (child, port, id, n) => {
    if (n % 2 === 0) {
      await new Promise((resolve) =>
        http
          .get({ host: '127.0.0.1', port, path: '/uncaught', agent: false }, (res) =>
            res.resume().on('end', resolve),
          )
          .on('error', resolve),
      );
      return 'uncaughtException in a worker';
    }
    const pid = currentPid(child, id);
    process.kill(pid, 'SIGTERM');
    return `SIGTERM worker ${id} (pid ${pid})`;
  });
}

async function rss(port) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/rss', agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(JSON.parse(body)));
      })
      .on('error', reject);
  });
}

async function throws() {
  const child = start({});
  const port = await child.ready;
  // Warm up so the start RSS is the steady state, not the first-request allocations.
  const warm = load(port, '/every-10th-throws');
  await sleep(short ? 300 : 2_000);
  await warm.stop();
  const before = await rss(port);
  const traffic = load(port, '/every-10th-throws');
  await sleep(DURATION);
  const result = await traffic.stop();
  const after = await rss(port);
  child.proc.kill('SIGTERM');
  const exit = await child.exited;
  child.cleanup();
  return {
    scenario: 'throws',
    durationMs: DURATION,
    ...result,
    samePid: before.pid === after.pid,
    rssStartMiB: +(before.rss / 2 ** 20).toFixed(1),
    rssEndMiB: +(after.rss / 2 ** 20).toFixed(1),
    exit,
  };
}

async function sigterm() {
  const child = start({ DRAIN_DELAY: String(DRAIN_DELAY), SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT) });
  const port = await child.ready;
  const kept = load(port, '/slow?ms=50');
  const fresh = load(port, '/pid', { concurrency: 2, fresh: true });
  await sleep(short ? 500 : 5_000);
  const signalled = Date.now();
  child.proc.kill('SIGTERM');
  const exit = await child.exited;
  const exitMs = Date.now() - signalled;
  const closedAt = signalled + DRAIN_DELAY;
  const [k, f] = await Promise.all([kept.stop(), fresh.stop()]);
  child.cleanup();
  const failures = [...kept.result.failures, ...fresh.result.failures];
  // Once the listener is closed, a new connection is refused (or reset if it sat in the
  // kernel's accept queue at that instant): expected. Any other failure is a lost request.
  const refusal = (x) => (x.reason === 'ECONNREFUSED' || x.reason === 'ECONNRESET') && x.at >= closedAt;
  const refused = failures.filter(refusal);
  return {
    scenario: 'sigterm',
    drainDelayMs: DRAIN_DELAY,
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT,
    keepAlive: k,
    freshConnections: f,
    refusedAfterClose: refused.length,
    lostRequests: failures.length - refused.length,
    firstRefusedAfterMs: refused.length ? Math.min(...refused.map((x) => x.at)) - signalled : null,
    exit,
    exitMs,
  };
}

function check(report) {
  const problems = [];
  const expect = (ok, what) => ok || problems.push(what);
  const [kill, grace, thr, term] = report.scenarios;
  expect(kill.ok > 0 && kill.restarts >= kill.faults.length, 'sigkill: workers replaced and traffic served');
  // Only requests in flight on the killed worker may fail: at most its share of the loops.
  expect(kill.failed <= kill.faults.length * CONCURRENCY, 'sigkill: failures bounded by in-flight requests');
  expect(grace.failed === 0 && grace.ok > 0, 'graceful: zero failed requests');
  expect(thr.statuses['500'] > 0 && thr.failed === 0, 'throws: errors answered as 500, no failed connection');
  expect(
    Math.abs(thr.statuses['500'] * 10 - thr.sent) <= 10 + CONCURRENCY * 10,
    'throws: one in ten is a 500',
  );
  expect(thr.samePid, 'throws: the process never restarted');
  expect(thr.rssEndMiB < thr.rssStartMiB * 1.5 + 20, 'throws: memory stays flat');
  expect(term.lostRequests === 0, 'sigterm: zero failed in-flight requests, only refusals after the close');
  expect(
    term.firstRefusedAfterMs === null || term.firstRefusedAfterMs >= DRAIN_DELAY,
    'sigterm: refused only after the drain delay',
  );
  expect(
    term.exit === 0 && term.exitMs <= DRAIN_DELAY + SHUTDOWN_TIMEOUT + 1_000,
    'sigterm: exit 0 within drain + grace',
  );
  return problems;
}

async function main() {
  const scenarios = [];
  for (const run of [sigkill, graceful, throws, sigterm]) scenarios.push(await run());
  const report = {
    mode: short ? 'short' : 'long',
    node: process.version,
    cpus: os.availableParallelism(),
    scenarios,
  };
  report.problems = check(report);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = report.problems.length ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
});
