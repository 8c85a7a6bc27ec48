#!/usr/bin/env node
// `npm start`: the hello example as an edge module on PORT (default 8080), with a
// built-in demo upstream standing in for next-hop and logs in ./logs. Ctrl-C stops it.
'use strict';
const http = require('node:http');
const path = require('node:path');

const root = path.join(__dirname, '..');

/** Echoes what a next-hop would receive, so you can see what the module forwards. */
function demoUpstream(req, res) {
  const pick = ['host', 'x-forwarded-proto', 'true-client-ip', 'x-forwarded-for', 'x-request-id'];
  const headers = Object.fromEntries(pick.filter((h) => req.headers[h]).map((h) => [h, req.headers[h]]));
  let bytes = 0;
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => {
    const body = JSON.stringify(
      {
        answeredBy: 'demo upstream (standing in for next-hop)',
        method: req.method,
        url: req.url,
        headers,
        bodyBytes: bytes,
      },
      null,
      2,
    );
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

const upstream = http.createServer(demoUpstream);
upstream.keepAliveTimeout = 90_000; // outlives the proxy's pooled sockets
upstream.listen(0, '127.0.0.1', () => {
  const upstreamUrl = `http://127.0.0.1:${upstream.address().port}`;
  process.env.NEXT_HOP = process.env.NEXT_HOP || upstreamUrl;
  process.env.LOG_DIR = process.env.LOG_DIR || path.join(root, 'logs');
  upstream.unref(); // the demo ends when the edge module has shut down

  const { serve } = require('nexthop');
  const { app } = require(path.join(root, 'dist', 'examples', 'hello', 'server.js'));
  serve(app).then(({ port }) => {
    const base = `http://localhost:${port}`;
    process.stdout.write(
      [
        '',
        `nexthop demo: the hello example is listening on ${base}`,
        `  next-hop: ${process.env.NEXT_HOP}${process.env.NEXT_HOP === upstreamUrl ? ' (built-in demo upstream)' : ''}`,
        `  logs:     ${process.env.LOG_DIR}`,
        '',
        'Try:',
        `  curl ${base}/hello                                   # answered by the app`,
        `  curl -H 'True-Client-IP: 203.0.113.7' -H 'X-Forwarded-Proto: https' ${base}/hello`,
        `  curl ${base}/any/other/path?q=1                      # proxied to next-hop`,
        '',
        'Ctrl-C stops it.',
        '',
      ].join('\n'),
    );
  });
});
