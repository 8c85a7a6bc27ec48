import { randomInt } from 'node:crypto';
import { createApp, errorHandler, HEALTH_PATH, nextHopProxy, serve } from 'nexthop';

/** The cookie that remembers a visitor's variant. */
export const COOKIE = 'ab_variant';
/** The variants; each one's pages live upstream under `/<variant>/…`. */
export const VARIANTS = ['a', 'b'] as const;
const STICKY = /(?:^|;\s*)ab_variant=(a|b)(?:;|$)/;
const MONTH = 30 * 24 * 3600;

/** The module: every visitor gets a sticky variant; pages are proxied per variant. */
export const app = createApp();

// Every visitor gets a variant: the one its cookie names, else a random one (new visitor).
app.use(function assignVariant(req, res, next) {
  const known = req.headers.cookie?.match(STICKY)?.[1];
  res.locals.variant = known ?? VARIANTS[randomInt(VARIANTS.length)];
  res.locals.newVisitor = known === undefined && req.path !== HEALTH_PATH;
  next();
});

// The app's own answer: which variant this visitor sees (handy when testing the split).
app.get('/variant', (_req, res) => {
  res.json({ variant: res.locals.variant, newVisitor: res.locals.newVisitor });
});

app.use(
  nextHopProxy({
    // /products?id=7 goes upstream as /b/products?id=7 for a visitor of variant b; the
    // platform's health check is passed on untouched.
    onProxyRequest(proxyReq, req) {
      if (req.path !== HEALTH_PATH) proxyReq.path = `/${req.res?.locals.variant}${proxyReq.path}`;
    },
    // A new visitor's assignment is remembered by a cookie on the proxied page itself, next
    // to the origin's own cookies; Secure when the browser came over HTTPS (X-Forwarded-Proto).
    onProxyResponse(proxyRes, req) {
      const res = req.res;
      if (res === undefined || !res.locals.newVisitor) return;
      const secure = req.secure ? '; Secure' : '';
      const cookie = `${COOKIE}=${res.locals.variant}; Path=/; Max-Age=${MONTH}; HttpOnly; SameSite=Lax${secure}`;
      proxyRes.headers['set-cookie'] = [proxyRes.headers['set-cookie'] ?? [], cookie].flat();
    },
  }),
);
app.use(errorHandler());

// Listens on $PORT (HTTP/1.1) only when run directly, so tests can import the app.
if (require.main === module) serve(app);
