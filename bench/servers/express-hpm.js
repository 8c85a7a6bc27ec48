// Scenario: Express + http-proxy-middleware 3 with default options. http-proxy then uses no
// agent and sends `Connection: close`: a new upstream connection for every request.
'use strict';
const http = require('node:http');
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');
const { listen, upstream } = require('./common');

const app = express();
app.use(createProxyMiddleware({ target: upstream().origin }));
listen(http.createServer(app));
