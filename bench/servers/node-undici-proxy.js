// Scenario: node http + an undici Pool proxy, no framework: the practical ceiling of a Node
// proxy on undici (what nextHopProxy runs on). `pool.dispatch` with undici's raw header
// arrays; hop-by-hop fields dropped both ways; bodies streamed with backpressure. Not a
// product: no X-Forwarded-*, no timeouts of its own, no retries.
'use strict';
const http = require('node:http');
const { Pool } = require('undici');
const { listen, upstream, HOP_BY_HOP } = require('./common');

const pool = new Pool(upstream().origin, { connections: 256 });
const DROP = new Set(HOP_BY_HOP);

function requestFields(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) if (!DROP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  return out;
}

function responseFields(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    if (!DROP.has(name.toLowerCase())) out.push(name, raw[i + 1].toString('latin1'));
  }
  return out;
}

/** undici's dispatch handler for one request, writing straight to `res`. */
class Relay {
  constructor(res) {
    this.res = res;
    this.abort = null;
  }
  onConnect(abort) {
    this.abort = abort;
  }
  onHeaders(status, raw, resume) {
    if (status < 200) return true;
    this.res.writeHead(status, responseFields(raw));
    this.res.once('drain', resume);
    return true;
  }
  onData(chunk) {
    return this.res.write(chunk);
  }
  onComplete() {
    this.res.end();
  }
  onError() {
    if (!this.res.headersSent) this.res.writeHead(502, { 'content-type': 'text/plain' });
    this.res.end('bad gateway');
  }
}

function undiciProxyHandler(req, res) {
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  const relay = new Relay(res);
  res.on('close', () => {
    if (!res.writableFinished) relay.abort?.();
  });
  pool.dispatch(
    { method: req.method, path: req.url, headers: requestFields(req.rawHeaders), body: hasBody ? req : null },
    relay,
  );
}

listen(http.createServer(undiciProxyHandler));
