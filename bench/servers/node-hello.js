// Scenario: bare node http answering "hello" (the ceiling of any Node server).
'use strict';
const http = require('node:http');
const { listen } = require('./common');

listen(
  http.createServer(function helloHandler(req, res) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 5 });
    res.end('hello');
  }),
);
