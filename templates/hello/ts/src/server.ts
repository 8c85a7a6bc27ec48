import { serve } from 'nexthop';
import { buildApp } from './app';

// Listens on $PORT with plain HTTP/1.1 and shuts down gracefully on SIGTERM.
serve(buildApp()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
