import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import request from 'supertest';

// Log files go to a temp folder; createApp reads LOG_DIR when the server module loads.
process.env.LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), '{{name}}-logs-'));

test('GET /hello is answered at the edge with the client IP, protocol and geo', async () => {
  const { app } = await import('./server');
  // supertest connects from 127.0.0.1, a trusted proxy address: its headers are believed.
  const res = await request(app)
    .get('/hello')
    .set('True-Client-IP', '203.0.113.7')
    .set('X-Forwarded-Proto', 'https')
    .set('section-io-geo-country-code', 'NZ')
    .set('section-io-geo-city', 'Auckland')
    .expect(200);
  assert.deepEqual(res.body, {
    message: 'Hello from the edge',
    clientIp: '203.0.113.7',
    protocol: 'https',
    country: 'NZ',
    city: 'Auckland',
  });
});
