'use strict';
// Per-request cost of nexthop's request-context stack (clientIp, forwardedProto, requestId,
// geo, securityHeaders) beside bare Express. Two measurements:
//   1. in-process: the five middleware called directly on stand-in req/res objects (ns/request);
//   2. over HTTP: autocannon against two servers on 127.0.0.1, a few seconds each.
// Needs a build first (`npm run build`). Not part of `npm test`.
//   node bench/request-context.js            # 3 s per HTTP run
//   BENCH_DURATION=10 node bench/request-context.js
const http = require('node:http');
const net = require('node:net');
const express = require('express');
const autocannon = require('autocannon');
const helmet = require('helmet').default;
const nexthop = require('..');

const DURATION = Number(process.env.BENCH_DURATION || 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 20);

const PLATFORM_HEADERS = {
  'true-client-ip': '203.0.113.7',
  'x-forwarded-for': '203.0.113.7, 10.1.0.3',
  'x-forwarded-proto': 'https',
  'section-io-id': 'edge-0123456789abcdef',
  'section-io-geo-country-code': 'NZ',
  'section-io-geo-city': 'Auckland',
  'section-io-geo-latlon': '-36.8485,174.7633',
};

function stack() {
  const trust = nexthop.compileTrust();
  const shared = { trustedProxies: trust };
  return {
    trust,
    handlers: [
      nexthop.clientIp(shared),
      nexthop.forwardedProto(shared),
      nexthop.requestId(shared),
      nexthop.geo(shared),
      nexthop.securityHeaders(),
    ],
  };
}

function route(req, res) {
  res.json({ ip: req.ip, secure: req.secure, id: req.id, country: req.geo && req.geo.countryCode });
}

/**
 * The stack called directly on real request/response objects, prepared the way Express
 * prepares them (prototype switched to the app's), timing only the middleware plus what a
 * route reads and the head being built. Best of several rounds: the machine may be shared.
 */
function inProcess() {
  const app = express();
  const socket = new net.Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: '10.1.0.3' });
  const make = () => {
    const req = new http.IncomingMessage(socket);
    req.headers = { ...PLATFORM_HEADERS };
    Object.setPrototypeOf(req, app.request);
    req.app = app;
    const res = new http.ServerResponse(req);
    Object.setPrototypeOf(res, app.response);
    res.locals = {};
    return [req, res];
  };
  const noop = () => {};
  const measure = (handlers) => {
    const pairs = Array.from({ length: 5000 }, make);
    const start = process.hrtime.bigint();
    for (const [req, res] of pairs) {
      for (const handler of handlers) handler(req, res, noop);
      if (req.ip === undefined || typeof req.secure !== 'boolean') throw new Error('bad stack');
      res.writeHead(200);
    }
    return Number(process.hrtime.bigint() - start) / pairs.length;
  };
  const variants = { bare: [], helmet: [helmet()], stack: stack().handlers };
  const best = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, handlers] of Object.entries(variants)) {
      best[name] = Math.min(best[name] ?? Infinity, measure(handlers));
    }
  }
  return best;
}

function listen(app) {
  return new Promise((resolve) => {
    const server = http.createServer(app).listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function load(server) {
  const { port } = server.address();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections: CONNECTIONS,
    duration: DURATION,
    headers: PLATFORM_HEADERS,
  });
  if (result.non2xx || result.errors)
    throw new Error(`bench run had ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

async function overHttp() {
  const bare = express();
  bare.disable('x-powered-by');
  bare.get('/', route);

  const full = express();
  full.disable('x-powered-by');
  const { trust, handlers } = stack();
  full.set('trust proxy', trust);
  full.use(...handlers);
  full.get('/', route);

  const servers = [await listen(bare), await listen(full)];
  try {
    await load(servers[0]); // warm-up, discarded
    const bareResult = await load(servers[0]);
    const fullResult = await load(servers[1]);
    return { bare: bareResult, full: fullResult };
  } finally {
    for (const server of servers) server.close();
  }
}

async function main() {
  const micro = inProcess();
  console.log(`in-process, best of ${ROUNDS} rounds of 5000 requests (req.ip, req.secure read; head built):`);
  console.log(`  bare Express objects      ${micro.bare.toFixed(0).padStart(6)} ns`);
  console.log(`  helmet() alone            ${micro.helmet.toFixed(0).padStart(6)} ns`);
  console.log(`  request-context stack     ${micro.stack.toFixed(0).padStart(6)} ns`);
  console.log(
    `  stack overhead            ${(micro.stack - micro.bare).toFixed(0).padStart(6)} ns per request`,
  );
  const { bare, full } = await overHttp();
  const row = (name, r) =>
    `${name.padEnd(26)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${r.p50} ms   p99 ${r.p99} ms`;
  console.log(`HTTP, ${CONNECTIONS} connections, ${DURATION} s each, 127.0.0.1:`);
  console.log(row('bare Express', bare));
  console.log(row('Express + request context', full));
  const overheadUs = (1 / full.rps - 1 / bare.rps) * 1e6;
  console.log(
    `overhead: ${overheadUs.toFixed(1)} µs per request (${((1 - full.rps / bare.rps) * 100).toFixed(1)}% fewer req/s)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
