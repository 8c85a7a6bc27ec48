import type { Request, RequestHandler, Response } from 'express';
import { checkOptions, markFactory } from '../lib/check-options';
import { NexthopError } from '../lib/errors';
import { errorBody, escapeEcho, sendErrorBody } from './error-handler';

/**
 * Answer 404 for any request that reached it, in the same format as {@link errorHandler}
 * (JSON or text by `Accept`, request id included, the path escaped). Mount it after your
 * routes in an app that does not proxy everything to next-hop.
 *
 * @example
 * app.get('/api/items', listItems);
 * app.use(notFound());
 * app.use(errorHandler());
 */
export function notFound(
  options: Readonly<Record<string, never>> = {},
  _notMiddleware?: never,
): RequestHandler {
  // It takes no options: `{}` is accepted, any key is unknown, a request means app.use(notFound).
  checkOptions('notFound', options, []);
  return function notFoundMiddleware(req: Request, res: Response): void {
    const err = new NexthopError('ERR_NEXTHOP_NOT_FOUND', `Cannot ${req.method} ${escapeEcho(req.path)}`);
    sendErrorBody(req, res, errorBody(err, req, res, false), err);
  };
}

markFactory('notFound', notFound);
