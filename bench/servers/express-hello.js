// Scenario: bare Express 5 answering "hello" with res.send (the reference for app routes).
'use strict';
const http = require('node:http');
const express = require('express');
const { listen } = require('./common');

const app = express();
app.get('/hello', (req, res) => res.send('hello'));
listen(http.createServer(app));
