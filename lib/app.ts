import express from 'express';
import type { Application } from 'express';
import { loadConfig, type Config } from './config';
import { accessLog, type AccessLogOptions } from '../middleware/access-log';
import { setAppContext } from './context';
import { exitCleanlyIfUncaught } from './startup-error';
import { createLogger, installRequestLog, setRootLogger, type Logger } from './logger';

/** Options for {@link createApp}. Each feature takes its own options or `false` to leave it out. */
export interface CreateAppOptions {
  /** Validated settings. @default loadConfig() (reads PORT, NEXT_HOP, LOG_DIR, LOG_LEVEL, NODE_ENV) */
  config?: Config;
  /** The logger every part of the app writes to. @default createLogger({ dir: config.logDir, level: config.logLevel }) */
  logger?: Logger;
  /**
   * One JSON line per request in `access.log` (see accessLog), mounted first so it times
   * the whole request. `false` leaves it out.
   * @default {} (on, default options; lines go to the app's logger)
   * @example createApp({ accessLog: { skip: ['/.well-known/section-io/aee-hc/healthz'] } })
   */
  accessLog?: AccessLogOptions | false;
}

/**
 * Peers whose forwarding headers Express may believe: loopback, link-local and private
 * ranges, where the platform's module-front nginx lives. Never `true`: an app reached
 * directly from the internet must not take a client's word for its own address.
 */
const TRUSTED_PEERS = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * Create an Express 5 app ready to be an edge module: `x-powered-by` off, `trust proxy`
 * limited to the platform's private network so `req.ip`, `req.protocol` and `req.secure`
 * tell the truth, and the request-context middleware mounted in order.
 *
 * Throws `ConfigError` (`ERR_NEXTHOP_CONFIG`) for bad environment variables and
 * `NexthopError` (`ERR_NEXTHOP_LOG_DIR`) when the log folder is not writable.
 *
 * @example
 * const app = createApp();
 * app.get('/hello', (req, res) => res.json({ ip: req.ip, proto: req.protocol }));
 * app.use(nextHopProxy());
 * app.use(errorHandler());
 * serve(app);
 */
export function createApp(options: Readonly<CreateAppOptions> = {}): Application {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('nexthop createApp: options must be an object, e.g. createApp({ config })');
  }
  let config: Config;
  let logger: Logger;
  try {
    config = options.config ?? loadConfig();
    logger = options.logger ?? createLogger({ dir: config.logDir, level: config.logLevel });
  } catch (err) {
    // Never run with logs going nowhere: uncaught, this ends the process with one line.
    exitCleanlyIfUncaught(err);
    throw err;
  }
  const app = express();
  app.disable('x-powered-by');
  app.set('env', config.nodeEnv);
  app.set('trust proxy', TRUSTED_PEERS);
  setAppContext(app, { config, logger });
  setRootLogger(logger);
  installRequestLog(app.request, logger);
  // First, so its clock starts before any other middleware runs.
  if (options.accessLog !== false) app.use(accessLog({ logger, ...options.accessLog }));
  return app;
}
