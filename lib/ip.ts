/**
 * IP address parsing shared by the request-context middleware. Strict on purpose: a value
 * is either a well-formed IPv4/IPv6 address (optionally with a port or brackets, which are
 * dropped) or it is rejected; nothing half-parsed is ever returned.
 */

/** An address as numbers: IPv4 as one unsigned 32-bit integer, IPv6 as eight 16-bit groups. */
export type AddressBits = number | number[];

/** Header values longer than this are garbage, not addresses; they are rejected unread. */
const MAX_RAW_LENGTH = 256;
/** `[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535` is 53 characters. */
const MAX_HOST_LENGTH = 53;

const DOT = 46;
const COLON = 58;

/** Strict dotted quad: four decimal parts 0-255, no leading zeros, nothing else. -1 if invalid. */
export function parseIPv4(s: string): number {
  if (s.length < 7 || s.length > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      // "010" is octal to inet_aton and decimal to others: ambiguity is rejected.
      if (digits === 1 && part === 0) return -1;
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else {
      return -1;
    }
  }
  return dots === 3 && digits > 0 ? value * 256 + part : -1;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** RFC 4291 §2.2 text forms, including `::` and a trailing dotted quad; no zone ids. */
export function parseIPv6(s: string): number[] | undefined {
  const n = s.length;
  if (n < 2 || n > 45) return undefined;
  const groups: number[] = [];
  let gap = -1;
  let i = 0;
  if (s.charCodeAt(0) === COLON) {
    if (s.charCodeAt(1) !== COLON) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    let j = i;
    let value = 0;
    while (j < n && j - i < 5) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      value = value * 16 + h;
      j++;
    }
    if (j < n && s.charCodeAt(j) === DOT) {
      const v4 = groups.length > 6 ? -1 : parseIPv4(s.slice(i));
      if (v4 < 0) return undefined;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
      break;
    }
    if (j === i || j - i > 4 || groups.push(value) > 8) return undefined;
    if (j === n) break;
    if (s.charCodeAt(j) !== COLON) return undefined;
    if (s.charCodeAt(j + 1) === COLON) {
      if (gap >= 0) return undefined;
      gap = groups.length;
      i = j + 2;
    } else if (j + 1 === n) {
      return undefined;
    } else {
      i = j + 1;
    }
  }
  if (gap < 0) return groups.length === 8 ? groups : undefined;
  if (groups.length > 7) return undefined;
  groups.splice(gap, 0, ...new Array<number>(8 - groups.length).fill(0));
  return groups;
}

/** `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2) is an IPv4 client seen through a dual-stack socket. */
function isMappedIPv4(g: number[]): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

/** Bits of a bare address (no port, no brackets); IPv4-mapped IPv6 comes back as IPv4. */
export function addressBits(s: string): AddressBits | undefined {
  if (s.indexOf(':') < 0) {
    const v4 = parseIPv4(s);
    return v4 < 0 ? undefined : v4;
  }
  const g = parseIPv6(s);
  if (g === undefined) return undefined;
  return isMappedIPv4(g) ? g[6] * 65536 + g[7] : g;
}

/** `:1234` at `from`: a decimal port 0-65535. */
function isPortSuffix(s: string, from: number): boolean {
  const len = s.length - from - 1;
  if (s.charCodeAt(from) !== COLON || len < 1 || len > 5) return false;
  let port = 0;
  for (let i = from + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    port = port * 10 + (c - 48);
  }
  return port <= 65535;
}

/** The bare address inside `host`, `host:port`, `[v6]` or `[v6]:port`; undefined if malformed. */
function stripPortAndBrackets(s: string): string | undefined {
  if (s.charCodeAt(0) === 91 /* [ */) {
    const close = s.indexOf(']');
    if (close < 0 || (close + 1 < s.length && !isPortSuffix(s, close + 1))) return undefined;
    const inner = s.slice(1, close);
    // RFC 3986 §3.2.2: brackets hold an IPv6 literal, never a dotted quad.
    return inner.includes(':') ? inner : undefined;
  }
  const colon = s.indexOf(':');
  // One colon is IPv4:port; an IPv6 address always has two or more.
  if (colon >= 0 && s.indexOf(':', colon + 1) < 0)
    return isPortSuffix(s, colon) ? s.slice(0, colon) : undefined;
  return s;
}

/** Text form of an address: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`). */
export function formatAddress(bits: AddressBits): string {
  if (typeof bits === 'number') {
    return `${bits >>> 24}.${(bits >>> 16) & 255}.${(bits >>> 8) & 255}.${bits & 255}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && bits[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (bestStart < 0) return bits.map((g) => g.toString(16)).join(':');
  const head = bits.slice(0, bestStart).map((g) => g.toString(16));
  const tail = bits.slice(bestStart + bestLength).map((g) => g.toString(16));
  return `${head.join(':')}::${tail.join(':')}`;
}

let lastInput: string | undefined;
let lastOutput: string | undefined;

/**
 * The canonical text of the IP address in `input`, or undefined when it is not one.
 * Trims whitespace, drops a port (`203.0.113.7:51234`) and brackets (`[2001:db8::1]:443`),
 * turns IPv4-mapped IPv6 into IPv4 and writes IPv6 in RFC 5952 form. Rejects everything
 * else: `unknown`, empty, `999.1.1.1`, `1.2.3`, leading zeros, zone ids, lists, long strings.
 *
 * @example
 * normalizeIp(' [2001:DB8:0::1]:443 '); // '2001:db8::1'
 * normalizeIp('::ffff:203.0.113.7');    // '203.0.113.7'
 * normalizeIp('unknown');               // undefined
 */
export function normalizeIp(input: string | undefined): string | undefined {
  // The socket peer repeats on every request of a keep-alive connection: one-entry memo.
  if (input === lastInput) return lastOutput;
  let output: string | undefined;
  if (typeof input === 'string' && input.length > 0 && input.length <= MAX_RAW_LENGTH) {
    const trimmed = input.trim();
    const bare = trimmed.length <= MAX_HOST_LENGTH ? stripPortAndBrackets(trimmed) : undefined;
    const bits = bare === undefined ? undefined : addressBits(bare);
    // A valid dotted quad is already canonical text.
    if (typeof bits === 'number' && !bare!.includes(':')) output = bare;
    else if (bits !== undefined) output = formatAddress(bits);
  }
  lastInput = input;
  lastOutput = output;
  return output;
}
