import express from 'express';
import request from 'supertest';
import { forwardedProto, type ForwardedProtoOptions } from 'nexthop';

function echoApp(options?: ForwardedProtoOptions) {
  const app = express();
  app.use(forwardedProto(options));
  app.get('/', (req, res) => res.json({ proto: req.proto, protocol: req.protocol, secure: req.secure }));
  return app;
}

async function protoOf(app: express.Express, headers: Record<string, string | string[]>) {
  let call = request(app).get('/');
  for (const [name, value] of Object.entries(headers)) call = call.set(name, value as string);
  const { body } = await call.expect(200);
  // The three views must always agree.
  expect(body.protocol).toBe(body.proto);
  expect(body.secure).toBe(body.proto === 'https');
  return body.proto as string;
}

describe('forwardedProto from a trusted peer', () => {
  const app = echoApp();
  const rows: [value: string | string[] | undefined, expected: 'http' | 'https'][] = [
    ['https', 'https'],
    ['HTTPS', 'https'],
    ['HtTpS', 'https'],
    ['  https  ', 'https'],
    ['https,http', 'https'],
    ['HTTPS ,http', 'https'],
    [['https', 'http'], 'https'],
    ['http,https', 'http'],
    ['http', 'http'],
    ['wss', 'http'],
    ['ws', 'http'],
    ['javascript:', 'http'],
    ['https:', 'http'],
    ['httpsx', 'http'],
    ['htt ps', 'http'],
    ['', 'http'],
    ['h'.repeat(10_000), 'http'],
    [undefined, 'http'],
  ];
  test.each(rows)('X-Forwarded-Proto %j gives %s', async (value, expected) => {
    expect(await protoOf(app, value === undefined ? {} : { 'X-Forwarded-Proto': value })).toBe(expected);
  });

  test('Forwarded is ignored unless enabled', async () => {
    expect(await protoOf(app, { Forwarded: 'proto=https' })).toBe('http');
  });
});

describe('forwardedProto with forwarded: true (RFC 7239)', () => {
  const app = echoApp({ forwarded: true });
  const rows: [value: string, expected: 'http' | 'https'][] = [
    ['proto=https', 'https'],
    ['Proto=HTTPS', 'https'],
    ['for=203.0.113.7;proto=https', 'https'],
    ['for=203.0.113.7; proto=https; by=10.0.0.1', 'https'],
    ['proto="https"', 'https'],
    ['for="[2001:db8::1]:443";proto=https', 'https'],
    ['for="a,b;c";proto=https', 'https'],
    ['for=203.0.113.7;proto=https, for=10.0.0.1;proto=http', 'https'],
    ['for=203.0.113.7, for=10.0.0.1;proto=https', 'http'],
    ['proto=http', 'http'],
    ['proto=wss', 'http'],
    ['proto', 'http'],
    ['=https', 'http'],
    ['garbage', 'http'],
  ];
  test.each(rows)('Forwarded %j gives %s', async (value, expected) => {
    expect(await protoOf(app, { Forwarded: value })).toBe(expected);
  });

  test('X-Forwarded-Proto, when present, wins over Forwarded', async () => {
    expect(await protoOf(app, { 'X-Forwarded-Proto': 'http', Forwarded: 'proto=https' })).toBe('http');
    expect(await protoOf(app, { 'X-Forwarded-Proto': 'https', Forwarded: 'proto=http' })).toBe('https');
  });
});

describe('forwardedProto from an untrusted peer', () => {
  test.each([
    [{ trustedProxies: [] }],
    [{ trustedProxies: ['192.0.2.0/24'], forwarded: true }],
    [{ trustedProxies: () => false }],
  ] as [ForwardedProtoOptions][])('%j: headers are ignored', async (options) => {
    const app = echoApp(options);
    expect(await protoOf(app, { 'X-Forwarded-Proto': 'https', Forwarded: 'proto=https' })).toBe('http');
  });
});

describe('forwardedProto options', () => {
  const errors: [options: unknown, message: string][] = [
    [{ forwarded: 'yes' }, 'nexthop forwardedProto: forwarded must be true or false, got "yes"'],
    [
      { trustedProxies: ['1.2.3.4/40'] },
      'nexthop forwardedProto: trustedProxies entry "1.2.3.4/40" has prefix /40 out of range',
    ],
    [{ proto: 'https' }, 'nexthop forwardedProto: unknown option "proto"'],
    [7, 'nexthop forwardedProto: options must be an object'],
  ];
  test.each(errors)('%j throws', (options, message) => {
    expect(() => forwardedProto(options as never)).toThrow(message);
  });
  test('wrong types are TypeErrors, out-of-range prefixes RangeErrors', () => {
    expect(() => forwardedProto({ forwarded: 1 as never })).toThrow(TypeError);
    expect(() => forwardedProto({ trustedProxies: ['1.2.3.4/40'] })).toThrow(RangeError);
  });
});
