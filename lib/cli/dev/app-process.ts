import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { GitignoreMatcher } from '../gitignore';
import { processTree, stopTree } from '../proc';

/** Options of {@link AppProcess}. */
export interface AppProcessOptions {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly port: number;
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

/** The user's app run with `npm start`, in its own process group so it can be stopped whole. */
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

  /** Run `npm start` (no-op once disposed). */
  start(): void {
    if (this.disposed) return;
    this.ready = false;
    this.stopping = false;
    const child = spawn('npm', ['start'], {
      cwd: this.options.dir,
      env: this.options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    this.seen = new Set();
    lines(child.stdout, (line) => this.options.onOutput(line, 'stdout'));
    lines(child.stderr, (line) => this.options.onOutput(line, 'stderr'));
    child.on('error', (err) => this.options.onCrash(`cannot run npm start: ${err.message}`));
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

  /** SIGTERM the whole tree, SIGKILL what is left after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.stopping = true;
    this.ready = false;
    const known = this.pids;
    await stopTree(child.pid, graceMs, known);
  }
}

/**
 * Watch `dir` recursively and call `onChange` (debounced) when a file that is not
 * ignored changes: node_modules, .git, the log folder and the project's .gitignore
 * entries (build output such as dist/) do not count.
 */
export function watchSources(
  dir: string,
  logDir: string,
  matcher: GitignoreMatcher | undefined,
  onChange: (file: string) => void,
): fs.FSWatcher {
  const logRel = path.relative(dir, logDir);
  let timer: NodeJS.Timeout | undefined;
  return fs.watch(dir, { recursive: true }, (_event, filename) => {
    if (!filename) return;
    const rel = filename.split(path.sep).join('/');
    if (/(?:^|\/)(?:node_modules|\.git)(?:\/|$)/.test(rel)) return;
    if (logRel && (rel === logRel || rel.startsWith(`${logRel}/`))) return;
    // The entry may be gone already: a folder pattern (`dist/`) counts as matching either way.
    if (matcher && (matcher(rel, true) || matcher(rel, false))) return;
    clearTimeout(timer);
    timer = setTimeout(() => onChange(rel), 200);
  });
}
