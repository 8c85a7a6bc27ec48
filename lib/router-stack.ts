import { METHODS } from 'node:http';
import type { Application } from 'express';
import { factoryName, middlewareMark } from './check-options';

/** The parts of Express 5's router layers read here (router 2.x). */
interface Layer {
  handle?: unknown;
  /** The mount or route path as written (router ≥ 2.3). */
  rawPath?: unknown;
  /** True for a layer mounted at the root with `app.use(fn)`. */
  slash?: boolean;
  route?: { path?: unknown; stack?: Layer[] };
  method?: string;
}

/** One function the app's router calls, where and how it was mounted. */
export interface MountedHandler {
  readonly handle: unknown;
  /** `'use'` for middleware, else the route's method in lower case (`'get'`, `'all'`, …). */
  readonly method: string;
  /** The path as written, prefixed by its routers' mount paths: `'/'`, `'/api'`, `'/api/items/:id'`. */
  readonly path: string;
  /** Mounted on the app itself, not in a nested router. */
  readonly topLevel: boolean;
}

function pathText(path: unknown): string {
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) return path.map(pathText).join(', ');
  return path instanceof RegExp ? String(path) : '/';
}

function join(prefix: string, path: string): string {
  if (prefix === '' || prefix === '/') return path;
  return path === '/' ? prefix : `${prefix}${path}`;
}

function* walk(stack: readonly Layer[], prefix: string, topLevel: boolean): Generator<MountedHandler> {
  for (const layer of stack) {
    const own = layer.slash ? '/' : pathText(layer.rawPath ?? layer.route?.path);
    const path = join(prefix, own);
    if (layer.route !== undefined) {
      for (const step of layer.route.stack ?? []) {
        yield { handle: step.handle, method: step.method ?? 'all', path, topLevel };
      }
      continue;
    }
    const nested = (layer.handle as { stack?: unknown } | undefined)?.stack;
    // An express.Router() keeps its own stack; a mounted sub-app is opaque (Express wraps it).
    if (typeof layer.handle === 'function' && Array.isArray(nested))
      yield* walk(nested as Layer[], path, false);
    else yield { handle: layer.handle, method: 'use', path, topLevel };
  }
}

/** Every handler of the app's router, in the order Express tries them, nested routers included. */
export function mountedHandlers(app: Application): MountedHandler[] {
  const stack = (app as unknown as { router?: { stack?: Layer[] } }).router?.stack;
  return Array.isArray(stack) ? [...walk(stack, '', true)] : [];
}

function mountCall(handler: MountedHandler, fn: string): string {
  const path = handler.path === '/' && handler.method === 'use' ? '' : `'${handler.path}', `;
  return `app.${handler.method}(${path}${fn})`;
}

/**
 * Check the handlers mounted on `app` before it serves: a nexthop factory passed uncalled
 * (`app.use(nextHopProxy)`, which would fail every request) throws a TypeError naming the
 * call to write. Returns warnings for mistakes that still serve, e.g. a `nextHopProxy()` at
 * the root ahead of routes it hides.
 */
export function checkMounted(app: Application): string[] {
  const handlers = mountedHandlers(app);
  for (const handler of handlers) {
    const name = factoryName(handler.handle);
    if (name === undefined) continue;
    throw new TypeError(
      `nexthop serve: ${mountCall(handler, name)} mounts the factory itself; ` +
        `call it: ${mountCall(handler, `${name}()`)}`,
    );
  }
  return shadowedRoutes(handlers);
}

/** `GET /x`, `GET/POST /x`, or `ALL /x` for `app.all` (which Express adds once per method). */
function routeNames(handlers: readonly MountedHandler[]): string[] {
  const byPath = new Map<string, Set<string>>();
  for (const h of handlers) {
    if (h.method === 'use') continue;
    const methods = byPath.get(h.path) ?? new Set<string>();
    methods.add(h.method);
    byPath.set(h.path, methods);
  }
  return [...byPath].map(([path, methods]) => {
    const all = methods.has('all') || methods.size >= METHODS.length;
    return `${all ? 'ALL' : [...methods].map((m) => m.toUpperCase()).join('/')} ${path}`;
  });
}

/** A warning when a root nextHopProxy() without pathFilter comes before routes: they never run. */
function shadowedRoutes(handlers: readonly MountedHandler[]): string[] {
  const at = handlers.findIndex((h) => {
    const mark = middlewareMark(h.handle);
    return (
      h.topLevel && h.method === 'use' && h.path === '/' && mark?.factory === 'nextHopProxy' && !mark.filtered
    );
  });
  if (at === -1) return [];
  const routes = routeNames(handlers.slice(at + 1));
  if (routes.length === 0) return [];
  return [
    `nextHopProxy() is mounted at the root before ${routes.length === 1 ? 'a route' : `${routes.length} routes`} ` +
      `it hides (every request goes to next-hop first): ${routes.join(', ')}; ` +
      'mount it after your routes, or give it a pathFilter',
  ];
}
