import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express from 'express';
import { createApp, errorHandler, nextHopProxy, serve } from 'nexthop';

/** Where uploads are written. @default <tmpdir>/edge-api-uploads */
export const UPLOAD_DIR = process.env.UPLOAD_DIR ?? path.join(os.tmpdir(), 'edge-api-uploads');
/** Largest upload accepted, in bytes. @default 1 GiB */
export const MAX_UPLOAD_BYTES = Number(process.env.MAX_UPLOAD_BYTES ?? 2 ** 30);
const SKU = /^[A-Z0-9-]{3,20}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const FILE_NAME = /^[\w.-]{1,100}$/;

interface Order {
  id: string;
  sku: string;
  quantity: number;
  email: string;
}
const orders = new Map<string, Order>();

/** Field → message for each invalid field of an order; empty when it is valid. */
function orderProblems(body: unknown): Record<string, string> {
  const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const problems: Record<string, string> = {};
  if (typeof o.sku !== 'string' || !SKU.test(o.sku)) problems.sku = 'must be 3-20 characters A-Z, 0-9 or -';
  if (!Number.isInteger(o.quantity) || (o.quantity as number) < 1 || (o.quantity as number) > 100) {
    problems.quantity = 'must be an integer from 1 to 100';
  }
  if (typeof o.email !== 'string' || !EMAIL.test(o.email)) problems.email = 'must be an email address';
  return problems;
}

/** The module: `/api` answered here (orders, uploads), everything else proxied. */
export const app = createApp();
const api = express.Router();
// Only the API parses JSON: bodies of proxied requests stream to next-hop untouched.
api.use(express.json({ limit: '16kb' }));

api.post('/orders', (req, res) => {
  const problems = orderProblems(req.body);
  if (Object.keys(problems).length > 0) {
    res.status(400).json({ error: 'validation failed', fields: problems });
    return;
  }
  const order: Order = {
    id: randomUUID(),
    sku: req.body.sku,
    quantity: req.body.quantity,
    email: req.body.email,
  };
  orders.set(order.id, order);
  res.status(201).location(`/api/orders/${order.id}`).json(order);
});

api.get('/orders/:id', (req, res) => {
  const order = orders.get(req.params.id);
  if (order) res.json(order);
  else res.status(404).json({ error: 'no such order' });
});

// The body goes to disk chunk by chunk with backpressure: a 1 GiB upload never sits in
// memory. Counted on the way, so a body without Content-Length is cut at the limit too.
api.put('/uploads/:name', async (req, res) => {
  const { name } = req.params;
  if (!FILE_NAME.test(name)) {
    res
      .status(400)
      .json({ error: 'validation failed', fields: { name: 'must be 1-100 characters A-Z a-z 0-9 _ . -' } });
    return;
  }
  if (Number(req.headers['content-length'] ?? 0) > MAX_UPLOAD_BYTES) {
    res
      .status(413)
      .set('Connection', 'close')
      .json({ error: `uploads are limited to ${MAX_UPLOAD_BYTES} bytes` });
    return;
  }
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(
        bytes > MAX_UPLOAD_BYTES ? Object.assign(new Error('upload too large'), { status: 413 }) : null,
        chunk,
      );
    },
  });
  const file = path.join(UPLOAD_DIR, name);
  await fs.promises.mkdir(UPLOAD_DIR, { recursive: true });
  try {
    await pipeline(req, count, fs.createWriteStream(`${file}.part`));
    await fs.promises.rename(`${file}.part`, file);
  } catch (err) {
    await fs.promises.rm(`${file}.part`, { force: true });
    throw err; // errorHandler answers it (413 for the limit) and logs it
  }
  res.status(201).json({ name, bytes });
});

app.use('/api', api);
app.use(nextHopProxy());
app.use(errorHandler());

// Listens on $PORT (HTTP/1.1) only when run directly, so tests can import the app.
if (require.main === module) serve(app);
