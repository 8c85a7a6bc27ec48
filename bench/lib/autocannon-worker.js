// Runs one autocannon load in its own process (pinned by the harness) and prints its result
// as one JSON line. Argument: JSON { url, connections, duration, headers } (duration in s).
'use strict';
const autocannon = require('autocannon');

const { url, connections, duration, headers } = JSON.parse(process.argv[2]);
autocannon({ url, connections, duration, headers, pipelining: 1 }, (err, result) => {
  if (err) {
    process.stderr.write(`autocannon: ${err.message}\n`);
    process.exit(1);
  }
  const answered = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  const summary = {
    requests: answered,
    seconds: result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    socketErrors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
  process.stdout.write(`AUTOCANNON_JSON ${JSON.stringify(summary)}\n`);
});
