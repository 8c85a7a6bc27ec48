import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A fresh temp folder, removed by the caller with `fs.rmSync(dir, { recursive: true })`. */
export function tempDir(prefix = 'nexthop-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Child {
  proc: ChildProcess;
  /** Everything the child wrote to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout/stderr text matching `pattern`; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name) once the child has exited. */
  exited: Promise<number | string>;
}

/** Start `node <script>` with extra env; output is collected for assertions. */
export function startNode(script: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): Child {
  const proc = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());
  proc.stdout!.on('data', (d: Buffer) => ((out += d.toString()), poke()));
  proc.stderr!.on('data', (d: Buffer) => ((err += d.toString()), poke()));
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => (poke(), resolve(code ?? signal ?? -1))),
  );
  function waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = (out + err).match(pattern);
        if (m) return done(() => resolve(m));
        if (proc.exitCode !== null || proc.signalCode !== null) {
          done(() => reject(new Error(`child exited before ${pattern}:\n${out}\n${err}`)));
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timeout waiting for ${pattern}:\n${out}\n${err}`))),
        timeoutMs,
      );
      const done = (fn: () => void) => (clearTimeout(timer), waiters.delete(check), fn());
      waiters.add(check);
      check();
    });
  }
  return { proc, stdout: () => out, stderr: () => err, waitFor, exited };
}

/** Kill a child we started, if it still runs, and wait for it. */
export async function stop(child: Child | undefined): Promise<void> {
  if (!child) return;
  if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
  await child.exited;
}

/**
 * TCP ports the process `pid` listens on (Linux): socket inodes from /proc/<pid>/fd
 * matched against LISTEN rows of /proc/<pid>/net/tcp and tcp6.
 */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
      if (m) inodes.add(m[1]);
    } catch {
      // fd closed while reading
    }
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    const rows = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1);
    for (const row of rows) {
      const cols = row.trim().split(/\s+/);
      // cols[1] local address "ADDR:PORT" (hex), cols[3] state (0A = LISTEN), cols[9] inode
      if (cols[3] === '0A' && inodes.has(cols[9])) ports.add(parseInt(cols[1].split(':')[1], 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}
