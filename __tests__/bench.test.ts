import fs from 'node:fs';
import path from 'node:path';
import { nginxBinary } from './helpers/nginx';
import { startNode, stop, tempDir, type Child } from './helpers/process';

// `npm run bench -- --quick` as a smoke check: every scenario answers without errors, or is
// skipped with a note when its nexthop export (or nginx) is missing. No thresholds: ratios
// measured in a few seconds on a shared machine mean nothing.

const RUN = path.join(__dirname, '..', 'bench', 'run.js');

/** Every throughput scenario of the harness, and what may legitimately skip it. */
const SCENARIOS: [id: string, mayBeSkippedFor: RegExp | null][] = [
  ['node-hello', null],
  ['express-hello', null],
  ['express-diy-hello', null],
  ['nexthop-hello', /nexthop does not export/],
  ['nexthop-hello-no-log', /nexthop does not export accessLog/],
  ['nexthop-proxy', /nexthop does not export nextHopProxy/],
  ['express-hpm', null],
  ['express-hpm-keepalive', null],
  ['express-pipe-proxy', null],
  ['node-pipe-proxy', null],
  ['node-undici-proxy', null],
  ['fastify-proxy', null],
  ['nginx-proxy', /nginx is not installed/],
];

interface Outcome {
  status: 'ok' | 'skipped' | 'failed';
  note?: string;
  detail?: string;
  runs?: { requests: number; errors: number; non2xx: number; rps: number; peakRss: number }[];
  samples?: unknown[];
  median?: Record<string, number>;
}
interface Results {
  meta: { quick: boolean; command: string };
  throughput: Record<string, Outcome>;
  idle: Record<string, Outcome>;
  upload: Record<string, Outcome>;
  cold: Record<string, Outcome>;
  budgets: { text: string; status: string; detail: string }[];
}

const dirs: string[] = [];
const children: Child[] = [];

async function bench(
  args: string[],
): Promise<{ code: number | string; stdout: string; stderr: string; results?: Results }> {
  const dir = tempDir('nexthop-bench-test-');
  dirs.push(dir);
  const json = path.join(dir, 'results.json');
  const child = startNode(RUN, {}, [...args, '--json', json]);
  children.push(child);
  const code = await child.exited;
  const results = fs.existsSync(json) ? (JSON.parse(fs.readFileSync(json, 'utf8')) as Results) : undefined;
  return { code, stdout: child.stdout(), stderr: child.stderr(), results };
}

afterAll(async () => {
  await Promise.all(children.map(stop));
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

/** An outcome that failed shows the harness's own explanation in the assertion message. */
function expectAnswered(id: string, outcome: Outcome | undefined, mayBeSkippedFor: RegExp | null) {
  expect({ id, status: outcome?.status, note: outcome?.detail ?? outcome?.note }).toEqual(
    expect.objectContaining({
      id,
      status: expect.stringMatching(mayBeSkippedFor ? /^(ok|skipped)$/ : /^ok$/),
    }),
  );
  if (outcome!.status === 'skipped') expect(outcome!.note).toMatch(mayBeSkippedFor!);
}

describe('npm run bench -- --quick', () => {
  let run: Awaited<ReturnType<typeof bench>>;
  let summary: string;
  let chart: string;
  beforeAll(async () => {
    const dir = tempDir('nexthop-bench-out-');
    dirs.push(dir);
    const md = path.join(dir, 'table.md');
    const svg = path.join(dir, 'chart.svg');
    run = await bench(['--quick', '--markdown', md, '--svg', svg]);
    summary = fs.existsSync(md) ? fs.readFileSync(md, 'utf8') : '';
    chart = fs.existsSync(svg) ? fs.readFileSync(svg, 'utf8') : '';
  }, 120_000);

  test('exits 0 and prints the report: table, extras and budgets', () => {
    expect({ code: run.code, stderr: run.stderr.slice(-2000) }).toEqual(expect.objectContaining({ code: 0 }));
    expect(run.stdout).toMatch(
      /^\| setup \| req\/s \| p50 ms \| p99 ms \| peak RSS MB \| server CPU µs\/req \| errors \|/m,
    );
    expect(run.stdout).toMatch(/^## Idle keep-alive connections/m);
    expect(run.stdout).toMatch(/^## 64 MiB upload through the proxy/m);
    expect(run.stdout).toMatch(/^## Cold start/m);
    expect(run.results!.meta.quick).toBe(true);
  });

  test('--markdown and --svg write one row and one bar per measured scenario', () => {
    const measured = Object.entries(run.results!.throughput).filter(([, r]) => r.status === 'ok');
    expect(measured.length).toBeGreaterThan(0);
    for (const [id] of measured) {
      expect(summary).toMatch(new RegExp(`^\\| .+ \\| \`${id}\` +\\| +[\\d,]+ \\|`, 'm'));
      expect(chart).toContain(`>${id}</text>`);
    }
    expect(summary).toMatch(/A `--quick` smoke run: the figures are not meaningful/);
    expectWellFormedSvg(chart);
  });

  test('runs exactly the known scenarios', () => {
    expect(Object.keys(run.results!.throughput).sort()).toEqual(SCENARIOS.map(([id]) => id).sort());
  });

  test.each(SCENARIOS)('%s answered under load without errors (or is skipped with a note)', (id, skip) => {
    const outcome = run.results!.throughput[id];
    expectAnswered(id, outcome, skip);
    if (outcome.status !== 'ok') return;
    expect(outcome.runs).toHaveLength(1);
    const [load] = outcome.runs!;
    expect(load.requests).toBeGreaterThan(0);
    expect(load.rps).toBeGreaterThan(0);
    expect(load.peakRss).toBeGreaterThan(1024 * 1024);
    expect({ errors: load.errors, non2xx: load.non2xx }).toEqual({ errors: 0, non2xx: 0 });
  });

  test.each([
    ['idle', 'express-hello', null],
    ['idle', 'nexthop-hello', /nexthop does not export/],
    ['upload', 'node-pipe-proxy', null],
    ['upload', 'nexthop-proxy', /nexthop does not export nextHopProxy/],
    ['cold', 'express-hello', null],
    ['cold', 'nexthop-hello', /nexthop does not export/],
  ] as const)('extra %s: %s answered (or is skipped with a note)', (group, id, skip) => {
    const outcome = run.results![group][id];
    expectAnswered(id, outcome, skip);
    if (outcome.status !== 'ok') return;
    expect(outcome.samples!.length).toBeGreaterThan(0);
    for (const value of Object.values(outcome.median!)) expect(Number.isFinite(value)).toBe(true);
  });

  test('every budget is reported as PASS, FAIL or SKIP with its measure or reason', () => {
    expect(run.results!.budgets).toHaveLength(9);
    for (const budget of run.results!.budgets) {
      expect(budget.status).toMatch(/^(PASS|FAIL|SKIP)$/);
      expect(budget.detail).toMatch(
        budget.status === 'SKIP' ? /not measured in this run|no node-undici-proxy scenario/ : /\d/,
      );
      expect(run.stdout).toContain(`${budget.status} ${budget.text}: ${budget.detail}`);
      expect(summary).toContain(`- ${budget.status} ${budget.text}: ${budget.detail}`);
    }
  });
});

/** Tags open and close in order, attributes are quoted, and the root is an <svg> in the SVG namespace. */
function expectWellFormedSvg(svg: string) {
  expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^>]*viewBox="0 0 \d+ \d+"/);
  const open: string[] = [];
  for (const [, close, name, attributes, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z]+)([^>]*?)(\/?)>/g)) {
    expect(attributes.replace(/\s+[a-zA-Z0-9:-]+="[^"<>]*"/g, '').trim()).toBe('');
    if (close) expect(open.pop()).toBe(name);
    else if (!selfClosing) open.push(name);
  }
  expect(open).toEqual([]);
  // Text outside tags: entities only, no stray markup characters.
  expect(svg.replace(/<[^>]*>/g, '')).not.toMatch(/[<>]|&(?!(amp|lt|gt|quot);)/);
}

const ok = (median: Record<string, number>) => ({ status: 'ok', median, runs: [], samples: [] });

/** A saved run (--json) in which each budget sits exactly on, just past, or without its threshold. */
const saved = {
  meta: {
    date: '2026-01-01T00:00:00.000Z',
    command: 'npm run bench -- --markdown docs/BENCHMARKS.md',
    quick: false,
    node: 'v20.99.0',
    os: 'Linux 6.1 x64',
    cpus: 2,
    cpuModel: 'Test CPU 9000',
    memoryGb: 1,
    load: { tool: 'wrk', description: 'wrk -t1 -c50 keep-alive', version: 'wrk 4.2.0' },
    nginx: null,
    packages: {
      nexthop: '0.1.0',
      express: '5.1.2',
      fastify: '5.3.4',
      '@fastify/http-proxy': '11.5.6',
      'http-proxy-middleware': '3.0.7',
      undici: '6.8.9',
    },
    upstream: 'node (bench/servers/upstream.js)',
    pinned: true,
    rounds: 3,
    duration: 10,
    warmup: 2,
    connections: 50,
    headers: {},
    uploadBytes: 1024 * 1024 * 1024,
    idleConnections: 1000,
    notes: [],
  },
  throughput: {
    'express-hello': ok({ rps: 1000, p99Ms: 9, cpuUsPerRequest: 70 }),
    'express-diy-hello': ok({ rps: 600, p99Ms: 12, cpuUsPerRequest: 120 }),
    'nexthop-hello': ok({ rps: 1300, p99Ms: 6, cpuUsPerRequest: 54 }),
    'nexthop-hello-no-log': ok({ rps: 1531, p99Ms: 5, cpuUsPerRequest: 46 }),
    'nexthop-proxy': ok({ rps: 4400, p99Ms: 7, cpuUsPerRequest: 100 }),
    'express-hpm': ok({ rps: 1101, p99Ms: 40, cpuUsPerRequest: 400 }),
    'fastify-proxy': ok({ rps: 4000, p99Ms: 8, cpuUsPerRequest: 110 }),
    'nginx-proxy': { status: 'skipped', note: 'nginx is not installed', runs: [] },
  },
  idle: {
    'express-hello': ok({ beforeMb: 60, afterMb: 100, heapAfterMb: 8 }),
    'nexthop-hello': ok({ beforeMb: 55, afterMb: 110.1, heapAfterMb: 8.4 }),
  },
  upload: {
    'node-pipe-proxy': ok({ mbPerSec: 500, peakRssMb: 80 }),
    'nexthop-proxy': ok({ mbPerSec: 400, peakRssMb: 100 }),
  },
  cold: { 'express-hello': ok({ ms: 100 }), 'nexthop-hello': ok({ ms: 130 }) },
};

/** Run the harness on a saved run written to a temp file; resolves when it exits. */
async function fromSaved(run: object, args: string[], dir = tempDir('nexthop-bench-report-')) {
  dirs.push(dir);
  const file = path.join(dir, 'saved.json');
  fs.writeFileSync(file, JSON.stringify(run));
  const child = startNode(RUN, {}, ['--report', file, ...args]);
  children.push(child);
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr(), dir };
}

function budgetLine(output: string, text: string) {
  return output.split('\n').find((l) => /^(- )?(PASS|FAIL|SKIP) /.test(l) && l.includes(text));
}

describe('npm run bench -- --report FILE: budget verdicts on a saved run', () => {
  test.each([
    ['PASS', 'App route through the full default stack ≥ 1.3×', /1\.300× .*by server CPU per request 1\.30×/],
    ['FAIL', 'Access log cost', /0\.849×/],
    ['PASS', 'Proxied request ≥ 1.1× Fastify', /1\.100× .*needs ≥ 1\.1×/],
    [
      'SKIP',
      'Proxied request ≥ 0.7× the bare undici Pool proxy',
      /no node-undici-proxy scenario|not measured/,
    ],
    ['FAIL', 'Proxied request ≥ 4× Express + http-proxy-middleware', /3\.996× .*needs ≥ 4×/],
    ['FAIL', '1 GiB upload through the nexthop proxy: peak RSS < 100 MB', /100\.0 MB/],
    ['PASS', 'Upload throughput ≥ 0.8×', /0\.800×/],
    ['FAIL', 'RSS with 1,000 idle keep-alive connections open ≤ 1.1×', /1\.101× .*JS heap alone 1\.05×/],
    ['PASS', 'Cold start', /1\.300× .*needs ≤ 1\.3×/],
  ])('%s %s', async (status, text, detail) => {
    const { code, stdout } = await fromSaved(saved, ['--fail-on-budget']);
    expect(code).toBe(2);
    const line = budgetLine(stdout, text);
    expect(line).toMatch(new RegExp(`^${status} `));
    expect(line).toMatch(detail);
  });

  test('the undici budget is judged when the run measured node-undici-proxy', async () => {
    const withUndici = {
      ...saved,
      throughput: { ...saved.throughput, 'node-undici-proxy': ok({ rps: 6286, cpuUsPerRequest: 70 }) },
    };
    const { stdout } = await fromSaved(withUndici, []);
    expect(budgetLine(stdout, 'bare undici Pool proxy')).toMatch(/^FAIL .*0\.700× .*needs ≥ 0\.7×/);
  });
});

describe('npm run bench -- --markdown / --svg: the summary and the chart of docs/BENCHMARKS.md', () => {
  test('--markdown - prints one table with the machine, Node, versions and load tool, then the verdicts', async () => {
    const { code, stdout } = await fromSaved(saved, ['--markdown', '-']);
    expect(code).toBe(0);
    expect(stdout).toContain('Machine: Test CPU 9000, 2 cores, Linux 6.1 x64; Node v20.99.0.');
    for (const version of [
      'nexthop 0.1.0',
      'express 5.1.2',
      'fastify 5.3.4',
      'http-proxy-middleware 3.0.7',
      'undici 6.8.9',
    ]) {
      expect(stdout).toContain(version);
    }
    expect(stdout).toContain('Load: wrk 4.2.0 (wrk -t1 -c50 keep-alive)');
    expect(stdout.match(/^\| setup \| id \| req\/s \| p99 ms \| vs best peer \|$/gm)).toHaveLength(1);
    // Ratios against the fastest peer of the group: Express hello for app routes, Fastify for proxies.
    for (const [id, rps, ratio] of [
      ['express-hello', '1,000', '1.00'],
      ['express-diy-hello', '600', '0.60'],
      ['nexthop-hello', '1,300', '1.30'],
      ['nexthop-proxy', '4,400', '1.10'],
      ['express-hpm', '1,101', '0.28'],
      ['fastify-proxy', '4,000', '1.00'],
    ]) {
      expect(stdout).toMatch(
        new RegExp(`^\\| .+ \\| \`${id}\` \\| ${rps} \\| [\\d.]+ \\| ${ratio}× \\|$`, 'm'),
      );
    }
    expect(stdout).toContain('app routes: `express-hello`; proxied requests: `fastify-proxy`');
    expect(stdout).toContain('- `nginx-proxy` skipped: nginx is not installed');
    expect(stdout).toMatch(/^- FAIL Access log cost: with \/ without ≥ 0\.85×: 0\.849×/m);
    expect(stdout).not.toMatch(/2026|^## /m);
  });

  test('--markdown FILE replaces only the block between the markers, formatted as prettier wants', async () => {
    const dir = tempDir('nexthop-bench-md-');
    const doc = path.join(dir, 'BENCHMARKS.md');
    const before = '# Benchmarks\n\nThe method.\n\n<!-- bench-summary:start -->\n\nold table\n\n';
    const after = '<!-- bench-summary:end -->\n\n## Profiling\n';
    const args = ['--markdown', doc, '--svg', path.join(dir, 'bench-chart.svg')];
    fs.writeFileSync(doc, before + after);
    const first = await fromSaved(saved, args, dir);
    expect(first.code).toBe(0);
    const text = fs.readFileSync(doc, 'utf8');
    expect(text.startsWith('# Benchmarks\n\nThe method.\n\n<!-- bench-summary:start -->\n')).toBe(true);
    expect(text.endsWith(after)).toBe(true);
    expect(text).not.toContain('old table');
    expect(text).toMatch(/\| `nexthop-proxy` +\| +4,400 \|/);
    // The chart of the same run, linked relative to the page.
    expect(text).toMatch(/^!\[.+\]\(bench-chart\.svg\)$/m);
    expect(fs.existsSync(path.join(dir, 'bench-chart.svg'))).toBe(true);
    const check = startNode(
      path.join(__dirname, '..', 'node_modules', 'prettier', 'bin', 'prettier.cjs'),
      {},
      ['--check', doc],
    );
    children.push(check);
    expect({ code: await check.exited, out: check.stdout() + check.stderr() }).toEqual(
      expect.objectContaining({ code: 0 }),
    );
    // A second run over its own output changes nothing.
    await fromSaved(saved, args, dir);
    expect(fs.readFileSync(doc, 'utf8')).toBe(text);
  });

  test('--markdown refuses, before anything runs, a file that has no markers', async () => {
    const dir = tempDir('nexthop-bench-md-');
    const readme = path.join(dir, 'README.md');
    fs.writeFileSync(readme, '# My notes\n');
    const { code, stdout, stderr } = await fromSaved(saved, ['--markdown', readme], dir);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /--markdown .*README\.md: the file exists and has no <!-- bench-summary:start -->/,
    );
    expect(stdout).toBe('');
    expect(fs.readFileSync(readme, 'utf8')).toBe('# My notes\n');
  });

  test('--svg FILE writes a well-formed bar chart, bars in proportion to the ratios', async () => {
    const dir = tempDir('nexthop-bench-svg-');
    const file = path.join(dir, 'out', 'chart.svg');
    const { code } = await fromSaved(saved, ['--svg', file], dir);
    expect(code).toBe(0);
    const svg = fs.readFileSync(file, 'utf8');
    expectWellFormedSvg(svg);
    const widths = Object.fromEntries(
      [...svg.matchAll(/<rect [^>]*width="([\d.]+)"[^>]*><title>([^<]+)<\/title>/g)].map(([, w, title]) => [
        title,
        Number(w),
      ]),
    );
    const measured = Object.values(saved.throughput).filter((r) => r.status === 'ok');
    expect(Object.keys(widths)).toHaveLength(measured.length);
    const bar = (title: string) => widths[Object.keys(widths).find((t) => t.startsWith(title))!];
    expect(
      bar('nexthop createApp() default stack + access log + hello') / bar('Express 5 hello'),
    ).toBeCloseTo(1.3, 2);
    expect(
      bar('nexthop createApp() default stack + access log + nextHopProxy') / bar('Fastify 5'),
    ).toBeCloseTo(1.1, 2);
    expect(svg).toContain('1.00× = express-hello, 1,000 req/s');
    expect(svg).toContain('1.00× = fastify-proxy, 4,000 req/s');
    expect(svg).toContain('>1.30×</text>');
  });
});

describe('npm run bench: other paths', () => {
  test('autocannon, the node upstream and bare requests work (no wrk, no nginx, no platform headers)', async () => {
    const { code, stderr, results } = await bench([
      '--quick',
      '--load=autocannon',
      '--upstream',
      'node',
      '--only',
      'express-hello,node-pipe-proxy',
      '--extras',
      'none',
      '--duration',
      '1',
      '--no-platform-headers',
    ]);
    expect({ code, stderr: stderr.slice(-2000) }).toEqual(expect.objectContaining({ code: 0 }));
    expect(Object.keys(results!.throughput)).toEqual(['express-hello', 'node-pipe-proxy']);
    for (const outcome of Object.values(results!.throughput)) {
      expect(outcome.status).toBe('ok');
      expect(outcome.runs![0].requests).toBeGreaterThan(0);
      expect(outcome.runs![0].errors + outcome.runs![0].non2xx).toBe(0);
    }
  }, 60_000);

  test.each([
    [['--rounds', '0'], /--rounds must be a whole number ≥ 1, got "0"/],
    [['--duration=abc'], /--duration must be a whole number of seconds ≥ 1, got "abc"/],
    // Whole numbers only: wrk refuses -d1.5s, rounds and counts are counts.
    [['--duration', '1.5'], /--duration must be a whole number of seconds ≥ 1, got "1\.5"/],
    [['--rounds', '1.5', '--connections', '2.5'], /--rounds must be a whole number ≥ 1, got "1\.5"/],
    [['--connections=2.5'], /--connections must be a whole number ≥ 1, got "2\.5"/],
    [['--warmup', '0.5'], /--warmup must be a whole number of seconds ≥ 0, got "0\.5"/],
    [['--warmup='], /--warmup must be a whole number of seconds ≥ 0, got ""/],
    [['--idle', '1e3'], /--idle must be a whole number ≥ 1, got "1e3"/],
    [['--cold', '-1'], /--cold must be a whole number ≥ 1, got "-1"/],
    [['--upload-mb', '0.5'], /--upload-mb must be a whole number of MiB ≥ 1, got "0\.5"/],
    [['--only', 'express-hello,nope'], /unknown scenario nope; known: node-hello, express-hello/],
    [['--extras', 'idle,disk'], /unknown extra disk; known: idle, upload, cold/],
    [['--load', 'ab'], /--load must be wrk or autocannon/],
    [['--upstream', 'apache'], /--upstream must be auto, node or nginx/],
    [['--json'], /--json needs a value/],
    [['--markdown'], /--markdown needs a value/],
    // A folder that cannot exist: package.json is a file.
    [
      ['--svg', 'package.json/out/chart.svg'],
      /--svg .*package\.json\/out\/chart\.svg: cannot write to .*\(ENOTDIR\)/,
    ],
    [['--fast'], /unknown option --fast/],
  ])('%j is refused before anything starts', async (args, message) => {
    const child = startNode(RUN, {}, args);
    children.push(child);
    expect(await child.exited).toBe(1);
    expect(child.stderr()).toMatch(message);
    // Nothing started: the first progress line ("bench: load: …") follows the upstreams' start.
    expect(child.stderr()).not.toMatch(/bench: load:/);
    expect(child.stdout()).toBe('');
  });

  test('--help shows the --quick default of every option --quick changes', async () => {
    const child = startNode(RUN, {}, ['--help']);
    children.push(child);
    expect(await child.exited).toBe(0);
    for (const [option, quick] of [
      ['--rounds N', 1],
      ['--duration S', 1],
      ['--warmup S', 0],
      ['--upload-mb N', 64],
      ['--idle N', 200],
      ['--cold N', 2],
    ] as const) {
      const line = child
        .stdout()
        .split('\n')
        .find((l) => l.trimStart().startsWith(option));
      expect(line).toMatch(new RegExp(`; quick: ${quick}\\)$`));
    }
  });
});

/** pid → [ppid, start time, state, command line] of every process, from /proc. */
function processTable(): Map<number, [ppid: number, start: string, state: string, cmd: string]> {
  const table = new Map<number, [number, string, string, string]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the ")" that ends the command name: state, ppid, … start time (field 22).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      table.set(Number(entry), [Number(fields[1]), fields[19], fields[0], cmd]);
    } catch {
      // ended while we read
    }
  }
  return table;
}

/** Every descendant of `pid` as { pid, start, cmd }. */
function descendants(pid: number) {
  const table = processTable();
  const found: { pid: number; start: string; cmd: string }[] = [];
  const parents = [pid];
  for (let i = 0; i < parents.length; i++) {
    for (const [p, [ppid, start, , cmd]] of table) {
      if (ppid !== parents[i]) continue;
      found.push({ pid: p, start, cmd });
      parents.push(p);
    }
  }
  return found;
}

describe('npm run bench: an interrupted or killed run leaves no process behind', () => {
  // Two nginx instances (the origin and the nginx-proxy scenario), each a master and a worker:
  // a SIGKILLed master cannot end its worker, so children are ended as process groups.
  test.each(['SIGINT', 'SIGTERM', 'SIGKILL'] as const)(
    '%s to the harness ends every process it started, nginx workers too',
    async (signal) => {
      nginxBinary();
      const child = startNode(RUN, {}, [
        ...['--only', 'nginx-proxy', '--upstream', 'nginx', '--extras', 'none'],
        ...['--rounds', '3', '--duration', '4', '--warmup', '0'],
      ]);
      children.push(child);
      const pid = child.proc.pid!;
      let tree = descendants(pid);
      for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
        tree = descendants(pid);
        if (tree.filter((p) => p.cmd.startsWith('nginx: worker process')).length >= 2) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(tree.filter((p) => p.cmd.startsWith('nginx: worker process'))).toHaveLength(2);
      child.proc.kill(signal);
      expect(await child.exited).toBe({ SIGINT: 130, SIGTERM: 143, SIGKILL: 'SIGKILL' }[signal]);
      // The same processes (pid and start time), alive: zombies wait for PID 1 to reap them.
      const left = () => {
        const table = processTable();
        return tree.filter(({ pid: p, start }) => table.get(p)?.[1] === start && table.get(p)?.[2] !== 'Z');
      };
      for (const deadline = Date.now() + 5000; left().length && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(left()).toEqual([]);
    },
    20_000,
  );
});
