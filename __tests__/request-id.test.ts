import express from 'express';
import request from 'supertest';
import { requestId, type RequestIdOptions } from 'nexthop';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function echoApp(options?: RequestIdOptions) {
  const app = express();
  app.use(requestId(options));
  app.get('/', (req, res) => res.send(req.id));
  return app;
}

async function idFor(app: express.Express, headers: Record<string, string>) {
  let call = request(app).get('/');
  for (const [name, value] of Object.entries(headers)) call = call.set(name, value);
  const res = await call.expect(200);
  expect(res.headers['x-request-id']).toBe(res.text);
  return res.text;
}

describe('requestId precedence from a trusted peer', () => {
  const app = echoApp();
  const reused: [name: string, headers: Record<string, string>, expected: string][] = [
    ['section-io-id alone', { 'section-io-id': 'abc123' }, 'abc123'],
    [
      'section-io-id wins over X-Request-Id',
      { 'section-io-id': 'edge-1', 'X-Request-Id': 'client-1' },
      'edge-1',
    ],
    ['X-Request-Id alone', { 'X-Request-Id': 'req-42' }, 'req-42'],
    [
      'unsafe section-io-id falls to X-Request-Id',
      { 'section-io-id': 'a b', 'X-Request-Id': 'req-42' },
      'req-42',
    ],
    ['all safe characters', { 'X-Request-Id': 'A-z_0.9:x' }, 'A-z_0.9:x'],
    ['128 characters', { 'X-Request-Id': 'a'.repeat(128) }, 'a'.repeat(128)],
  ];
  test.each(reused)('%s', async (_name, headers, expected) => {
    expect(await idFor(app, headers)).toBe(expected);
  });

  const rejected: [name: string, value: string][] = [
    ['129 characters', 'a'.repeat(129)],
    ['space', 'a b'],
    ['quote', 'a"b'],
    ['slash', 'a/b'],
    ['comma (duplicate lines)', 'a,b'],
    ['angle brackets', '<script>'],
    ['percent', '%0d%0a'],
    ['empty', ''],
    ['non-ASCII', 'idé'],
  ];
  test.each(rejected)('unsafe X-Request-Id (%s) gets a new UUID', async (_name, value) => {
    const id = await idFor(app, { 'X-Request-Id': value });
    expect(id).toMatch(UUID);
  });

  test('no header: a new UUID per request', async () => {
    const a = await idFor(app, {});
    const b = await idFor(app, {});
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);
  });
});

describe('requestId options', () => {
  test('an untrusted peer always gets a new id', async () => {
    const id = await idFor(echoApp({ trustedProxies: [] }), {
      'section-io-id': 'edge-1',
      'X-Request-Id': 'x',
    });
    expect(id).toMatch(UUID);
  });

  test('incoming, header and generate are honoured', async () => {
    let n = 0;
    const app = echoApp({ incoming: ['X-Correlation-Id'], header: 'X-Trace', generate: () => `gen-${++n}` });
    const a = await request(app).get('/').set('X-Correlation-Id', 'corr-1').set('X-Request-Id', 'ignored');
    expect(a.text).toBe('corr-1');
    expect(a.headers['x-trace']).toBe('corr-1');
    expect(a.headers['x-request-id']).toBeUndefined();
    const b = await request(app).get('/').set('X-Request-Id', 'ignored');
    expect(b.text).toBe('gen-1');
  });

  test('header: false sets no response header; incoming: [] ignores requests', async () => {
    const app = echoApp({ header: false, incoming: [] });
    const res = await request(app).get('/').set('section-io-id', 'edge-1');
    expect(res.text).toMatch(UUID);
    expect(res.headers['x-request-id']).toBeUndefined();
  });

  const errors: [options: unknown, message: string][] = [
    [
      { incoming: 'x-request-id' },
      'nexthop requestId: incoming must be an array of header names, got "x-request-id"',
    ],
    [{ incoming: ['bad name'] }, 'nexthop requestId: incoming entry "bad name" is not a header name'],
    [{ header: '' }, 'nexthop requestId: header must be a header name or false, got ""'],
    [{ header: true }, 'header must be a header name or false, got true'],
    [{ generate: 'uuid' }, 'nexthop requestId: generate must be a function returning an id, got "uuid"'],
    [{ trustedProxies: 'nope' }, 'nexthop requestId: trustedProxies entry "nope" is not a preset'],
    [{ id: 1 }, 'nexthop requestId: unknown option "id"'],
  ];
  test.each(errors)('%j throws a TypeError', (options, message) => {
    expect(() => requestId(options as never)).toThrow(TypeError);
    expect(() => requestId(options as never)).toThrow(message);
  });
});
