import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { checkOptions, describe, markFactory } from '../lib/check-options';
import { runStep, withStep } from '../lib/pipeline';
import { compileTrust, type TrustedProxies } from '../lib/trust';

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * This request's correlation id, set by `requestId()`: the platform's `section-io-id`,
     * a safe incoming `X-Request-Id`, or a new UUID. Logs and the next-hop proxy carry it.
     * Undefined when `requestId()` is not in the app.
     */
    id?: string;
  }
}

/** Options for {@link requestId}. */
export interface RequestIdOptions {
  /**
   * Socket peers whose incoming id headers are reused; from any other peer a new id is
   * always made.
   * @default DEFAULT_TRUSTED_PROXIES
   */
  trustedProxies?: TrustedProxies;
  /**
   * Request headers tried in order; the first holding a safe id (1-128 characters of
   * `A-Z a-z 0-9 . _ : -`) wins. `[]` always makes a new id.
   * @default ['section-io-id', 'x-request-id']
   */
  incoming?: readonly string[];
  /**
   * Response header that carries the id back; `false` for none.
   * @default 'X-Request-Id'
   */
  header?: string | false;
  /**
   * Makes a new id. It should return a safe id as above: it is echoed in a header.
   * @default crypto.randomUUID
   */
  generate?: () => string;
}

const KNOWN_OPTIONS = ['trustedProxies', 'incoming', 'header', 'generate'];
/** An id safe to echo in headers and log lines: no spaces, quotes, CR/LF or separators. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** RFC 9110 §5.1 field-name token. */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function checkHeaderNames(incoming: unknown): string[] {
  if (!Array.isArray(incoming)) {
    throw new TypeError(
      `nexthop requestId: incoming must be an array of header names, got ${describe(incoming)}`,
    );
  }
  return incoming.map((name: unknown) => {
    if (typeof name !== 'string' || !FIELD_NAME.test(name)) {
      throw new TypeError(
        `nexthop requestId: incoming entry ${describe(name)} is not a header name; use e.g. "x-request-id"`,
      );
    }
    return name.toLowerCase();
  });
}

/**
 * Give every request a correlation id: `req.id`, echoed in the `X-Request-Id` response
 * header. From a trusted peer it reuses the platform's `section-io-id`, else a safe
 * incoming `X-Request-Id`; otherwise (or when the value is unsafe) it makes a new UUID.
 *
 * @example
 * app.use(requestId());
 * app.get('/', (req, res) => res.send(`request ${req.id}`));
 */
export function requestId(options: Readonly<RequestIdOptions> = {}, _notMiddleware?: never): RequestHandler {
  checkOptions('requestId', options, KNOWN_OPTIONS);
  const {
    trustedProxies,
    incoming = ['section-io-id', 'x-request-id'],
    header = 'X-Request-Id',
    generate = randomUUID,
  } = options;
  const sources = checkHeaderNames(incoming);
  if (header !== false && (typeof header !== 'string' || !FIELD_NAME.test(header))) {
    throw new TypeError(
      `nexthop requestId: header must be a header name or false, got ${describe(header)}; use e.g. "X-Request-Id"`,
    );
  }
  if (typeof generate !== 'function') {
    throw new TypeError(
      `nexthop requestId: generate must be a function returning an id, got ${describe(generate)}`,
    );
  }
  const trust = compileTrust(trustedProxies, 'requestId');

  function incomingId(req: Request): string | undefined {
    if (sources.length === 0 || !trust(req.socket.remoteAddress)) return undefined;
    for (const name of sources) {
      const value = req.headers[name];
      if (typeof value === 'string' && SAFE_ID.test(value)) return value;
    }
    return undefined;
  }

  function requestIdStep(req: Request, res: Response): undefined {
    req.id = incomingId(req) ?? generate();
    if (header !== false) res.setHeader(header, req.id);
    return undefined;
  }
  return withStep(function requestIdMiddleware(req, res, next) {
    runStep(requestIdStep, req, res, next);
  }, requestIdStep);
}

markFactory('requestId', requestId);
