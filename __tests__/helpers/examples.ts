import fs from 'node:fs';
import path from 'node:path';
import type { Application } from 'express';
import { createLogger, serve, type ServeHandle } from 'nexthop';
import { tempDir } from './process';

/** The repository's examples folder, and the built copies `npm test` compiles first. */
export const EXAMPLES = path.join(__dirname, '..', '..', 'examples');
export const BUILT_EXAMPLES = path.join(__dirname, '..', '..', 'dist', 'examples');

const scratch: string[] = [];
afterAll(() => scratch.splice(0).forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A temp folder removed after the test file's last test. */
export function scratchDir(prefix: string): string {
  const dir = tempDir(prefix);
  scratch.push(dir);
  return dir;
}

/**
 * Import examples/<name>/server.ts afresh with `env` set (createApp and the examples read
 * the environment when the module loads), logs in a temp folder. The environment is
 * restored afterwards.
 */
export async function loadExample<T = { app: Application }>(
  name: string,
  env: Record<string, string> = {},
): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, { LOG_DIR: scratchDir('nexthop-example-logs-'), LOG_LEVEL: 'error' }, env);
  try {
    let loaded: T | undefined;
    await jest.isolateModulesAsync(async () => {
      loaded = (await import(path.join(EXAMPLES, name, 'server'))) as T;
    });
    return loaded as T;
  } finally {
    process.env = saved;
  }
}

/** Serve an example's app on 127.0.0.1:<free port> as `serve()` would on the platform. */
export function serveExample(app: Application): Promise<ServeHandle> {
  // Lifecycle lines ("listening on…") would only clutter the test output.
  const logger = createLogger({ console: false, files: false });
  return serve(app, { port: 0, host: '127.0.0.1', handleSignals: false, processGuards: false, logger });
}
