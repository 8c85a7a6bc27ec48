import { IncomingMessage } from 'node:http';
import { distance } from 'fastest-levenshtein';

/**
 * Construction-time checks shared by every public factory and serve(): the options
 * argument is a plain object with only known keys, and the factory was called, not passed
 * to `app.use` (then Express calls it with a request, which lands here as `options`).
 * An unknown key names the closest known one: `requireHTTPS` → "did you mean requireHttps?".
 *
 * @example checkOptions('clientIp', options, ['trustedProxies', 'header', 'xForwardedFor']);
 */
export function checkOptions(owner: string, options: unknown, known: readonly string[]): void {
  checkCalled(owner, options);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`nexthop ${owner}: options must be an object, e.g. ${owner}({})`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw unknownOption(owner, key, known);
  }
}

/**
 * Throw when a factory was passed to `app.use` instead of called: Express then calls it with
 * a request, which lands here as `options`.
 */
export function checkCalled(owner: string, options: unknown): void {
  if (options instanceof IncomingMessage) {
    throw new TypeError(`nexthop ${owner}: call the factory: app.use(${owner}()), not app.use(${owner})`);
  }
}

/**
 * The TypeError for an unknown option `key` of `owner`: its name, the closest known name
 * when one is close, and the known names.
 *
 * @example throw unknownOption('serve', 'prot', ['port', 'host']);
 * // TypeError: nexthop serve: unknown option "prot" (did you mean port?); known options: port, host
 */
export function unknownOption(owner: string, key: string, known: readonly string[]): TypeError {
  if (known.length === 0)
    return new TypeError(`nexthop ${owner}: unknown option "${key}"; it takes no options`);
  return new TypeError(
    `nexthop ${owner}: unknown option "${key}"${suggestion(key, known)}; known options: ${known.join(', ')}`,
  );
}

/** `' (did you mean port?)'` when {@link didYouMean} finds a close name, else `''`. */
export function suggestion(input: string, candidates: readonly string[]): string {
  const best = didYouMean(input, candidates);
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

/**
 * The candidate `input` was most likely meant to be: the same name in another case, else
 * the one fewest edits away (Levenshtein, case-insensitive), if it is close enough that
 * suggesting it helps — at most 2 edits, or a third of a long name, and never more than
 * half of the longer name — or if one starts with the other (`warning` → `warn`,
 * `skipPaths` → `skip`; 3 letters at least). Ties go to the earlier candidate.
 *
 * @example didYouMean('verbos', LOG_LEVELS) // 'verbose'
 */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  const lower = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    const d = distance(lower, other);
    const longer = Math.max(lower.length, other.length);
    const shorter = Math.min(lower.length, other.length);
    const prefix = shorter >= 3 && (lower.startsWith(other) || other.startsWith(lower));
    const allowed = Math.min(Math.max(2, Math.floor(longer / 3)), Math.floor(longer / 2));
    if ((d <= allowed || prefix) && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * The option names of `T`, written once as `{ name: true, … }`: a name missing from the
 * record or not in `T` is a compile error, so the runtime list cannot drift from the type.
 *
 * @example const KNOWN = optionNames<ServeOptions>({ port: true, host: true, … });
 */
export function optionNames<T extends object>(names: { readonly [K in keyof Required<T>]: true }): string[] {
  return Object.keys(names);
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

// Symbol.for: recognised across two copies of nexthop in one app (e.g. a linked checkout).
const FACTORY = Symbol.for('nexthop.factory');

/**
 * Mark `factory` (e.g. `clientIp`) as a nexthop middleware factory, so serve() can tell
 * `app.use(clientIp)` from `app.use(clientIp())` when it walks the app at start-up.
 * The compile-time half: each factory's second parameter, `_notMiddleware?: never`, is never
 * passed; Express would pass `res` there, so TypeScript refuses `app.use(clientIp)`.
 */
export function markFactory(name: string, factory: (...args: never[]) => unknown): void {
  Object.defineProperty(factory, FACTORY, { value: name });
}

/** What serve()'s start-up check needs to know of a middleware a factory made. */
export interface MiddlewareMark {
  /** The factory that made it, e.g. `'nextHopProxy'`. */
  readonly factory: string;
  /** It only acts on some paths (e.g. nextHopProxy's `pathFilter`), passing others on. */
  readonly filtered: boolean;
}

const MIDDLEWARE = Symbol.for('nexthop.middleware');

/** Mark `handler` as made by a nexthop factory; returns it. */
export function markMiddleware<H extends object>(handler: H, mark: MiddlewareMark): H {
  return Object.defineProperty(handler, MIDDLEWARE, { value: Object.freeze({ ...mark }) });
}

/** The mark {@link markMiddleware} put on `handler`, else undefined. */
export function middlewareMark(handler: unknown): MiddlewareMark | undefined {
  if (typeof handler !== 'function') return undefined;
  return (handler as unknown as Record<symbol, MiddlewareMark | undefined>)[MIDDLEWARE];
}

/** The name of the nexthop factory `fn` is (see {@link markFactory}), else undefined. */
export function factoryName(fn: unknown): string | undefined {
  if (typeof fn !== 'function') return undefined;
  const name: unknown = (fn as unknown as Record<symbol, unknown>)[FACTORY];
  return typeof name === 'string' ? name : undefined;
}
