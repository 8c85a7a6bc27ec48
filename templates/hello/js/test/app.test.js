const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const request = require('supertest');
const { buildApp } = require('../src/app');

process.env.LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), '{{name}}-logs-'));

test('GET /hello is answered at the edge with the client IP, protocol and geo', async () => {
  // supertest connects from 127.0.0.1, a trusted proxy address: its headers are believed.
  const res = await request(buildApp())
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
