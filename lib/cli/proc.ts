/**
 * Process helpers for `doctor --run` and `dev`: free ports, the process tree of a child
 * and its listening sockets (Linux /proc), and stopping everything by PID.
 */
import fs from 'node:fs';
import net from 'node:net';

/** True when /proc can tell us about processes and sockets (Linux). */
export const HAS_PROC = fs.existsSync('/proc/self/stat');

/**
 * A TCP port that was free a moment ago: bound on all interfaces with port 0, then released.
 *
 * @example
 * const port = await freePort();
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** PID → parent PID and state for every process /proc shows. */
function readProcessTable(): Map<number, { ppid: number; state: string }> {
  const table = new Map<number, { ppid: number; state: string }>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) table.set(Number(name), stat);
  }
  return table;
}

function readStat(pid: number): { ppid: number; state: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]) };
}

/**
 * `pid` and every living descendant of it (Linux; elsewhere only `pid`).
 *
 * @example
 * processTree(child.pid); // [4242, 4250, 4251]
 */
export function processTree(pid: number): number[] {
  if (!HAS_PROC) return isAlive(pid) ? [pid] : [];
  const table = readProcessTable();
  const children = new Map<number, number[]>();
  for (const [p, { ppid, state }] of table) {
    if (state === 'Z') continue;
    const list = children.get(ppid) ?? [];
    list.push(p);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = table.has(pid) && table.get(pid)?.state !== 'Z' ? [pid] : [];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Whether a process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  if (HAS_PROC) {
    const stat = readStat(pid);
    return stat !== undefined && stat.state !== 'Z';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A TCP socket in the LISTEN state held by one of the inspected processes. */
export interface ListeningSocket {
  readonly pid: number;
  readonly address: string;
  readonly port: number;
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // The descriptor closed while we looked.
    }
  }
  return inodes;
}

function hexToAddress(hex: string): string {
  if (hex.length === 8) {
    // IPv4, stored as a little-endian 32-bit number.
    return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
  }
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    const bytes = [6, 4, 2, 0].map((i) => word.slice(i, i + 2)).join('');
    groups.push(bytes.slice(0, 4), bytes.slice(4, 8));
  }
  return groups.map((g) => g.replace(/^0+(?=.)/, '').toLowerCase()).join(':');
}

/**
 * TCP sockets in LISTEN state held by any of `pids` (Linux /proc; empty elsewhere).
 *
 * @example
 * listeningSockets(processTree(child.pid)); // [{ pid: 4251, address: '::', port: 43117 }]
 */
export function listeningSockets(pids: readonly number[]): ListeningSocket[] {
  if (!HAS_PROC) return [];
  const owner = new Map<string, number>();
  for (const pid of pids) for (const inode of socketInodes(pid)) owner.set(inode, pid);
  if (owner.size === 0) return [];
  const found = new Map<string, ListeningSocket>();
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pids[0]}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // 0A = TCP_LISTEN
      const pid = owner.get(cols[9]);
      if (pid === undefined) continue;
      const [addrHex, portHex] = cols[1].split(':');
      const socket = { pid, address: hexToAddress(addrHex), port: parseInt(portHex, 16) };
      found.set(`${socket.address}|${socket.port}`, socket);
    }
  }
  return [...found.values()];
}

/** Send `signal` to each PID, ignoring those already gone. */
export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already exited.
    }
  }
}

/**
 * Wait until none of `pids` is alive, polling every 25 ms. Resolves true when they all
 * exited, false when `timeoutMs` passed first.
 */
export async function waitForExit(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!pids.some(isAlive)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Stop a process and everything it started: SIGTERM to every PID of its tree (and its
 * process group when it leads one), SIGKILL to whatever is left after `graceMs`.
 * Resolves true when everything exited on SIGTERM.
 *
 * @example
 * await stopTree(child.pid, 5000);
 */
export async function stopTree(
  pid: number,
  graceMs: number,
  known: readonly number[] = [],
): Promise<boolean> {
  const pids = [...new Set([...known, ...processTree(pid)])];
  signalGroup(pid, 'SIGTERM');
  signalAll(pids, 'SIGTERM');
  if (await waitForExit(pids, graceMs)) return true;
  const left = [...new Set([...pids, ...processTree(pid)])];
  signalGroup(pid, 'SIGKILL');
  signalAll(left, 'SIGKILL');
  await waitForExit(left, 2000);
  return false;
}

/** Signal the process group led by `pid` (children spawned with `detached: true`). */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Not a group leader, or already gone.
  }
}
