// Scenario: nexthop createApp() default stack (plus the access log to a real file) + a hello
// route, served by serve(). Budget: ≥ 1.3× bare Express hello.
'use strict';
const { load, createBenchApp, serveBench } = require('./nexthop');

const nexthop = load('createApp', 'serve');
const app = createBenchApp(nexthop);
app.get('/hello', (req, res) => res.send('hello'));
serveBench(nexthop, app);
