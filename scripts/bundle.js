#!/usr/bin/env node
// `npm run build` step, after tsc: esbuild packs the library (lib/ and middleware/, not the
// CLI) into dist/nexthop.js, the package's entry point. Dependencies stay external.
//
// Why a bundle: start-up time. Node resolves, reads and compiles each CommonJS file on its
// own; from one file, spawn to first 200 with createApp()'s default stack is measurably
// shorter than from tsc's ~40 files (ARCHITECTURE.md, "Build"). The source map carries the
// sources themselves (sourcesContent), so `node --enable-source-maps` shows TypeScript lines
// from the installed package. The CLI and the type declarations are tsc's per-file output.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

/**
 * tsc's incremental build leaves the output of a deleted source behind (and the declaration
 * maps of builds before they were turned off); remove them, so the package never ships a
 * module that no longer exists or a map to a source it does not contain.
 */
function pruneStale(dir) {
  for (const entry of fs.readdirSync(path.join(DIST, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!fs.existsSync(path.join(ROOT, rel))) fs.rmSync(path.join(DIST, rel), { recursive: true });
      else pruneStale(rel);
    } else if (
      entry.name.endsWith('.d.ts.map') ||
      !fs.existsSync(path.join(ROOT, rel.replace(/(\.d)?\.(js|ts)(\.map)?$/, '.ts')))
    ) {
      fs.rmSync(path.join(DIST, rel));
    }
  }
}

for (const dir of ['lib', 'middleware']) pruneStale(dir);
esbuild.buildSync({
  entryPoints: [path.join(ROOT, 'lib', 'index.ts')],
  outfile: path.join(DIST, 'nexthop.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20.19',
  packages: 'external',
  sourcemap: true,
  sourcesContent: true,
  logLevel: 'warning',
});
