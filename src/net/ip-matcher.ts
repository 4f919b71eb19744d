/**
 * Matches peer addresses against a list of IPs and CIDR ranges, built once at boot.
 * node:net's BlockList does the address arithmetic (IPv4, IPv6 and IPv4-mapped IPv6).
 */
import { BlockList, isIP } from 'node:net'

/** True when `value` is an IPv4/IPv6 address or a CIDR range with a valid prefix length. */
export function isIpOrCidr(value: string): boolean {
  const slash = value.indexOf('/')
  if (slash === -1) return isIP(value) !== 0
  const family = isIP(value.slice(0, slash))
  const bitsText = value.slice(slash + 1)
  if (family === 0 || !/^\d{1,3}$/.test(bitsText)) return false
  return Number(bitsText) <= (family === 4 ? 32 : 128)
}

/** A predicate over peer addresses; `never` when the list is empty so the hot path skips the lookup. */
export type IpMatcher = (address: string | undefined) => boolean

/** Builds a matcher for `entries` (already validated with {@link isIpOrCidr}). */
export function createIpMatcher(entries: readonly string[]): IpMatcher {
  if (entries.length === 0) return () => false
  const list = new BlockList()
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/')
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6'
    if (bits === undefined) list.addAddress(address, type)
    else list.addSubnet(address, Number(bits), type)
  }
  return function isTrusted(address) {
    if (!address) return false
    const family = isIP(address)
    if (family === 0) return false
    return list.check(address, family === 4 ? 'ipv4' : 'ipv6')
  }
}
