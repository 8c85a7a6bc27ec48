// Scenario: node http + the minimal keep-alive pipe proxy, no Express: the practical ceiling
// of a Node proxy built on http.request, and the reference for the 1 GiB upload.
'use strict';
const http = require('node:http');
const { listen, pipeProxy } = require('./common');

listen(http.createServer(pipeProxy()));
