import fs from 'node:fs';
import path from 'node:path';

/** nexthop's own package.json fields the CLI reads. */
export interface OwnPackage {
  readonly root: string;
  readonly version: string;
  readonly devDependencies: Readonly<Record<string, string>>;
}

let cached: OwnPackage | undefined;

/**
 * The installed nexthop package: its folder (found by walking up from this file, so it
 * works from `lib/cli` in a checkout and from `dist/lib/cli` when installed), version and
 * dev dependency ranges (used to pin what `init` adds).
 */
export function ownPackage(): OwnPackage {
  if (cached) return cached;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        name?: string;
        version?: string;
        devDependencies?: Record<string, string>;
      };
      if (pkg.name === 'nexthop') {
        cached = { root: dir, version: pkg.version ?? '0.0.0', devDependencies: pkg.devDependencies ?? {} };
        return cached;
      }
    }
    if (path.dirname(dir) === dir) throw new Error('nexthop: cannot find the package root from ' + __dirname);
  }
}
