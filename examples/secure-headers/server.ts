import { createApp, errorHandler, nextHopProxy, serve } from 'nexthop';

const YEAR = 365 * 24 * 3600;
/** HSTS: browsers use HTTPS for this site (and its subdomains) for a year. */
export const HSTS = `max-age=${YEAR}; includeSubDomains`;
/** Headers that tell attackers what runs behind the edge: removed from proxied responses. */
const REVEALING = ['server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version'];

/** The module: HTTPS only, helmet's headers on its own pages, cleaned proxied headers. */
export const app = createApp({
  // Plain-HTTP requests (X-Forwarded-Proto not https) get a 301 (GET, HEAD) or 308 to the
  // same URL on https://; the platform health check is never redirected.
  requireHttps: true,
  // helmet's headers on the app's own pages, with a stricter HSTS than helmet's default.
  securityHeaders: {
    strictTransportSecurity: { maxAge: YEAR, includeSubDomains: true },
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], frameAncestors: ["'none'"] } },
  },
});

app.get('/', (_req, res) => {
  res.type('html').send('<!doctype html><title>secure</title><p>Served by the edge module over HTTPS.</p>');
});

app.use(
  nextHopProxy({
    // Proxied pages keep the origin's own security headers; HSTS and nosniff are added when
    // the origin sent none, and headers revealing the origin's software are removed.
    onProxyResponse(proxyRes) {
      proxyRes.headers['strict-transport-security'] ??= HSTS;
      proxyRes.headers['x-content-type-options'] ??= 'nosniff';
      for (const name of REVEALING) delete proxyRes.headers[name];
    },
  }),
);
app.use(errorHandler());

// Listens on $PORT (HTTP/1.1) only when run directly, so tests can import the app.
if (require.main === module) serve(app);
