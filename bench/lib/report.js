// Turns the harness's results into Markdown: the throughput table with ratios against the
// references of the same run, the extras, and the budgets as PASS/FAIL lines.
'use strict';
const { SCENARIOS, REFERENCES, EXTRAS, BUDGETS } = require('../scenarios');

const MB = 1024 * 1024;

/** Median of a list of numbers (mean of the two middle ones for an even count). */
function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function fmt(value, digits = 0) {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN;
}

function table(head, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((h, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function notes(entries) {
  return entries
    .filter(([, r]) => r.status !== 'ok')
    .map(([id, r]) => `- ${id}: ${r.status}: ${r.note}`)
    .join('\n');
}

/** Scenarios whose rounds disagree (other processes took the CPU): req/s is not to be trusted. */
function noisyNote(results) {
  const noisy = Object.entries(results.throughput).filter(
    ([, r]) => r.status === 'ok' && r.spread > NOISY_SPREAD,
  );
  if (noisy.length === 0) return '';
  const list = noisy.map(([id, r]) => `${id} ${fmt(r.spread, 1)}×`).join(', ');
  return (
    `- Disturbed run: req/s differed between rounds (fastest / slowest) for ${list}. ` +
    'Server CPU µs per request is steadier; re-run on a quiet machine before trusting req/s.'
  );
}

/** What the nexthop scenarios wrote to their access-log files: proof the log was on, or not. */
function accessLogNotes(results) {
  return SCENARIOS.filter((s) => s.id.startsWith('nexthop') && results.throughput[s.id]?.status === 'ok')
    .map((s) => {
      const bytes = results.throughput[s.id].accessLogBytes;
      return bytes > 0
        ? `- ${s.id}: access log on, ${fmt(bytes / MB, 1)} MB written per run (median)`
        : `- ${s.id}: no access-log file written`;
    })
    .join('\n');
}

function throughputSection(results) {
  const { meta } = results;
  const refRps = REFERENCES.map((ref) => results.throughput[ref.id]?.median?.rps);
  const rows = [];
  for (const scenario of SCENARIOS) {
    const r = results.throughput[scenario.id];
    if (!r || r.status !== 'ok') continue;
    const m = r.median;
    rows.push([
      scenario.title,
      fmt(m.rps),
      fmt(m.p50Ms, 2),
      fmt(m.p99Ms, 2),
      fmt(m.peakRssMb, 1),
      fmt(m.cpuUsPerRequest, 1),
      fmt(r.errors + r.non2xx),
      ...refRps.map((ref) => fmt(ratio(m.rps, ref), 2)),
    ]);
  }
  const head = [
    'setup',
    'req/s',
    'p50 ms',
    'p99 ms',
    'peak RSS MB',
    'server CPU µs/req',
    'errors',
    ...REFERENCES.map((r) => r.label),
  ];
  const skipped = [notes(Object.entries(results.throughput)), accessLogNotes(results), noisyNote(results)]
    .filter(Boolean)
    .join('\n');
  return [
    `## Throughput`,
    '',
    `${meta.load.description}, ${meta.duration} s per run after ${meta.warmup} s warm-up, ${meta.rounds} interleaved ` +
      `round(s), medians; ${meta.pinned ? 'server pinned to CPU 0, load and upstream to CPU 1' : 'no CPU pinning'}; ` +
      `upstream: ${meta.upstream}; ` +
      (Object.keys(meta.headers).length
        ? `requests carry the platform's headers (${Object.keys(meta.headers).join(', ')}).`
        : 'bare requests (--no-platform-headers).'),
    '',
    table(head, rows),
    skipped ? `\n${skipped}` : '',
  ].join('\n');
}

/**
 * A table for one extra (`group`): one row per setup of EXTRAS[group], built by `cells(r)`,
 * plus a ratio of the median `field` against the first (reference) setup.
 */
function extraSection(results, group, title, head, field, cells) {
  const entries = EXTRAS[group].map((id) => [id, results[group][id]]).filter(([, r]) => r);
  const ref = medianOf(results, group, EXTRAS[group][0], field);
  const rows = entries
    .filter(([, r]) => r.status === 'ok')
    .map(([id, r]) => [id, ...cells(r), fmt(ratio(r.median[field], ref), 2)]);
  const skipped = notes(entries);
  return [`## ${title}`, '', table(['setup', ...head], rows), skipped ? `\n${skipped}` : ''].join('\n');
}

const EXTRA_SECTIONS = {
  idle: (results) =>
    extraSection(
      results,
      'idle',
      `Idle keep-alive connections (${fmt(results.meta.idleConnections)} per run)`,
      ['RSS before MB', 'RSS with connections MB', 'still open', 'JS heap with connections MB', 'vs Express'],
      'afterMb',
      (r) => [
        fmt(r.median.beforeMb, 1),
        fmt(r.median.afterMb, 1),
        `${r.alive}/${r.count}`,
        fmt(r.median.heapAfterMb, 1),
      ],
    ),
  upload: (results) =>
    extraSection(
      results,
      'upload',
      `${fmt(results.meta.uploadBytes / MB)} MiB upload through the proxy`,
      ['peak RSS MB', 'MB/s', 'vs pipe proxy'],
      'mbPerSec',
      (r) => [fmt(r.median.peakRssMb, 1), fmt(r.median.mbPerSec)],
    ),
  cold: (results) =>
    extraSection(
      results,
      'cold',
      'Cold start (spawn to first 200)',
      ['samples ms', 'median ms', 'vs Express'],
      'ms',
      (r) => [r.samples.map((s) => fmt(s, 0)).join(', '), fmt(r.median.ms, 1)],
    ),
};

function medianOf(results, group, id, field) {
  const r = id && results[group] && results[group][id];
  return r && r.median ? r.median[field] : NaN;
}

/**
 * Steadier measures shown next to a budget's ratio: on a shared machine req/s moves with other
 * processes' load, the server's CPU time per request much less (lower is better, so the ratio
 * is inverted); RSS moves with the allocator, the JS heap after a full GC hardly at all.
 */
const CROSS_CHECKS = {
  throughput: { field: 'cpuUsPerRequest', label: 'by server CPU per request', inverted: true },
  idle: { field: 'heapAfterMb', label: 'JS heap alone', inverted: false },
};

/** Rounds whose req/s differ by more than this (fastest / slowest) mark a disturbed run. */
const NOISY_SPREAD = 1.25;

function crossCheck(results, { group, a, b }) {
  const check = CROSS_CHECKS[group];
  if (!check) return '';
  const [x, y] = [medianOf(results, group, a, check.field), medianOf(results, group, b, check.field)];
  const r = check.inverted ? ratio(y, x) : ratio(x, y);
  const spread = Math.max(results[group][a]?.spread || 1, results[group][b]?.spread || 1);
  const noisy = spread > NOISY_SPREAD ? `; NOISY: req/s rounds differ up to ${fmt(spread, 1)}×` : '';
  return Number.isFinite(r) ? `; ${check.label} ${fmt(r, 2)}×${noisy}` : noisy;
}

/** A note when the run measured less than the budget names (--upload-mb, --idle, e.g. --quick). */
function smallerRun(meta, group) {
  if (group === 'upload' && meta.uploadBytes < 1024 * MB)
    return ` (upload was ${fmt(meta.uploadBytes / MB)} MiB, not 1 GiB)`;
  if (group === 'idle' && meta.idleConnections !== 1000)
    return ` (${fmt(meta.idleConnections)} connections, not 1,000)`;
  return '';
}

/** Evaluate every budget against `results`: { text, status: PASS|FAIL|SKIP, ratio?, detail }. */
function evaluateBudgets(results) {
  return BUDGETS.map((budget) => {
    const { text, group, field, a, b } = budget;
    const value = medianOf(results, group, a, field);
    const reference = medianOf(results, group, b, field);
    const partial = smallerRun(results.meta, group);
    if (budget.limit !== undefined) {
      if (!Number.isFinite(value)) return { text, status: 'SKIP', detail: `${a} not measured in this run` };
      const status = value < budget.limit ? 'PASS' : 'FAIL';
      return { text, status, value, detail: `${fmt(value, 1)} ${budget.unit}${partial}` };
    }
    if (!Number.isFinite(value) || !Number.isFinite(reference) || reference <= 0) {
      const known = SCENARIOS.some((s) => s.id === b);
      const why = budget.missing && !known ? budget.missing : `${a} / ${b} not measured in this run`;
      return { text, status: 'SKIP', detail: why };
    }
    const r = ratio(value, reference);
    const pass = budget.min !== undefined ? r >= budget.min : r <= budget.max;
    const need = budget.min !== undefined ? `≥ ${budget.min}×` : `≤ ${budget.max}×`;
    const cross = crossCheck(results, budget);
    const detail = `${fmt(r, 3)}× (${a} ${fmt(value, 2)} / ${b} ${fmt(reference, 2)}; needs ${need}${cross})${partial}`;
    return { text, status: pass ? 'PASS' : 'FAIL', ratio: r, detail };
  });
}

function budgetSection(results) {
  const lines = results.budgets.map((b) => `${b.status} ${b.text}: ${b.detail}`);
  const quick = results.meta.quick ? '\n\n(--quick run: a smoke check, the ratios are only indicative)' : '';
  return ['## Budgets', '', '```', ...lines, '```' + quick].join('\n');
}

/** The whole Markdown report. */
function render(results) {
  const { meta } = results;
  const parts = [
    `# nexthop bench — ${meta.date}`,
    '',
    `Command: \`${meta.command}\``,
    '',
    `Node ${meta.node} on ${meta.os}, ${meta.cpus} × ${meta.cpuModel}, ${fmt(meta.memoryGb, 0)} GB RAM; ` +
      `load: ${meta.load.version}; nginx: ${meta.nginx || 'not installed'}.`,
    '',
    `Packages: ${Object.entries(meta.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
    throughputSection(results),
  ];
  for (const [group, section] of Object.entries(EXTRA_SECTIONS)) {
    if (results[group] && Object.keys(results[group]).length) parts.push('', section(results));
  }
  parts.push('', budgetSection(results));
  if (meta.notes.length) parts.push('', '## Notes', '', ...meta.notes.map((n) => `- ${n}`));
  return `${parts.join('\n')}\n`;
}

module.exports = { median, render, evaluateBudgets, fmt, ratio, MB };
