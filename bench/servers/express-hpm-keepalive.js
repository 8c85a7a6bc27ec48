// Scenario: Express + http-proxy-middleware 3 with a keep-alive agent for the upstream.
'use strict';
const http = require('node:http');
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');
const { listen, upstream } = require('./common');

const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const app = express();
app.use(createProxyMiddleware({ target: upstream().origin, agent }));
listen(http.createServer(app));
