import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import request from 'supertest';

// Log files go to a temp folder; createApp reads LOG_DIR when the server module loads.
process.env.LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), '{{name}}-logs-'));

test('plain HTTP is redirected to HTTPS; the HTTPS page carries HSTS', async () => {
  const { app } = await import('./server');
  const plain = await request(app).get('/?a=1').set('Host', 'shop.example.com').expect(301);
  assert.equal(plain.headers.location, 'https://shop.example.com/?a=1');
  const secure = await request(app).get('/').set('X-Forwarded-Proto', 'https').expect(200);
  assert.equal(secure.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
});
