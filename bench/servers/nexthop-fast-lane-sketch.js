// Sketch (not the product) of the fast lane proposed in the performance issue: requests
// outside the app's paths (here everything but /api) skip Express and run nexthop's own
// request context (clientIp, forwardedProto, requestId) and nextHopProxy as plain functions
// on node's req/res; app paths go to the Express app built by createApp(). It measures how
// close a router-free proxied path gets to Fastify before the real design lands (serve()
// option or equivalent, with the access log and identical behaviour on both paths).
'use strict';
const http = require('node:http');
const { load, createBenchApp } = require('./nexthop');
const { listen } = require('./common');

const nexthop = load('createApp', 'nextHopProxy', 'clientIp', 'forwardedProto', 'requestId');
const APP_PATHS = ['/api'];

const app = createBenchApp(nexthop);
app.get('/api/hello', (req, res) => res.send('hello'));
app.use(nexthop.nextHopProxy());

/** Run Express-style middleware as a plain chain: each one's next() calls the following. */
function chain(handlers) {
  return function runChain(req, res) {
    let i = 0;
    const next = (err) => {
      if (err) {
        res.statusCode = 500;
        return res.end();
      }
      const handler = handlers[i++];
      if (handler) handler(req, res, next);
    };
    next();
  };
}

const fastLane = chain([
  nexthop.clientIp(),
  nexthop.forwardedProto(),
  nexthop.requestId(),
  nexthop.nextHopProxy(),
]);

function isAppPath(url) {
  return APP_PATHS.some((p) => url === p || url.startsWith(`${p}/`) || url.startsWith(`${p}?`));
}

listen(
  http.createServer(function fastLaneRouter(req, res) {
    if (isAppPath(req.url)) app(req, res);
    else fastLane(req, res);
  }),
);
