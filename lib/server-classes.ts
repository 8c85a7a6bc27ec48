import * as http from 'node:http';

/**
 * Request and response classes for a server that runs an Express app.
 *
 * Express's `app.handle` switches the prototype of every request and response
 * (`Object.setPrototypeOf(req, app.request)`). V8 then has to give each request object a new
 * hidden class, and node's http code that touches req and res afterwards runs on slower,
 * polymorphic paths. The bench's app-route budget (`nexthop-hello` against `express-hello`,
 * docs/BENCHMARKS.md) shows what avoiding the switch is worth.
 *
 * When node builds the request and response with `app.request` and `app.response` as their
 * prototypes in the first place, Express's switch finds the prototype already in place and
 * changes nothing. The objects are the ones node would build (node's own constructors run on
 * them); only their prototype is the app's from the start, as it would be a moment later.
 */

type Constructor = new (...args: never[]) => object;

interface ExpressPrototypes {
  readonly request: object;
  readonly response: object;
}

/** The app's `request` / `response` prototypes, when they inherit node's as Express's do. */
function expressPrototypes(app: unknown): ExpressPrototypes | undefined {
  if (app === null || (typeof app !== 'function' && typeof app !== 'object')) return undefined;
  const { request, response } = app as { request?: unknown; response?: unknown };
  if (
    typeof request !== 'object' ||
    request === null ||
    typeof response !== 'object' ||
    response === null ||
    !Object.prototype.isPrototypeOf.call(http.IncomingMessage.prototype, request) ||
    !Object.prototype.isPrototypeOf.call(http.ServerResponse.prototype, response)
  ) {
    return undefined;
  }
  return { request, response };
}

/**
 * Whether node's IncomingMessage and ServerResponse can run as plain functions on an object
 * made elsewhere (true on Node 20–24, where they are function constructors). Were they ever
 * `class`es, serve falls back to node's own classes rather than break.
 */
const constructorsCallable: boolean = (() => {
  try {
    const req = Object.create(http.IncomingMessage.prototype) as http.IncomingMessage;
    (http.IncomingMessage as unknown as (this: object, socket: null) => void).call(req, null);
    const res = Object.create(http.ServerResponse.prototype) as http.ServerResponse;
    (http.ServerResponse as unknown as (this: object, r: object) => void).call(res, req);
    return true;
  } catch {
    return false;
  }
})();

/**
 * `http.createServer()` options whose request and response objects are born with the app's
 * prototypes, or `{}` when `app` is not an Express app (a plain handler) or node's
 * constructors cannot be called this way.
 */
export function serverClassesFor(app: unknown): http.ServerOptions {
  const prototypes = constructorsCallable ? expressPrototypes(app) : undefined;
  if (prototypes === undefined) return {};
  const NodeRequest = http.IncomingMessage as unknown as (this: object, socket: unknown) => void;
  const NodeResponse = http.ServerResponse as unknown as (
    this: object,
    req: unknown,
    options: unknown,
  ) => void;
  // Function constructors, not `class … extends`: a class's instances would get the class's
  // own prototype, and Express would switch it again. A derived constructor also measured as
  // slow as the switch itself (V8 builds the object for a foreign new.target).
  // node calls `new IncomingMessage(socket)` and `new ServerResponse(req, options)`.
  function NexthopRequest(this: object, socket: unknown): void {
    NodeRequest.call(this, socket);
  }
  function NexthopResponse(this: object, req: unknown, options: unknown): void {
    NodeResponse.call(this, req, options);
  }
  NexthopRequest.prototype = prototypes.request;
  NexthopResponse.prototype = prototypes.response;
  // Static inheritance, as `class … extends` would set it. V8 sizes a constructor's objects
  // from the property counts of the constructors on this chain: without it, a response gets
  // no in-object slots, and node's constructor, storing some 40 fields, turns it into a
  // slow dictionary-mode object (__tests__/fixtures/fast-objects.js checks it stays fast).
  Object.setPrototypeOf(NexthopRequest, http.IncomingMessage);
  Object.setPrototypeOf(NexthopResponse, http.ServerResponse);
  return {
    IncomingMessage: NexthopRequest as unknown as Constructor as typeof http.IncomingMessage,
    ServerResponse: NexthopResponse as unknown as Constructor as typeof http.ServerResponse,
  };
}
