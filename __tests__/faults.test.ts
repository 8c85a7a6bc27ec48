import { spawn } from 'node:child_process';
import path from 'node:path';

// Runs bench/faults.js in its short form: real clusters, real faults, on 127.0.0.1.
// The long form (60 s per scenario) and what each scenario expects: docs/resilience.md.

interface Scenario {
  scenario: string;
  sent: number;
  ok: number;
  failed: number;
  faults?: string[];
  restarts?: number;
  statuses?: Record<string, number>;
  samePid?: boolean;
  lostRequests?: number;
  refusedAfterClose?: number;
  firstRefusedAfterMs?: number | null;
  exit?: number | string;
  keepAlive?: { sent: number; ok: number };
}

test('bench/faults.js --short: faults never take the app down', async () => {
  const script = path.join(__dirname, '..', 'bench', 'faults.js');
  const proc = spawn(process.execPath, [script, '--short'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
  expect(err).toBe('');
  const report = JSON.parse(out) as { problems: string[]; scenarios: Scenario[] };
  expect(report.problems).toEqual([]);
  expect(code).toBe(0);
  const byName = Object.fromEntries(report.scenarios.map((s) => [s.scenario, s]));
  expect(byName.sigkill.faults!.length).toBeGreaterThanOrEqual(2);
  expect(byName.sigkill.restarts).toBeGreaterThanOrEqual(2);
  expect(byName.graceful.failed).toBe(0);
  expect(byName.graceful.restarts).toBeGreaterThanOrEqual(2);
  expect(byName.throws.samePid).toBe(true);
  expect(byName.throws.statuses!['500']).toBeGreaterThan(0);
  expect(byName.throws.statuses!['200']).toBe(byName.throws.ok);
  expect(byName.sigterm.lostRequests).toBe(0);
  expect(byName.sigterm.exit).toBe(0);
  for (const name of ['sigkill', 'graceful', 'throws']) expect(byName[name].sent).toBeGreaterThan(0);
  expect(byName.sigterm.keepAlive!.ok).toBeGreaterThan(0);
  expect(byName.sigterm.firstRefusedAfterMs ?? Infinity).toBeGreaterThanOrEqual(500);
}, 60_000);
