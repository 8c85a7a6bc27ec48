import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A fresh temp folder for one test's log files. */
export function tempLogDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nexthop-logs-'));
}

/** The lines of a log file (no trailing empty line); [] when it does not exist. */
export function readLines(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** Each line parsed as JSON; throws, naming the line, if one is not valid JSON. */
export function parseLines(lines: readonly string[]): Record<string, unknown>[] {
  return lines.map((line, i) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`line ${i + 1} is not JSON: ${line.slice(0, 200)}`);
    }
  });
}

/** Listen on 127.0.0.1:0 and resolve with the server and its port. */
export function listen(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}

export interface Reply {
  status: number;
  body: string;
}

/** One request; resolves with status and body. */
export function request(port: number, urlPath: string, options: http.RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Send raw bytes (latin1) on a new connection; resolves with everything the server sent. */
export function rawRequest(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.end(Buffer.from(raw, 'latin1'));
  });
}

/** A counter whose `reach(n)` resolves once `tick()` has been called n times. */
export function counter(): { tick(): void; reach(n: number): Promise<void> } {
  let count = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  return {
    tick() {
      count++;
      for (const w of waiting.filter((x) => count >= x.n)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
    },
    reach(n) {
      return count >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }));
    },
  };
}
