import { createApp, errorHandler, nextHopProxy, serve } from 'nexthop';

/** The ten-line edge module: `GET /hello` is answered here, everything else goes to next-hop. */
export const app = createApp();

app.get('/hello', (req, res) => {
  // req.clientIp, req.protocol and req.geo come from the platform's headers (True-Client-IP,
  // X-Forwarded-Proto, section-io-geo-*), believed only from the platform's own proxies.
  res.json({
    message: 'Hello from the edge',
    clientIp: req.clientIp,
    protocol: req.protocol,
    country: req.geo?.countryCode,
    city: req.geo?.city,
  });
});

app.use(nextHopProxy());
app.use(errorHandler());

// Listens on $PORT (HTTP/1.1) only when run directly, so tests can import the app.
if (require.main === module) serve(app);
