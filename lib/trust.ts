import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';
import { ipVersion, normalizeIp } from './ip';

/**
 * Which socket peers may speak for the client: a list of CIDRs and preset names (an array
 * or one comma-separated string), a predicate on the peer's address, or a {@link Trust}
 * already made by {@link compileTrust}.
 *
 * @example ['loopback', '10.20.0.0/16', 'fd00::/8']
 * @example (address) => address === '10.0.0.7'
 */
export type TrustedProxies = string | readonly string[] | ((address: string) => boolean);

/**
 * A compiled trust predicate: `true` when the socket peer `address` is a trusted proxy.
 * Its `(address, hop)` signature is the one Express expects, so the same instance can be
 * given to `app.set('trust proxy', trust)` and to every request-context middleware.
 *
 * @example
 * const trust: Trust = compileTrust(['10.0.0.0/8']);
 * trust('10.1.2.3'); // true
 */
export type Trust = (address: string | undefined, hop?: number) => boolean;

/**
 * Named address ranges usable in a `trustedProxies` list. `uniquelocal` (proxy-addr's name)
 * and `private` are the same: RFC 1918 IPv4 plus RFC 4193 IPv6.
 *
 * @example compileTrust(['loopback', 'uniquelocal']);
 */
export const TRUST_PRESETS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  // RFC 6598 shared address space: never routed on the internet, but used as pod or
  // node network by several Kubernetes set-ups the platform front may run on.
  cgnat: ['100.64.0.0/10'],
});

/**
 * The peers trusted when no `trustedProxies` option is given: where the platform's
 * module-front nginx lives. A public address is never trusted by default, so an app
 * reached directly from the internet cannot be fooled by a forged `True-Client-IP`.
 *
 * @example compileTrust([...DEFAULT_TRUSTED_PROXIES, '198.51.100.0/24']);
 */
export const DEFAULT_TRUSTED_PROXIES: readonly string[] = Object.freeze([
  'loopback',
  'linklocal',
  'uniquelocal',
  'cgnat',
]);

const compiled = new WeakSet<object>();

/** `10.0.0/8` → `10.0.0.0/8`: the nearest CIDR a user probably meant. */
function suggestion(entry: string): string {
  const short = /^(\d{1,3}(?:\.\d{1,3}){0,2})(\/\d{1,3})?$/.exec(entry);
  if (short) return `${short[1]}${'.0'.repeat(3 - (short[1].split('.').length - 1))}${short[2] ?? '/32'}`;
  return entry.includes(':') ? 'fd00::/8' : '10.0.0.0/8';
}

/**
 * Check one CIDR (or bare address) of a `trustedProxies` list and return it as proxy-addr
 * reads it. proxy-addr would take a netmask, host bits or a zero prefix silently; here each
 * is an error that says what to write instead.
 */
function checkCidr(entry: string, owner: string): string {
  const [address, prefixText, extra] = entry.split('/');
  const version = ipVersion(address);
  if (version === 0 || extra !== undefined || (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText))) {
    throw new TypeError(
      `nexthop ${owner}: trustedProxies entry "${entry}" is not a CIDR; use e.g. "${suggestion(entry)}"`,
    );
  }
  const max = version === 4 ? 32 : 128;
  // An IPv4-mapped network (::ffff:10.0.0.0/104) is matched as the IPv4 network it maps.
  const min = version === 6 && normalizeIp(address)?.includes('.') ? 96 : 0;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix < min || prefix > max) {
    throw new RangeError(
      `nexthop ${owner}: trustedProxies entry "${entry}" has prefix /${prefixText} out of range; use ${min}-${max}`,
    );
  }
  if (prefix === min) {
    throw new RangeError(
      `nexthop ${owner}: trustedProxies entry "${entry}" would trust every IPv${min === 0 ? version : 4} peer, ` +
        'so any client could choose its own IP; list the proxy networks, e.g. "10.0.0.0/8"',
    );
  }
  const network =
    version === 4
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefix}`).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(`${address}/${prefix}`).toRFC5952String();
  if (network !== (version === 4 ? address : ipaddr.IPv6.parse(address).toRFC5952String())) {
    throw new RangeError(
      `nexthop ${owner}: trustedProxies entry "${entry}" has host bits set; use "${network}/${prefix}"`,
    );
  }
  return `${address}/${prefix}`;
}

function listEntries(trustedProxies: unknown, owner: string): readonly unknown[] {
  if (typeof trustedProxies === 'string') return trustedProxies.split(',').map((s) => s.trim());
  if (Array.isArray(trustedProxies)) return trustedProxies;
  const hint =
    trustedProxies === true
      ? 'true would trust every peer, so any client could choose its own IP; list the proxy networks'
      : `${String(trustedProxies)} is not a list; use an array of CIDRs or preset names`;
  throw new TypeError(`nexthop ${owner}: trustedProxies ${hint}, e.g. ["loopback", "10.0.0.0/8"]`);
}

/** The list as CIDRs, presets expanded; every entry checked. */
function compileCidrs(trustedProxies: unknown, owner: string): string[] {
  const cidrs: string[] = [];
  for (const entry of listEntries(trustedProxies, owner)) {
    if (typeof entry !== 'string' || entry === '') {
      throw new TypeError(
        `nexthop ${owner}: trustedProxies entry ${JSON.stringify(entry) ?? String(entry)} is not a CIDR string; use e.g. "10.0.0.0/8"`,
      );
    }
    if (!/^[a-z]+$/i.test(entry)) {
      cidrs.push(checkCidr(entry, owner));
      continue;
    }
    const name = entry.toLowerCase();
    if (!Object.hasOwn(TRUST_PRESETS, name)) {
      throw new TypeError(
        `nexthop ${owner}: trustedProxies entry "${entry}" is not a preset; use one of ${Object.keys(TRUST_PRESETS).join(', ')} or a CIDR`,
      );
    }
    cidrs.push(...TRUST_PRESETS[name]);
  }
  return cidrs;
}

/** Mark `trust` as compiled (so it is shared as is) and return it. */
function sealed(trust: Trust): Trust {
  compiled.add(trust);
  return trust;
}

/**
 * Compile a `trustedProxies` option once into a predicate (proxy-addr's `compile`). All
 * validation happens here: a malformed CIDR, an unknown preset or `true` throws a
 * TypeError/RangeError naming the entry. The result can be shared by every request-context
 * middleware and by Express (`app.set('trust proxy', trust)`). A user predicate receives the
 * peer's canonical address (IPv4-mapped IPv6 as IPv4) and is never called for a missing or
 * malformed one.
 *
 * @param trustedProxies CIDRs and preset names, or a predicate. @default DEFAULT_TRUSTED_PROXIES
 * @param owner The name used in error messages. @default 'compileTrust'
 * @example
 * const trust = compileTrust(['loopback', '10.20.0.0/16']);
 * app.set('trust proxy', trust);
 * app.use(clientIp({ trustedProxies: trust }));
 */
export function compileTrust(
  trustedProxies: TrustedProxies = DEFAULT_TRUSTED_PROXIES,
  owner = 'compileTrust',
): Trust {
  if (typeof trustedProxies === 'function') {
    if (compiled.has(trustedProxies)) return trustedProxies as Trust;
    const predicate = trustedProxies as (address: string) => boolean;
    return sealed(function trustsPeer(address) {
      const canonical = normalizeIp(address);
      return canonical !== undefined && predicate(canonical) === true;
    });
  }
  const cidrs = compileCidrs(trustedProxies, owner);
  const inRanges = cidrs.length === 0 ? () => false : proxyaddr.compile(cidrs);
  let lastAddress: string | undefined;
  let lastResult = false;
  return sealed(function trustsPeer(address) {
    // The same front nginx connects again and again: remember the last answer.
    if (address === lastAddress) return lastResult;
    // Only Node's strict forms are addresses (proxy-addr's parser also takes `0x7f.1`).
    lastResult = address !== undefined && ipVersion(address) !== 0 && inRanges(address, 0);
    lastAddress = address;
    return lastResult;
  });
}
