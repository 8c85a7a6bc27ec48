// Scenario: Express + the minimal keep-alive pipe proxy (common.js pipeProxy) as the last
// middleware: the cheapest possible Express proxy, a peer for proxied requests.
'use strict';
const http = require('node:http');
const express = require('express');
const { listen, pipeProxy } = require('./common');

const app = express();
app.use(pipeProxy());
listen(http.createServer(app));
