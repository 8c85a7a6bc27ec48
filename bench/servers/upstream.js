// The origin for the benchmarks: answers every GET with "hello" on keep-alive connections,
// and every request with a body (the upload test) by counting and discarding it, then
// answering {"bytes":N}. Never stores a body.
'use strict';
const http = require('node:http');
const { listen } = require('./common');

const HELLO = Buffer.from('hello');
const HELLO_HEADERS = { 'content-type': 'text/plain', 'content-length': HELLO.length };

function originHandler(req, res) {
  if (req.method === 'GET' || req.method === 'HEAD') {
    req.resume();
    res.writeHead(200, HELLO_HEADERS);
    res.end(HELLO);
    return;
  }
  let bytes = 0;
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => {
    const body = JSON.stringify({ bytes });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

const server = http.createServer(originHandler);
// Outlives every proxy's pooled idle sockets, so no proxy ever reuses a socket being closed.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;
listen(server);
