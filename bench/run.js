#!/usr/bin/env node
// `npm run bench`: nexthop side by side with bare Node, Express, http-proxy-middleware, a
// minimal pipe proxy, Fastify and nginx. Every setup runs as its own process on 127.0.0.1;
// scenarios are interleaved over rounds and reported as medians with ratios from the same run.
// `node bench/run.js --help` lists the options; docs/BENCHMARKS.md explains the method.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const procs = require('./lib/procs');
const { runLoad } = require('./lib/load');
const { startServer, startNodeUpstream, startNginxUpstream, accessLogBytes } = require('./lib/servers');
const extras = require('./lib/extras');
const { median, render, evaluateBudgets, MB } = require('./lib/report');
const { renderSummary } = require('./lib/summary');
const { renderChart } = require('./lib/chart');
const { checkOutputs, writeSummary, writeFile } = require('./lib/output');
const { SCENARIOS, EXTRAS } = require('./scenarios');
const { PLATFORM_HEADERS } = require('./lib/headers');

const ROOT = path.join(__dirname, '..');
// The package as users load it (package.json main: the bundled dist/nexthop.js).
const DIST = ROOT;

const USAGE = `Usage: npm run bench -- [options]

  --quick              smoke check: 1 round of 1 s, no warm-up, 64 MiB upload, 200 idle
                       connections, 2 cold starts (used by npm test; numbers not meaningful)
  --rounds N           interleaved rounds per scenario (default 3; quick: 1)
  --duration S         seconds of load per scenario and round (default 10; quick: 1)
  --warmup S           seconds of unmeasured load before each run (default 2; quick: 0)
  --connections N      keep-alive connections of the load generator (default 50)
  --only a,b           throughput scenarios to run (ids below; default all)
  --extras a,b|none    extras to run: idle, upload, cold (default all)
  --load wrk|autocannon  load generator (default wrk when installed, else autocannon)
  --upstream auto|node|nginx  origin answering "hello" (default nginx when installed)
  --upload-mb N        size of the upload test in MiB (default 1024; quick: 64)
  --idle N             idle keep-alive connections to open (default 1000; quick: 200)
  --cold N             cold starts per setup (default 5; quick: 2)
  --no-pin             do not pin processes to CPUs with taskset
  --no-platform-headers  send bare requests instead of the platform's headers
                       (True-Client-IP, X-Forwarded-*, section-io-id, geo)
  --cpu-prof DIR       run node servers with --cpu-prof, profiles written to DIR
  --json FILE          also write all results as JSON to FILE
  --markdown FILE      also write the summary to FILE: one table (machine, Node, package
                       and load-tool versions in its header), then the budget verdicts.
                       When FILE has the lines <!-- bench-summary:start --> and
                       <!-- bench-summary:end -->, only what is between them is replaced
                       (docs/BENCHMARKS.md has them). Repeatable; - prints the summary
                       instead of the full report
  --svg FILE           also write a bar chart (SVG) of req/s against the best peer to FILE
  --report FILE        run nothing: print the report of a saved --json FILE again,
                       budgets evaluated by this version of the harness
  --fail-on-budget     exit 2 when a budget fails
  --help               this text

N and S are whole numbers. A bad option or value is refused (exit 1) before anything starts.

Scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}`;

function parseArgs(argv) {
  const quick = argv.includes('--quick');
  const opts = {
    quick,
    rounds: quick ? 1 : 3,
    duration: quick ? 1 : 10,
    warmup: quick ? 0 : 2,
    connections: 50,
    only: null,
    extras: ['idle', 'upload', 'cold'],
    load: null,
    upstream: 'auto',
    uploadBytes: (quick ? 64 : 1024) * MB,
    idle: quick ? 200 : 1000,
    cold: quick ? 2 : 5,
    pin: true,
    platformHeaders: true,
    cpuProf: null,
    json: null,
    markdown: [],
    svg: null,
    report: null,
    failOnBudget: false,
    help: false,
  };
  // Whole-number options: smallest value, and the unit named when one is refused. wrk takes
  // whole seconds only, the others count things; the report prints the upload in whole MiB.
  const numbers = {
    rounds: [1, ''],
    duration: [1, ' of seconds'],
    warmup: [0, ' of seconds'],
    connections: [1, ''],
    idle: [1, ''],
    cold: [1, ''],
    'upload-mb': [1, ' of MiB'],
  };
  for (let i = 0; i < argv.length; i++) {
    let [flag, value] = argv[i].split(/=(.*)/s, 2);
    const takeValue = () => {
      if (value === undefined) value = argv[++i];
      if (value === undefined) throw new Error(`${flag} needs a value`);
      return value;
    };
    const name = flag.replace(/^--/, '');
    if (flag.startsWith('--') && Object.hasOwn(numbers, name)) {
      const text = takeValue();
      const [min, unit] = numbers[name];
      const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || n < min)
        throw new Error(`${flag} must be a whole number${unit} ≥ ${min}, got ${JSON.stringify(text)}`);
      if (name === 'upload-mb') opts.uploadBytes = n * MB;
      else opts[name] = n;
    } else if (flag === '--quick') continue;
    else if (flag === '--only') opts.only = takeValue().split(',');
    else if (flag === '--extras') {
      const list = takeValue();
      opts.extras = list === 'none' ? [] : list.split(',');
    } else if (flag === '--load') opts.load = takeValue();
    else if (flag === '--upstream') opts.upstream = takeValue();
    else if (flag === '--no-pin') opts.pin = false;
    else if (flag === '--no-platform-headers') opts.platformHeaders = false;
    else if (flag === '--cpu-prof') opts.cpuProf = path.resolve(takeValue());
    else if (flag === '--json') opts.json = path.resolve(takeValue());
    else if (flag === '--markdown') {
      const file = takeValue();
      opts.markdown.push(file === '-' ? '-' : path.resolve(file));
    } else if (flag === '--svg') opts.svg = path.resolve(takeValue());
    else if (flag === '--report') opts.report = path.resolve(takeValue());
    else if (flag === '--fail-on-budget') opts.failOnBudget = true;
    else if (flag === '--help' || flag === '-h') opts.help = true;
    else throw new Error(`unknown option ${flag}`);
  }
  const ids = SCENARIOS.map((s) => s.id);
  const unknown = (opts.only || []).filter((id) => !ids.includes(id));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${ids.join(', ')}`);
  const badExtra = opts.extras.filter((e) => !['idle', 'upload', 'cold'].includes(e));
  if (badExtra.length) throw new Error(`unknown extra ${badExtra.join(', ')}; known: idle, upload, cold`);
  if (opts.load && !['wrk', 'autocannon'].includes(opts.load))
    throw new Error('--load must be wrk or autocannon');
  if (!['auto', 'node', 'nginx'].includes(opts.upstream))
    throw new Error('--upstream must be auto, node or nginx');
  return opts;
}

/** Names nexthop's build exports, or null with the reason when dist/ is missing. */
function nexthopExports() {
  try {
    return { names: Object.keys(require(DIST)) };
  } catch (err) {
    return { names: [], why: `nexthop is not built (${err.code || err.message}); run \`npm run build\`` };
  }
}

function versionOf(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout || ''}${r.stderr || ''}`.split('\n')[0].trim();
}

function packageVersions() {
  const names = [
    'express',
    'http-proxy-middleware',
    'fastify',
    '@fastify/http-proxy',
    'undici',
    'autocannon',
    'winston',
    'helmet',
  ];
  const versions = { nexthop: require(path.join(ROOT, 'package.json')).version };
  for (const name of names) {
    try {
      const file = path.join(ROOT, 'node_modules', name, 'package.json');
      versions[name] = JSON.parse(fs.readFileSync(file, 'utf8')).version;
    } catch {
      versions[name] = 'not installed';
    }
  }
  return versions;
}

function progress(line) {
  process.stderr.write(`bench: ${line}\n`);
}

/** One measured run of `scenario`: start, check the answer, warm up, load, read RSS, stop. */
async function measure(ctx, scenario) {
  const nodeArgs = ctx.opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', ctx.opts.cpuProf] : [];
  const server = await startServer(ctx, scenario, ctx.upstreams.hello, { nodeArgs });
  try {
    // The first answer came without headers; check the one the load will get too.
    for (const { status, body } of [server.first, await procs.get(server.url, 5000, ctx.headers)]) {
      if (status !== 200 || body !== 'hello') {
        throw new Error(
          `GET /hello answered ${status} ${JSON.stringify(body.slice(0, 80))}, expected 200 "hello"`,
        );
      }
    }
    const load = { url: server.url, connections: ctx.opts.connections, headers: ctx.headers };
    if (ctx.opts.warmup > 0) await runLoad(ctx.tool, { ...load, duration: ctx.opts.warmup });
    const cpuBefore = procs.cpuSeconds(server.child.pid);
    const result = await runLoad(ctx.tool, { ...load, duration: ctx.opts.duration });
    result.cpuUsPerRequest = ((procs.cpuSeconds(server.child.pid) - cpuBefore) / result.requests) * 1e6;
    result.peakRss = procs.peakRss(server.child.pid);
    await server.child.stop(10000);
    result.accessLogBytes = accessLogBytes(server.logDir);
    return result;
  } finally {
    await server.child.stop();
    fs.rmSync(server.logDir, { recursive: true, force: true });
  }
}

async function throughput(ctx) {
  const chosen = SCENARIOS.filter((s) => !ctx.opts.only || ctx.opts.only.includes(s.id));
  const out = {};
  for (const s of chosen) {
    const why = ctx.unavailable(s.id);
    out[s.id] = why
      ? { status: 'skipped', note: why, title: s.title, runs: [] }
      : { status: 'ok', title: s.title, runs: [] };
    if (why) progress(`skipping ${s.id}: ${why}`);
  }
  for (let round = 1; round <= ctx.opts.rounds; round++) {
    for (const s of chosen) {
      const r = out[s.id];
      if (r.status !== 'ok') continue;
      try {
        const result = await measure(ctx, s);
        r.runs.push(result);
        progress(
          `[round ${round}/${ctx.opts.rounds}] ${s.id}: ${Math.round(result.rps)} req/s, ` +
            `p99 ${result.p99Ms.toFixed(2)} ms, errors ${result.errors}, non-2xx ${result.non2xx}`,
        );
      } catch (err) {
        out[s.id] = {
          status: 'failed',
          title: s.title,
          note: err.message.split('\n')[0],
          detail: err.message,
          runs: [],
        };
        progress(`${s.id} failed: ${err.message}`);
      }
    }
  }
  for (const r of Object.values(out)) {
    if (r.status !== 'ok') continue;
    r.median = {
      rps: median(r.runs.map((x) => x.rps)),
      p50Ms: median(r.runs.map((x) => x.p50Ms)),
      p99Ms: median(r.runs.map((x) => x.p99Ms)),
      peakRssMb: median(r.runs.map((x) => x.peakRss / MB)),
      cpuUsPerRequest: median(r.runs.map((x) => x.cpuUsPerRequest)),
    };
    r.errors = r.runs.reduce((sum, x) => sum + x.errors, 0);
    r.non2xx = r.runs.reduce((sum, x) => sum + x.non2xx, 0);
    r.accessLogBytes = median(r.runs.map((x) => x.accessLogBytes));
    // Fastest round over slowest: far above 1 means other load disturbed this scenario.
    r.spread = Math.max(...r.runs.map((x) => x.rps)) / Math.min(...r.runs.map((x) => x.rps));
    if (r.errors + r.non2xx > 0) r.note = `${r.errors} socket errors/timeouts and ${r.non2xx} error statuses`;
  }
  return out;
}

async function startUpstreams(ctx) {
  const sink = await startNodeUpstream();
  ctx.children.push(sink.child);
  ctx.upstreams = { sink: sink.url, hello: sink.url };
  ctx.meta.upstream = 'node (bench/servers/upstream.js)';
  if (ctx.opts.upstream === 'node') return;
  if (!ctx.nginx) {
    if (ctx.opts.upstream === 'nginx') throw new Error('--upstream nginx: nginx is not on PATH');
    return;
  }
  try {
    const origin = await startNginxUpstream(ctx.runDir);
    ctx.children.push(origin.child);
    ctx.upstreams.hello = origin.url;
    ctx.meta.upstream = 'nginx answering "hello" (uploads go to the node upstream, which counts bytes)';
  } catch (err) {
    if (ctx.opts.upstream === 'nginx') throw err;
    ctx.meta.notes.push(
      `nginx origin failed to start, node upstream used instead: ${err.message.split('\n')[0]}`,
    );
  }
}

function createContext(opts) {
  const pinned = opts.pin && procs.canPin();
  procs.setPinning(pinned);
  const tool = opts.load || (procs.hasCommand('wrk') ? 'wrk' : 'autocannon');
  if (tool === 'wrk' && !procs.hasCommand('wrk')) throw new Error('--load wrk: wrk is not on PATH');
  const nginxPath = procs.hasCommand('nginx');
  const nexthop = nexthopExports();
  const byId = new Map(SCENARIOS.map((s) => [s.id, s]));
  const ctx = {
    opts,
    tool,
    nginx: nginxPath,
    children: [],
    headers: opts.platformHeaders ? PLATFORM_HEADERS : {},
    runDir: fs.mkdtempSync(path.join(os.tmpdir(), 'nexthop-bench-')),
    progress,
    scenario: (id) => byId.get(id),
    describe: (sample) =>
      typeof sample === 'number'
        ? `${sample.toFixed(1)} ms`
        : Object.entries(sample)
            .map(
              ([k, v]) =>
                `${k} ${typeof v === 'number' && v > 1e5 ? `${(v / MB).toFixed(1)} MB` : typeof v === 'number' ? v.toFixed(1) : v}`,
            )
            .join(', '),
    /** Why scenario `id` cannot run here, or undefined when it can. */
    unavailable(id) {
      const s = byId.get(id);
      if (s.nginx && !nginxPath) return 'nginx is not installed';
      if (!s.needs) return undefined;
      if (nexthop.why) return nexthop.why;
      const missing = s.needs.filter((name) => !nexthop.names.includes(name));
      return missing.length ? `nexthop does not export ${missing.join(', ')} yet` : undefined;
    },
  };
  const loadDescription =
    tool === 'wrk'
      ? `wrk -t1 -c${opts.connections} keep-alive`
      : `autocannon -c ${opts.connections} keep-alive (wrk not installed)`;
  ctx.meta = {
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick: opts.quick,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model || 'unknown CPU',
    memoryGb: os.totalmem() / 1024 ** 3,
    load: {
      tool,
      description: loadDescription,
      version:
        tool === 'wrk'
          ? versionOf('wrk', ['-v']).replace(/\s+(\[|Copyright).*$/, '')
          : `autocannon ${require('autocannon/package.json').version}`,
    },
    nginx: nginxPath ? versionOf('nginx', ['-v']) : null,
    packages: packageVersions(),
    pinned,
    rounds: opts.rounds,
    duration: opts.duration,
    warmup: opts.warmup,
    connections: opts.connections,
    headers: opts.platformHeaders ? PLATFORM_HEADERS : {},
    uploadBytes: opts.uploadBytes,
    idleConnections: opts.idle,
    notes: [],
  };
  if (!pinned) ctx.meta.notes.push('taskset unavailable or fewer than 2 CPUs: processes were not pinned');
  if (opts.cpuProf)
    ctx.meta.notes.push(`node servers ran with --cpu-prof (slower); profiles in ${opts.cpuProf}`);
  return ctx;
}

/** --report FILE: render a saved run again (budgets re-evaluated), starting nothing. */
async function reportAgain(opts) {
  const results = JSON.parse(fs.readFileSync(opts.report, 'utf8'));
  for (const r of Object.values(results.throughput)) {
    if (r.status === 'ok' && r.spread === undefined && r.runs?.length) {
      r.spread = Math.max(...r.runs.map((x) => x.rps)) / Math.min(...r.runs.map((x) => x.rps));
    }
  }
  results.budgets = evaluateBudgets(results);
  await writeReports(results, opts);
  if (opts.failOnBudget && results.budgets.some((b) => b.status === 'FAIL')) process.exitCode = 2;
}

/** The full report on stdout (or the summary, with --markdown -), then the files asked for. */
async function writeReports(results, opts) {
  // The chart, when one is written, is linked from the summary relative to where it lands.
  const chart = (from) => opts.svg && path.relative(from, opts.svg).split(path.sep).join('/');
  const stdout = opts.markdown.includes('-')
    ? renderSummary(results, { chart: chart(process.cwd()) })
    : render(results);
  process.stdout.write(stdout);
  for (const file of opts.markdown) {
    if (file !== '-') await writeSummary(file, renderSummary(results, { chart: chart(path.dirname(file)) }));
  }
  if (opts.svg) writeFile(opts.svg, renderChart(results));
  if (opts.json) writeFile(opts.json, `${JSON.stringify(results, null, 2)}\n`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) return void process.stdout.write(`${USAGE}\n`);
  checkOutputs(opts);
  if (opts.report) return reportAgain(opts);
  if (opts.cpuProf) fs.mkdirSync(opts.cpuProf, { recursive: true });
  const ctx = createContext(opts);
  procs.tellReaper('dir', ctx.runDir);
  const cleanup = () => {
    procs.killAll();
    fs.rmSync(ctx.runDir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  // The shell's convention: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM).
  for (const signal of ['SIGINT', 'SIGTERM'])
    process.on(signal, () => process.exit(128 + os.constants.signals[signal]));

  await startUpstreams(ctx);
  progress(`load: ${ctx.meta.load.description}; upstream: ${ctx.meta.upstream}; pinned: ${ctx.meta.pinned}`);
  const results = { meta: ctx.meta, throughput: await throughput(ctx), idle: {}, upload: {}, cold: {} };
  if (opts.extras.includes('idle')) results.idle = await extras.idle(ctx, EXTRAS.idle);
  if (opts.extras.includes('upload')) results.upload = await extras.upload(ctx, EXTRAS.upload);
  if (opts.extras.includes('cold')) results.cold = await extras.cold(ctx, EXTRAS.cold);
  for (const child of ctx.children) await child.stop();
  results.budgets = evaluateBudgets(results);

  await writeReports(results, opts);
  const failed = [results.throughput, results.idle, results.upload, results.cold].some((group) =>
    Object.values(group).some((r) => r.status === 'failed'),
  );
  if (failed) process.exitCode = 1;
  else if (opts.failOnBudget && results.budgets.some((b) => b.status === 'FAIL')) process.exitCode = 2;
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exitCode = 1;
});
