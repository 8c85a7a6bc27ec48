import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, tempDir } from './process';

/**
 * The nginx binary, or a loud failure: CI installs Debian's nginx-light (.ci/run), so a
 * missing nginx is a broken environment, never a reason to skip the end-to-end tests.
 */
export function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (fs.existsSync(candidate)) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error(
    'nginx is not installed, so the real-front end-to-end tests cannot run. ' +
      'Install it (apt-get install -y nginx-light) or run .ci/run, which does.',
  );
}

export interface Nginx {
  port: number;
  prefix: string;
  proc: ChildProcess;
  /** Lines of nginx's error log (upstream failures are written there). */
  errors(): string;
  stop(): Promise<void>;
}

/**
 * Start a private nginx (own prefix, config and 127.0.0.1 port; never the system
 * service) configured as the platform's module front: one `location` per entry of
 * `upstreams`, each proxying to its own upstream block with a keepalive pool, HTTP/1.1,
 * and Host, X-Forwarded-For, X-Forwarded-Proto, True-Client-IP passed on unchanged.
 */
export async function startNginx(upstreams: Record<string, number[]>, keepalive = 16): Promise<Nginx> {
  const binary = nginxBinary();
  const prefix = tempDir('nexthop-nginx-');
  const port = await freePort();
  const blocks = Object.entries(upstreams)
    .map(
      ([name, ports]) =>
        `  upstream ${name} {\n${ports.map((p) => `    server 127.0.0.1:${p};\n`).join('')}    keepalive ${keepalive};\n  }`,
    )
    .join('\n');
  const locations = Object.keys(upstreams)
    .map(
      (name) => `    location /${name}/ {
      proxy_pass http://${name}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $http_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;
      proxy_set_header True-Client-IP $http_true_client_ip;
    }`,
    )
    .join('\n');
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
${blocks}
  server {
    listen 127.0.0.1:${port};
${locations}
  }
}
`;
  fs.writeFileSync(path.join(prefix, 'nginx.conf'), conf);
  const proc = spawn(binary, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await waitForPort(port, proc, () => stderr);
  return {
    port,
    prefix,
    proc,
    errors: () => fs.readFileSync(path.join(prefix, 'error.log'), 'utf8'),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      fs.rmSync(prefix, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, proc: ChildProcess, stderr: () => string): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited (${proc.exitCode}): ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nginx did not listen on ${port}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
