// What `npm run bench` measures: the throughput scenarios (one server file each in
// bench/servers/, run interleaved), the extras, and the performance budgets.
'use strict';

/**
 * Throughput scenarios, in run order.
 * - `group`: 'app' (a route the app answers) or 'proxy' (every request goes on to the
 *   upstream); the report and the chart compare a scenario with the others of its group.
 *   Without it, a scenario whose id contains "proxy" is in the proxy group.
 * - `peer`: a setup a user would pick instead of nexthop (the chart's reference is the
 *   fastest peer of the group); scenarios that are neither nexthop nor a peer are ceilings
 *   (bare node, a minimal pipe proxy, nginx) shown for scale.
 * - `needs`: nexthop exports the scenario requires (skipped with a note when one is missing).
 * - `nginx`: runs nginx instead of a node server file.
 */
const SCENARIOS = [
  { id: 'node-hello', group: 'app', title: 'bare node http hello', server: 'node-hello.js' },
  {
    id: 'express-hello',
    group: 'app',
    peer: true,
    title: 'Express 5 hello (`res.send`)',
    server: 'express-hello.js',
  },
  {
    id: 'express-diy-hello',
    group: 'app',
    peer: true,
    title: 'Express + helmet + client IP + winston access line (hand-built)',
    server: 'express-diy-hello.js',
  },
  {
    id: 'nexthop-hello',
    group: 'app',
    title: 'nexthop createApp() default stack + access log + hello route',
    server: 'nexthop-hello.js',
    needs: ['createApp', 'serve'],
  },
  {
    id: 'nexthop-hello-no-log',
    group: 'app',
    title: 'nexthop hello, access log off',
    server: 'nexthop-hello-no-log.js',
    needs: ['createApp', 'serve', 'accessLog'],
  },
  {
    id: 'nexthop-proxy',
    group: 'proxy',
    title: 'nexthop createApp() default stack + access log + nextHopProxy()',
    server: 'nexthop-proxy.js',
    needs: ['createApp', 'serve', 'nextHopProxy'],
  },
  {
    id: 'express-hpm',
    group: 'proxy',
    peer: true,
    title: 'Express + http-proxy-middleware 3 defaults (new upstream connection per request)',
    server: 'express-hpm.js',
  },
  {
    id: 'express-hpm-keepalive',
    group: 'proxy',
    peer: true,
    title: 'Express + http-proxy-middleware 3 + keep-alive agent',
    server: 'express-hpm-keepalive.js',
  },
  {
    id: 'express-pipe-proxy',
    group: 'proxy',
    peer: true,
    title: 'Express + minimal keep-alive pipe proxy',
    server: 'express-pipe-proxy.js',
  },
  {
    id: 'node-pipe-proxy',
    group: 'proxy',
    title: 'node http + minimal keep-alive pipe proxy (no Express)',
    server: 'node-pipe-proxy.js',
  },
  {
    id: 'node-undici-proxy',
    group: 'proxy',
    title: 'node http + undici Pool proxy (no framework)',
    server: 'node-undici-proxy.js',
  },
  {
    id: 'fastify-proxy',
    group: 'proxy',
    peer: true,
    title: 'Fastify 5 + @fastify/http-proxy',
    server: 'fastify-proxy.js',
  },
  { id: 'nginx-proxy', group: 'proxy', title: 'nginx proxy_pass with upstream keepalive', nginx: true },
];

/** The group of a scenario: its `group`, else 'proxy' when its id says so, else 'app'. */
function groupOf(scenario) {
  return scenario.group || (/proxy/.test(scenario.id) ? 'proxy' : 'app');
}

/** The groups, in the order the report and the chart show them. */
const GROUPS = [
  { id: 'app', label: 'App route (GET /hello answered by the app)' },
  { id: 'proxy', label: 'Proxied request (GET /hello sent on to the upstream)' },
];

/** The two references every throughput row is compared with (columns of the full report). */
const REFERENCES = [
  { id: 'express-hello', label: 'vs Express hello' },
  { id: 'fastify-proxy', label: 'vs Fastify proxy' },
];

/** Setups compared by the extras: [reference, nexthop]; ratios are against the first. */
const EXTRAS = {
  idle: ['express-hello', 'nexthop-hello'],
  upload: ['node-pipe-proxy', 'nexthop-proxy'],
  cold: ['express-hello', 'nexthop-hello'],
};

/**
 * The performance budgets. Each compares `results[group][a]` with `results[group][b]` (their
 * median `field`): the ratio a / b must be ≥ `min` or ≤ `max`; a `limit` budget compares a
 * alone with a fixed bound (in `unit`). `missing`: the reason shown (SKIP) when scenario b
 * is not part of this harness.
 */
const BUDGETS = [
  [
    'App route through the full default stack ≥ 1.3× bare Express hello',
    'throughput',
    'rps',
    'nexthop-hello',
    'express-hello',
    { min: 1.3 },
  ],
  [
    'Access log cost: with / without ≥ 0.85×',
    'throughput',
    'rps',
    'nexthop-hello',
    'nexthop-hello-no-log',
    { min: 0.85 },
  ],
  [
    'Proxied request ≥ 1.1× Fastify + @fastify/http-proxy',
    'throughput',
    'rps',
    'nexthop-proxy',
    'fastify-proxy',
    { min: 1.1 },
  ],
  [
    'Proxied request ≥ 0.7× the bare undici Pool proxy',
    'throughput',
    'rps',
    'nexthop-proxy',
    'node-undici-proxy',
    { min: 0.7, missing: 'no node-undici-proxy scenario in this harness' },
  ],
  [
    'Proxied request ≥ 4× Express + http-proxy-middleware defaults',
    'throughput',
    'rps',
    'nexthop-proxy',
    'express-hpm',
    { min: 4 },
  ],
  [
    '1 GiB upload through the nexthop proxy: peak RSS < 100 MB',
    'upload',
    'peakRssMb',
    'nexthop-proxy',
    null,
    { limit: 100, unit: 'MB' },
  ],
  [
    'Upload throughput ≥ 0.8× the minimal pipe proxy',
    'upload',
    'mbPerSec',
    'nexthop-proxy',
    'node-pipe-proxy',
    { min: 0.8 },
  ],
  [
    'RSS with 1,000 idle keep-alive connections open ≤ 1.1× bare Express',
    'idle',
    'afterMb',
    'nexthop-hello',
    'express-hello',
    { max: 1.1 },
  ],
  [
    'Cold start (spawn to first 200, LOG_LEVEL=info) ≤ 1.3× bare Express',
    'cold',
    'ms',
    'nexthop-hello',
    'express-hello',
    { max: 1.3 },
  ],
].map(([text, group, field, a, b, bound]) => ({ text, group, field, a, b, ...bound }));

module.exports = { SCENARIOS, GROUPS, groupOf, REFERENCES, EXTRAS, BUDGETS };
