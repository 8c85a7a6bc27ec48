// Scenario: what users hand-build today: Express + helmet + a client-IP middleware + a stock
// winston access line (JSON to a file in LOG_DIR) + hello. Context for the app-route budget.
'use strict';
const http = require('node:http');
const path = require('node:path');
const express = require('express');
const helmet = require('helmet');
const winston = require('winston');
const { listen } = require('./common');

const access = winston.createLogger({
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [
    new winston.transports.File({ filename: path.join(process.env.LOG_DIR || '.', 'diy-access.log') }),
  ],
});

const app = express();
app.set('trust proxy', 'loopback');
app.use(helmet());
app.use(function clientIp(req, res, next) {
  req.clientIp = req.get('true-client-ip') || req.ip;
  next();
});
app.use(function accessLine(req, res, next) {
  const start = process.hrtime.bigint();
  res.on('finish', () => {
    access.info('request', {
      method: req.method,
      url: req.originalUrl,
      status: res.statusCode,
      ms: Number(process.hrtime.bigint() - start) / 1e6,
      clientIp: req.clientIp,
      userAgent: req.get('user-agent'),
    });
  });
  next();
});
app.get('/hello', (req, res) => res.send('hello'));
listen(http.createServer(app));
