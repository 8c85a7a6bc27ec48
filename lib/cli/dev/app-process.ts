import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { GitignoreMatcher } from '../gitignore';
import { HAS_PROC, listeningSockets, processTree, signalAll, stopTree, waitForExit } from '../proc';

/**
 * How the app is started: `npm start`, or `node <file>` for a project without a start
 * script. `nodeArgs` (e.g. `--inspect`) reach the app's node: as arguments of `node`, or
 * through npm's `--node-options`, which sets NODE_OPTIONS for the scripts npm runs (not
 * for npm itself, which would otherwise take the inspector port first).
 */
export type Launch =
  | { readonly kind: 'npm-start'; readonly nodeArgs: readonly string[] }
  | { readonly kind: 'node'; readonly file: string; readonly nodeArgs: readonly string[] };

function command(launch: Launch, env: NodeJS.ProcessEnv): [string, string[]] {
  if (launch.kind === 'node') return [process.execPath, [...launch.nodeArgs, launch.file]];
  if (launch.nodeArgs.length === 0) return ['npm', ['start']];
  const nodeOptions = [env.NODE_OPTIONS, ...launch.nodeArgs].filter(Boolean).join(' ');
  return ['npm', ['start', `--node-options=${nodeOptions}`]];
}

/** Options of {@link AppProcess}. */
export interface AppProcessOptions {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly port: number;
  /** How to start the app. @default { kind: 'npm-start', nodeArgs: [] } */
  readonly launch?: Launch;
  /** Called with each line the app prints. */
  readonly onOutput: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called when the app exits without being asked to. */
  readonly onCrash: (why: string) => void;
  /** Called once the app accepts connections on its port. */
  readonly onReady: () => void;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) onLine(part);
  });
  stream.on('end', () => rest && onLine(rest));
}

/**
 * The user's app run with `npm start` (or `node <file>`), in its own process group so it can
 * be stopped whole and so the terminal's Ctrl-C reaches only `dev`, which then signals it.
 */
export class AppProcess {
  private child: ChildProcess | undefined;
  private seen = new Set<number>();
  private ready = false;
  private stopping = false;
  private disposed = false;

  constructor(private readonly options: AppProcessOptions) {}

  /** The app's port while it accepts connections. */
  get port(): number | undefined {
    return this.ready ? this.options.port : undefined;
  }

  /** Every PID of the app's process tree seen so far (for tests and cleanup). */
  get pids(): number[] {
    if (this.child?.pid) processTree(this.child.pid).forEach((p) => this.seen.add(p));
    return [...this.seen];
  }

  /** Start the app (no-op once disposed). */
  start(): void {
    if (this.disposed) return;
    this.ready = false;
    this.stopping = false;
    const [file, args] = command(
      this.options.launch ?? { kind: 'npm-start', nodeArgs: [] },
      this.options.env,
    );
    const child = spawn(file, args, {
      cwd: this.options.dir,
      env: this.options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    this.seen = new Set();
    lines(child.stdout, (line) => this.options.onOutput(line, 'stdout'));
    lines(child.stderr, (line) => this.options.onOutput(line, 'stderr'));
    child.on('error', (err) => this.options.onCrash(`cannot run ${file}: ${err.message}`));
    child.on('exit', (code, signal) => {
      this.ready = false;
      if (this.child === child && !this.stopping)
        this.options.onCrash(signal ? `signal ${signal}` : `exit code ${code}`);
    });
    void this.waitReady(child);
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    while (this.child === child && child.exitCode === null && child.signalCode === null) {
      if (child.pid) processTree(child.pid).forEach((p) => this.seen.add(p));
      if (await canConnect(this.options.port)) {
        this.ready = true;
        this.options.onReady();
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stop, then start again (unless disposed meanwhile). */
  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }

  /** Stop for good: a restart in flight will not start it again. */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.stop();
  }

  /**
   * Stop the app as a deploy does, with one SIGTERM: to the process that listens on the
   * app's port (the server; a cluster's primary, which drains its workers). npm and the
   * shell running the start script exit when it does. Signalling every process instead
   * would signal the server twice (npm forwards SIGTERM to its child), which a graceful
   * server reads as "stop now". When nothing listens (still starting, or no /proc), the
   * whole tree gets SIGTERM; whatever is left after `graceMs` gets SIGKILL.
   */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.stopping = true;
    this.ready = false;
    const known = this.pids;
    const servers = [...new Set(listeningSockets(known).map((s) => s.pid))];
    if (HAS_PROC && servers.length > 0) {
      signalAll(servers, 'SIGTERM');
      if (await waitForExit(servers, graceMs)) {
        // npm and sh follow their child out; anything else the app started goes with the tree.
        if (await waitForExit(known, 2000)) return;
        await stopTree(
          child.pid,
          2000,
          known.filter((p) => !servers.includes(p)),
        );
        return;
      }
    }
    await stopTree(child.pid, graceMs, known);
  }
}

/** A running {@link watchSources}. */
export interface SourceWatcher {
  close(): void;
}

/**
 * Whether a path (relative to the project) is outside the watch: node_modules, .git, the
 * log folder and the project's .gitignore entries.
 */
function ignoredPaths(logRel: string, matcher: GitignoreMatcher | undefined) {
  return (rel: string, isDir?: boolean) =>
    /(?:^|\/)(?:node_modules|\.git)(?:\/|$)/.test(rel) ||
    (logRel !== '' && (rel === logRel || rel.startsWith(`${logRel}/`))) ||
    // The entry may be gone already: a folder pattern (`dist/`) counts as matching either way.
    (matcher !== undefined &&
      (isDir === undefined ? matcher(rel, true) || matcher(rel, false) : matcher(rel, isDir)));
}

/** A folder's entries; none when it was removed meanwhile. */
function folderEntries(folder: string): fs.Dirent[] {
  try {
    return fs.readdirSync(folder, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Watch one folder, calling `onName` with the name of each entry that changes; undefined when it is gone. */
function watchFolderEntries(folder: string, onName: (name: string) => void): fs.FSWatcher | undefined {
  try {
    return fs.watch(folder, (_event, name) => name && onName(name));
  } catch {
    return undefined;
  }
}

/** Close and drop the watchers of `rel` and of every folder under it. */
function closeWatchersUnder(watchers: Map<string, fs.FSWatcher>, rel: string): void {
  for (const [key, watcher] of watchers) {
    if (key === rel || key.startsWith(`${rel}/`)) {
      watcher.close();
      watchers.delete(key);
    }
  }
}

/**
 * Watch the project's folders and call `onChange` (debounced) when a file that is not
 * ignored changes: node_modules, .git, the log folder and the project's .gitignore
 * entries (build output such as dist/) do not count. Each folder is watched, not each
 * file: an editor or `sed -i` saves by writing a new file and renaming it over the old
 * one, which a watch on the old file's inode never sees again. New folders are watched
 * as they appear.
 */
export function watchSources(
  dir: string,
  logDir: string,
  matcher: GitignoreMatcher | undefined,
  onChange: (file: string) => void,
): SourceWatcher {
  const ignored = ignoredPaths(path.relative(dir, logDir), matcher);
  const watchers = new Map<string, fs.FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function watchFolder(rel: string): void {
    if (closed || watchers.has(rel)) return;
    const watcher = watchFolderEntries(path.join(dir, rel), (name) => changed(rel ? `${rel}/${name}` : name));
    if (!watcher) return; // removed meanwhile
    // A watched folder that is removed (or renamed) ends its watcher.
    watcher.on('error', () => closeWatchersUnder(watchers, rel));
    watchers.set(rel, watcher);
    for (const entry of folderEntries(path.join(dir, rel))) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory() && !ignored(child, true)) watchFolder(child);
    }
  }

  function changed(rel: string): void {
    if (ignored(rel)) return;
    const stat = fs.statSync(path.join(dir, rel), { throwIfNoEntry: false });
    if (stat?.isDirectory()) watchFolder(rel);
    else if (!stat) closeWatchersUnder(watchers, rel);
    clearTimeout(timer);
    timer = setTimeout(() => onChange(rel), 200);
  }

  watchFolder('');
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
