// Pieces shared by the backends that route to peers through the underlay (host-gw, and vxlan with
// DirectRouting): is a peer on our L2 segment, which routes on the underlay device are ours, and a
// watch that reports when the kernel state under a backend changes.
import { Backoff, errorMessage, type Logger, sleep } from '../common/index.js';
import { type Cidr, contains, parseCidr, parseIp } from '../ipam/index.js';
import type { Netlink, NetlinkEvent, Route } from '../netlink/index.js';

/** The connected prefix of ours (an address CIDR on the underlay device) that holds `ip`, if any. */
export function segmentOf(ip: string, extCidrs: readonly string[]): string | undefined {
  const a = parseIp(ip);
  return extCidrs.find((c) => contains(parseCidr(c), a));
}

/** A route we programmed on the underlay device: a gateway, and a destination inside the network. */
export function isOwnUnderlayRoute(r: Route, extIndex: number, network: Cidr): boolean {
  if (r.ifindex !== extIndex || r.gw === undefined) return false;
  const dst = parseCidr(r.dst);
  return dst.prefix > network.prefix && contains(network, dst.addr);
}

/**
 * Calls `onDrift` for every notification `matches` accepts (and for lost notifications) until the
 * signal aborts, resubscribing with backoff if the subscription fails.
 */
export async function watchDrift(
  nl: Netlink,
  signal: AbortSignal,
  matches: (ev: Exclude<NetlinkEvent, { kind: 'overflow' }>) => boolean,
  onDrift: () => void,
  log: Logger,
): Promise<void> {
  const backoff = new Backoff(500, 10_000);
  while (!signal.aborted) {
    try {
      for await (const ev of nl.watch({ groups: ['link', 'ipv4-route', 'ipv6-route'], signal })) {
        backoff.reset();
        if (ev.kind === 'overflow' || matches(ev)) onDrift();
      }
    } catch (e) {
      log.warn({ err: errorMessage(e) }, 'netlink notifications failed; resubscribing');
    }
    await sleep(backoff.next(), signal);
  }
}
