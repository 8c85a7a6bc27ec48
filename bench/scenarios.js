// What `npm run bench` measures: the throughput scenarios (one server file each in
// bench/servers/, run interleaved), the extras, and the budgets from the performance issue.
'use strict';

/**
 * Throughput scenarios, in run order. `needs`: nexthop exports the scenario requires (it is
 * skipped with a note until they exist); `nginx`: runs nginx instead of a node server file.
 */
const SCENARIOS = [
  { id: 'node-hello', title: 'bare node http hello', server: 'node-hello.js' },
  { id: 'express-hello', title: 'Express 5 hello (`res.send`)', server: 'express-hello.js' },
  {
    id: 'express-diy-hello',
    title: 'Express + helmet + client IP + winston access line (hand-built)',
    server: 'express-diy-hello.js',
  },
  {
    id: 'nexthop-hello',
    title: 'nexthop createApp() default stack + access log + hello route',
    server: 'nexthop-hello.js',
    needs: ['createApp', 'serve'],
  },
  {
    id: 'nexthop-hello-no-log',
    title: 'nexthop hello, access log off',
    server: 'nexthop-hello-no-log.js',
    needs: ['createApp', 'serve', 'accessLog'],
  },
  {
    id: 'nexthop-proxy',
    title: 'nexthop createApp() default stack + nextHopProxy()',
    server: 'nexthop-proxy.js',
    needs: ['createApp', 'serve', 'nextHopProxy'],
  },
  {
    id: 'express-hpm',
    title: 'Express + http-proxy-middleware 3 default (new upstream connection per request)',
    server: 'express-hpm.js',
  },
  {
    id: 'express-hpm-keepalive',
    title: 'Express + http-proxy-middleware 3 + keep-alive agent',
    server: 'express-hpm-keepalive.js',
  },
  {
    id: 'express-pipe-proxy',
    title: 'Express + minimal keep-alive pipe proxy',
    server: 'express-pipe-proxy.js',
  },
  {
    id: 'node-pipe-proxy',
    title: 'node http + minimal keep-alive pipe proxy (no Express)',
    server: 'node-pipe-proxy.js',
  },
  {
    id: 'node-undici-proxy',
    title: 'node http + undici Pool proxy (no framework): the practical ceiling',
    server: 'node-undici-proxy.js',
  },
  { id: 'fastify-proxy', title: 'Fastify 5 + @fastify/http-proxy', server: 'fastify-proxy.js' },
  { id: 'nginx-proxy', title: 'nginx proxy_pass with upstream keepalive', nginx: true },
];

/** The two references every throughput row is compared with (columns of the table). */
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
 * The budgets of the performance issue, never loosened. Each compares `results[group][a]` with
 * `results[group][b]` (their median `field`): the ratio a / b must be ≥ `min` or ≤ `max`; a
 * `limit` budget compares a alone with a fixed bound (in `unit`).
 */
const BUDGETS = [
  [
    'App route through the full default stack ≥ 0.9× bare Express hello',
    'throughput',
    'rps',
    'nexthop-hello',
    'express-hello',
    { min: 0.9 },
  ],
  [
    'Access log costs ≤ 15% of throughput (with / without ≥ 0.85×)',
    'throughput',
    'rps',
    'nexthop-hello',
    'nexthop-hello-no-log',
    { min: 0.85 },
  ],
  [
    'Proxied request ≥ 0.9× Express + minimal keep-alive pipe proxy',
    'throughput',
    'rps',
    'nexthop-proxy',
    'express-pipe-proxy',
    { min: 0.9 },
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
    'Proxied request through the full default stack ≥ 1.1× Fastify + @fastify/http-proxy',
    'throughput',
    'rps',
    'nexthop-proxy',
    'fastify-proxy',
    { min: 1.1 },
  ],
  [
    'Proxied request through the full default stack ≥ 0.7× the bare undici Pool proxy',
    'throughput',
    'rps',
    'nexthop-proxy',
    'node-undici-proxy',
    { min: 0.7 },
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
    'Idle keep-alive connections: RSS per 1,000 ≤ 1.1× bare Express',
    'idle',
    'perThousandMb',
    'nexthop-hello',
    'express-hello',
    { max: 1.1 },
  ],
  [
    'Cold start (spawn to first 200) ≤ 1.2× bare Express',
    'cold',
    'ms',
    'nexthop-hello',
    'express-hello',
    { max: 1.2 },
  ],
].map(([text, group, field, a, b, bound]) => ({ text, group, field, a, b, ...bound }));

module.exports = { SCENARIOS, REFERENCES, EXTRAS, BUDGETS };
