// Starting the processes under test: a node server file from bench/servers/ or nginx from a
// temp prefix, each on its own free port on 127.0.0.1, pinned to CPU 0.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const procs = require('./procs');
const nginx = require('../servers/nginx');

const SERVERS = path.join(__dirname, '..', 'servers');

/** A fresh folder under the run's temp folder. */
function tempIn(runDir, prefix) {
  const dir = fs.mkdtempSync(path.join(runDir, `${prefix}-`));
  // nginx workers drop root privileges to `nobody`, who must still reach the temp paths.
  fs.chmodSync(dir, 0o755);
  return dir;
}

/**
 * Start nginx in the foreground with `conf` (a function of { dir, port, upstream }) from its
 * own temp prefix. The returned child is nginx's master; its worker is its descendant.
 */
function startNginx(runDir, confFor, { port, upstream, cpu, name }) {
  const dir = tempIn(runDir, name);
  const confPath = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confPath, confFor({ dir, port, upstream }));
  return procs.start('nginx', ['-p', `${dir}/`, '-c', confPath, '-e', path.join(dir, 'error.log')], {
    cpu,
    name,
  });
}

/**
 * Start the setup under test for `scenario` with UPSTREAM=`upstream`, wait until it answers
 * GET /hello (polled every `pollMs`), and return { child, port, url, logDir, first, startMs }:
 * `first` is that first answer, `startMs` the time from spawn to it. `nodeArgs` go before the
 * server file (e.g. --cpu-prof).
 */
async function startServer(ctx, scenario, upstream, options = {}) {
  // A free port can be taken by another process between our probe and the server's listen.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(ctx, scenario, upstream, options);
    } catch (err) {
      if (attempt === 3 || !/EADDRINUSE|Address already in use/i.test(err.message)) throw err;
    }
  }
}

async function startOnce(ctx, scenario, upstream, { nodeArgs = [], pollMs = 20 }) {
  const port = await procs.freePort();
  const logDir = tempIn(ctx.runDir, `logs-${scenario.id}`);
  const spawned = process.hrtime.bigint();
  const child = scenario.nginx
    ? startNginx(ctx.runDir, nginx.proxyConf, { port, upstream, cpu: 0, name: scenario.id })
    : procs.start(process.execPath, [...nodeArgs, path.join(SERVERS, scenario.server)], {
        cpu: 0,
        name: scenario.id,
        // The platform's defaults: production, and log level info (serve()'s lifecycle lines
        // are written at start-up, as in production; no request writes an app-log line).
        env: {
          PORT: String(port),
          UPSTREAM: upstream,
          LOG_DIR: logDir,
          NODE_ENV: 'production',
          LOG_LEVEL: 'info',
        },
      });
  const url = `http://127.0.0.1:${port}/hello`;
  try {
    const first = await procs.waitForHttp(url, child, 15000, pollMs);
    const startMs = Number(process.hrtime.bigint() - spawned) / 1e6;
    return { child, port, url, logDir, first, startMs };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** Bytes written to access-log files (names containing "access") under `logDir`. */
function accessLogBytes(logDir) {
  let total = 0;
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/access/i.test(entry.name)) total += fs.statSync(full).size;
    }
  };
  walk(logDir);
  return total;
}

/** Start the upstream node server (bench/servers/upstream.js) on CPU 1. */
async function startNodeUpstream() {
  const port = await procs.freePort();
  const child = procs.start(process.execPath, [path.join(SERVERS, 'upstream.js')], {
    cpu: 1,
    name: 'node upstream',
    env: { PORT: String(port) },
  });
  const url = `http://127.0.0.1:${port}`;
  await procs.waitForHttp(`${url}/hello`, child);
  return { child, url };
}

/** Start an nginx origin answering "hello" on CPU 1. */
async function startNginxUpstream(runDir) {
  const port = await procs.freePort();
  const child = startNginx(runDir, nginx.originConf, { port, cpu: 1, name: 'nginx-upstream' });
  const url = `http://127.0.0.1:${port}`;
  await procs.waitForHttp(`${url}/hello`, child);
  return { child, url };
}

module.exports = { startServer, startNodeUpstream, startNginxUpstream, accessLogBytes };
