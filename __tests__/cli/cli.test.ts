import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createPainter, paintStatus, wantsColour } from '../../lib/cli/colour';
import { parseBypass, parseFault, parseOrigin } from '../../lib/cli/dev';
import { GEO_TABLE, geoForIp, parseGeo } from '../../lib/cli/dev/geo';
import { main } from '../../lib/cli/index';
import { CLI, captureIO } from '../helpers/cli';

const VERSION = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version;

describe('nexthop (arguments, help, version)', () => {
  it('the built bin starts with a shebang and prints its version', () => {
    expect(fs.readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const run = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
    expect(run.stdout).toBe(`${VERSION}\n`);
    expect(run.status).toBe(0);
  });

  // [arguments, exit code, text expected on stdout or stderr]
  const CASES: [string[], number, string][] = [
    [['-v'], 0, `${VERSION}\n`],
    [['--help'], 0, 'Usage: nexthop <command> [options]'],
    [[], 2, 'Commands:'],
    [['help'], 0, 'Commands:'],
    [['help', 'dev'], 0, 'Usage: nexthop dev [dir] [options]'],
    [['doctor', '--help'], 0, 'Usage: nexthop doctor [dir] [options]'],
    [['init', '-h'], 0, 'Usage: nexthop init [dir] [options]'],
    [['dev', '--help'], 0, '--next-hop-fault <fault>'],
    [['deploy'], 2, 'nexthop: unknown command "deploy"'],
    [['toString'], 2, 'nexthop: unknown command "toString"'],
    [['doctor', '--fast'], 2, "nexthop doctor: Unknown option '--fast'"],
    [['doctor', '--timeout'], 2, "nexthop doctor: Option '--timeout <value>' argument missing"],
    [['dev', '--port', '70000'], 2, 'nexthop dev: --port must be an integer from 0 to 65535, got "70000"'],
    [['dev', '--client-ip', 'me'], 2, 'nexthop dev: --client-ip "me" is not an IP address'],
    [['dev', '--next-hop-fault', 'slow'], 2, 'use refuse, timeout, reset or slow=<ms>'],
    [
      ['dev', '--next-hop-fault', 'timout'],
      2,
      '--next-hop-fault "timout" is unknown (did you mean timeout?); use refuse,',
    ],
    [['dev', '--origin', 'ftp://x'], 2, '--origin "ftp://x" must be an http: or https: URL'],
    [['dev', '--bypass', 'static'], 2, '--bypass entry "static" must be a path prefix starting with "/"'],
    [['dev', '--geo', 'planet=Mars'], 2, '--geo key "planet" is unknown'],
    [['doctor', '/no/such/folder'], 2, 'nexthop doctor: /no/such/folder is not a folder'],
    [['doctor', __filename], 2, `nexthop doctor: ${__filename} is not a folder`],
    [['init', __filename], 2, `nexthop init: ${__filename} is not a folder`],
    [['dev', '/no/such/folder'], 2, 'nexthop dev: /no/such/folder is not a folder'],
    [
      ['dev', __dirname],
      2,
      `nexthop dev: ${__dirname} has no "start" script in package.json and no server file`,
    ],
    [['dev', '--inspect=nine'], 2, 'nexthop dev: --inspect "nine" is not a [host:]port'],
    [
      ['dev', path.join(__dirname, '..', 'fixtures', 'doctor', 'good'), '--port', 'x'],
      2,
      '--port must be an integer',
    ],
  ];
  it.each(CASES)('nexthop %j exits %s', async (args, code, text) => {
    const cap = captureIO(process.cwd());
    expect(await main(args, cap.io)).toBe(code);
    expect(cap.stdout() + cap.stderr()).toContain(text);
    if (code === 2 && args.length > 1) expect(cap.stderr()).toContain(`See \`nexthop ${args[0]} --help\`.`);
  });
});

describe('typos in commands and flags name the closest one (the built bin, as a user runs it)', () => {
  // [arguments, text on stderr]; each exits 2
  const TYPOS: [string[], string][] = [
    [['doctr'], 'nexthop: unknown command "doctr" (did you mean doctor?)'],
    [['Dev'], 'nexthop: unknown command "Dev" (did you mean dev?)'],
    [['deploy'], 'nexthop: unknown command "deploy"\n'],
    [['--verison'], 'nexthop: unknown option "--verison" (did you mean --version?)'],
    [['help', 'inti'], 'nexthop: unknown command "inti" (did you mean init?)'],
    [['doctor', '--quite'], "nexthop doctor: Unknown option '--quite' (did you mean --quiet?)\n"],
    [['doctor', '--timout=5'], "nexthop doctor: Unknown option '--timout' (did you mean --timeout?)"],
    [['doctor', '--fast'], "nexthop doctor: Unknown option '--fast'\nSee `nexthop doctor --help`."],
    [['dev', '--prot', '1'], "nexthop dev: Unknown option '--prot' (did you mean --port?)"],
    [['init', '--templat', 'x'], "nexthop init: Unknown option '--templat' (did you mean --template?)"],
  ];
  it.each(TYPOS)('nexthop %j', (args, text) => {
    const run = spawnSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(text);
    expect(run.stdout).toBe('');
  });
});

describe('dev option parsers', () => {
  it('parseFault', () => {
    expect(parseFault('refuse')).toEqual({ kind: 'refuse' });
    expect(parseFault('timeout')).toEqual({ kind: 'timeout' });
    expect(parseFault('reset')).toEqual({ kind: 'reset' });
    expect(parseFault('slow=2000')).toEqual({ kind: 'slow', ms: 2000 });
    for (const bad of ['slow=', 'slow=-1', 'slow=1s', 'drop', ''])
      expect(() => parseFault(bad)).toThrow(/--next-hop-fault/);
  });

  it('parseOrigin', () => {
    expect(parseOrigin('https://example.com').host).toBe('example.com');
    expect(parseOrigin('http://127.0.0.1:8081/').port).toBe('8081');
    expect(() => parseOrigin('example.com')).toThrow('is not a URL');
    expect(() => parseOrigin('https://example.com/api')).toThrow('must be an origin only');
    expect(() => parseOrigin('https://u:p@example.com')).toThrow('must be an origin only');
    expect(() => parseOrigin('https://example.com/?a=1')).toThrow('must be an origin only');
  });

  it('parseBypass', () => {
    expect(parseBypass('/static, /images,')).toEqual(['/static', '/images']);
    expect(() => parseBypass('/a,b')).toThrow('"b" must be a path prefix');
  });

  it('parseGeo: key=value pairs, aliases, and a latlon that keeps its comma', () => {
    expect(parseGeo('country=US,city=Seattle,latlon=47.6,-122.3,asn=64500')).toEqual({
      'country-code': 'US',
      city: 'Seattle',
      latlon: '47.6,-122.3',
      asn: '64500',
    });
    expect(parseGeo('Country-Name=New Zealand,postal=1010')).toEqual({
      'country-name': 'New Zealand',
      'postal-code': '1010',
    });
    expect(() => parseGeo('US')).toThrow('expected key=value pairs');
    expect(() => parseGeo('zip=1')).toThrow('--geo key "zip" is unknown');
  });

  it('geoForIp: the built-in table by address prefix, nothing for unknown addresses', () => {
    expect(geoForIp('127.0.0.1').city).toBe('San Francisco');
    expect(geoForIp('203.0.113.9')['country-code']).toBe('AU');
    expect(geoForIp('2001:DB8::1')['country-code']).toBe('JP');
    expect(geoForIp('8.8.8.8')).toEqual({});
    for (const row of GEO_TABLE) expect(Object.keys(row.geo)).toHaveLength(8);
  });
});

describe('colour output', () => {
  // [isTTY, env, colour?]
  const CASES: [boolean, NodeJS.ProcessEnv, boolean][] = [
    [true, {}, true],
    [false, {}, false],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: '' }, true], // an empty NO_COLOR does not count
    [false, { FORCE_COLOR: '1' }, true],
    [true, { FORCE_COLOR: '0' }, false],
    [false, { NO_COLOR: '1', FORCE_COLOR: '1' }, false],
  ];
  it.each(CASES)('TTY %s with %j → colour %s', (isTTY, env, expected) => {
    expect(wantsColour({ isTTY }, env)).toBe(expected);
    expect(createPainter({ isTTY }, env).red('x')).toBe(expected ? '\u001b[31mx\u001b[39m' : 'x');
  });

  it('colours statuses by class', () => {
    const c = createPainter({ isTTY: true }, {});
    expect(paintStatus(c, 200)).toBe(c.green('200'));
    expect(paintStatus(c, 304)).toBe(c.cyan('304'));
    expect(paintStatus(c, 404)).toBe(c.yellow('404'));
    expect(paintStatus(c, 502)).toBe(c.red('502'));
  });
});
