import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import request from 'supertest';
import { buildApp } from '../src/app';

process.env.LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), '{{name}}-logs-'));

test('GET /hello is answered at the edge with the client IP and the browser protocol', async () => {
  const res = await request(buildApp()).get('/hello').set('X-Forwarded-Proto', 'https').expect(200);
  assert.equal(res.body.message, 'Hello from the edge');
  assert.equal(res.body.protocol, 'https');
  assert.match(res.body.clientIp, /127\.0\.0\.1/);
});
