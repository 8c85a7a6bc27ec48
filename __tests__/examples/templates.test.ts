import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { doctor } from '../../lib/cli/doctor';
import { main } from '../../lib/cli/index';
import { listTemplates } from '../../lib/cli/init';
import { captureIO, tempDir } from '../helpers/cli';
import { packedTarball } from '../helpers/pack';

const run = promisify(execFile);
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

// Every example is a template. hello is installed and run in both languages by
// __tests__/cli/init.test.ts; here each other template is installed once (from the
// shared packed tarball): one in TypeScript, the rest in JavaScript, the variant made by
// compiling the example. Each must pass doctor --quiet, answer on PORT under doctor --run
// (npm start, one port, SIGTERM) and pass the test it ships with.
const CASES: [string, 'ts' | 'js'][] = [
  ['ab-split', 'ts'],
  ['ip-guard', 'js'],
  ['secure-headers', 'js'],
  ['edge-api', 'js'],
  ['cluster', 'js'],
];

describe('every example is a template', () => {
  it('lists exactly the examples', () => {
    const examples = fs.readdirSync(path.join(__dirname, '..', '..', 'examples')).sort();
    expect(listTemplates()).toEqual(examples);
    expect([...CASES.map(([name]) => name), 'hello'].sort()).toEqual(examples);
  });
});

describe('nexthop init --template <name> → doctor → npm start, installed from the packed checkout', () => {
  const work = tempDir('nexthop-templates-');
  const installEnv = { ...process.env, NO_COLOR: '1', npm_config_prefer_offline: 'true' };
  let tarball = '';
  beforeAll(() => void ({ tarball } = packedTarball()), 120_000);
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it.each(CASES)(
    '%s (%s) installs, passes doctor --quiet and doctor --run, and its own test',
    async (template, language) => {
      const dir = path.join(work, template);
      const cap = captureIO(work, installEnv);
      const args = ['init', dir, '--template', template, '--nexthop-path', tarball];
      expect(await main(language === 'js' ? [...args, '--js'] : args, cap.io)).toBe(0);
      expect(cap.stdout()).toContain('✓ installed; package-lock.json written');
      const meta = readJson(path.join(__dirname, '..', '..', 'examples', template, 'template.json'));
      expect(readJson(path.join(dir, 'package.json')).dependencies).toEqual({
        nexthop: `file:${tarball}`,
        ...meta.dependencies,
      });
      const server = fs.readFileSync(path.join(dir, 'src', `server.${language}`), 'utf8');
      expect(server).toContain(language === 'ts' ? "from 'nexthop'" : "require('nexthop')");
      expect(server).toContain('if (require.main === module)');

      const quiet = captureIO(dir);
      expect(await main(['doctor', '--quiet'], quiet.io)).toBe(0);
      expect(quiet.stdout() + quiet.stderr()).toBe('');

      const results = await doctor(dir, { run: true, timeoutMs: 60_000, graceMs: 10_000 });
      expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
      expect(results.map((r) => r.id)).toEqual(
        expect.arrayContaining(['run-answers', 'run-one-port', 'run-sigterm']),
      );

      const { stdout } = await run('npm', ['test'], { cwd: dir, env: installEnv });
      expect(stdout).toMatch(/# fail 0\b/);
      expect(stdout).not.toMatch(/# pass 0\b/);
    },
    120_000,
  );
});
