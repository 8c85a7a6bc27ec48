import express from 'express';
import type { Application } from 'express';
import { checkOptions, describe, optionNames } from './check-options';
import { loadConfig, type Config } from './config';
import { setAppContext } from './context';
import { NexthopError } from './errors';
import { pipeline, stepOf, type Step } from './pipeline';
import { createLogger, installRequestLog, setRootLogger, type Logger } from './logger';
import { startupError } from './startup';
import { compileTrust, type Trust, type TrustedProxies } from './trust';
import { accessLog, type AccessLogOptions } from '../middleware/access-log';
import { clientIp, type ClientIpOptions } from '../middleware/client-ip';
import { forwardedProto, type ForwardedProtoOptions } from '../middleware/forwarded-proto';
import { geo, type GeoOptions } from '../middleware/geo';
import { requestId, type RequestIdOptions } from '../middleware/request-id';
import { requireHttps, type RequireHttpsOptions } from '../middleware/require-https';
import { securityHeaders, type SecurityHeadersOptions } from '../middleware/security-headers';

/** Options for {@link createApp}. Each feature takes its own options or `false` to leave it out. */
export interface CreateAppOptions {
  /** Validated settings. @default loadConfig() (reads PORT, NEXT_HOP, LOG_DIR, LOG_LEVEL, NODE_ENV) */
  config?: Config;
  /** The logger every part of the app writes to. @default createLogger({ dir: config.logDir, level: config.logLevel }) */
  logger?: Logger;
  /**
   * Socket peers (the platform's module front) whose forwarding headers are believed,
   * compiled once and shared by Express's `trust proxy` and every request-context
   * middleware. Never `true`.
   * @default DEFAULT_TRUSTED_PROXIES (loopback, link-local, private and CGNAT ranges)
   */
  trustedProxies?: TrustedProxies;
  /**
   * One JSON line per request in `access.log` (see accessLog), mounted first so it times
   * the whole request. `false` leaves it out.
   * @default {} (on, default options; lines go to the app's logger)
   * @example createApp({ accessLog: { skip: ['/.well-known/section-io/aee-hc/healthz'] } })
   */
  accessLog?: AccessLogOptions | false;
  /** `req.clientIp` and a truthful `req.ip`. @default {} (on) */
  clientIp?: ClientIpOptions | false;
  /** `req.proto` and a truthful `req.protocol` / `req.secure`. @default {} (on) */
  forwardedProto?: ForwardedProtoOptions | false;
  /** `req.id` and the `X-Request-Id` response header. @default {} (on) */
  requestId?: RequestIdOptions | false;
  /** `req.geo` from the platform's geo headers. @default {} (on) */
  geo?: GeoOptions | false;
  /** helmet's headers on the app's own responses (not proxied ones). @default {} (on) */
  securityHeaders?: SecurityHeadersOptions | false;
  /** Redirect plain-HTTP requests to HTTPS; `true` for the defaults. @default false (off) */
  requireHttps?: RequireHttpsOptions | boolean;
}

const KNOWN_OPTIONS = optionNames<CreateAppOptions>({
  config: true,
  logger: true,
  trustedProxies: true,
  accessLog: true,
  clientIp: true,
  forwardedProto: true,
  requestId: true,
  geo: true,
  securityHeaders: true,
  requireHttps: true,
});

/** Config and logger for a new app; a bad environment or log folder fails start-up cleanly. */
export function startupContext(options: { config?: Config; logger?: Logger }): {
  config: Config;
  logger: Logger;
} {
  try {
    const config = options.config ?? loadConfig();
    const logger = options.logger ?? createLogger({ dir: config.logDir, level: config.logLevel });
    // The exported root `logger` (and accessLog on a plain express app) write through it.
    setRootLogger(logger);
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
 * Throws `ConfigError` (`ERR_NEXTHOP_CONFIG`) for bad environment variables,
 * `NexthopError` (`ERR_NEXTHOP_LOG_DIR`) when the log folder is not writable, and a
 * `TypeError` for an unknown option, naming the closest known one.
 *
 * @example
 * const app = createApp();
 * app.get('/hello', (req, res) => res.json({ ip: req.ip, proto: req.protocol }));
 * app.use(nextHopProxy());
 * app.use(errorHandler());
 * serve(app);
 */
export function createApp(options: Readonly<CreateAppOptions> = {}): Application {
  checkOptions('createApp', options, KNOWN_OPTIONS);
  const features = featureSettings(options);
  // One compiled trust for Express and every middleware. Never `true`: an app reached
  // directly from the internet must not take a client's word for its own address.
  const trust = compileTrust(options.trustedProxies, 'createApp');
  const { config, logger } = startupContext(options);
  const app = express();
  app.disable('x-powered-by');
  app.set('env', config.nodeEnv);
  app.set('trust proxy', trust);
  installRequestLog(app.request, logger);
  const steps = defaultStack(features, trust, logger);
  // One router layer for the whole stack: each layer costs the router a next/handle round.
  if (steps.length > 0) app.use(pipeline(steps));
  setAppContext(app, { config, logger });
  return app;
}

/**
 * The default stack as named plain functions, in order, each with the shared trust unless
 * it names its own. The access log comes first, so its clock starts before any other
 * middleware runs and `ms` covers them all.
 */
function defaultStack(on: FeatureSettings, trust: Trust, logger: Logger): [string, Step][] {
  const shared = { trustedProxies: trust };
  const handlers: [string, unknown][] = [
    ['accessLog', on.accessLog && accessLog({ logger, ...on.accessLog })],
    ['clientIp', on.clientIp && clientIp({ ...shared, ...on.clientIp })],
    ['forwardedProto', on.forwardedProto && forwardedProto({ ...shared, ...on.forwardedProto })],
    ['requestId', on.requestId && requestId({ ...shared, ...on.requestId })],
    ['geo', on.geo && geo({ ...shared, ...on.geo })],
    ['securityHeaders', on.securityHeaders && securityHeaders(on.securityHeaders)],
    ['requireHttps', on.requireHttps && requireHttps({ ...shared, ...on.requireHttps })],
  ];
  const steps: [string, Step][] = [];
  for (const [name, handler] of handlers) {
    const step = stepOf(handler);
    if (step !== undefined) steps.push([name, step]);
  }
  return steps;
}

const FEATURES = [
  'accessLog',
  'clientIp',
  'forwardedProto',
  'requestId',
  'geo',
  'securityHeaders',
  'requireHttps',
] as const;
type FeatureName = (typeof FEATURES)[number];
type FeatureSettings = { [K in FeatureName]: Exclude<CreateAppOptions[K], boolean | undefined> | false };

/**
 * Each feature's options as an object, or `false` when it is left out (`requireHttps` is
 * off unless set; `true` means the defaults). Anything else — a string from an environment
 * variable such as `'false'`, a number, null — is refused here, before an object spread
 * would turn it into nonsense options or silently into the defaults.
 */
function featureSettings(options: Readonly<CreateAppOptions>): FeatureSettings {
  const settings: Record<string, object | false> = {};
  for (const name of FEATURES) {
    const value: unknown = options[name];
    if (value === false || (value === undefined && name === 'requireHttps')) settings[name] = false;
    else if (value === undefined || value === true) settings[name] = {};
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) settings[name] = value;
    else {
      throw new TypeError(
        `nexthop createApp: ${name} must be true, false or an options object, got ${describe(value)}`,
      );
    }
  }
  return settings as FeatureSettings;
}
