import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliIO } from '../../lib/cli/io';
import { FIXTURES, tempDir } from './process';

export { FIXTURES, tempDir };

/** The built CLI (`npm test` builds before jest runs). */
export const CLI = path.join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'index.js');

/** A CliIO whose output is collected, for running commands in-process. */
export function captureIO(cwd: string, env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const io: CliIO = { stdout: out, stderr: err, env, cwd };
  return { io, stdout: () => stdout, stderr: () => stderr };
}

/** Copy a fixture project into a temp folder and return the copy's path. */
export function copyFixture(...parts: string[]): string {
  const dest = path.join(tempDir('nexthop-cli-'), parts[parts.length - 1]);
  fs.cpSync(path.join(FIXTURES, ...parts), dest, { recursive: true });
  return dest;
}

/** PIDs of living processes whose working folder is `dir` or inside it (Linux). */
export function processesIn(dir: string): number[] {
  const real = fs.realpathSync(dir);
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${name}/cwd`);
      const state = fs.readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.[0];
      if ((cwd === real || cwd.startsWith(`${real}/`)) && state !== 'Z') found.push(Number(name));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}
