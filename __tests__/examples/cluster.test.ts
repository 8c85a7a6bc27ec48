import path from 'node:path';
import { send } from '../helpers/echo-upstream';
import { BUILT_EXAMPLES, loadExample, scratchDir } from '../helpers/examples';
import { freePort, startNode, stop, type Child } from '../helpers/process';

interface Who {
  worker: string | null;
  pid: number;
}

describe('examples/cluster', () => {
  let child: Child | undefined;
  afterAll(() => stop(child));

  it('imported (not run), it is a plain app: no crash route in production', async () => {
    const { app } = await loadExample('cluster', { NODE_ENV: 'production' });
    const { serveExample } = await import('../helpers/examples');
    const server = await serveExample(app);
    try {
      expect((await send(server.port, { path: '/worker' })).json()).toEqual({
        worker: null,
        pid: process.pid,
      });
      expect((await send(server.port, { method: 'POST', path: '/crash' })).status).not.toBe(202);
    } finally {
      await server.close();
    }
  });

  it('run directly: two workers answer, a crash is logged and the worker is replaced', async () => {
    const port = await freePort();
    child = startNode(path.join(BUILT_EXAMPLES, 'cluster', 'server.js'), {
      PORT: String(port),
      LOG_DIR: scratchDir('nexthop-cluster-logs-'),
      WEB_CONCURRENCY: '2',
      NODE_ENV: 'development',
      NEXT_HOP: 'http://127.0.0.1:9',
    });
    await child.waitFor(/with 2 workers/, 20_000);

    // New connections are handed to the workers in turn.
    const seen = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const who = (await send(port, { path: '/worker' })).json<Who>();
      seen.set(String(who.worker), who.pid);
    }
    expect([...seen.keys()].sort()).toEqual(['1', '2']);
    expect(seen.get('1')).not.toBe(child.proc.pid);

    const crash = await send(port, { method: 'POST', path: '/crash' });
    expect(crash.status).toBe(202);
    const { crashing, pid } = crash.json<{ crashing: string; pid: number }>();
    // Requests keep being answered while the faulty worker hands over to its replacement.
    const retired = child.waitFor(new RegExp(`"message":"worker ${crashing} retired \\(code 0\\)"`), 15_000);
    let handedOver = false;
    void retired.finally(() => (handedOver = true)).catch(() => {});
    const statuses = new Set<number>();
    while (!handedOver) statuses.add((await send(port, { path: '/worker' })).status);
    await retired;
    expect([...statuses]).toEqual([200]);
    // The replacement holds the same slot with a new pid.
    let replaced: number | undefined;
    for (let i = 0; i < 20 && replaced === undefined; i++) {
      const who = (await send(port, { path: '/worker' })).json<Who>();
      if (who.worker === crashing) replaced = who.pid;
    }
    expect(replaced).toEqual(expect.any(Number));
    expect(replaced).not.toBe(pid);
    const log = child.stdout() + child.stderr();
    // The crash as the logs show it: the error with its stack, then the hand-over.
    expect(log).toContain(`"message":"uncaught exception; worker ${crashing} hands over to a replacement`);
    expect(log).toContain(`"stack":"Error: simulated bug in worker ${crashing}\\n    at `);
    expect(log).toContain(`"message":"worker ${crashing}: starting a replacement`);
  }, 40_000);
});
