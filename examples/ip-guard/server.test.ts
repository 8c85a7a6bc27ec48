import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import request from 'supertest';

// Log files go to a temp folder; createApp reads LOG_DIR when the server module loads.
process.env.LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), '{{name}}-logs-'));

test('a denied client gets 403 and an allowed one is answered', async () => {
  const { app } = await import('./server');
  // supertest connects from 127.0.0.1, the trusted module front: True-Client-IP is believed.
  await request(app).get('/whoami').set('True-Client-IP', '198.51.100.7').expect(403);
  const res = await request(app).get('/whoami').set('True-Client-IP', '203.0.113.7').expect(200);
  assert.equal(res.body.clientIp, '203.0.113.7');
});
