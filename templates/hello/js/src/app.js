const { createApp, errorHandler, nextHopProxy } = require('nexthop');

/** The module: `GET /hello` is answered at the edge, everything else goes to next-hop. */
function buildApp() {
  const app = createApp();
  app.get('/hello', (req, res) => {
    res.json({ message: 'Hello from the edge', clientIp: req.ip, protocol: req.protocol });
  });
  app.use(nextHopProxy());
  app.use(errorHandler());
  return app;
}

module.exports = { buildApp };
