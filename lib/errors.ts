/**
 * Every stable error code nexthop can raise, with the HTTP status it maps to when it
 * reaches a response. Codes never change meaning; new ones are only added.
 */
export const ERROR_CODES = {
  /** One or more environment variables are invalid (see `loadConfig`). */
  ERR_NEXTHOP_CONFIG: 500,
  /** The log folder cannot be created or written to. */
  ERR_NEXTHOP_LOG_DIR: 500,
  /** `serve()` was given options that would make it speak TLS or HTTP/2, or `nextHopProxy()` an https: target. */
  ERR_NEXTHOP_NOT_PLAIN_HTTP: 500,
  /** The port is already taken or may not be bound. */
  ERR_NEXTHOP_LISTEN: 500,
  /** next-hop refused the connection. */
  ERR_NEXTHOP_UPSTREAM_REFUSED: 502,
  /** next-hop reset the connection before a response arrived. */
  ERR_NEXTHOP_UPSTREAM_RESET: 502,
  /** The next-hop host name did not resolve. */
  ERR_NEXTHOP_UPSTREAM_DNS: 502,
  /** Any other failure talking to next-hop before a response arrived. */
  ERR_NEXTHOP_UPSTREAM: 502,
  /** next-hop's response broke HTTP/1.1's rules (status line, fields, framing); its connection was closed. */
  ERR_NEXTHOP_UPSTREAM_MALFORMED: 502,
  /** next-hop did not connect or answer within the proxy timeout. */
  ERR_NEXTHOP_UPSTREAM_TIMEOUT: 504,
  /** next-hop's response broke off after its headers were sent. */
  ERR_NEXTHOP_UPSTREAM_ABORTED: 502,
  /**
   * nextHopProxy cannot send the request as middleware left it: a method, path or header
   * value with characters HTTP forbids (e.g. a line break in `req.id`), or a field a hook set
   * that the proxy frames itself. Nothing is sent to next-hop.
   */
  ERR_NEXTHOP_BAD_PROXY_REQUEST: 500,
  /** The request body was read by earlier middleware into a form nextHopProxy cannot re-send. */
  ERR_NEXTHOP_BODY_CONSUMED: 500,
  /**
   * The client went away before the proxied response was complete; the upstream request
   * was aborted. Recorded for the access log only (499, as nginx logs it); never sent.
   */
  ERR_NEXTHOP_CLIENT_ABORTED: 499,
  /** The Host header is not a valid host[:port] (or not in the allow-list). */
  ERR_NEXTHOP_BAD_HOST: 400,
  /** A plain-HTTP request must use HTTPS but its target is not a path it can be redirected to. */
  ERR_NEXTHOP_HTTPS_REQUIRED: 400,
  /** No route answered the request (`notFound()`). */
  ERR_NEXTHOP_NOT_FOUND: 404,
  /** Cluster workers kept exiting before any of them listened; the primary gave up (exit 1). */
  ERR_NEXTHOP_WORKER_CRASH_LOOP: 500,
} as const;

/** A stable nexthop error code, e.g. `ERR_NEXTHOP_UPSTREAM_TIMEOUT`. */
export type NexthopErrorCode = keyof typeof ERROR_CODES;

/** Options for {@link NexthopError}. */
export interface NexthopErrorOptions {
  /** HTTP status; defaults to the status listed for the code in `ERROR_CODES`. */
  status?: number;
  /** The original error this one wraps. */
  cause?: unknown;
  /**
   * Whether the message may be shown to clients. Defaults to true for 4xx statuses,
   * false for 5xx (the error handler then sends a generic text).
   */
  expose?: boolean;
}

/**
 * Base class of every error nexthop raises at request time or at start-up.
 * Tests and apps branch on `code`, never on `message`.
 *
 * @example
 * if (err instanceof NexthopError && err.code === 'ERR_NEXTHOP_UPSTREAM_TIMEOUT') retryLater();
 */
export class NexthopError extends Error {
  readonly code: NexthopErrorCode;
  /** HTTP status this error is answered with (also readable as `statusCode`). */
  readonly status: number;
  readonly expose: boolean;

  constructor(code: NexthopErrorCode, message: string, options: NexthopErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NexthopError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code];
    this.expose = options.expose ?? this.status < 500;
  }

  get statusCode(): number {
    return this.status;
  }
}

/**
 * Thrown by `loadConfig` when one or more environment variables are invalid. Every
 * problem is listed, so a deploy is fixed in one go.
 */
export class ConfigError extends NexthopError {
  /** One line per invalid variable: the name, the value and the rule it broke. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const head =
      problems.length === 1
        ? 'invalid configuration:'
        : `invalid configuration (${problems.length} problems):`;
    super('ERR_NEXTHOP_CONFIG', `${head}\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

/** True when `err` is a NexthopError (works across copies of the package, by shape). */
export function isNexthopError(err: unknown): err is NexthopError {
  return (
    err instanceof NexthopError ||
    (typeof err === 'object' &&
      err !== null &&
      typeof (err as { code?: unknown }).code === 'string' &&
      (err as { code: string }).code in ERROR_CODES)
  );
}
