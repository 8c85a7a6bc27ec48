// Compiled by `npm run typecheck`, never run: each factory passed to Express uncalled must be
// a type error (@ts-expect-error fails the build if it is not), and each call must compile.
import express from 'express';
import {
  accessLog,
  clientIp,
  errorHandler,
  forwardedProto,
  geo,
  nextHopProxy,
  notFound,
  requestId,
  requireHttps,
  securityHeaders,
} from 'nexthop';

const app = express();
const router = express.Router();

// @ts-expect-error app.use(accessLog) mounts the factory
app.use(accessLog);
// @ts-expect-error app.use(clientIp) mounts the factory
app.use(clientIp);
// @ts-expect-error app.use(errorHandler) mounts the factory
app.use(errorHandler);
// @ts-expect-error app.use(forwardedProto) mounts the factory
app.use(forwardedProto);
// @ts-expect-error app.use(geo) mounts the factory
app.use(geo);
// @ts-expect-error app.use(nextHopProxy) mounts the factory
app.use(nextHopProxy);
// @ts-expect-error app.use(notFound) mounts the factory
app.use(notFound);
// @ts-expect-error app.use(requestId) mounts the factory
app.use(requestId);
// @ts-expect-error app.use(requireHttps) mounts the factory
app.use(requireHttps);
// @ts-expect-error app.use(securityHeaders) mounts the factory
app.use(securityHeaders);
// @ts-expect-error under a path too
app.use('/shop', nextHopProxy);
// @ts-expect-error in a route
app.get('/x', notFound);
// @ts-expect-error in a router
router.use(accessLog);

// Called, they are middleware.
app.use(accessLog(), clientIp(), forwardedProto(), requestId(), geo(), securityHeaders(), requireHttps());
app.get('/x', notFound());
app.use(notFound({}));
app.use('/shop', nextHopProxy({ pathFilter: '/shop' }));
router.use(nextHopProxy());
app.use(router);
app.use(errorHandler({ stack: false }));
