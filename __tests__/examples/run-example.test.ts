import fs from 'node:fs';
import path from 'node:path';
import { processesIn } from '../helpers/cli';
import { send } from '../helpers/echo-upstream';
import { startNode, stop, type Child } from '../helpers/process';

/** Whether a process we saw still exists (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'example.js');

describe('npm run example -- <name>', () => {
  let child: Child | undefined;
  afterAll(() => stop(child));

  it('without a known name prints the examples and exits 2', async () => {
    const unknown = startNode(SCRIPT, {}, ['nope']);
    expect(await unknown.exited).toBe(2);
    expect(unknown.stderr()).toContain(
      'examples: ab-split, cluster, edge-api, hello, ip-guard, secure-headers',
    );
  });

  it('runs the example behind nexthop dev with its options, and stops everything on SIGTERM', async () => {
    child = startNode(SCRIPT, {}, ['hello', '--port', '0', '--https', '--client-ip', '203.0.113.9']);
    const [, port] = await child.waitFor(/ready: http:\/\/127\.0\.0\.1:(\d+)/, 30_000);
    const [, project] = child.stdout().match(/npm start in (\S+)/) ?? [];
    // The front added the platform's headers: client IP, HTTPS, geo from dev's built-in table.
    const hello = await send(Number(port), { path: '/hello' });
    expect(hello.json()).toMatchObject({
      clientIp: '203.0.113.9',
      protocol: 'https',
      country: 'AU',
      city: 'Sydney',
    });
    const proxied = await send(Number(port), { path: '/products?id=7' });
    expect(proxied.json()).toMatchObject({ url: '/products?id=7' });
    const pids = processesIn(project); // npm start and the example it runs
    expect(pids.length).toBeGreaterThan(0);

    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(fs.existsSync(project)).toBe(false);
    expect(pids.filter(alive)).toEqual([]);
  }, 40_000);
});
