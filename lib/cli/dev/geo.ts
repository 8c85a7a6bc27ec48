import { UsageError } from '../io';

/** The geo header suffixes the edge may add, each prefixed `section-io-geo-`. */
export const GEO_FIELDS = [
  'country-code',
  'country-name',
  'region',
  'region-code',
  'city',
  'latlon',
  'postal-code',
  'asn',
] as const;
/** One geo header suffix, e.g. `country-code`. */
export type GeoField = (typeof GEO_FIELDS)[number];
/** Geo header values by suffix, as the front sends them. */
export type Geo = Partial<Record<GeoField, string>>;

const ALIASES: Record<string, GeoField> = { country: 'country-code', postal: 'postal-code', lat: 'latlon' };

/** Loopback clients (IPv4 and IPv6) look like San Francisco. */
const LOOPBACK_PLACE = place(
  'US',
  'United States',
  'California',
  'CA',
  'San Francisco',
  '37.7749,-122.4194',
  '94103',
  '64500',
);

/**
 * The built-in table: documentation and loopback addresses mapped to sample places, so
 * `dev --client-ip 203.0.113.7` shows Sydney without a geo database.
 */
export const GEO_TABLE: readonly { prefix: string; geo: Geo }[] = [
  {
    prefix: '127.',
    geo: LOOPBACK_PLACE,
  },
  {
    prefix: '::1',
    geo: LOOPBACK_PLACE,
  },
  {
    prefix: '192.0.2.',
    geo: place('GB', 'United Kingdom', 'England', 'ENG', 'London', '51.5074,-0.1278', 'EC1A', '64501'),
  },
  {
    prefix: '198.51.100.',
    geo: place('DE', 'Germany', 'Hesse', 'HE', 'Frankfurt am Main', '50.1109,8.6821', '60311', '64502'),
  },
  {
    prefix: '203.0.113.',
    geo: place('AU', 'Australia', 'New South Wales', 'NSW', 'Sydney', '-33.8688,151.2093', '2000', '64503'),
  },
  {
    prefix: '2001:db8:',
    geo: place('JP', 'Japan', 'Tokyo', '13', 'Tokyo', '35.6762,139.6503', '100-0001', '64504'),
  },
];

function place(...values: string[]): Geo {
  return Object.fromEntries(GEO_FIELDS.map((field, i) => [field, values[i]]));
}

/** The table's entry for an IP, or an empty object. */
export function geoForIp(ip: string): Geo {
  return GEO_TABLE.find((row) => ip.toLowerCase().startsWith(row.prefix))?.geo ?? {};
}

/**
 * Parse `--geo country=US,city=Seattle,latlon=47.6,-122.3`. A part without `=` continues
 * the previous value (so `latlon` keeps its comma).
 */
export function parseGeo(text: string): Geo {
  const geo: Geo = {};
  let last: GeoField | undefined;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) {
      if (!last)
        throw new UsageError(`--geo "${text}": expected key=value pairs, e.g. country=US,city=Seattle`);
      geo[last] += `,${part}`;
      continue;
    }
    const key = part.slice(0, eq).trim().toLowerCase();
    const field = (GEO_FIELDS as readonly string[]).includes(key) ? (key as GeoField) : ALIASES[key];
    if (!field)
      throw new UsageError(`--geo key "${key}" is unknown; use ${GEO_FIELDS.join(', ')} (or country)`);
    geo[field] = part.slice(eq + 1).trim();
    last = field;
  }
  return geo;
}
