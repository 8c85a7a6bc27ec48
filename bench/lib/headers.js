// The request headers every benchmark request carries by default: what the platform's module
// front (nginx) passes on, so nexthop's request context does its real work (True-Client-IP,
// X-Forwarded-For past trusted hops, X-Forwarded-Proto, the edge request id, geo headers).
'use strict';

const PLATFORM_HEADERS = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) nexthop-bench',
  'true-client-ip': '203.0.113.7',
  'x-forwarded-for': '203.0.113.7, 10.1.0.3',
  'x-forwarded-proto': 'https',
  'section-io-id': 'edge-5f0c2a9e4b7d4c1e9a3f6b8d2e1c0a7b',
  'section-io-geo-country-code': 'NZ',
  'section-io-geo-city': 'Auckland',
  'section-io-geo-latlon': '-36.8485,174.7633',
};

/** The same headers as "name: value" lines, for wrk's Lua script (env BENCH_HEADERS). */
function headerLines(headers) {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n');
}

module.exports = { PLATFORM_HEADERS, headerLines };
