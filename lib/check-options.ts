import { IncomingMessage } from 'node:http';

/**
 * Construction-time checks shared by middleware factories: the options argument is a
 * plain object with only known keys, and the factory was called, not passed to
 * `app.use` (then Express calls it with a request, which lands here as `options`).
 *
 * @example checkOptions('clientIp', options, ['trustedProxies', 'header', 'xForwardedFor']);
 */
export function checkOptions(owner: string, options: unknown, known: readonly string[]): void {
  if (options instanceof IncomingMessage) {
    throw new TypeError(
      `nexthop ${owner}: it was given a request; write app.use(${owner}()) instead of app.use(${owner})`,
    );
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`nexthop ${owner}: options must be an object, e.g. ${owner}({})`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`nexthop ${owner}: unknown option "${key}"; known options are ${known.join(', ')}`);
    }
  }
}

/** Throw a TypeError unless `value` is undefined or a boolean. */
export function checkBoolean(owner: string, name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new TypeError(`nexthop ${owner}: ${name} must be true or false, got ${describe(value)}`);
  }
}

/** A short, safe rendering of a bad option value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}
