'use strict';
// Cost of the access log: the same hello route with and without accessLog(), bare Express
// and through createApp()'s default stack, each server in its own process on 127.0.0.1.
// Reports server CPU per request (process.cpuUsage, steadier than req/s on a shared
// machine; for a CPU-bound server, throughput ratio = inverse CPU ratio), medians of
// interleaved rounds. Needs `npm run build` first.
//   node bench/access-log.js                  # 3 rounds of 20,000 requests per setup
//   BENCH_REQUESTS=50000 BENCH_ROUNDS=5 node bench/access-log.js
const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SETUPS = ['express', 'express+accessLog', 'createApp(accessLog:false)', 'createApp()'];

function server(setup) {
  const express = require('express');
  const nexthop = require('..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexthop-bench-'));
  const logger = nexthop.createLogger({ dir, console: false });
  let app;
  if (setup.startsWith('express')) {
    app = express();
    if (setup === 'express+accessLog') app.use(nexthop.accessLog({ logger }));
  } else {
    const config = nexthop.loadConfig({ LOG_DIR: dir });
    app = nexthop.createApp({ logger, config, accessLog: setup === 'createApp()' ? {} : false });
  }
  app.get('/hello', (req, res) => res.send('hello'));
  let cpu;
  const listener = app.listen(0, '127.0.0.1', () => process.send({ port: listener.address().port }));
  process.on('message', async (msg) => {
    if (msg === 'start') {
      cpu = process.cpuUsage();
      return process.send({ started: true });
    }
    const used = process.cpuUsage(cpu);
    await nexthop.closeLogger(logger);
    fs.rmSync(dir, { recursive: true, force: true });
    process.send({ cpuMs: (used.user + used.system) / 1000 });
    process.exit(0);
  });
}

function next(child) {
  return new Promise((resolve) => child.once('message', resolve));
}

async function measure(setup, requests) {
  const autocannon = require('autocannon');
  const child = fork(path.join(__dirname, 'access-log.js'), [setup]);
  const { port } = await next(child);
  const url = `http://127.0.0.1:${port}/hello`;
  await autocannon({ url, connections: 10, amount: 3000 }); // warm-up
  child.send('start');
  await next(child);
  await autocannon({ url, connections: 10, amount: requests });
  child.send('stop');
  const { cpuMs } = await next(child);
  return (cpuMs * 1000) / requests;
}

async function main() {
  const requests = Number(process.env.BENCH_REQUESTS || 20000);
  const rounds = Number(process.env.BENCH_ROUNDS || 3);
  const runs = Object.fromEntries(SETUPS.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) for (const s of SETUPS) runs[s].push(await measure(s, requests));
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const us = (s) => median(runs[s]);
  for (const s of SETUPS) {
    const all = runs[s].map((x) => x.toFixed(1)).join(' ');
    console.log(`${s.padEnd(28)} ${us(s).toFixed(1).padStart(7)} µs CPU/request (runs: ${all})`);
  }
  const ratio = (base, withLog) => (us(base) / us(withLog)).toFixed(3);
  console.log(`access log throughput ratio, bare Express:  ${ratio('express', 'express+accessLog')}`);
  console.log(
    `access log throughput ratio, createApp():   ${ratio('createApp(accessLog:false)', 'createApp()')}`,
  );
}

if (process.argv[2]) server(process.argv[2]);
else main();
