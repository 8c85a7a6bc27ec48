import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { FIXTURES, freePort, startNode, stop, tempDir, type Child } from './helpers/process';
import { request } from './helpers/http';
import { loop, until } from './helpers/cluster';
import { startNginx, type Nginx } from './helpers/nginx';

// A real nginx (Debian's nginx-light) in front of nexthop apps, configured as the
// platform's module front. nginx missing = a failure, never a skip (see helpers/nginx).

const logDir = tempDir();
const children: Child[] = [];
let nginx: Nginx | undefined;
let ports: { serve: number; bare: number; roll1: number; roll2: number };
let idleGaps: Promise<Record<'serve' | 'bare', GapResult>>;

async function app(fixture: string, env: Record<string, string>): Promise<Child> {
  const child = startNode(path.join(FIXTURES, fixture), { LOG_DIR: logDir, ...env });
  children.push(child);
  await child.waitFor(/READY \d+/, 15_000);
  return child;
}

interface GapResult {
  statuses: Record<string, number>;
  connectionsAfterFirstBurst: number;
  connectionsAtEnd: number;
}

const GAP_MS = 6_000; // longer than Node's default 5 s keep-alive timeout
const BURSTS = 3;

/** Bursts of keep-alive GET and POST through nginx separated by idle gaps; counts statuses. */
async function idleGapLoad(name: 'serve' | 'bare', appPort: number): Promise<GapResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const statuses: Record<string, number> = {};
  let connectionsAfterFirstBurst = 0;
  for (let burst = 0; burst < BURSTS; burst++) {
    const replies = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        request(nginx!.port, `/${name}/work`, {
          agent,
          method: i % 2 ? 'POST' : 'GET',
          body: i % 2 ? 'x'.repeat(2048) : undefined,
        }).then(
          (r) => String(r.status),
          (e: NodeJS.ErrnoException) => e.code ?? e.message,
        ),
      ),
    );
    for (const s of replies) statuses[s] = (statuses[s] ?? 0) + 1;
    if (burst === 0) connectionsAfterFirstBurst = await upstreamConnections(appPort);
    if (burst < BURSTS - 1) await new Promise((r) => setTimeout(r, GAP_MS));
  }
  agent.destroy();
  return { statuses, connectionsAfterFirstBurst, connectionsAtEnd: await upstreamConnections(appPort) };
}

const probes = new Map<number, number>();
/** TCP connections nginx has opened to the app so far (asked directly, minus our own probes). */
async function upstreamConnections(appPort: number): Promise<number> {
  probes.set(appPort, (probes.get(appPort) ?? 0) + 1);
  const reply = await request(appPort, '/conns', { agent: false });
  return (JSON.parse(reply.body) as { connections: number }).connections - probes.get(appPort)!;
}

beforeAll(async () => {
  ports = {
    serve: await freePort(),
    bare: await freePort(),
    roll1: await freePort(),
    roll2: await freePort(),
  };
  await Promise.all([
    app('front-app.js', { MODE: 'serve', APP_PORT: String(ports.serve) }),
    app('front-app.js', { MODE: 'bare', APP_PORT: String(ports.bare) }),
    app('cluster-app.js', { APP_PORT: String(ports.roll1) }),
    app('cluster-app.js', { APP_PORT: String(ports.roll2) }),
  ]);
  nginx = await startNginx({ serve: [ports.serve], bare: [ports.bare], roll: [ports.roll1, ports.roll2] });
  // The idle-gap scenario spends most of its time waiting: it runs while the other tests do.
  idleGaps = Promise.all([idleGapLoad('serve', ports.serve), idleGapLoad('bare', ports.bare)]).then(
    ([serve, bare]) => ({ serve, bare }),
  );
  idleGaps.catch(() => undefined);
}, 30_000);

afterAll(async () => {
  await nginx?.stop();
  await Promise.all(children.map((c) => stop(c)));
  fs.rmSync(logDir, { recursive: true, force: true });
});

describe('a real nginx in front (module-front configuration)', () => {
  test('(c) req.ip and req.protocol are the browser’s, Host is kept', async () => {
    const headers = {
      Host: 'shop.example.com',
      'True-Client-IP': '203.0.113.7',
      'X-Forwarded-For': '203.0.113.7, 10.1.2.3',
      'X-Forwarded-Proto': 'https',
    };
    const secure = JSON.parse((await request(nginx!.port, '/roll/whoami', { headers, agent: false })).body);
    expect(secure).toEqual({ ip: '203.0.113.7', protocol: 'https', secure: true, host: 'shop.example.com' });
    const plain = JSON.parse(
      (
        await request(nginx!.port, '/roll/whoami', {
          headers: {
            Host: 'shop.example.com',
            'True-Client-IP': '198.51.100.9',
            'X-Forwarded-For': '198.51.100.9',
          },
          agent: false,
        })
      ).body,
    );
    expect(plain).toEqual({ ip: '198.51.100.9', protocol: 'http', secure: false, host: 'shop.example.com' });
  });

  test('(b) rolling restart: SIGTERM one of two instances under GET and POST load, zero failures', async () => {
    const agent = { concurrency: 3 };
    const gets = loop(nginx!.port, '/roll/pid', agent);
    const posts = loop(nginx!.port, '/roll/echo', { ...agent, method: 'POST', body: 'y'.repeat(4096) });
    await until(() => gets.result.pids.size === 2 && posts.result.ok > 30);
    const [first] = children.filter((c) => c.stdout().includes(`READY ${ports.roll1}`));
    first.proc.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const after = gets.result.ok + posts.result.ok;
    await until(() => gets.result.ok + posts.result.ok > after + 100);
    const [g, p] = await Promise.all([gets.stop(), posts.stop()]);
    expect({ getFailed: g.failed, postFailed: p.failed, errors: [...g.errors, ...p.errors] }).toEqual({
      getFailed: 0,
      postFailed: 0,
      errors: [],
    });
    expect(g.ok).toBeGreaterThan(50);
    expect(p.ok).toBeGreaterThan(50);
    expect(p.pids.size).toBe(2);
    report('rolling restart', { get: { ok: g.ok, failed: g.failed }, post: { ok: p.ok, failed: p.failed } });
  });

  test(`(a) idle gaps of ${GAP_MS / 1000} s through nginx's keepalive pool: serve() gives zero 502s`, async () => {
    const { serve, bare } = await idleGaps;
    report('idle gaps', { serve, bare });
    const total = BURSTS * 16;
    expect(serve.statuses).toEqual({ '200': total });
    // serve()'s keep-alive outlives the gaps: nginx reused its pooled connections.
    expect(serve.connectionsAtEnd).toBe(serve.connectionsAfterFirstBurst);
    // A bare app.listen() closed every pooled connection in each gap (Node's 5 s default):
    // the state in which a request racing that close gets a 502 from nginx.
    expect(bare.connectionsAtEnd).toBeGreaterThan(bare.connectionsAfterFirstBurst);
    expect(Object.keys(bare.statuses).every((s) => s === '200' || s === '502')).toBe(true);
  }, 40_000);
});

function report(what: string, data: unknown): void {
  if (process.env.NEXTHOP_REPORT) process.stdout.write(`${what}: ${JSON.stringify(data)}\n`);
}
