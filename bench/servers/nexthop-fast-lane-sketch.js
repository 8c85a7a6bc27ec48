// Sketch (not the product) of the fast lane proposed in the performance issue: requests
// outside the app's paths (here everything but /api) skip Express and run nexthop's access log
// (when built), request context (clientIp, forwardedProto, requestId) and nextHopProxy as plain functions
// on node's req/res; app paths go to the Express app built by createApp(). It measures how
// close a router-free proxied path gets to Fastify before the real design lands (serve()
// option or equivalent, with the access log and identical behaviour on both paths).
'use strict';
const http = require('node:http');
const { load, prepareEnv, createBenchApp, plainChain } = require('./nexthop');
const { listen } = require('./common');

const nexthop = load('createApp', 'createLogger', 'nextHopProxy', 'clientIp', 'forwardedProto', 'requestId');
const APP_PATHS = ['/api'];

// One logger for both paths, passed explicitly: accessLog() finds the app's logger through
// req.app, which a plain node request does not have.
prepareEnv();
const logger = nexthop.createLogger({ dir: process.env.LOG_DIR, level: process.env.LOG_LEVEL });
const app = createBenchApp(nexthop, { createOptions: { logger } });
app.get('/api/hello', (req, res) => res.send('hello'));
app.use(nexthop.nextHopProxy());

const fastLaneChain = plainChain([
  ...(typeof nexthop.accessLog === 'function' ? [nexthop.accessLog({ logger })] : []),
  nexthop.clientIp(),
  nexthop.forwardedProto(),
  nexthop.requestId(),
  nexthop.nextHopProxy(),
]);
function fastLane(req, res) {
  fastLaneChain(req, res, (err) => {
    res.statusCode = err ? 500 : 404;
    res.end();
  });
}

function isAppPath(url) {
  return APP_PATHS.some((p) => url === p || url.startsWith(`${p}/`) || url.startsWith(`${p}?`));
}

listen(
  http.createServer(function fastLaneRouter(req, res) {
    if (isAppPath(req.url)) app(req, res);
    else fastLane(req, res);
  }),
);
