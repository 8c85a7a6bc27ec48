import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { processTree } from '../../lib/cli/proc';
import { CLI, copyFixture, processesIn, tempDir } from '../helpers/cli';

interface Dev {
  readonly child: ChildProcess;
  readonly port: number;
  readonly dir: string;
  output(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

const running: Dev[] = [];

/** Start `nexthop dev` on a copy of the fixture app; resolves once it prints "ready". */
async function startDev(...args: string[]): Promise<Dev> {
  return startDevWith({}, ...args);
}

async function startDevWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Dev> {
  return startDevIn(() => {}, env, ...args);
}

/** `nexthop dev` on a copy of the fixture app that `prepare` changes first. */
async function startDevIn(
  prepare: (dir: string) => void,
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<Dev> {
  const dir = copyFixture('dev', 'app');
  prepare(dir);
  const child = spawn(process.execPath, [CLI, 'dev', dir, '--port', '0', ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of waiters) w();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const waitFor = (re: RegExp, timeoutMs = 15_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(out);
        if (!m) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(m);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${re} in:\n${out}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const port = Number((await waitFor(/front\s+http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  await waitFor(/^ready: /m);
  const dev = { child, port, dir, output: () => out, waitFor };
  running.push(dev);
  return dev;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

function get(port: number, urlPath: string, headers: http.OutgoingHttpHeaders = {}): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: Date.now() - started }),
        );
      })
      .on('error', reject);
  });
}

afterAll(async () => {
  for (const dev of running) {
    if (dev.child.exitCode === null) dev.child.kill('SIGINT');
    await exited(dev.child);
    fs.rmSync(path.dirname(dev.dir), { recursive: true, force: true });
  }
});

describe('nexthop dev, end to end on loopback', () => {
  let dev: Dev;
  beforeAll(async () => {
    dev = await startDev('--bypass', '/static,/images');
  });

  it('a request through the front reaches the app with the emulated edge headers', async () => {
    const res = await get(dev.port, '/app/hello', {
      'X-Forwarded-For': '10.9.8.7',
      'True-Client-IP': '6.6.6.6',
    });
    expect(res.status).toBe(200);
    const { answeredBy, headers } = JSON.parse(res.body);
    expect(answeredBy).toBe('app');
    expect(headers['true-client-ip']).toBe('127.0.0.1'); // the real peer, not the spoofed header
    expect(headers['x-forwarded-for']).toBe('10.9.8.7, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['section-io-id']).toMatch(/^[0-9a-f]{24}$/);
    expect(headers['section-io-geo-country-code']).toBe('US');
    expect(headers['section-io-geo-latlon']).toBe('37.7749,-122.4194');
    expect(headers.host).toBe(`127.0.0.1:${dev.port}`);
    await dev.waitFor(/^GET +\/app\/hello 200 \d+ ms app$/m);
  });

  it('a proxied path reaches the demo origin through the app with Host, path and headers intact', async () => {
    const res = await get(dev.port, '/products/42?color=red', { Host: 'shop.example.com' });
    expect(res.status).toBe(200);
    expect(res.headers['x-via-app']).toBeDefined();
    const echo = JSON.parse(res.body);
    expect(echo.answeredBy).toBe('nexthop dev demo origin');
    expect(echo.url).toBe('/products/42?color=red');
    expect(echo.headers.host).toBe('shop.example.com');
    expect(echo.headers['x-forwarded-proto']).toBe('http');
    expect(echo.headers['true-client-ip']).toBe('127.0.0.1');
    await dev.waitFor(/^GET +\/products\/42\?color=red 200 \d+ ms origin$/m);
  });

  it('a bypassed path goes straight to next-hop and never touches the app', async () => {
    const res = await get(dev.port, '/static/logo.png');
    expect(res.status).toBe(200);
    expect(res.headers['x-via-app']).toBeUndefined();
    expect(JSON.parse(res.body).headers['section-io-id']).toMatch(/^[0-9a-f]{24}$/);
    await dev.waitFor(/^GET +\/static\/logo\.png 200 \d+ ms bypass$/m);
    const images = await get(dev.port, '/images/a.jpg');
    expect(images.headers['x-via-app']).toBeUndefined();
  });

  it('Ctrl-C (SIGINT) stops the front, the app and everything it started', async () => {
    const pids = processTree(dev.child.pid as number);
    expect(pids.length).toBeGreaterThanOrEqual(3); // dev, npm, the app (and sh)
    dev.child.kill('SIGINT');
    expect(await exited(dev.child)).toBe(0);
    expect(
      pids.filter(
        (p) => fs.existsSync(`/proc/${p}`) && !/\) Z/.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8')),
      ),
    ).toEqual([]);
    expect(processesIn(dev.dir)).toEqual([]);
    await expect(get(dev.port, '/app/x')).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('nexthop dev options', () => {
  let origin: http.Server;
  let originPort: number;
  const seen: http.IncomingHttpHeaders[] = [];
  beforeAll(async () => {
    origin = http.createServer((req, res) => {
      seen.push(req.headers);
      res.end(`origin saw ${req.url}`);
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    originPort = (origin.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => origin.close(r)));

  it('--https, --client-ip and --origin: the origin gets X-Forwarded-Proto https (plain HTTP when it has no TLS)', async () => {
    const dev = await startDev(
      '--https',
      '--client-ip',
      '203.0.113.7',
      '--origin',
      `http://127.0.0.1:${originPort}`,
    );
    const app = JSON.parse((await get(dev.port, '/app/x')).body);
    expect(app.headers['x-forwarded-proto']).toBe('https');
    expect(app.headers['true-client-ip']).toBe('203.0.113.7');
    expect(app.headers['section-io-geo-city']).toBe('Sydney');
    const res = await get(dev.port, '/page?x=1', { Host: 'www.example.org' });
    expect(res.body).toBe('origin saw /page?x=1');
    expect(seen.at(-1)).toMatchObject({
      host: 'www.example.org',
      'x-forwarded-proto': 'https',
      'true-client-ip': '203.0.113.7',
    });
  });

  it('WebSocket upgrades go through the front, the app and next-hop to the origin (and around the app when bypassed)', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    const upgrades: http.IncomingHttpHeaders[] = [];
    wss.on('connection', (ws, req) => {
      upgrades.push(req.headers);
      ws.on('message', (data) => ws.send(`echo ${String(data)} ${req.url}`));
    });
    try {
      const { port } = wss.address() as AddressInfo;
      const dev = await startDev('--origin', `http://127.0.0.1:${port}`, '--bypass', '/live');
      for (const urlPath of ['/chat', '/live/feed']) {
        const ws = new WebSocket(`ws://127.0.0.1:${dev.port}${urlPath}`);
        await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
        ws.send('hi');
        const reply = await new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
        expect(reply).toBe(`echo hi ${urlPath}`);
        ws.close();
      }
      expect(upgrades.map((h) => h['true-client-ip'])).toEqual(['127.0.0.1', '127.0.0.1']);
      expect(upgrades[0]['section-io-id']).toMatch(/^[0-9a-f]{24}$/);
      await dev.waitFor(/^GET +\/chat 101 \d+ ms origin$/m);
      await dev.waitFor(/^GET +\/live\/feed 101 \d+ ms bypass$/m);
    } finally {
      for (const client of wss.clients) client.terminate();
      await new Promise((r) => wss.close(r));
    }
  });

  it('an https:// origin is reached over TLS with its certificate verified', async () => {
    const certDir = tempDir('nexthop-cert-');
    const key = path.join(certDir, 'key.pem');
    const cert = path.join(certDir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const secure = https.createServer(
      { key: fs.readFileSync(key), cert: fs.readFileSync(cert) },
      (req, res) => {
        res.end(
          `tls origin saw ${req.url} host=${req.headers.host} proto=${req.headers['x-forwarded-proto']}`,
        );
      },
    );
    await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
    try {
      const { port } = secure.address() as AddressInfo;
      const dev = await startDevWith(
        { NODE_EXTRA_CA_CERTS: cert },
        '--https',
        '--origin',
        `https://127.0.0.1:${port}`,
      );
      const res = await get(dev.port, '/secure?x=1', { Host: 'www.example.org' });
      expect(res.status).toBe(200);
      expect(res.body).toBe('tls origin saw /secure?x=1 host=www.example.org proto=https');
    } finally {
      secure.closeAllConnections();
      await new Promise((r) => secure.close(r));
      fs.rmSync(certDir, { recursive: true, force: true });
    }
  });

  it('an origin that cannot be reached gives the platform status 522', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const { port } = dead.address() as AddressInfo;
    await new Promise((r) => dead.close(r));
    const dev = await startDev('--origin', `http://127.0.0.1:${port}`, '--bypass', '/b');
    const res = await get(dev.port, '/b/x');
    expect(res.status).toBe(522);
    expect(res.body).toContain('cannot reach the origin (ECONNREFUSED)');
  });

  it('--geo and --host-header replace the table and the Host', async () => {
    const dev = await startDev(
      '--geo',
      'country=NZ,city=Auckland,latlon=-36.85,174.76',
      '--host-header',
      'shop.example.nz',
    );
    const { headers } = JSON.parse((await get(dev.port, '/app/x')).body);
    expect(headers['section-io-geo-country-code']).toBe('NZ');
    expect(headers['section-io-geo-city']).toBe('Auckland');
    expect(headers['section-io-geo-latlon']).toBe('-36.85,174.76');
    expect(headers['section-io-geo-region']).toBeUndefined();
    expect(headers.host).toBe('shop.example.nz');
  });

  // [fault, status through the app, status of a bypassed path or undefined to skip]
  const FAULTS: [string, number, number | undefined][] = [
    ['refuse', 502, 502],
    ['reset', 502, 502],
    ['timeout', 504, undefined],
  ];
  it.each(FAULTS)('--next-hop-fault %s: the app answers %s', async (fault, status, bypassStatus) => {
    const dev = await startDev('--next-hop-fault', fault, '--bypass', '/static');
    const res = await get(dev.port, '/api/thing');
    expect(res.status).toBe(status);
    expect(res.headers['x-via-app']).toBeUndefined(); // the app's own error answer
    await dev.waitFor(
      new RegExp(`^GET +/api/thing ${status} \\d+ ms \\w+ \\(next-hop fault: ${fault}\\)$`, 'm'),
    );
    if (bypassStatus) expect((await get(dev.port, '/static/x')).status).toBe(bypassStatus);
  });

  it('--next-hop-fault slow=400 delays the answer but it arrives', async () => {
    const dev = await startDev('--next-hop-fault', 'slow=400');
    const res = await get(dev.port, '/api/slow');
    expect(res.status).toBe(200);
    expect(res.ms).toBeGreaterThanOrEqual(400);
    expect(JSON.parse(res.body).url).toBe('/api/slow');
  });

  it('without --watch, an app crash stops dev with exit code 1 and no child left', async () => {
    const dev = await startDev();
    await get(dev.port, '/crash').catch(() => undefined);
    expect(await exited(dev.child)).toBe(1);
    expect(dev.output()).toMatch(/✗ the app stopped \(exit code 3\); stopping/);
    expect(processesIn(dev.dir)).toEqual([]);
  });

  it('--watch: a crash keeps the emulator up (502) and a file change restarts the app', async () => {
    const dev = await startDev('--watch');
    const first = JSON.parse((await get(dev.port, '/app/x')).body).pid;
    await get(dev.port, '/crash').catch(() => undefined);
    await dev.waitFor(/the app stopped \(exit code 3\); the emulator stays up/);
    const down = await get(dev.port, '/app/x');
    expect(down.status).toBe(502);
    expect(down.body).toContain('the app is not running');
    await dev.waitFor(/^GET +\/app\/x 502 \d+ ms front$/m);
    fs.writeFileSync(path.join(dev.dir, 'touched.js'), '// changed\n');
    await dev.waitFor(/↻ touched\.js changed: restarting the app/);
    await dev.waitFor(/ready: [^\n]*\n[\s\S]*ready: /);
    const second = JSON.parse((await get(dev.port, '/app/x')).body).pid;
    expect(second).not.toBe(first);
    // Changes to ignored paths (the log folder, build output in .gitignore) do not restart it.
    fs.mkdirSync(path.join(dev.dir, 'logs'), { recursive: true });
    fs.writeFileSync(path.join(dev.dir, 'logs', 'app.log'), 'x\n');
    fs.mkdirSync(path.join(dev.dir, 'build'));
    fs.writeFileSync(path.join(dev.dir, 'build', 'out.js'), '// built\n');
    await new Promise((r) => setTimeout(r, 600)); // longer than the 200 ms debounce: proving a non-event
    expect(dev.output().match(/↻/g)).toHaveLength(1);
  });
});

/** Save `file` as editors and `sed -i` do: write a new file beside it, rename it over. */
function saveByRename(file: string, text: string): void {
  const scratch = path.join(path.dirname(file), `.${path.basename(file)}.swp`);
  fs.writeFileSync(scratch, text);
  fs.renameSync(scratch, file);
}

/** A GET the client abandons after `ms` (the request is in flight by then). */
function abandon(port: number, urlPath: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false });
    req.on('error', () => resolve());
    setTimeout(() => req.destroy(), ms);
  });
}

describe('nexthop dev for a newcomer', () => {
  it('runs a plain server.js when there is no start script, and says what doctor will want', async () => {
    const dev = await startDevIn((dir) => {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      delete pkg.scripts;
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
    }, {});
    expect(dev.output()).toContain(`app        node server.js in ${dev.dir}`);
    expect(dev.output()).toContain('no "start" script: running node server.js');
    expect(dev.output()).toMatch(
      /before deploying, `nexthop doctor` wants:\n[\s\S]*✗ package\.json has no "start" script — fix: add "scripts": \{ "start": "exec node server\.js" \}/,
    );
    expect(dev.output()).toMatch(/✗ no package-lock\.json — fix: run `npm install`/);
    const res = await get(dev.port, '/app/x');
    expect(JSON.parse(res.body).answeredBy).toBe('app');
  });

  it('refuses a folder with neither a start script nor a server file', async () => {
    const dir = tempDir('nexthop-dev-empty-');
    try {
      const run = spawnSync(process.execPath, [CLI, 'dev', dir], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('has no "start" script in package.json and no server file');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads .env (variables already set win), sets HOST=127.0.0.1 and passes --inspect to the app', async () => {
    const dev = await startDevIn(
      (dir) => fs.writeFileSync(path.join(dir, '.env'), 'GREETING="hello from .env"\nFROM_SHELL=file\n'),
      { FROM_SHELL: 'shell' },
      '--inspect=127.0.0.1:0',
    );
    expect(dev.output()).toContain('.env       2 variable(s) loaded');
    const { env } = JSON.parse((await get(dev.port, '/app/x')).body);
    expect(env).toEqual({ GREETING: 'hello from .env', FROM_SHELL: 'shell', HOST: '127.0.0.1' });
    // npm passes the flag to the app's node (not to itself): the app's inspector is up.
    await dev.waitFor(/app │ Debugger listening on ws:\/\/127\.0\.0\.1:\d+\//);
  });

  it('--watch restarts on every save, when each save replaces the file by rename', async () => {
    const dev = await startDev('--watch');
    const server = path.join(dev.dir, 'server.js');
    const original = fs.readFileSync(server, 'utf8');
    let pid = JSON.parse((await get(dev.port, '/app/x')).body).pid;
    for (let save = 1; save <= 3; save++) {
      saveByRename(server, `${original}\n// save ${save}\n`);
      await dev.waitFor(new RegExp(`(?:↻ server\\.js changed[^\\n]*\\n[\\s\\S]*?){${save}}`));
      await dev.waitFor(new RegExp(`(?:^ready: [^\\n]*\\n[\\s\\S]*?){${save + 1}}`, 'm'));
      const next = JSON.parse((await get(dev.port, '/app/x')).body).pid;
      expect(next).not.toBe(pid);
      pid = next;
    }
    // A new folder is watched too.
    fs.mkdirSync(path.join(dev.dir, 'lib'));
    await dev.waitFor(/↻ lib changed/);
    await dev.waitFor(/(?:^ready: [^\n]*\n[\s\S]*?){5}/m);
    saveByRename(path.join(dev.dir, 'lib', 'util.js'), '// util\n');
    await dev.waitFor(/↻ lib\/util\.js changed/);
  });

  it.each([
    ['timeout', /^GET +\/p\/late 504 \d+ ms app \(next-hop fault: timeout\)$/m],
    ['reset', /^GET +\/p\/late 502 \d+ ms app \(next-hop fault: reset\)$/m],
    ['refuse', /^GET +\/p\/late 502 \d+ ms app \(next-hop fault: refuse\)$/m],
  ])('--next-hop-fault %s: the request line says who answered', async (fault, line) => {
    const dev = await startDev('--next-hop-fault', fault);
    await get(dev.port, '/p/late');
    await dev.waitFor(line);
  });

  it('--next-hop-fault timeout: a request the client abandons is printed as aborted, not 200', async () => {
    const dev = await startDev('--next-hop-fault', 'timeout');
    await abandon(dev.port, '/p/gone', 300);
    await dev.waitFor(/^GET +\/p\/gone aborted \d+ ms no answer \(next-hop fault: timeout\)$/m);
  });

  it('an origin that cannot be reached: next-hop answered 522', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const { port } = dead.address() as AddressInfo;
    await new Promise((r) => dead.close(r));
    const dev = await startDev('--origin', `http://127.0.0.1:${port}`);
    expect((await get(dev.port, '/p/x')).status).toBe(522);
    await dev.waitFor(/^GET +\/p\/x 522 \d+ ms next-hop$/m);
  });

  it('Ctrl-C signals the app once and waits for its graceful exit', async () => {
    for (let run = 0; run < 3; run++) {
      const dev = await startDev();
      dev.child.kill('SIGINT');
      expect(await exited(dev.child)).toBe(0);
      expect(dev.output()).toContain('app │ SIGTERM #1');
      expect(dev.output()).not.toMatch(/#2/);
      expect(processesIn(dev.dir)).toEqual([]);
    }
  });
});
