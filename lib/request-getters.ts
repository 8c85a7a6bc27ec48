/**
 * Making Express's own `req.ip`, `req.protocol` and `req.secure` tell what the
 * request-context middleware found, at the lowest per-request cost.
 *
 * Express switches every request's prototype to its app's `app.request`, and on such an
 * object each new own property costs a fresh hidden class (a microsecond, measured in
 * bench/request-context.js). So instead of defining `ip` on every request, the getter is
 * installed once on the app's request prototype (`app.request`, Express's documented
 * extension point, inherited by mounted sub-apps) and reads the plain field the middleware
 * set (`req.clientIp`, `req.proto`), falling back to Express's getter when the middleware
 * did not run for that request. A request whose prototype is not an Express app's (a bare
 * `http` server) gets the getter as an own property instead.
 */

/** One overriding getter: which field it reads and how it turns it into the value. */
export interface RequestGetter {
  /** The Express property to shadow, e.g. `ip`. */
  readonly name: string;
  /** The own field the middleware sets, e.g. `clientIp`; `undefined` means "not run". */
  readonly field: string;
  /** Turns the field's value into the property's value. @default identity */
  readonly map?: (value: unknown) => unknown;
}

function inheritedGetter(proto: object, name: string): ((this: object) => unknown) | undefined {
  for (let o: object | null = proto; o !== null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, name);
    if (descriptor) return descriptor.get ?? (() => descriptor.value);
  }
  return undefined;
}

function descriptorFor(getter: RequestGetter, fallback?: (this: object) => unknown): PropertyDescriptor {
  const { field, map } = getter;
  return {
    configurable: true,
    enumerable: true,
    get(this: Record<string, unknown>) {
      const value = this[field];
      if (value === undefined) return fallback?.call(this);
      return map === undefined ? value : map(value);
    },
  };
}

/** Names already shadowed on each app prototype, by any middleware instance. */
const shadowed = new WeakMap<object, Set<string>>();

/** An Express app's request prototype carries its `app` as an own property. */
function isAppRequestPrototype(proto: object | null): proto is object {
  return proto !== null && Object.hasOwn(proto, 'app');
}

/**
 * Returns a per-request function that makes `getters` visible on `req`: installed once per
 * Express app prototype (remembered), or as own properties on a non-Express request.
 */
export function requestGetters(getters: readonly RequestGetter[]): (req: object) => void {
  const ownDescriptors: PropertyDescriptorMap = {};
  for (const getter of getters) ownDescriptors[getter.name] = descriptorFor(getter);
  let lastProto: object | null = null;

  function patch(proto: object): void {
    let names = shadowed.get(proto);
    if (names === undefined) shadowed.set(proto, (names = new Set()));
    for (const getter of getters) {
      if (names.has(getter.name)) continue;
      Object.defineProperty(proto, getter.name, descriptorFor(getter, inheritedGetter(proto, getter.name)));
      names.add(getter.name);
    }
  }

  return function exposeGetters(req) {
    const proto = Object.getPrototypeOf(req) as object | null;
    if (proto === lastProto) return;
    if (!isAppRequestPrototype(proto)) {
      Object.defineProperties(req, ownDescriptors);
      return;
    }
    patch(proto);
    lastProto = proto;
  };
}
