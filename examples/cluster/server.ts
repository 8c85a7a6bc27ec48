import { createApp, errorHandler, nextHopProxy, serve } from 'nexthop';

/**
 * The app each worker serves. This file runs in the primary and again in each worker:
 * build the app at the top level.
 */
export const app = createApp();

// Which worker answered: NEXTHOP_WORKER_ID is the worker's slot (1…n), kept by its replacements.
app.get('/worker', (_req, res) => {
  res.json({ worker: process.env.NEXTHOP_WORKER_ID ?? null, pid: process.pid });
});

// A bug outside any request (in a timer), to see what a crash looks like: the worker logs
// the uncaught exception with its stack, the primary starts a replacement, and the faulty
// worker finishes its in-flight requests and exits. Left out in production.
if (app.get('env') !== 'production') {
  app.post('/crash', (_req, res) => {
    setImmediate(() => {
      throw new Error(`simulated bug in worker ${process.env.NEXTHOP_WORKER_ID}`);
    });
    res.status(202).json({ crashing: process.env.NEXTHOP_WORKER_ID ?? null, pid: process.pid });
  });
}

app.use(nextHopProxy());
app.use(errorHandler());

// One worker per core unless WEB_CONCURRENCY says how many (1-1024 or "auto").
if (require.main === module) serve(app, process.env.WEB_CONCURRENCY ? {} : { workers: 'auto' });
