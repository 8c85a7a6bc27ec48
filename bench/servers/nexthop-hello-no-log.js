// Scenario: nexthop-hello without the access log: the other side of the access-log cost.
'use strict';
const { load, createBenchApp, serveBench } = require('./nexthop');

const nexthop = load('createApp', 'serve', 'accessLog');
const app = createBenchApp(nexthop, { accessLog: false });
app.get('/hello', (req, res) => res.send('hello'));
serveBench(nexthop, app);
