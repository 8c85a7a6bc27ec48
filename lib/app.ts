import express from 'express';
import type { Application } from 'express';
import { loadConfig, type Config } from './config';
import { setAppContext } from './context';
import { NexthopError } from './errors';
import { createLogger, type Logger } from './logger';
import { startupError } from './startup';

/** Options for {@link createApp}. Each feature takes its own options or `false` to leave it out. */
export interface CreateAppOptions {
  /** Validated settings. @default loadConfig() (reads PORT, NEXT_HOP, LOG_DIR, LOG_LEVEL, NODE_ENV) */
  config?: Config;
  /** The logger every part of the app writes to. @default createLogger({ dir: config.logDir, level: config.logLevel }) */
  logger?: Logger;
}

/**
 * Peers whose forwarding headers Express may believe: loopback, link-local and private
 * ranges, where the platform's module-front nginx lives. Never `true`: an app reached
 * directly from the internet must not take a client's word for its own address.
 */
const TRUSTED_PEERS = ['loopback', 'linklocal', 'uniquelocal'];

/** Config and logger for a new app; a bad environment or log folder fails start-up cleanly. */
export function startupContext(options: { config?: Config; logger?: Logger }): {
  config: Config;
  logger: Logger;
} {
  try {
    const config = options.config ?? loadConfig();
    const logger = options.logger ?? createLogger({ dir: config.logDir, level: config.logLevel });
    return { config, logger };
  } catch (err) {
    throw err instanceof NexthopError ? startupError(err) : err;
  }
}

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
  const { config, logger } = startupContext(options);
  const app = express();
  app.disable('x-powered-by');
  app.set('env', config.nodeEnv);
  app.set('trust proxy', TRUSTED_PEERS);
  setAppContext(app, { config, logger });
  return app;
}
