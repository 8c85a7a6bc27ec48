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
  beforeAll(async () => {
    run = await bench(['--quick']);
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
    expect(run.results!.budgets).toHaveLength(10);
    for (const budget of run.results!.budgets) {
      expect(budget.status).toMatch(/^(PASS|FAIL|SKIP)$/);
      // 'unreliable': an idle RSS reading shrank under load (bench/lib/report.js says re-run).
      expect(budget.detail).toMatch(
        budget.status === 'SKIP' ? /not measured|not built|^unreliable: .+; re-run$/ : /\d/,
      );
      expect(run.stdout).toContain(`${budget.status} ${budget.text}: ${budget.detail}`);
    }
  });
});

describe('npm run bench -- --report FILE: budget verdicts on a saved run', () => {
  const ok = (median: Record<string, number>) => ({ status: 'ok', median, runs: [], samples: [] });
  // Each budget sits exactly on, just past, or without its threshold.
  const saved = {
    meta: {
      date: '2026-01-01T00:00:00.000Z',
      command: 'npm run bench',
      quick: false,
      node: 'v20',
      os: 'Linux',
      cpus: 2,
      cpuModel: 'test CPU',
      memoryGb: 1,
      load: { tool: 'wrk', description: 'wrk -t1 -c50', version: 'wrk 4' },
      nginx: null,
      packages: {},
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
      'express-hello': ok({ rps: 1000, cpuUsPerRequest: 70 }),
      'nexthop-hello': ok({ rps: 900, cpuUsPerRequest: 77 }),
      'nexthop-hello-no-log': ok({ rps: 1062, cpuUsPerRequest: 66 }),
      'nexthop-proxy': ok({ rps: 2000, cpuUsPerRequest: 100 }),
      'express-pipe-proxy': ok({ rps: 2000, cpuUsPerRequest: 100 }),
      'express-hpm': ok({ rps: 1001, cpuUsPerRequest: 200 }),
      'fastify-proxy': ok({ rps: 3000, cpuUsPerRequest: 60 }),
      'node-undici-proxy': ok({ rps: 2800, cpuUsPerRequest: 70 }),
    },
    idle: {
      'express-hello': ok({ perThousandMb: -1, heapPerThousandMb: 2.6 }),
      'nexthop-hello': ok({ perThousandMb: 5, heapPerThousandMb: 2.6 }),
    },
    upload: {
      'node-pipe-proxy': ok({ mbPerSec: 500, peakRssMb: 80 }),
      'nexthop-proxy': ok({ mbPerSec: 400, peakRssMb: 100 }),
    },
    cold: { 'express-hello': ok({ ms: 100 }), 'nexthop-hello': ok({ ms: 120 }) },
  };

  test.each([
    ['PASS', 'App route through the full default stack', /0\.900× .*by server CPU per request 0\.91×/],
    ['FAIL', 'Access log costs ≤ 15%', /0\.847×/],
    ['PASS', 'Proxied request ≥ 0.9× Express + minimal', /1\.000×/],
    ['FAIL', 'Proxied request ≥ 4× Express + http-proxy-middleware', /1\.998× .*needs ≥ 4×/],
    ['FAIL', 'Proxied request through the full default stack ≥ 1.1× Fastify', /0\.667× .*needs ≥ 1\.1×/],
    ['PASS', 'Proxied request through the full default stack ≥ 0.7× the bare undici', /0\.714×/],
    ['FAIL', '1 GiB upload through the nexthop proxy: peak RSS < 100 MB', /100\.0 MB/],
    ['PASS', 'Upload throughput ≥ 0.8×', /0\.800×/],
    ['SKIP', 'Idle keep-alive connections', /unreliable: express-hello measured -1\.00/],
    ['PASS', 'Cold start', /1\.200× .*needs ≤ 1\.2×/],
  ])('%s %s', async (status, text, detail) => {
    const dir = tempDir('nexthop-bench-report-');
    dirs.push(dir);
    const file = path.join(dir, 'saved.json');
    fs.writeFileSync(file, JSON.stringify(saved));
    const child = startNode(RUN, {}, ['--report', file, '--fail-on-budget']);
    children.push(child);
    expect(await child.exited).toBe(2);
    const line = child
      .stdout()
      .split('\n')
      .find((l) => /^(PASS|FAIL|SKIP) /.test(l) && l.includes(text));
    expect(line).toMatch(new RegExp(`^${status} `));
    expect(line).toMatch(detail);
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
