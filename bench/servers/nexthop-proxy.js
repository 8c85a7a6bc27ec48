// Scenario: nexthop createApp() default stack (plus access log) + nextHopProxy() to the
// upstream: every request is proxied. Budgets: ≥ 0.9× Express + minimal keep-alive pipe
// proxy, ≥ 2× Express + http-proxy-middleware defaults; 1 GiB upload under 100 MB RSS.
'use strict';
const { load, createBenchApp, serveBench } = require('./nexthop');

const nexthop = load('createApp', 'serve', 'nextHopProxy');
const app = createBenchApp(nexthop);
app.use(nexthop.nextHopProxy());
serveBench(nexthop, app);
