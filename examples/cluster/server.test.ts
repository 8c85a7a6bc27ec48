import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import request from 'supertest';

// Log files go to a temp folder; createApp reads LOG_DIR when the server module loads.
process.env.LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), '{{name}}-logs-'));

test('GET /worker says which process answered', async () => {
  const { app } = await import('./server');
  // Imported, not run: no cluster, so no worker id.
  const res = await request(app).get('/worker').expect(200);
  assert.deepEqual(res.body, { worker: null, pid: process.pid });
});
