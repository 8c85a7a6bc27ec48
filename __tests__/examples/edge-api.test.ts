import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { ServeHandle } from 'nexthop';
import { pattern, send, sha256, startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream';
import { BUILT_EXAMPLES, loadExample, scratchDir, serveExample } from '../helpers/examples';
import { freePort, startNode, stop, type Child } from '../helpers/process';

const JSON_BODY = { 'Content-Type': 'application/json' };

describe('examples/edge-api in process', () => {
  let upstream: EchoUpstream;
  let server: ServeHandle;
  const uploads = scratchDir('nexthop-edge-api-');
  beforeAll(async () => {
    upstream = await startEchoUpstream();
    const env = { NEXT_HOP: upstream.url, UPLOAD_DIR: uploads, MAX_UPLOAD_BYTES: '1000' };
    const { app } = await loadExample('edge-api', env);
    server = await serveExample(app);
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });
  const post = (body: unknown) =>
    send(server.port, {
      method: 'POST',
      path: '/api/orders',
      headers: JSON_BODY,
      body: JSON.stringify(body),
    });

  // [body, expected field messages]
  const INVALID: [unknown, Record<string, string>][] = [
    [
      {},
      {
        sku: 'must be 3-20 characters A-Z, 0-9 or -',
        quantity: 'must be an integer from 1 to 100',
        email: 'must be an email address',
      },
    ],
    [
      { sku: 'tee-42', quantity: 2, email: 'a@example.com' },
      { sku: 'must be 3-20 characters A-Z, 0-9 or -' },
    ],
    [
      { sku: 'TEE-42', quantity: 2.5, email: 'a@example.com' },
      { quantity: 'must be an integer from 1 to 100' },
    ],
    [
      { sku: 'TEE-42', quantity: 101, email: 'a@example.com' },
      { quantity: 'must be an integer from 1 to 100' },
    ],
    [
      { sku: 'TEE-42', quantity: '2', email: 'a@example.com' },
      { quantity: 'must be an integer from 1 to 100' },
    ],
    [{ sku: 'TEE-42', quantity: 2, email: 'not an email' }, { email: 'must be an email address' }],
    [[1, 2], { sku: expect.any(String), quantity: expect.any(String), email: expect.any(String) }],
  ];
  it.each(INVALID)('POST /api/orders %j → 400 with %j', async (body, fields) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.json()).toEqual({ error: 'validation failed', fields });
  });

  it('a body that is not JSON gets 400 from errorHandler', async () => {
    const res = await send(server.port, {
      method: 'POST',
      path: '/api/orders',
      headers: JSON_BODY,
      body: '{"sku":',
    });
    expect(res.status).toBe(400);
  });

  it('creates an order (201, Location) and reads it back; an unknown id is 404', async () => {
    const order = { sku: 'TEE-42', quantity: 2, email: 'a@example.com' };
    const created = await post(order);
    expect(created.status).toBe(201);
    const { id } = created.json<{ id: string }>();
    expect(created.headers.location).toBe(`/api/orders/${id}`);
    const read = await send(server.port, { path: `/api/orders/${id}` });
    expect(read.json()).toEqual({ id, ...order });
    expect((await send(server.port, { path: '/api/orders/nope' })).status).toBe(404);
  });

  it('uploads: 201 with the bytes written, 400 for a bad name, 413 past the limit', async () => {
    const ok = await send(server.port, { method: 'PUT', path: '/api/uploads/a.txt', body: 'x'.repeat(1000) });
    expect(ok.status).toBe(201);
    expect(ok.json()).toEqual({ name: 'a.txt', bytes: 1000 });
    expect(fs.readFileSync(path.join(uploads, 'a.txt'), 'utf8')).toBe('x'.repeat(1000));
    const bad = await send(server.port, { method: 'PUT', path: '/api/uploads/..%2Fetc', body: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ fields: { name: expect.any(String) } });
    const big = await send(server.port, {
      method: 'PUT',
      path: '/api/uploads/b.txt',
      body: 'x'.repeat(1001),
    });
    expect(big.status).toBe(413);
    expect(fs.existsSync(path.join(uploads, 'b.txt'))).toBe(false);
  });

  it('answers 413 to a chunked upload once it passes the limit and keeps no partial file', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = http.request({
        host: '127.0.0.1',
        port: server.port,
        method: 'PUT',
        path: '/api/uploads/c.txt',
      });
      req.on('response', (res) => resolve(`status ${res.statusCode}`));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.write('x'.repeat(600));
      setImmediate(() => req.end('x'.repeat(600)));
    });
    expect(outcome).toBe('status 413');
    expect(fs.readdirSync(uploads).filter((f) => f.startsWith('c.txt'))).toEqual([]);
  });

  it('proxies everything else with its body untouched, JSON included', async () => {
    const body = '{"not":"parsed here"}';
    const res = await send(server.port, { method: 'POST', path: '/orders?x=1', headers: JSON_BODY, body });
    expect(res.json()).toMatchObject({ url: '/orders?x=1', body });
  });
});

/** Peak resident set size of a process in bytes (Linux: VmHWM in /proc/<pid>/status). */
function peakRss(pid: number): number {
  const kb = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB$/m);
  if (!kb) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(kb[1]) * 1024;
}

/** Stream `size` bytes as a PUT body with backpressure; resolves with status and JSON. */
function upload(port: number, urlPath: string, size: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: urlPath,
      headers: { 'Content-Length': size },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const chunks = pattern(size);
    const pump = () => {
      for (let next = chunks.next(); !next.done; next = chunks.next())
        if (!req.write(next.value)) return void req.once('drain', pump);
      req.end();
    };
    pump();
  });
}

describe('examples/edge-api as its own process', () => {
  const SIZE = 200 * 1024 * 1024;
  let child: Child | undefined;
  const uploads = scratchDir('nexthop-edge-api-big-');
  afterAll(async () => {
    await stop(child);
  });

  it('streams a 200 MB upload to disk with a peak RSS under 100 MB', async () => {
    const port = await freePort();
    child = startNode(path.join(BUILT_EXAMPLES, 'edge-api', 'server.js'), {
      PORT: String(port),
      LOG_DIR: scratchDir('nexthop-edge-api-logs-'),
      UPLOAD_DIR: uploads,
      NEXT_HOP: 'http://127.0.0.1:9',
    });
    await child.waitFor(/listening/i, 15_000);
    const before = peakRss(child.proc.pid!);
    const res = await upload(port, '/api/uploads/big.bin', SIZE);
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body)).toEqual({ name: 'big.bin', bytes: SIZE });
    const peak = peakRss(child.proc.pid!);
    process.stdout.write(
      `edge-api 200 MB upload: server peak RSS ${(before / 2 ** 20).toFixed(1)} MB at start, ${(peak / 2 ** 20).toFixed(1)} MB after\n`,
    );
    expect(peak).toBeLessThan(100 * 1024 * 1024);
    const file = path.join(uploads, 'big.bin');
    expect(fs.statSync(file).size).toBe(SIZE);
    const hash = createHash('sha256');
    for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(sha256(pattern(SIZE)));
  }, 60_000);
});
