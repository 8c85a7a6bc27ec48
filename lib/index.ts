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

// Next-hop proxy (nextHopProxy)

// Logging middleware (accessLog)

// Resilience (errorHandler, notFound, cluster)
export { errorHandler } from '../middleware/error-handler';
export type { ErrorHandlerOptions, ErrorBody, ErrorLogger } from '../middleware/error-handler';
export { notFound } from '../middleware/not-found';
export { RESTART_POLICY, WORKER_ID_ENV } from './cluster';
export { SHUTDOWN_IDLE_GRACE } from './serve';
export type { RestartPolicy, Supervisor } from './cluster';
