import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * IP address text as the request-context middleware read it. Node (`net.isIP`) decides what
 * is an address, strictly: dotted quads without leading zeros, RFC 4291 IPv6 text. ipaddr.js
 * writes IPv6 in its canonical form.
 */

/** Header values longer than this are garbage, not addresses; they are rejected unread. */
const MAX_RAW_LENGTH = 256;
const PORT = /^[0-9]{1,5}$/;

/**
 * 4 or 6 when `text` is a bare IPv4 or IPv6 address, else 0. Unlike `net.isIP`, a zone id
 * (`fe80::1%eth0`) is refused: it names an interface of the sender, not a client.
 */
export function ipVersion(text: string): 0 | 4 | 6 {
  return text.includes('%') ? 0 : (isIP(text) as 0 | 4 | 6);
}

/** The bare address inside `host`, `host:port`, `[v6]` or `[v6]:port`; undefined if malformed. */
function stripPortAndBrackets(text: string): string | undefined {
  let host = text;
  let port: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    // RFC 3986 §3.2.2: brackets hold an IPv6 literal, never a dotted quad.
    if (close < 0 || ipVersion(text.slice(1, close)) !== 6) return undefined;
    host = text.slice(1, close);
    if (close + 1 < text.length) {
      if (text[close + 1] !== ':') return undefined;
      port = text.slice(close + 2);
    }
  } else {
    const colon = text.indexOf(':');
    // One colon is IPv4:port; an IPv6 address always has two or more.
    if (colon >= 0 && text.indexOf(':', colon + 1) < 0) {
      host = text.slice(0, colon);
      port = text.slice(colon + 1);
    }
  }
  if (port !== undefined && !(PORT.test(port) && Number(port) <= 65535)) return undefined;
  return host;
}

/** RFC 5952 text of a valid IPv6 address; IPv4-mapped (`::ffff:a.b.c.d`) comes back as IPv4. */
function canonicalIPv6(address: string): string {
  const parsed = ipaddr.IPv6.parse(address);
  return parsed.isIPv4MappedAddress() ? parsed.toIPv4Address().toString() : parsed.toRFC5952String();
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
  if (typeof input === 'string' && input.length <= MAX_RAW_LENGTH) {
    const bare = stripPortAndBrackets(input.trim());
    const version = bare === undefined ? 0 : ipVersion(bare);
    // A valid dotted quad is already canonical text.
    if (version === 4) output = bare;
    else if (version === 6) output = canonicalIPv6(bare!);
  }
  lastInput = input;
  lastOutput = output;
  return output;
}
