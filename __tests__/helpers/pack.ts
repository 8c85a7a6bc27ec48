import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

export interface Packed {
  /** Absolute path of the `npm pack` tarball. */
  tarball: string;
  /** Paths inside the package, as `npm pack --json` lists them. */
  files: string[];
}

/**
 * `npm pack` of this checkout, made once and shared by every test file (jest runs files in
 * separate workers): the tarball lands in a temp folder named after the checkout and the
 * build it packs (package.json, dist/.tsbuildinfo, dist/templates), written under a scratch
 * name and renamed into place; this checkout's older tarballs are removed.
 * `--ignore-scripts`: `npm test` has built dist already; `prepack` would build it again (the
 * published manifest, without scripts, is tested by package.test.ts on a real `npm pack`).
 */
export function packedTarball(): Packed {
  const hash = (...parts: (string | Buffer)[]) =>
    parts
      .reduce((h, p) => h.update(p), createHash('sha256'))
      .digest('hex')
      .slice(0, 12);
  const checkout = `nexthop-pack-${hash(ROOT)}-`;
  const build = hash(
    fs.readFileSync(path.join(ROOT, 'package.json')),
    String(fs.statSync(path.join(ROOT, 'dist', '.tsbuildinfo')).mtimeMs),
    String(fs.statSync(path.join(ROOT, 'dist', 'templates')).mtimeMs),
  );
  const dir = path.join(os.tmpdir(), `${checkout}${build}`);
  const manifest = path.join(dir, 'pack.json');
  if (!fs.existsSync(manifest)) {
    const scratch = fs.mkdtempSync(`${dir}-`);
    const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
    const packed = { filename: info.filename, files: info.files.map((f) => f.path) };
    fs.writeFileSync(path.join(scratch, 'pack.json'), JSON.stringify(packed));
    try {
      fs.renameSync(scratch, dir);
    } catch {
      fs.rmSync(scratch, { recursive: true, force: true }); // another worker won the race
    }
    // Tarballs of this checkout's earlier builds are stale.
    for (const name of fs.readdirSync(os.tmpdir())) {
      if (name.startsWith(checkout) && name !== path.basename(dir) && !name.includes(`${build}-`)) {
        fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
      }
    }
  }
  const { filename, files } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as {
    filename: string;
    files: string[];
  };
  return { tarball: path.join(dir, filename), files };
}
