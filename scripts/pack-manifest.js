#!/usr/bin/env node
// The package.json that goes into the npm tarball: the repository's without its "scripts".
// The repository needs them (build, test, `npm start` runs the demo), users do not: a
// published lifecycle script such as "prepare" makes npm print an install-scripts warning
// on every install.
//
//   prepack:  node scripts/pack-manifest.js strip    keeps package.json aside, writes the clean one
//   postpack: node scripts/pack-manifest.js restore  puts the repository's back
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const manifest = path.join(root, 'package.json');
const kept = path.join(root, 'package.json.prepack');

/** The published manifest: everything but the repository's scripts. */
function publishedManifest(pkg) {
  const published = { ...pkg };
  delete published.scripts;
  return published;
}

function strip() {
  if (fs.existsSync(kept)) {
    throw new Error(
      `${kept} exists: an earlier pack did not finish; check it and move it back to package.json`,
    );
  }
  const text = fs.readFileSync(manifest, 'utf8');
  fs.writeFileSync(kept, text);
  fs.writeFileSync(manifest, `${JSON.stringify(publishedManifest(JSON.parse(text)), null, 2)}\n`);
}

function restore() {
  if (fs.existsSync(kept)) fs.renameSync(kept, manifest);
}

if (require.main === module) {
  const command = process.argv[2];
  if (command === 'strip') strip();
  else if (command === 'restore') restore();
  else {
    process.stderr.write('usage: node scripts/pack-manifest.js strip|restore\n');
    process.exitCode = 2;
  }
}

module.exports = { publishedManifest };
