import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import request from 'supertest';

// Log files go to a temp folder; createApp reads LOG_DIR when the server module loads.
process.env.LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), '{{name}}-logs-'));

test('GET /variant keeps the variant a cookie names, and assigns one to a new visitor', async () => {
  const { app } = await import('./server');
  const sticky = await request(app).get('/variant').set('Cookie', 'ab_variant=b').expect(200);
  assert.deepEqual(sticky.body, { variant: 'b', newVisitor: false });
  const fresh = await request(app).get('/variant').expect(200);
  assert.ok(['a', 'b'].includes(fresh.body.variant));
  assert.equal(fresh.body.newVisitor, true);
});
