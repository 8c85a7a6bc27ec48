// Scenario: the fast lane. createApp() default stack (plus access log) + nextHopProxy(), served
// with `serve(app, { appPaths: ['/api'] })`: the measured requests (/hello) are outside the
// app's paths, so they run the compiled request context, the access log and the proxy as
// plain functions, never entering Express's router. Budget: ≥ 1.0× Fastify + @fastify/http-proxy.
'use strict';
const { load, createBenchApp, serveBench } = require('./nexthop');

const nexthop = load('createApp', 'serve', 'nextHopProxy');
const app = createBenchApp(nexthop);
app.get('/api/hello', (req, res) => res.send('hello'));
app.use(nexthop.nextHopProxy());
serveBench(nexthop, app, { appPaths: ['/api'] });
