// Pieces shared by the backends that route to peers through the underlay (host-gw, and vxlan with
// DirectRouting): is a peer on our L2 segment, which routes on the underlay device are ours, and a
// watch that reports when the kernel state under a backend changes.
import { Backoff, errorMessage, type Logger, sleep } from '../common/index.js';
import { type Cidr, contains, parseCidr, parseIp } from '../ipam/index.js';
import type { Netlink, NetlinkEvent, Route, WatchGroup } from '../netlink/index.js';
import { addRoute, emptyKernelState, type MutableKernelState } from './kernel-state.js';

/** The connected prefix of ours (an address CIDR on the underlay device) that holds `ip`, if any. */
export function segmentOf(ip: string, extCidrs: readonly string[]): string | undefined {
  const a = parseIp(ip);
  return extCidrs.find((c) => contains(parseCidr(c), a));
}

/**
 * A route to a peer's subnet, whichever backend programmed it: a gateway, and a destination inside
 * the network but smaller than it. Every backend treats all of these as its own, so switching the
 * backend (vxlan → host-gw and back) replaces the old backend's routes instead of colliding with
 * them. The node's own subnet (on docker0 or cni0) has no gateway and is never touched.
 */
export function isPeerRoute(r: Route, network: Cidr): boolean {
  if (r.gw === undefined) return false;
  const dst = parseCidr(r.dst);
  return dst.addr.family === network.addr.family && dst.prefix > network.prefix && contains(network, dst.addr);
}

/**
 * The peer routes of `network`'s family in the kernel (every table's, whichever backend made them),
 * and the routes `also` accepts: what a backend owns among the routes, read for a full sync.
 */
export async function ownedRoutes(nl: Netlink, network: Cidr, also?: (r: Route) => boolean): Promise<MutableKernelState> {
  const s = emptyKernelState();
  for (const r of await nl.dumpRoutes({ family: network.addr.family })) {
    if (also?.(r) || isPeerRoute(r, network)) addRoute(s, r);
  }
  return s;
}

/**
 * `cidr` as the only address of its family on the device (an IPv6 link-local one aside): any other
 * one means an old lease, and goes (logged with `fields`). Resolves to whether `cidr` had to be added.
 */
export async function ensureSoleAddress(nl: Netlink, ifindex: number, cidr: string, log: Logger, fields: Readonly<Record<string, unknown>> = {}): Promise<boolean> {
  const have = await nl.dumpAddrs({ family: parseCidr(cidr).addr.family, ifindex });
  for (const a of have) {
    if (a.cidr !== cidr && !a.cidr.toLowerCase().startsWith('fe80:')) {
      await nl.deleteAddr({ cidr: a.cidr, dev: ifindex });
      log.info({ addr: a.cidr, ...fields }, 'removed stale address');
    }
  }
  if (have.some((a) => a.cidr === cidr)) return false;
  await nl.addAddr({ cidr, dev: ifindex });
  return true;
}

/** Device names the flannel backends create: flannel.<VNI>, flannel-v6.<VNI> (vxlan), flannel0 (udp). */
const FLANNEL_DEVICE = /^(flannel\.\d+|flannel-v6\.\d+|flannel0)$/;

/** Deletes the devices another backend left behind (after a backend switch), keeping `keep`. */
export async function removeForeignDevices(nl: Netlink, keep: readonly string[], log: Logger): Promise<void> {
  for (const l of await nl.dumpLinks()) {
    if (FLANNEL_DEVICE.test(l.name) && !keep.includes(l.name)) {
      await nl.deleteLink(l.index);
      log.info({ device: l.name }, 'removed the device of a previous backend');
    }
  }
}

/**
 * Calls `onDrift` for every notification `matches` accepts (and for lost notifications) until the
 * signal aborts, resubscribing with backoff if the subscription fails. Route and neighbour
 * notifications are deletions only: what a backend writes itself is announced too, and a sync that
 * adds thousands of entries would otherwise parse as many notifications for nothing.
 */
export async function watchDrift(
  nl: Netlink,
  signal: AbortSignal,
  matches: (ev: Exclude<NetlinkEvent, { kind: 'overflow' }>) => boolean,
  onDrift: () => void,
  log: Logger,
  groups: readonly WatchGroup[] = ['link', 'ipv4-route', 'ipv6-route'],
): Promise<void> {
  const backoff = new Backoff(500, 10_000);
  while (!signal.aborted) {
    try {
      for await (const ev of nl.watch({ groups, signal, onlyDeletions: true })) {
        backoff.reset();
        if (ev.kind === 'overflow' || matches(ev)) onDrift();
      }
    } catch (e) {
      log.warn({ err: errorMessage(e) }, 'netlink notifications failed; resubscribing');
    }
    await sleep(backoff.next(), signal);
  }
}
