// Type tests, compiled by `npm run typecheck` (jest runs only *.test.ts): the fields nexthop's
// middleware adds to Express's Request are optional, since a plain express() app or an app
// with that middleware off has none of them, and narrowing gives their exact types.
import express, { type Request } from 'express';
import { createApp, type Geo } from 'nexthop';

const plain = express();
plain.get('/', (req, res) => {
  // @ts-expect-error clientIp is undefined without clientIp()
  const ip: string = req.clientIp;
  // @ts-expect-error id is undefined without requestId()
  const id: string = req.id;
  // @ts-expect-error proto is undefined without forwardedProto()
  const proto: 'http' | 'https' = req.proto;
  // @ts-expect-error geo is undefined without geo()
  const city = req.geo.city;
  res.json({ ip, id, proto, city });
});

const app = createApp();
app.get('/hello', (req: Request, res) => {
  const ip: string | undefined = req.clientIp;
  const always: string | undefined = req.ip;
  const id: string | undefined = req.id;
  const proto: 'http' | 'https' | undefined = req.proto;
  const geo: Readonly<Geo> | undefined = req.geo;
  const country: string | undefined = req.geo?.countryCode;
  if (req.clientIp !== undefined) {
    const narrowed: string = req.clientIp;
    res.setHeader('x-ip', narrowed);
  }
  res.json({ ip, always, id, proto, geo, country, secure: req.secure satisfies boolean });
});
