import express from 'express';
import request from 'supertest';
import { errorHandler, notFound } from 'nexthop';

function app() {
  const a = express();
  a.use((_req, res, next) => {
    res.setHeader('x-request-id', 'rid-7');
    next();
  });
  a.get('/here', (_req, res) => res.send('here'));
  a.use(notFound());
  a.use(errorHandler());
  return a;
}

describe('notFound', () => {
  test('routes still answer; anything else is a 404 in the error handler format (text)', async () => {
    expect((await request(app()).get('/here')).text).toBe('here');
    const res = await request(app()).post('/missing?q=1');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe('404 Cannot POST /missing\ncode: ERR_NEXTHOP_NOT_FOUND\nrequest id: rid-7\n');
  });

  test('JSON when asked, with the stable code and the request id', async () => {
    const res = await request(app()).get('/nope').set('Accept', 'application/json');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: { status: 404, message: 'Cannot GET /nope', code: 'ERR_NEXTHOP_NOT_FOUND', requestId: 'rid-7' },
    });
  });

  test('the echoed path is escaped', async () => {
    const res = await request(app()).get('/%3Cimg%20src=x%3E/"a"').set('Accept', 'application/json');
    expect(res.body.error.message).toBe('Cannot GET /%3Cimg%20src=x%3E/%22a%22');
    expect(res.text).not.toMatch(/[<>"]a/);
  });

  test('app.use(notFound) is caught with a clear message', async () => {
    const a = express();
    a.set('env', 'test');
    a.use(notFound as never);
    const res = await request(a).get('/');
    expect(res.status).toBe(500);
    expect(res.text).toContain('call the factory: app.use(notFound())');
    expect(() => notFound(1 as never)).toThrow(TypeError);
  });
});
