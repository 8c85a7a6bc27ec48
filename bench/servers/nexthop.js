// Helpers for the nexthop scenarios: load the built package (dist/, `npm run build`), point
// NEXT_HOP at the bench upstream, keep logs in the temp LOG_DIR the harness gives, and serve.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { upstream, collectGarbageOnSignal } = require('./common');

// The package as users load it (package.json main: the bundled dist/nexthop.js).
const DIST = path.join(__dirname, '..', '..');

/** The built nexthop exports; exits with a clear message if the build or an export is missing. */
function load(...names) {
  let nexthop;
  try {
    nexthop = require(DIST);
  } catch (err) {
    process.stderr.write(`bench: cannot load ${DIST} (${err.message}); run \`npm run build\` first\n`);
    process.exit(3);
  }
  const missing = names.filter((name) => typeof nexthop[name] !== 'function');
  if (missing.length > 0) {
    process.stderr.write(`bench: nexthop does not export ${missing.join(', ')} yet\n`);
    process.exit(3);
  }
  return nexthop;
}

/** Environment every nexthop scenario shares; LOG_DIR falls back to a fresh temp folder. */
function prepareEnv() {
  process.env.NEXT_HOP = upstream().origin;
  process.env.LOG_DIR ||= fs.mkdtempSync(path.join(os.tmpdir(), 'nexthop-bench-logs-'));
  process.env.NODE_ENV ||= 'production';
}

/**
 * True when the app's router already holds the access-log middleware: a layer named
 * accessLog*, or createApp's single context layer listing `accessLog` in its `nexthopSteps`.
 */
function hasAccessLog(app) {
  const stack = (app.router && app.router.stack) || [];
  return stack.some((layer) => {
    const handle = layer.handle || {};
    if (Array.isArray(handle.nexthopSteps)) return handle.nexthopSteps.includes('accessLog');
    return /^accessLog/i.test(handle.name || layer.name || '');
  });
}

/**
 * createApp features to leave out, from BENCH_NEXTHOP_OFF (comma-separated option names, e.g.
 * "geo,securityHeaders"): measures one feature's cost with the same scenarios.
 */
function featuresOff() {
  const names = (process.env.BENCH_NEXTHOP_OFF || '').split(',').filter(Boolean);
  return Object.fromEntries(names.map((name) => [name.trim(), false]));
}

/**
 * createApp() with its default stack, and the access log as the budget defines the default
 * stack: mounted with its defaults when createApp does not mount it itself (`accessLog: true`),
 * or left out (`accessLog: false`, the "without" side of the access-log cost). `createOptions`
 * go to createApp.
 */
function createBenchApp(nexthop, { accessLog = true, createOptions = {} } = {}) {
  prepareEnv();
  const options = { ...featuresOff(), ...createOptions };
  const app = nexthop.createApp(accessLog ? options : { ...options, accessLog: false });
  if (accessLog && !hasAccessLog(app) && typeof nexthop.accessLog === 'function') {
    app.use(nexthop.accessLog());
  }
  if (!accessLog && hasAccessLog(app)) {
    process.stderr.write('bench: createApp({ accessLog: false }) still mounts an access log\n');
    process.exit(3);
  }
  return app;
}

/** serve() on 127.0.0.1:PORT (plus `options`), with its graceful SIGTERM (which also lets --cpu-prof write). */
function serveBench(nexthop, app, options = {}) {
  collectGarbageOnSignal();
  return nexthop
    .serve(app, { host: '127.0.0.1', ...options })
    .then(({ port }) => process.stdout.write(`READY ${port}\n`));
}

module.exports = { load, prepareEnv, createBenchApp, serveBench };
