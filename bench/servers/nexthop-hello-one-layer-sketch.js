// Sketch (not the product) sizing one proposal of docs/BENCHMARKS.md: nexthop-hello with the
// request context (clientIp, forwardedProto, requestId, geo, securityHeaders) run as plain
// functions inside ONE Express middleware instead of five router layers.
'use strict';
const { load, createBenchApp, serveBench, plainChain } = require('./nexthop');

const nexthop = load(
  'createApp',
  'serve',
  'clientIp',
  'forwardedProto',
  'requestId',
  'geo',
  'securityHeaders',
);
const CONTEXT_OFF = {
  clientIp: false,
  forwardedProto: false,
  requestId: false,
  geo: false,
  securityHeaders: false,
};

const app = createBenchApp(nexthop, { createOptions: CONTEXT_OFF });
const context = plainChain([
  nexthop.clientIp(),
  nexthop.forwardedProto(),
  nexthop.requestId(),
  nexthop.geo(),
  nexthop.securityHeaders(),
]);
app.use(function nexthopContext(req, res, next) {
  context(req, res, next);
});
app.get('/hello', (req, res) => res.send('hello'));
serveBench(nexthop, app);
