// Idle keep-alive connections client. Argument: JSON { port, path, count }.
// 1. warms the server with 2,000 requests on 10 connections, closes them, prints "WARM";
// 2. on the stdin line "OPEN", opens `count` connections, sends one request on each, reads
//    the whole response and leaves the connection open and idle, prints "OPEN <n>";
// 3. on the stdin line "STATUS", prints "ALIVE <n>": how many of them the server kept open;
// 4. exits (closing everything) when stdin ends.
'use strict';
const net = require('node:net');
const readline = require('node:readline');

const { port, path, count } = JSON.parse(process.argv[2]);
const REQUEST = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`;
const sockets = [];
let closed = 0;

/** Send one request on `socket` and resolve when its whole response (Content-Length) is in. */
function exchange(socket) {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk) => {
      buffer += chunk.toString('latin1');
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number((/\r\ncontent-length:\s*(\d+)/i.exec(buffer.slice(0, end)) || [])[1]);
      if (!/^HTTP\/1\.1 200 /.test(buffer))
        return done(new Error(`unexpected answer: ${buffer.slice(0, 80)}`));
      if (buffer.length >= end + 4 + length) done();
    };
    const onError = (err) => done(err);
    const done = (err) => {
      socket.off('data', onData);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.write(REQUEST);
  });
}

function connect() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function openIdle() {
  const batch = 100;
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(Array.from({ length: Math.min(batch, count - i) }, connect));
    await Promise.all(opened.map(exchange));
    for (const socket of opened) {
      socket.once('close', () => closed++);
      socket.on('error', () => {}); // a reset by the server is counted through 'close'
    }
    sockets.push(...opened);
  }
  process.stdout.write(`OPEN ${sockets.length}\n`);
}

async function main() {
  const warm = await Promise.all(Array.from({ length: 10 }, connect));
  await Promise.all(
    warm.map(async (socket) => {
      for (let i = 0; i < 200; i++) await exchange(socket);
      socket.destroy();
    }),
  );
  process.stdout.write('WARM\n');
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'OPEN') openIdle().catch(fail);
    if (line.trim() === 'STATUS') process.stdout.write(`ALIVE ${sockets.length - closed}\n`);
  });
  lines.on('close', () => process.exit(0));
}

function fail(err) {
  process.stderr.write(`idle client: ${err.message}\n`);
  process.exit(1);
}

main().catch(fail);
