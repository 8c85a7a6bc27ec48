// Helpers shared by the benchmark servers: each server is a separate process started by
// bench/run.js with PORT (where to listen, always 127.0.0.1) and UPSTREAM (the origin URL).
'use strict';
const http = require('node:http');
const { URL } = require('node:url');

/** The port to listen on, from PORT. */
function port() {
  const value = Number(process.env.PORT);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new RangeError(`bench server: PORT must be a port number, got ${String(process.env.PORT)}`);
  }
  return value;
}

/** The origin to proxy to, from UPSTREAM, as a URL. */
function upstream() {
  if (!process.env.UPSTREAM)
    throw new TypeError('bench server: UPSTREAM must be set, e.g. http://127.0.0.1:9000');
  return new URL(process.env.UPSTREAM);
}

/**
 * Exit cleanly on SIGTERM, so `node --cpu-prof` writes its profile; servers that install
 * their own handler (nexthop's serve) do not need it.
 */
function exitOnSigterm() {
  process.once('SIGTERM', () => process.exit(0));
  collectGarbageOnSignal();
}

/**
 * Under `node --expose-gc`, SIGUSR2 runs two full garbage collections half a second apart and
 * prints `MEMORY <n> {"rss":…,"heapUsed":…,"external":…}`: the idle-connection test measures
 * what connections retain, not garbage left by the requests.
 */
function collectGarbageOnSignal() {
  if (typeof global.gc !== 'function') return;
  let readings = 0;
  process.on('SIGUSR2', () => {
    global.gc();
    setTimeout(() => {
      global.gc();
      const { rss, heapUsed, external } = process.memoryUsage();
      process.stdout.write(`MEMORY ${++readings} ${JSON.stringify({ rss, heapUsed, external })}\n`);
    }, 500).unref();
  });
}

/** Listen on 127.0.0.1:PORT and print a READY line (the harness polls HTTP anyway). */
function listen(server) {
  exitOnSigterm();
  server.listen(port(), '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
  return server;
}

// Hop-by-hop fields (RFC 9110 §7.6.1) that a proxy must not forward; the minimal proxy strips
// only what would break keep-alive on either side.
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
];

function withoutHopByHop(headers) {
  const out = { ...headers };
  for (const name of HOP_BY_HOP) delete out[name];
  return out;
}

/**
 * The cheapest correct-enough HTTP/1.1 proxy: one keep-alive agent, `http.request` per
 * request, bodies piped both ways with backpressure. It is the reference the budgets
 * compare nexthop's proxy against, not a product: no retries, no timeouts, no X-Forwarded-*.
 */
function pipeProxy(target = upstream()) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
  const host = target.hostname;
  const targetPort = Number(target.port) || 80;
  return function pipeProxyHandler(req, res) {
    const upstreamReq = http.request(
      {
        host,
        port: targetPort,
        method: req.method,
        path: req.url,
        headers: withoutHopByHop(req.headers),
        agent,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode, withoutHopByHop(upstreamRes.headers));
        upstreamRes.pipe(res);
      },
    );
    upstreamReq.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway');
    });
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    req.pipe(upstreamReq);
  };
}

module.exports = { port, upstream, listen, exitOnSigterm, collectGarbageOnSignal, pipeProxy, HOP_BY_HOP };
