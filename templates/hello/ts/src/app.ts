import { createApp, errorHandler, nextHopProxy } from 'nexthop';

/** The module: `GET /hello` is answered at the edge, everything else goes to next-hop. */
export function buildApp() {
  const app = createApp();
  app.get('/hello', (req, res) => {
    // req.clientIp, req.protocol and req.geo come from the platform's headers (True-Client-IP,
    // X-Forwarded-Proto, section-io-geo-*), believed only from the platform's own proxies.
    res.json({
      message: 'Hello from the edge',
      clientIp: req.clientIp,
      protocol: req.protocol,
      country: req.geo.countryCode,
      city: req.geo.city,
    });
  });
  app.use(nextHopProxy());
  app.use(errorHandler());
  return app;
}
