#!/usr/bin/env node
// `npm run example -- <name> [nexthop dev options]`: builds if the sources changed, then runs
// examples/<name> as an edge module behind `nexthop dev` (front on :8080 adding the
// platform's headers → the example → emulated next-hop → demo origin). Ctrl-C stops it.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const examples = fs
  .readdirSync(path.join(root, 'examples'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

/** Newest modification time under `dir` (files only, recursive). */
function newest(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile())
      latest = Math.max(latest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/** Builds when dist/ is missing or older than a source folder (tsc's own incremental build). */
function buildIfNeeded() {
  // dist/templates is made afresh by the last step of every build: its time is the build's.
  const stamp = path.join(root, 'dist', 'templates');
  const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
  const sources = Math.max(...['lib', 'middleware', 'examples'].map((d) => newest(path.join(root, d))));
  if (sources > built) execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
}

function main() {
  const [name, ...devArgs] = process.argv.slice(2);
  if (!name || !examples.includes(name)) {
    process.stderr.write(
      `Usage: npm run example -- <name> [nexthop dev options, e.g. --https --client-ip 203.0.113.7]\n` +
        `examples: ${examples.join(', ')}\n`,
    );
    return process.exit(name ? 2 : 0);
  }
  buildIfNeeded();
  // `nexthop dev` runs `npm start` in a project folder: a throwaway one whose start script
  // runs the built example, which finds `nexthop` through the package's self-reference.
  const project = fs.mkdtempSync(path.join(os.tmpdir(), `nexthop-example-${name}-`));
  const server = path.join(root, 'dist', 'examples', name, 'server.js');
  const pkg = {
    name: `example-${name}`,
    private: true,
    scripts: { start: `exec node ${JSON.stringify(server)}` },
  };
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(pkg, null, 2));
  const cli = path.join(root, 'dist', 'lib', 'cli', 'index.js');
  const dev = spawn(process.execPath, [cli, 'dev', project, ...devArgs], { stdio: 'inherit' });
  // Ctrl-C reaches dev too (same process group); dev stops its children, then this exits.
  const ignore = () => {};
  process.on('SIGINT', ignore).on('SIGTERM', () => dev.kill('SIGTERM'));
  dev.on('exit', (code, signal) => {
    fs.rmSync(project, { recursive: true, force: true });
    process.exit(code ?? (signal ? 1 : 0));
  });
}

main();
