// Streams one large generated upload (never stored) and prints the result as one JSON line.
// Argument: JSON { port, path, bytes }. The upstream answers {"bytes":N} with what it counted.
'use strict';
const http = require('node:http');

const { port, path, bytes } = JSON.parse(process.argv[2]);
const CHUNK = Buffer.alloc(64 * 1024, 'nexthop-bench-upload ');

const started = process.hrtime.bigint();
const req = http.request(
  {
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/octet-stream', 'content-length': bytes },
  },
  (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const body = Buffer.concat(chunks).toString();
      let received = -1;
      try {
        received = JSON.parse(body).bytes;
      } catch {
        // not the upstream's answer: reported through `received: -1` and the status
      }
      process.stdout.write(
        `UPLOAD_JSON ${JSON.stringify({ status: res.statusCode, sent: bytes, received, ms })}\n`,
      );
    });
  },
);
req.on('error', (err) => {
  process.stderr.write(`upload client: ${err.message}\n`);
  process.exit(1);
});

let left = bytes;
function write() {
  while (left > 0) {
    const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
    left -= chunk.length;
    if (!req.write(chunk)) return void req.once('drain', write);
  }
  req.end();
}
write();
