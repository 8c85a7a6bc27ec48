// The public surface of nexthop: re-exports only.

// Core: app factory, serving, configuration, logging, errors
export { createApp } from './app';
export type { CreateAppOptions } from './app';
export {
  serve,
  DEFAULT_KEEP_ALIVE_TIMEOUT,
  DEFAULT_HEADERS_TIMEOUT,
  DEFAULT_REQUEST_TIMEOUT,
  DEFAULT_SHUTDOWN_TIMEOUT,
} from './serve';
export type { ServeOptions, ServeHandle } from './serve';
export { loadConfig, LOG_LEVELS, DEFAULT_PORT, DEFAULT_NEXT_HOP, DEFAULT_LOG_DIR } from './config';
export type { Config, Env, LogLevel } from './config';
export { createLogger, closeLogger, prepareLogDir } from './logger';
export type { Logger, LoggerOptions } from './logger';
export { NexthopError, ConfigError, ERROR_CODES, isNexthopError } from './errors';
export type { NexthopErrorCode, NexthopErrorOptions } from './errors';

// Request context (clientIp, forwardedProto, requireHttps, requestId, geo, securityHeaders)
export { compileTrust, DEFAULT_TRUSTED_PROXIES, TRUST_PRESETS } from './trust';
export type { Trust, TrustedProxies } from './trust';
export { normalizeIp } from './ip';
export { clientIp } from '../middleware/client-ip';
export type { ClientIpOptions } from '../middleware/client-ip';
export { forwardedProto } from '../middleware/forwarded-proto';
export type { ForwardedProtoOptions } from '../middleware/forwarded-proto';
export { requireHttps } from '../middleware/require-https';
export type { RequireHttpsOptions } from '../middleware/require-https';
export { requestId } from '../middleware/request-id';
export type { RequestIdOptions } from '../middleware/request-id';
export { geo, parseGeo } from '../middleware/geo';
export type { Geo, GeoOptions } from '../middleware/geo';
export { securityHeaders } from '../middleware/security-headers';
export type { SecurityHeadersOptions } from '../middleware/security-headers';

// Next-hop proxy (nextHopProxy)
export { nextHopProxy, NEXT_HOP_PROXY_DEFAULTS, HEALTH_PATH } from '../middleware/next-hop-proxy';
export type {
  NextHopProxyOptions,
  NextHopProxyHandler,
  PathFilter,
  ProxyHeaders,
  ProxyRequest,
  ProxyResponse,
  UpstreamRecord,
  UpstreamErrorCode,
  UpstreamSockets,
} from '../middleware/next-hop-proxy';

// Logging middleware (accessLog)
export { accessLog, DEFAULT_REDACT_QUERY } from '../middleware/access-log';
export type { AccessLogOptions, UpstreamLogFields } from '../middleware/access-log';
export {
  logger,
  LOG_SUFFIX_ENV,
  DEFAULT_LOG_MAX_SIZE,
  DEFAULT_LOG_MAX_FILES,
  DEFAULT_LOG_FLUSH_INTERVAL,
} from './logger';

// Resilience (errorHandler, notFound, cluster)
export { errorHandler } from '../middleware/error-handler';
export type { ErrorHandlerOptions, ErrorBody, ErrorLogger } from '../middleware/error-handler';
export { notFound } from '../middleware/not-found';
export { RESTART_POLICY, WORKER_ID_ENV } from './cluster';
export { SHUTDOWN_IDLE_GRACE } from './connections';
export type { RestartPolicy, Supervisor } from './cluster';
