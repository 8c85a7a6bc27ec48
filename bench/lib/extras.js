// The extras of `npm run bench`: memory with idle keep-alive connections open, a large upload
// streamed through the proxy, and cold start. Each compares a nexthop setup with its
// reference, interleaved, and keeps the medians.
'use strict';
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const procs = require('./procs');
const { startServer } = require('./servers');
const { median, MB } = require('./report');

/** The server's memory after full GCs: the `reading`-th MEMORY line it prints on SIGUSR2. */
async function settledMemory(server, reading) {
  process.kill(server.child.pid, 'SIGUSR2');
  const [, json] = await procs.waitForOutput(
    server.child,
    new RegExp(`^MEMORY ${reading} (.*)$`, 'm'),
    10000,
  );
  return JSON.parse(json);
}

/**
 * What a user pays for `count` idle keep-alive connections: the server's RSS and JS heap
 * after full GCs with the connections open, after the same warm-up for every setup (the
 * reading before they open is kept for context).
 */
async function idleOnce(ctx, scenario) {
  const server = await startServer(ctx, scenario, ctx.upstreams.hello, { nodeArgs: ['--expose-gc'] });
  const arg = JSON.stringify({ port: server.port, path: '/hello', count: ctx.opts.idle });
  const client = procs.start(process.execPath, [path.join(__dirname, 'idle-client.js'), arg], {
    cpu: 1,
    name: 'idle client',
    stdin: 'pipe',
  });
  try {
    await procs.waitForOutput(client, /^WARM$/m);
    await sleep(500);
    const before = await settledMemory(server, 1);
    client.proc.stdin.write('OPEN\n');
    const [, opened] = await procs.waitForOutput(client, /^OPEN (\d+)$/m);
    const after = await settledMemory(server, 2);
    client.proc.stdin.write('STATUS\n');
    const [, alive] = await procs.waitForOutput(client, /^ALIVE (\d+)$/m);
    return {
      before: before.rss,
      after: after.rss,
      heapBefore: before.heapUsed,
      heapAfter: after.heapUsed,
      opened: Number(opened),
      alive: Number(alive),
    };
  } finally {
    client.proc.stdin.end();
    await client.stop();
    await server.child.stop();
  }
}

/** One upload of `ctx.opts.uploadBytes` through the proxy to the counting upstream. */
async function uploadOnce(ctx, scenario) {
  const server = await startServer(ctx, scenario, ctx.upstreams.sink);
  const bytes = ctx.opts.uploadBytes;
  const arg = JSON.stringify({ port: server.port, path: '/upload', bytes });
  const client = procs.start(process.execPath, [path.join(__dirname, 'upload-client.js'), arg], {
    cpu: 1,
    name: 'upload client',
  });
  try {
    // Bounded: even at 10 MB/s the upload would be done in bytes / 10 MB + 30 s.
    const timer = setTimeout(() => client.proc.kill('SIGKILL'), (bytes / (10 * MB) + 30) * 1000);
    const [, json] = await procs.waitForOutput(
      client,
      /^UPLOAD_JSON (.*)$/m,
      (bytes / (10 * MB) + 31) * 1000,
    );
    clearTimeout(timer);
    const r = JSON.parse(json);
    if (r.status !== 200 || r.received !== bytes) {
      throw new Error(`upload answered ${r.status}, upstream counted ${r.received} of ${bytes} bytes`);
    }
    return { mbPerSec: bytes / MB / (r.ms / 1000), peakRss: procs.peakRss(server.child.pid) };
  } finally {
    await client.stop();
    await server.child.stop();
  }
}

/** Milliseconds from spawning the server to its first 200 on GET /hello. */
async function coldOnce(ctx, scenario) {
  const server = await startServer(ctx, scenario, ctx.upstreams.hello, { pollMs: 2 });
  await server.child.stop();
  if (server.first.status !== 200) throw new Error(`first answer was ${server.first.status}`);
  return server.startMs;
}

/**
 * Run `once(ctx, scenario)` `times` times for each scenario id in `ids`, interleaved; returns
 * { [id]: { status, samples, note? } }. A scenario that is unavailable is skipped with a note.
 */
async function interleave(ctx, ids, times, once, label) {
  const out = {};
  for (const id of ids) {
    const why = ctx.unavailable(id);
    out[id] = why ? { status: 'skipped', note: why, samples: [] } : { status: 'ok', samples: [] };
  }
  for (let i = 0; i < times; i++) {
    for (const id of ids) {
      if (out[id].status !== 'ok') continue;
      try {
        const sample = await once(ctx, ctx.scenario(id));
        out[id].samples.push(sample);
        ctx.progress(`[${label} ${i + 1}/${times}] ${id}: ${ctx.describe(sample)}`);
      } catch (err) {
        out[id] = { status: 'failed', note: err.message.split('\n')[0], detail: err.message, samples: [] };
        ctx.progress(`[${label}] ${id} failed: ${err.message}`);
      }
    }
  }
  return out;
}

async function idle(ctx, ids) {
  const out = await interleave(ctx, ids, ctx.opts.rounds, idleOnce, 'idle');
  for (const r of Object.values(out)) {
    if (r.status !== 'ok') continue;
    const count = ctx.opts.idle;
    r.count = count;
    r.alive = Math.min(...r.samples.map((s) => s.alive));
    r.median = {
      beforeMb: median(r.samples.map((s) => s.before / MB)),
      afterMb: median(r.samples.map((s) => s.after / MB)),
      heapAfterMb: median(r.samples.map((s) => s.heapAfter / MB)),
    };
    if (r.alive < count) r.note = `only ${r.alive} of ${count} connections were still open when measured`;
  }
  return out;
}

async function upload(ctx, ids) {
  const out = await interleave(ctx, ids, ctx.opts.rounds, uploadOnce, 'upload');
  for (const r of Object.values(out)) {
    if (r.status !== 'ok') continue;
    r.median = {
      mbPerSec: median(r.samples.map((s) => s.mbPerSec)),
      peakRssMb: median(r.samples.map((s) => s.peakRss / MB)),
    };
  }
  return out;
}

async function cold(ctx, ids) {
  // One unmeasured start of each first, so every measured start finds the files in the page cache.
  for (const id of ids) if (!ctx.unavailable(id)) await coldOnce(ctx, ctx.scenario(id)).catch(() => {});
  const out = await interleave(ctx, ids, ctx.opts.cold, coldOnce, 'cold start');
  for (const r of Object.values(out)) if (r.status === 'ok') r.median = { ms: median(r.samples) };
  return out;
}

module.exports = { idle, upload, cold };
