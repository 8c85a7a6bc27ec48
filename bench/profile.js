#!/usr/bin/env node
// Summarise a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --cpu-prof DIR`) by
// where the time goes: self and inclusive share per package (express, router, nexthop, node
// internals, GC, idle) and the hottest functions.
// Usage: node bench/profile.js FILE.cpuprofile [--top N]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** The package a call frame belongs to: an npm package, nexthop itself, node internals, or V8. */
function packageOf(frame) {
  const { url, functionName } = frame;
  if (!url)
    return /^\((idle|garbage collector|program|root)\)$/.test(functionName) ? functionName : '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:'))
    return `node:${url.slice(5).split('/')[0] === 'internal' ? 'internal' : url.slice(5)}`;
  if (/\/dist\/(lib|middleware)\//.test(url)) return 'nexthop';
  if (/\/bench\//.test(url)) return 'bench server';
  return path.basename(url);
}

function summarise(profile, top) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const total = profile.samples.length;
  const self = new Map();
  const inclusive = new Map();
  const functions = new Map();
  const add = (map, key, by = 1) => map.set(key, (map.get(key) || 0) + by);
  for (const id of profile.samples) {
    const node = byId.get(id);
    const pkg = packageOf(node.callFrame);
    add(self, pkg);
    const { functionName, url, lineNumber } = node.callFrame;
    add(
      functions,
      `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*node_modules\//, '')}:${lineNumber + 1}` : ''}`,
    );
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) seen.add(packageOf(byId.get(at).callFrame));
    for (const p of seen) add(inclusive, p);
  }
  const pct = (n) => `${((n / total) * 100).toFixed(1)}%`;
  const lines = [`${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`, ''];
  lines.push('| package | self | inclusive |', '| --- | ---: | ---: |');
  for (const [pkg, n] of [...self].sort((a, b) => b[1] - a[1])) {
    lines.push(`| ${pkg} | ${pct(n)} | ${pct(inclusive.get(pkg) || n)} |`);
  }
  lines.push('', `| top ${top} functions (self) | self |`, '| --- | ---: |');
  for (const [fn, n] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`| \`${fn.trim()}\` | ${pct(n)} |`);
  }
  return lines.join('\n');
}

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile.js FILE.cpuprofile [--top N]\n');
  process.exit(1);
}
const topAt = rest.indexOf('--top');
const top = topAt >= 0 ? Number(rest[topAt + 1]) : 15;
process.stdout.write(`${summarise(JSON.parse(fs.readFileSync(file, 'utf8')), top)}\n`);
