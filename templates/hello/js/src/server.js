const { serve } = require('nexthop');
const { buildApp } = require('./app');

// Listens on $PORT with plain HTTP/1.1 and shuts down gracefully on SIGTERM.
serve(buildApp()).catch((err) => {
  console.error(err);
  process.exit(1);
});
