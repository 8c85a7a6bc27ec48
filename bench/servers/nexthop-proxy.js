// Scenario: nexthop createApp() default stack (plus access log) + nextHopProxy() to the
// upstream: every request is proxied. Budgets: ≥ 1.1× Fastify + @fastify/http-proxy, ≥ 0.7×
// the bare undici Pool proxy, ≥ 4× Express + http-proxy-middleware defaults; a 1 GiB upload
// under 100 MB RSS at ≥ 0.8× the pipe proxy's speed.
'use strict';
const { load, createBenchApp, serveBench } = require('./nexthop');

const nexthop = load('createApp', 'serve', 'nextHopProxy');
const app = createBenchApp(nexthop);
app.use(nexthop.nextHopProxy());
serveBench(nexthop, app);
