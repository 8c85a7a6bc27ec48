// The load generator: wrk when installed (fast C client, microsecond latencies), else
// autocannon (a dev dependency) in a child process. Both run pinned to CPU 1, keep-alive,
// `connections` connections, bounded by `duration`.
'use strict';
const path = require('node:path');
const procs = require('./procs');
const { headerLines } = require('./headers');

/** @typedef {{ rps: number, requests: number, p50Ms: number, p99Ms: number, errors: number, non2xx: number }} LoadResult */

function parseLine(output, tag) {
  const line = output.split('\n').find((l) => l.startsWith(`${tag} `));
  if (!line) throw new Error(`load generator printed no result:\n${output}`);
  return JSON.parse(line.slice(tag.length + 1));
}

async function runWrk({ url, connections, duration, headers }) {
  const script = path.join(__dirname, 'wrk-report.lua');
  const args = ['-t1', `-c${connections}`, `-d${duration}s`, '--timeout', '5s', '-s', script, url];
  const env = { BENCH_HEADERS: headerLines(headers) };
  const child = procs.start('wrk', args, { cpu: 1, name: 'wrk', env });
  await waitBounded(child, duration);
  const r = parseLine(child.stdout(), 'WRK_JSON');
  return {
    rps: r.requests / (r.durationUs / 1e6),
    requests: r.requests,
    p50Ms: r.p50Us / 1000,
    p99Ms: r.p99Us / 1000,
    errors: r.connect + r.read + r.write + r.timeout,
    // wrk counts statuses above 399 only; the harness's pre-check asserts the 200 itself.
    non2xx: r.status,
  };
}

async function runAutocannon({ url, connections, duration, headers }) {
  const worker = path.join(__dirname, 'autocannon-worker.js');
  const arg = JSON.stringify({ url, connections, duration, headers });
  const child = procs.start(process.execPath, [worker, arg], { cpu: 1, name: 'autocannon' });
  await waitBounded(child, duration);
  const r = parseLine(child.stdout(), 'AUTOCANNON_JSON');
  return {
    rps: r.requests / r.seconds,
    requests: r.requests,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    errors: r.socketErrors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/** Wait for the generator, killing it if it overruns its duration by 15 s. */
async function waitBounded(child, duration) {
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), (duration + 15) * 1000);
  const code = await child.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${child.name} exited with ${code}:\n${child.output()}`);
}

/**
 * Load `url` for `duration` seconds with `connections` keep-alive connections, every request
 * carrying `headers`.
 * @returns {Promise<LoadResult>}
 */
function runLoad(tool, options) {
  return tool === 'wrk' ? runWrk(options) : runAutocannon(options);
}

module.exports = { runLoad };
