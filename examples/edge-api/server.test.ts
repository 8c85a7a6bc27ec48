import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import request from 'supertest';

// Log files and uploads go to temp folders; the server module reads both when it loads.
process.env.LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), '{{name}}-logs-'));
process.env.UPLOAD_DIR = fs.mkdtempSync(path.join(os.tmpdir(), '{{name}}-uploads-'));

test('POST /api/orders answers 400 with a message per invalid field, 201 for a valid order', async () => {
  const { app } = await import('./server');
  const bad = await request(app).post('/api/orders').send({ sku: 'x', quantity: 0 }).expect(400);
  assert.deepEqual(Object.keys(bad.body.fields).sort(), ['email', 'quantity', 'sku']);
  const order = { sku: 'TEE-42', quantity: 2, email: 'a@example.com' };
  const good = await request(app).post('/api/orders').send(order).expect(201);
  assert.equal(good.body.sku, 'TEE-42');
});
