// Which interface carries the overlay, as flannel picks it: --iface (names or addresses, first match
// wins), else --iface-regex (matched against addresses, then names), else the interface of the
// default route. The choice is pure; only `lookupExternalInterface` reads the kernel.
import type { ExternalInterface, FamilyAddrs } from '../backend/index.js';
import { FlannelError } from '../common/index.js';
import { type Family, isIp, parseIp, formatIp } from '../ipam/index.js';
import type { Addr, Link, Netlink, Route } from '../netlink/index.js';

export class ExternalInterfaceError extends FlannelError {
  readonly code = 'EXTERNAL_INTERFACE';
  override readonly transient = true;
}

export interface IfaceOptions {
  readonly iface: readonly string[];
  readonly ifaceRegex: readonly string[];
  readonly publicIP?: string;
  readonly publicIPv6?: string;
  readonly ipv4: boolean;
  readonly ipv6: boolean;
}

export interface KernelView {
  readonly links: readonly Link[];
  readonly addrs: readonly Addr[];
  readonly routes: readonly Route[];
}

const addrOf = (a: Addr): string => a.cidr.slice(0, a.cidr.indexOf('/'));
const canon = (ip: string): string => formatIp(parseIp(ip));

export function selectExternalInterface(o: IfaceOptions, k: KernelView): ExternalInterface {
  const family = o.ipv4 ? 4 : 6;
  const addrsOf = (l: Link, fam: 4 | 6) =>
    k.addrs.filter((a) => a.ifindex === l.index && a.family === fam && !isLinkLocal(addrOf(a))).map(addrOf);
  let link: Link | undefined;
  let pinnedAddr: string | undefined;

  if (o.iface.length > 0) {
    for (const spec of o.iface) {
      if (isIp(spec)) {
        const a = k.addrs.find((x) => canon(addrOf(x)) === canon(spec));
        link = a && k.links.find((l) => l.index === a.ifindex);
        if (link) pinnedAddr = canon(spec);
      } else {
        link = k.links.find((l) => l.name === spec);
      }
      if (link) break;
    }
    if (!link) throw new ExternalInterfaceError(`none of --iface ${o.iface.join(', ')} matches an interface or address on this host`);
  } else if (o.ifaceRegex.length > 0) {
    outer: for (const re of o.ifaceRegex.map((r) => new RegExp(r))) {
      for (const a of k.addrs) {
        if (a.family === family && re.test(addrOf(a))) {
          link = k.links.find((l) => l.index === a.ifindex);
          pinnedAddr = addrOf(a);
          if (link) break outer;
        }
      }
      link = k.links.find((l) => re.test(l.name));
      if (link) break;
    }
    if (!link) throw new ExternalInterfaceError(`no interface or address matches --iface-regex ${o.ifaceRegex.join(', ')}`);
  } else {
    const def = k.routes.find((r) => r.family === family && (r.dst === '0.0.0.0/0' || r.dst === '::/0') && r.ifindex !== undefined);
    link = def && k.links.find((l) => l.index === def.ifindex);
    if (!link) throw new ExternalInterfaceError(`no default IPv${family} route to pick the interface from; use --iface`);
  }

  const v4 = pinnedAddr && parseIp(pinnedAddr).family === 4 ? pinnedAddr : addrsOf(link, 4)[0];
  const v6 = pinnedAddr && parseIp(pinnedAddr).family === 6 ? pinnedAddr : addrsOf(link, 6)[0];
  if (o.ipv4 && !v4) throw new ExternalInterfaceError(`interface ${link.name} has no IPv4 address`);
  if (o.ipv6 && !v6) throw new ExternalInterfaceError(`interface ${link.name} has no global IPv6 address`);
  const addrs = new Map<Family, FamilyAddrs>();
  if (o.ipv4 && v4) addrs.set(4, { local: v4, publicIP: o.publicIP ?? v4 });
  if (o.ipv6 && v6) addrs.set(6, { local: v6, publicIP: o.publicIPv6 ?? v6 });
  return { name: link.name, index: link.index, mtu: link.mtu, addrs };
}

function isLinkLocal(ip: string): boolean {
  return ip.toLowerCase().startsWith('fe80:') || ip.startsWith('169.254.');
}

export async function lookupExternalInterface(nl: Netlink, o: IfaceOptions): Promise<ExternalInterface> {
  const [links, addrs, routes] = await Promise.all([nl.dumpLinks(), nl.dumpAddrs(), nl.dumpRoutes()]);
  return selectExternalInterface(o, { links, addrs, routes });
}
