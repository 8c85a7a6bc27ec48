// Scenario: Fastify 5 + @fastify/http-proxy (undici pool to the upstream): the best peer.
'use strict';
const fastify = require('fastify');
const { port, upstream, exitOnSigterm } = require('./common');

const app = fastify({ logger: false });
app.register(require('@fastify/http-proxy'), { upstream: upstream().origin });
exitOnSigterm();
app.listen({ port: port(), host: '127.0.0.1' }).then(() => process.stdout.write(`READY ${port()}\n`));
