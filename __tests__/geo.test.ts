import express from 'express';
import request from 'supertest';
import { geo, parseGeo, type GeoOptions } from 'nexthop';

function echoApp(options?: GeoOptions) {
  const app = express();
  app.use(geo(options));
  app.get('/', (req, res) =>
    res.json({ ...req.geo, frozen: Object.isFrozen(req.geo), again: req.geo === req.geo }),
  );
  return app;
}

const P = 'section-io-geo-';
const full = {
  [`${P}country-code`]: 'nz',
  [`${P}country-name`]: 'New Zealand',
  [`${P}region`]: 'Auckland',
  [`${P}region-code`]: 'auk',
  [`${P}city`]: 'Auckland',
  [`${P}postal-code`]: '1010',
  [`${P}latlon`]: '-36.8485,174.7633',
  [`${P}asn`]: '9500',
};

describe('geo over HTTP', () => {
  test('a trusted peer gets a typed, frozen req.geo parsed once', async () => {
    let call = request(echoApp()).get('/');
    for (const [k, v] of Object.entries(full)) call = call.set(k, v);
    const { body } = await call.expect(200);
    expect(body).toEqual({
      countryCode: 'NZ',
      countryName: 'New Zealand',
      region: 'Auckland',
      regionCode: 'AUK',
      city: 'Auckland',
      postalCode: '1010',
      latitude: -36.8485,
      longitude: 174.7633,
      asn: 9500,
      frozen: true,
      again: true,
    });
  });

  test('an untrusted peer gets an empty req.geo', async () => {
    let call = request(echoApp({ trustedProxies: [] })).get('/');
    for (const [k, v] of Object.entries(full)) call = call.set(k, v);
    const { body } = await call.expect(200);
    expect(body).toEqual({ frozen: true, again: true });
  });

  test('UTF-8 names sent as raw bytes are decoded', async () => {
    const app = echoApp();
    const { body } = await request(app)
      .get('/')
      .set(`${P}city`, Buffer.from('München', 'utf8').toString('latin1'))
      .expect(200);
    expect(body.city).toBe('München');
  });

  test('req.geo can be replaced by later middleware', async () => {
    const app = express();
    app.use(geo());
    app.use((req, _res, next) => {
      req.geo = { countryCode: 'FR' };
      next();
    });
    app.get('/', (req, res) => res.json(req.geo));
    expect((await request(app).get('/').expect(200)).body).toEqual({ countryCode: 'FR' });
  });

  test('unknown options throw', () => {
    expect(() => geo({ prefix: 'x' } as never)).toThrow('nexthop geo: unknown option "prefix"');
    expect(() => geo({ trustedProxies: ['x/8'] })).toThrow(
      'nexthop geo: trustedProxies entry "x/8" is not a CIDR',
    );
  });
});

describe('parseGeo vectors', () => {
  type Row = [field: string, header: string, value: string, expected: Record<string, unknown>];
  const rows: Row[] = [
    ['countryCode', 'country-code', 'us', { countryCode: 'US' }],
    ['countryCode', 'country-code', ' US ', { countryCode: 'US' }],
    ['countryCode', 'country-code', 'USA', {}],
    ['countryCode', 'country-code', 'U1', {}],
    ['countryName', 'country-name', 'United States', { countryName: 'United States' }],
    ['countryName', 'country-name', 'x'.repeat(201), {}],
    ['countryName', 'country-name', '   ', {}],
    ['region', 'region', 'Île-de-France', { region: 'Île-de-France' }],
    ['region', 'region', 'bad\u0007bell', {}],
    ['regionCode', 'region-code', 'ca', { regionCode: 'CA' }],
    ['regionCode', 'region-code', '13', { regionCode: '13' }],
    ['regionCode', 'region-code', 'ABCD', {}],
    ['regionCode', 'region-code', 'C-A', {}],
    ['city', 'city', 'San Francisco', { city: 'San Francisco' }],
    ['postalCode', 'postal-code', 'sw1a 1aa', { postalCode: 'SW1A 1AA' }],
    ['postalCode', 'postal-code', '94107-1234', { postalCode: '94107-1234' }],
    ['postalCode', 'postal-code', '<script>', {}],
    ['postalCode', 'postal-code', '1234567890123', {}],
    ['latlon', 'latlon', '37.7749,-122.4194', { latitude: 37.7749, longitude: -122.4194 }],
    ['latlon', 'latlon', '37.7749, -122.4194', { latitude: 37.7749, longitude: -122.4194 }],
    ['latlon', 'latlon', '0,0', { latitude: 0, longitude: 0 }],
    ['latlon', 'latlon', '-90,180', { latitude: -90, longitude: 180 }],
    ['latlon', 'latlon', '91,0', {}],
    ['latlon', 'latlon', '0,181', {}],
    ['latlon', 'latlon', '1e2,3', {}],
    ['latlon', 'latlon', 'NaN,1', {}],
    ['latlon', 'latlon', 'Infinity,1', {}],
    ['latlon', 'latlon', '1,2,3', {}],
    ['latlon', 'latlon', '12.5', {}],
    ['latlon', 'latlon', '0x10,1', {}],
    ['latlon', 'latlon', `${'1'.repeat(100)},1`, {}],
    ['asn', 'asn', '13335', { asn: 13335 }],
    ['asn', 'asn', 'AS13335', { asn: 13335 }],
    ['asn', 'asn', 'as13335', { asn: 13335 }],
    ['asn', 'asn', '4294967295', { asn: 4294967295 }],
    ['asn', 'asn', '4294967296', {}],
    ['asn', 'asn', '-1', {}],
    ['asn', 'asn', '1.5', {}],
    ['asn', 'asn', 'AS', {}],
    ['asn', 'asn', '', {}],
  ];
  test.each(rows)('%s from %s: %j', (_field, header, value, expected) => {
    const parsed = parseGeo({ [`${P}${header}`]: value });
    const defined = Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined));
    expect(defined).toEqual(expected);
  });

  test('no headers: every field undefined', () => {
    expect(Object.values(parseGeo({})).every((v) => v === undefined)).toBe(true);
  });
});
