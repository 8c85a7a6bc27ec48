import type { IncomingHttpHeaders } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { checkOptions, markFactory } from '../lib/check-options';
import { runStep, withStep } from '../lib/pipeline';
import { compileTrust, type TrustedProxies } from '../lib/trust';

/**
 * Where the platform located the client (from its `section-io-geo-*` headers, derived
 * from True-Client-IP). Every field is `undefined` when the header is absent or malformed.
 *
 * @example if (req.geo.countryCode === 'NZ') res.redirect('/nz');
 */
export interface Geo {
  /** ISO 3166-1 alpha-2 country code, upper case (`section-io-geo-country-code`). @example 'NZ' */
  countryCode?: string;
  /** Country name (`section-io-geo-country-name`). @example 'New Zealand' */
  countryName?: string;
  /** Region or state name (`section-io-geo-region`). @example 'Auckland' */
  region?: string;
  /** Region code, upper case (`section-io-geo-region-code`). @example 'AUK' */
  regionCode?: string;
  /** City name (`section-io-geo-city`). @example 'Auckland' */
  city?: string;
  /** Postal code (`section-io-geo-postal-code`). @example '1010' */
  postalCode?: string;
  /** Latitude in degrees, -90 to 90 (first half of `section-io-geo-latlon`). @example -36.85 */
  latitude?: number;
  /** Longitude in degrees, -180 to 180 (second half of `section-io-geo-latlon`). @example 174.76 */
  longitude?: number;
  /** Autonomous system number (`section-io-geo-asn`, with or without `AS`). @example 9500 */
  asn?: number;
}

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * The client's location from the platform's geo headers, set by `geo()`; read-only.
     * Undefined when `geo()` is not in the app: `req.geo?.countryCode`.
     */
    geo?: Readonly<Geo>;
  }
}

/** Options for {@link geo}. */
export interface GeoOptions {
  /**
   * Socket peers whose `section-io-geo-*` headers are believed; from any other peer
   * `req.geo` is empty.
   * @default DEFAULT_TRUSTED_PROXIES
   */
  trustedProxies?: TrustedProxies;
}

const KNOWN_OPTIONS = ['trustedProxies'];
const PREFIX = 'section-io-geo-';
const EMPTY_GEO: Readonly<Geo> = Object.freeze({});
const DECIMAL = /^-?(?:[0-9]{1,3})(?:\.[0-9]{1,12})?$/;

/**
 * Header values arrive as latin1 text; the edge sends UTF-8 bytes for names such as
 * "München". Decode them when they are valid UTF-8; drop controls and oversized values.
 */
function text(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  let s = value.trim();
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (s.length === 0 || s.length > 200 || /[\x00-\x1f\x7f]/.test(s)) return undefined;
  if (/[^\x20-\x7e]/.test(s)) {
    const decoded = Buffer.from(s, 'latin1').toString('utf8');
    if (!decoded.includes('\ufffd')) s = decoded;
  }
  return s;
}

function code(value: string | string[] | undefined, pattern: RegExp): string | undefined {
  const s = typeof value === 'string' ? value.trim() : undefined;
  return s !== undefined && pattern.test(s) ? s.toUpperCase() : undefined;
}

function coordinates(value: string | string[] | undefined): [number, number] | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const parts = value.split(',');
  if (parts.length !== 2) return undefined;
  const [lat, lon] = parts.map((p) => p.trim());
  if (!DECIMAL.test(lat) || !DECIMAL.test(lon)) return undefined;
  const latitude = Number(lat);
  const longitude = Number(lon);
  return Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180 ? [latitude, longitude] : undefined;
}

function asNumber(value: string | string[] | undefined): number | undefined {
  const match = typeof value === 'string' ? /^\s*(?:AS)?([0-9]{1,10})\s*$/i.exec(value) : null;
  const asn = match ? Number(match[1]) : NaN;
  return asn <= 4294967295 ? asn : undefined;
}

/**
 * Parse the `section-io-geo-*` headers into a frozen {@link Geo}. Garbage fields are undefined.
 *
 * @example parseGeo({ 'section-io-geo-latlon': '-36.85,174.76' }); // { latitude: -36.85, longitude: 174.76, … }
 */
export function parseGeo(headers: IncomingHttpHeaders): Readonly<Geo> {
  const latlon = coordinates(headers[`${PREFIX}latlon`]);
  const geo: Geo = {
    countryCode: code(headers[`${PREFIX}country-code`], /^[A-Za-z]{2}$/),
    countryName: text(headers[`${PREFIX}country-name`]),
    region: text(headers[`${PREFIX}region`]),
    regionCode: code(headers[`${PREFIX}region-code`], /^[A-Za-z0-9]{1,3}$/),
    city: text(headers[`${PREFIX}city`]),
    postalCode: code(headers[`${PREFIX}postal-code`], /^[A-Za-z0-9][A-Za-z0-9 -]{0,11}$/),
    latitude: latlon?.[0],
    longitude: latlon?.[1],
    asn: asNumber(headers[`${PREFIX}asn`]),
  };
  return Object.freeze(geo);
}

/**
 * `req.geo` is parsed on first read and then kept: most requests never look at it. One
 * shared descriptor, so installing it costs no allocation.
 */
const LAZY_GEO: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get: function geo(this: Request) {
    const value = parseGeo(this.headers);
    Object.defineProperty(this, 'geo', { value, configurable: true, enumerable: true, writable: true });
    return value;
  },
  set: function setGeo(this: Request, value: Readonly<Geo>) {
    Object.defineProperty(this, 'geo', { value, configurable: true, enumerable: true, writable: true });
  },
};
const NO_GEO: PropertyDescriptor = { value: EMPTY_GEO, configurable: true, enumerable: true, writable: true };

/**
 * Expose the platform's `section-io-geo-*` headers as a typed, validated `req.geo`
 * (country, region, city, postal code, coordinates, ASN) when the socket peer is trusted.
 * From an untrusted peer, or without the headers, every field is `undefined`.
 *
 * @example
 * app.use(geo());
 * app.get('/', (req, res) => res.send(`Hello from ${req.geo.city ?? 'somewhere'}`));
 */
export function geo(options: Readonly<GeoOptions> = {}, _notMiddleware?: never): RequestHandler {
  checkOptions('geo', options, KNOWN_OPTIONS);
  const trust = compileTrust(options.trustedProxies, 'geo');

  function geoStep(req: Request): undefined {
    Object.defineProperty(req, 'geo', trust(req.socket.remoteAddress) ? LAZY_GEO : NO_GEO);
    return undefined;
  }
  return withStep(function geoMiddleware(req, res, next) {
    runStep(geoStep, req, res, next);
  }, geoStep);
}

markFactory('geo', geo);
