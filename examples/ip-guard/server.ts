import { rateLimit } from 'express-rate-limit';
import {
  compileTrust,
  createApp,
  DEFAULT_TRUSTED_PROXIES,
  errorHandler,
  HEALTH_PATH,
  nextHopProxy,
  serve,
} from 'nexthop';

// Settings from the environment, checked at start-up (a bad CIDR stops the deploy).
// compileTrust compiles any list of CIDRs and preset names into a fast address predicate.
const env = process.env;
/** Clients refused with 403. @default "198.51.100.0/24" (a documentation range) */
const denied = compileTrust(env.DENY_CIDRS ?? '198.51.100.0/24');
/** When set, only these clients get through (deny still wins). @default every client */
const allowed = env.ALLOW_CIDRS ? compileTrust(env.ALLOW_CIDRS) : () => true;
/** Requests per client per minute before 429. @default 60 */
const limit = Number(env.RATE_LIMIT ?? 60);
if (!Number.isInteger(limit) || limit < 1) {
  throw new RangeError(`RATE_LIMIT must be a positive integer, got ${env.RATE_LIMIT}`);
}

/**
 * The module. Only the platform's module front may say who the client is: on the platform
 * that is the default (private networks); TRUSTED_PROXIES narrows it to the front's network.
 */
export const app = createApp({ trustedProxies: env.TRUSTED_PROXIES ?? DEFAULT_TRUSTED_PROXIES });

// req.clientIp is True-Client-IP from a trusted peer, the socket address from anyone else:
// a client talking to the app directly cannot pick an address that gets through.
app.use(function ipGuard(req, res, next) {
  if (req.path === HEALTH_PATH || (allowed(req.clientIp) && !denied(req.clientIp))) return next();
  res.status(403).json({ error: 'forbidden', clientIp: req.clientIp });
});

// express-rate-limit keys on req.ip, which createApp makes the client's address; its
// trust-proxy checks pass because createApp sets `trust proxy` to the compiled trust.
app.use(
  rateLimit({
    windowMs: 60_000,
    limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skip: (req) => req.path === HEALTH_PATH,
    message: { error: 'too many requests' },
  }),
);

app.get('/whoami', (req, res) => {
  res.json({ clientIp: req.clientIp, ip: req.ip });
});

app.use(nextHopProxy());
app.use(errorHandler());

// Listens on $PORT (HTTP/1.1) only when run directly, so tests can import the app.
if (require.main === module) serve(app);
