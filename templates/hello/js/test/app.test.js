const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const request = require('supertest');
const { buildApp } = require('../src/app');

process.env.LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), '{{name}}-logs-'));

test('GET /hello is answered at the edge with the client IP and the browser protocol', async () => {
  const res = await request(buildApp()).get('/hello').set('X-Forwarded-Proto', 'https').expect(200);
  assert.equal(res.body.message, 'Hello from the edge');
  assert.equal(res.body.protocol, 'https');
  assert.match(res.body.clientIp, /127\.0\.0\.1/);
});
