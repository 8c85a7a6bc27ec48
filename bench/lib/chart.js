// The chart of docs/BENCHMARKS.md (`--svg FILE`): one horizontal bar per measured throughput
// scenario, its req/s as a ratio of the fastest peer of its group (app routes, proxied
// requests), written as plain SVG text.
'use strict';
const { groupedRows } = require('./summary');
const { fmt } = require('./report');

const WIDTH = 760;
const LABEL_WIDTH = 190;
const BAR_MAX = 470;
const BAR_HEIGHT = 16;
const ROW = 22;
const COLOURS = { nexthop: '#2563eb', peer: '#6b7280', other: '#c4c9d1' };

function escapeXml(text) {
  return String(text).replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c],
  );
}

function kindOf(scenario) {
  if (scenario.id.startsWith('nexthop')) return 'nexthop';
  return scenario.peer ? 'peer' : 'other';
}

/** Round the largest ratio up to a half, so the scale ends on a labelled tick. */
function scaleMax(groups) {
  const ratios = groups.flatMap(({ rows }) => rows.map((row) => row.ratio)).filter(Number.isFinite);
  return Math.max(1, Math.ceil(Math.max(0, ...ratios) * 2) / 2);
}

function legend(y) {
  const items = [
    ['nexthop', 'nexthop'],
    ['peer', 'peer (what a user would pick instead)'],
    ['other', 'ceiling for scale (bare node, minimal proxies, nginx)'],
  ];
  let x = 10;
  return items.map(([kind, text]) => {
    const out =
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLOURS[kind]}"/>` +
      `<text x="${x + 16}" y="${y}">${escapeXml(text)}</text>`;
    x += 24 + text.length * 6.2;
    return out;
  });
}

/** The SVG document for `results` (a run of bench/run.js, or a saved --json file). */
function renderChart(results) {
  const groups = groupedRows(results);
  const max = scaleMax(groups);
  const x = (r) => LABEL_WIDTH + (Math.max(0, r) / max) * BAR_MAX;
  const body = [];
  let y = 28;
  body.push(
    `<text x="10" y="${y}" font-size="14" font-weight="bold">req/s as a ratio of the fastest peer in the same run</text>`,
  );
  y += 14;
  for (const { group, rows, best } of groups) {
    y += 22;
    const reference = best ? `1.00× = ${best.scenario.id}, ${fmt(best.rps)} req/s` : 'no peer measured';
    body.push(
      `<text x="10" y="${y}" font-weight="bold">${escapeXml(group.label)}: ${escapeXml(reference)}</text>`,
    );
    const top = y + 8;
    for (const row of rows) {
      y += ROW;
      const width = Number.isFinite(row.ratio) ? x(row.ratio) - LABEL_WIDTH : 0;
      body.push(
        `<text x="${LABEL_WIDTH - 8}" y="${y}" text-anchor="end">${escapeXml(row.scenario.id)}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y - 12}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" ` +
          `fill="${COLOURS[kindOf(row.scenario)]}"><title>${escapeXml(row.scenario.title)}</title></rect>`,
        `<text x="${(LABEL_WIDTH + width + 4).toFixed(1)}" y="${y}">${fmt(row.ratio, 2)}×</text>`,
      );
    }
    if (best) {
      const one = x(1).toFixed(1);
      body.push(
        `<line x1="${one}" y1="${top}" x2="${one}" y2="${y + 6}" stroke="#111827" stroke-dasharray="4 3"/>`,
      );
    }
  }
  y += 30;
  body.push(...legend(y));
  const height = y + 14;
  const notes = results.meta.quick ? ' (a --quick smoke run: not meaningful)' : '';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `font-family="sans-serif" font-size="12" role="img">`,
    `<title>nexthop bench: req/s as a ratio of the fastest peer${escapeXml(notes)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

module.exports = { renderChart };
