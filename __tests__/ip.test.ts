import { compileTrust, DEFAULT_TRUSTED_PROXIES, normalizeIp } from 'nexthop';

describe('normalizeIp', () => {
  const valid: [input: string, expected: string][] = [
    ['203.0.113.7', '203.0.113.7'],
    ['  203.0.113.7\t', '203.0.113.7'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['203.0.113.7:51234', '203.0.113.7'],
    ['203.0.113.7:0', '203.0.113.7'],
    ['203.0.113.7:65535', '203.0.113.7'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1::', '1::'],
    ['::', '::'],
    ['::1', '::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    [' [2001:DB8:0::1]:443 ', '2001:db8::1'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:203.0.113.7', '203.0.113.7'],
    ['::ffff:cb00:7107', '203.0.113.7'],
    ['[::ffff:127.0.0.1]:80', '127.0.0.1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['fe80::1', 'fe80::1'],
  ];
  test.each(valid)('%j is %j', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });

  const invalid: [input: string, why: string][] = [
    ['', 'empty'],
    ['   ', 'blank'],
    ['unknown', 'a word'],
    ['999.1.1.1', 'octet over 255'],
    ['256.0.0.1', 'octet over 255'],
    ['1.2.3', 'three parts'],
    ['1.2.3.4.5', 'five parts'],
    ['1.2..4', 'empty part'],
    ['010.1.1.1', 'leading zero'],
    ['1.2.3.04', 'leading zero in the last part'],
    ['0x7f.0.0.1', 'hex octet'],
    ['1.2.3.-4', 'sign'],
    ['1.2.3.4:', 'empty port'],
    ['1.2.3.4:65536', 'port out of range'],
    ['1.2.3.4:123456', 'port too long'],
    ['1.2.3.4:80a', 'port not a number'],
    ['fe80::1%eth0', 'zone id'],
    ['[fe80::1%25eth0]', 'zone id in brackets'],
    ['1.2.3.4, 5.6.7.8', 'two values joined (duplicate header lines)'],
    ['1.2.3.4,5.6.7.8', 'two values joined without space'],
    ['2001:db8::1::2', 'two ::'],
    [':::', 'three colons'],
    ['1:2:3:4:5:6:7:8:9', 'nine groups'],
    ['1:2:3:4:5:6:7', 'seven groups without ::'],
    ['1:2:3:4:5:6:7::8', ':: standing for no group'],
    ['12345::1', 'group of five digits'],
    ['2001:db8::g', 'not hex'],
    ['2001:db8:', 'trailing colon'],
    [':2001:db8::1', 'leading single colon'],
    ['[2001:db8::1', 'unclosed bracket'],
    ['[2001:db8::1]x', 'junk after bracket'],
    ['[203.0.113.7]', 'IPv4 in brackets'],
    ['::ffff:1.2.3', 'short embedded IPv4'],
    ['1:2:3:4:5:6:7:1.2.3.4', 'embedded IPv4 past 128 bits'],
    ['<script>', 'markup'],
    ['1.2.3.4\r\nX: y', 'CRLF'],
    ['1'.repeat(10_240), '10 KB of digits'],
    [`${' '.repeat(5000)}1.2.3.4`, 'padding past the limit'],
  ];
  test.each(invalid)('%j is rejected (%s)', (input) => {
    expect(normalizeIp(input)).toBeUndefined();
  });

  test('undefined and repeated inputs are stable', () => {
    expect(normalizeIp(undefined)).toBeUndefined();
    expect(normalizeIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeIp('unknown')).toBeUndefined();
  });
});

describe('compileTrust', () => {
  const defaults = compileTrust();
  const cases: [address: string | undefined, trusted: boolean][] = [
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.10.10', true],
    ['100.64.0.1', true],
    ['100.127.255.255', true],
    ['100.128.0.1', false],
    ['fc00::1', true],
    ['fd12:3456::1', true],
    ['fe80::abcd', true],
    ['febf::1', true],
    ['fec0::1', false],
    ['203.0.113.7', false],
    ['8.8.8.8', false],
    ['2001:db8::1', false],
    ['::ffff:203.0.113.7', false],
    ['not-an-ip', false],
    ['0x7f.0.0.1', false],
    ['127.1', false],
    ['127.0.0.1:80', false],
    ['fe80::1%eth0', false],
    [undefined, false],
  ];
  test.each(cases)('default trust of %j is %j', (address, trusted) => {
    expect(defaults(address)).toBe(trusted);
    // Second call (memoized path) agrees.
    expect(defaults(address)).toBe(trusted);
  });

  test('the default list is loopback, link-local, private and CGNAT', () => {
    expect(DEFAULT_TRUSTED_PROXIES).toEqual(['loopback', 'linklocal', 'uniquelocal', 'cgnat']);
  });

  const lists: [option: string | string[], address: string, trusted: boolean][] = [
    [['10.20.0.0/16'], '10.20.5.5', true],
    [['10.20.0.0/16'], '10.21.0.1', false],
    [['10.20.0.0/16'], '127.0.0.1', false],
    [['203.0.113.7'], '203.0.113.7', true],
    [['203.0.113.7'], '203.0.113.8', false],
    [['0.0.0.0/1'], '8.8.8.8', true],
    [['0.0.0.0/1'], '2001:db8::1', false],
    [['::/1'], '2001:db8::1', true],
    [['::/1'], '10.0.0.1', false],
    [['2001:db8::/32'], '2001:db8:ffff::1', true],
    [['2001:db8::/32'], '2001:db9::1', false],
    [['2001:db8:8000::/33'], '2001:db8:8000::1', true],
    [['2001:db8:8000::/33'], '2001:db8:7fff::1', false],
    [['::ffff:10.0.0.0/104'], '10.9.9.9', true],
    [['::ffff:10.0.0.0/104'], '::ffff:10.9.9.9', true],
    [['::ffff:10.0.0.0/104'], '11.0.0.1', false],
    ['loopback, 192.0.2.0/24', '192.0.2.9', true],
    ['loopback, 192.0.2.0/24', '::1', true],
    ['private', '192.168.0.1', true],
    [['LOOPBACK'], '127.0.0.1', true],
    [[], '127.0.0.1', false],
  ];
  test.each(lists)('%j trusts %j: %j', (option, address, trusted) => {
    expect(compileTrust(option)(address)).toBe(trusted);
  });

  test('a predicate gets the canonical address and never malformed ones', () => {
    const seen: string[] = [];
    const trust = compileTrust((address) => {
      seen.push(address);
      return address === '10.0.0.7';
    });
    expect(trust('::ffff:10.0.0.7')).toBe(true);
    expect(trust('10.0.0.8')).toBe(false);
    expect(trust('garbage')).toBe(false);
    expect(trust(undefined)).toBe(false);
    expect(seen).toEqual(['10.0.0.7', '10.0.0.8']);
  });

  test('a compiled trust passes through unchanged, so one instance is shared', () => {
    const trust = compileTrust(['10.0.0.0/8']);
    expect(compileTrust(trust)).toBe(trust);
  });

  const errors: [option: unknown, type: typeof TypeError | typeof RangeError, message: string][] = [
    [
      ['10.0.0/8'],
      TypeError,
      'nexthop compileTrust: trustedProxies entry "10.0.0/8" is not a CIDR; use e.g. "10.0.0.0/8"',
    ],
    [['10/8'], TypeError, 'entry "10/8" is not a CIDR; use e.g. "10.0.0.0/8"'],
    [['10.0.0'], TypeError, 'use e.g. "10.0.0.0/32"'],
    [['2001:db8::/x'], TypeError, 'entry "2001:db8::/x" is not a CIDR; use e.g. "fd00::/8"'],
    [['10.0.0.0/'], TypeError, 'is not a CIDR'],
    [['10.0.0.0/33'], RangeError, 'entry "10.0.0.0/33" has prefix /33 out of range; use 0-32'],
    [['2001:db8::/129'], RangeError, 'out of range; use 0-128'],
    [['::ffff:10.0.0.0/90'], RangeError, 'out of range; use 96-128'],
    [['10.0.0.0/255.0.0.0'], TypeError, 'is not a CIDR'],
    [['10.0.0.0/8/8'], TypeError, 'is not a CIDR'],
    [['fe80::/10%eth0'], TypeError, 'is not a CIDR'],
    [
      ['0.0.0.0/0'],
      RangeError,
      'entry "0.0.0.0/0" would trust every IPv4 peer, so any client could choose its own IP',
    ],
    [['::/0'], RangeError, 'would trust every IPv6 peer'],
    [['::ffff:0.0.0.0/96'], RangeError, 'would trust every IPv4 peer'],
    [['10.0.0.1/8'], RangeError, 'entry "10.0.0.1/8" has host bits set; use "10.0.0.0/8"'],
    [['2001:db8::1/32'], RangeError, 'has host bits set; use "2001:db8::/32"'],
    [['::ffff:10.0.0.1/104'], RangeError, 'has host bits set; use "::ffff:a00:0/104"'],
    [['loopbak'], TypeError, 'entry "loopbak" is not a preset; use one of loopback, linklocal, uniquelocal'],
    [['toString'], TypeError, 'is not a preset'],
    [[''], TypeError, 'entry "" is not a CIDR string'],
    [[42], TypeError, 'entry 42 is not a CIDR string'],
    [true, TypeError, 'trustedProxies true would trust every peer'],
    [42, TypeError, 'trustedProxies 42 is not a list'],
    [null, TypeError, 'trustedProxies null is not a list'],
  ];
  test.each(errors)('%j throws', (option, type, message) => {
    expect(() => compileTrust(option as never)).toThrow(type);
    expect(() => compileTrust(option as never)).toThrow(message);
  });
});
