import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * The request-context middleware as plain functions: each one's work on a request, without
 * Express's `next`. `createApp()` runs its whole default stack as one router layer made of
 * these (each extra layer costs Express's router a `next`/`handle` round per request).
 *
 * A step returns `undefined` to let the request go on, {@link ANSWERED} when it has sent
 * the response itself, or anything else as the error to pass to `next(err)`.
 */
export type Step = (req: Request, res: Response) => unknown;

/** Returned by a step that answered the request itself (e.g. requireHttps's redirect). */
export const ANSWERED: unique symbol = Symbol('nexthop.answered');

/** A middleware built from steps, with the names of the middleware it runs (for tools). */
export interface PipelineHandler extends RequestHandler {
  /** Names of the middleware this layer runs, in order, e.g. `['accessLog', 'clientIp']`. */
  readonly nexthopSteps: readonly string[];
}

const steps = new WeakMap<object, Step>();

/** Remember `step` as the plain-function form of `handler`; returns `handler`. */
export function withStep<H extends RequestHandler>(handler: H, step: Step): H {
  steps.set(handler, step);
  return handler;
}

/** The plain-function form of a nexthop middleware, or undefined for any other handler. */
export function stepOf(handler: unknown): Step | undefined {
  return typeof handler === 'function' ? steps.get(handler) : undefined;
}

/** Run `step` as Express middleware: continue, stop, or pass its error on. */
export function runStep(step: Step, req: Request, res: Response, next: NextFunction): void {
  const outcome = step(req, res);
  if (outcome === undefined) next();
  else if (outcome !== ANSWERED) next(outcome);
}

/** One step that runs `list` in order and stops at the first that answers or fails. */
function composeSteps(list: readonly Step[]): Step {
  const all = list.slice();
  if (all.length === 1) return all[0];
  return function runSteps(req, res) {
    for (let i = 0; i < all.length; i++) {
      const outcome = all[i](req, res);
      if (outcome !== undefined) return outcome;
    }
    return undefined;
  };
}

/**
 * One Express middleware running `named` steps in order: a single router layer for the
 * whole request context (each extra layer costs the router a `next`/`handle` round).
 */
export function pipeline(named: readonly (readonly [string, Step])[]): PipelineHandler {
  const step = composeSteps(named.map(([, s]) => s));
  function nexthopContextMiddleware(req: Request, res: Response, next: NextFunction): void {
    runStep(step, req, res, next);
  }
  return Object.assign(nexthopContextMiddleware, {
    nexthopSteps: Object.freeze(named.map(([name]) => name)),
  });
}
