// Names of the cluster domain and of reverse lookups. Pure.
import { isIPv4, isIPv6 } from 'node:net';

/** Lower case, without the trailing dot: the form names are compared in. */
export const canonical = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** `name` is `domain` or below it (both canonical). */
export const inDomain = (name: string, domain: string): boolean => name === domain || name.endsWith(`.${domain}`);

/** The eight groups of an IPv6 address, each four hex digits; undefined when it is not one. */
export function expandIPv6(ip: string): string[] | undefined {
  if (!isIPv6(ip)) return undefined;
  let s = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0'));
}

/** The PTR owner name of an address: `3.1.5.10.in-addr.arpa`, or the nibbles under `ip6.arpa`. */
export function reverseName(ip: string): string | undefined {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const g = expandIPv6(ip);
  if (!g) return undefined;
  return `${[...g.join('')].reverse().join('.')}.ip6.arpa`;
}

/** A canonical reverse name back to its address (IPv6 in the form reverseName's inverse gives); undefined for any other name. */
export function addressOfReverse(name: string): string | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  if (v4) {
    const ip = [v4[4], v4[3], v4[2], v4[1]].join('.');
    return isIPv4(ip) ? ip : undefined;
  }
  const v6 = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(name);
  if (!v6) return undefined;
  const hex = v6[1]!.split('.').filter(Boolean).reverse().join('');
  return compressIPv6(hex.match(/.{4}/g)!.join(':'));
}

/** An IPv6 address in its shortest usual form (leading zeros dropped, the longest zero run as ::). */
export function compressIPv6(ip: string): string {
  const g = (expandIPv6(ip) ?? ip.split(':')).map((x) => x.replace(/^0+(?=.)/, ''));
  let best = -1;
  let len = 0;
  for (let i = 0; i < g.length; ) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < g.length && g[j] === '0') j++;
    if (j - i > len && j - i > 1) [best, len] = [i, j - i];
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + len).join(':')}`;
}

/** An address as a DNS label, as Kubernetes writes it: `10-5-1-3`, `fd00--1` (`:` → `-`). */
export const dashed = (ip: string): string => (isIPv6(ip) ? compressIPv6(ip).replace(/:/g, '-') : ip.replace(/\./g, '-'));

/** A dashed label back to its address; undefined when it spells none. */
export function undashed(label: string): string | undefined {
  const v4 = label.replace(/-/g, '.');
  if (/^\d+\.\d+\.\d+\.\d+$/.test(v4) && isIPv4(v4)) return v4;
  const v6 = label.replace(/-/g, ':');
  return isIPv6(v6) ? compressIPv6(v6) : undefined;
}
