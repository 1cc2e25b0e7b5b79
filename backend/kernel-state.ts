// Reconcile, don't replay: a backend computes the routes, neighbours and FDB entries it wants from
// the leases, reads what the kernel has on the devices it owns, and applies the difference in a safe
// order (neighbours and FDB before the routes that use them; routes removed before what they used).
// `diffKernelState` is pure; `applyOps` is the thin edge over the netlink port.
import { describeFdb, describeNeigh, describeRoute, fdbKey, neighKey, routeDiff, routeKey } from '../netlink/index.js';
import type { Fdb, Neigh, Netlink, Route } from '../netlink/index.js';

export interface KernelState {
  readonly routes: ReadonlyMap<string, Route>;
  readonly neighs: ReadonlyMap<string, Required<Pick<Neigh, 'ip' | 'mac' | 'ifindex'>>>;
  readonly fdbs: ReadonlyMap<string, Fdb>;
}

export type KernelOp =
  | { readonly op: 'add-route' | 'replace-route' | 'del-route'; readonly route: Route }
  | { readonly op: 'add-neigh' | 'replace-neigh'; readonly neigh: { ip: string; mac: string; ifindex: number } }
  | { readonly op: 'del-neigh'; readonly neigh: { ip: string; ifindex: number } }
  | { readonly op: 'add-fdb' | 'del-fdb'; readonly fdb: Fdb };

export function emptyKernelState(): { routes: Map<string, Route>; neighs: Map<string, Required<Pick<Neigh, 'ip' | 'mac' | 'ifindex'>>>; fdbs: Map<string, Fdb> } {
  return { routes: new Map(), neighs: new Map(), fdbs: new Map() };
}

export function addRoute(s: ReturnType<typeof emptyKernelState>, r: Route): void {
  s.routes.set(routeKey(r), r);
}
export function addNeigh(s: ReturnType<typeof emptyKernelState>, n: { ip: string; mac: string; ifindex: number }): void {
  s.neighs.set(neighKey(n), n);
}
export function addFdb(s: ReturnType<typeof emptyKernelState>, f: Fdb): void {
  s.fdbs.set(fdbKey(f), f);
}

/** The ordered operations that turn `have` into `want`. */
export function diffKernelState(want: KernelState, have: KernelState): KernelOp[] {
  const delRoutes: KernelOp[] = [];
  const setRoutes: KernelOp[] = [];
  for (const [k, r] of have.routes) if (!want.routes.has(k)) delRoutes.push({ op: 'del-route', route: r });
  for (const [k, r] of want.routes) {
    const h = have.routes.get(k);
    if (!h) setRoutes.push({ op: 'add-route', route: r });
    else if (routeDiff(r, h) !== undefined) setRoutes.push({ op: 'replace-route', route: r });
  }

  const delNeighs: KernelOp[] = [];
  const setNeighs: KernelOp[] = [];
  for (const [k, n] of have.neighs) if (!want.neighs.has(k)) delNeighs.push({ op: 'del-neigh', neigh: n });
  for (const [k, n] of want.neighs) {
    const h = have.neighs.get(k);
    if (!h) setNeighs.push({ op: 'add-neigh', neigh: n });
    else if (h.mac !== n.mac) setNeighs.push({ op: 'replace-neigh', neigh: n });
  }

  const delFdbs: KernelOp[] = [];
  const addFdbs: KernelOp[] = [];
  for (const [k, f] of have.fdbs) if (!want.fdbs.has(k)) delFdbs.push({ op: 'del-fdb', fdb: f });
  for (const [k, f] of want.fdbs) if (!have.fdbs.has(k)) addFdbs.push({ op: 'add-fdb', fdb: f });

  return [...delRoutes, ...delNeighs, ...delFdbs, ...setNeighs, ...addFdbs, ...setRoutes];
}

export function describeOp(o: KernelOp): string {
  switch (o.op) {
    case 'add-route':
    case 'replace-route':
    case 'del-route':
      return `${o.op} ${describeRoute(o.route)}`;
    case 'add-neigh':
    case 'replace-neigh':
      return `${o.op} ${describeNeigh({ ...o.neigh, dev: o.neigh.ifindex })}`;
    case 'del-neigh':
      return `${o.op} ${describeNeigh({ ip: o.neigh.ip, dev: o.neigh.ifindex })}`;
    case 'add-fdb':
    case 'del-fdb':
      return `${o.op} ${describeFdb({ ...o.fdb, dev: o.fdb.ifindex })}`;
  }
}

/**
 * Applies every op, carrying on past failures so that one bad peer does not block the others;
 * returns the failures (the caller retries through its sync runner).
 */
export async function applyOps(nl: Netlink, ops: readonly KernelOp[]): Promise<{ op: KernelOp; err: unknown }[]> {
  const failed: { op: KernelOp; err: unknown }[] = [];
  for (const o of ops) {
    try {
      switch (o.op) {
        case 'add-route':
          await nl.addRoute(o.route);
          break;
        case 'replace-route':
          await nl.replaceRoute(o.route);
          break;
        case 'del-route':
          await nl.deleteRoute(o.route);
          break;
        case 'add-neigh':
          await nl.addNeigh({ ip: o.neigh.ip, mac: o.neigh.mac, dev: o.neigh.ifindex });
          break;
        case 'replace-neigh':
          await nl.replaceNeigh({ ip: o.neigh.ip, mac: o.neigh.mac, dev: o.neigh.ifindex });
          break;
        case 'del-neigh':
          await nl.deleteNeigh({ ip: o.neigh.ip, dev: o.neigh.ifindex });
          break;
        case 'add-fdb':
          await nl.addFdb({ mac: o.fdb.mac, dst: o.fdb.dst, dev: o.fdb.ifindex });
          break;
        case 'del-fdb':
          await nl.deleteFdb({ mac: o.fdb.mac, dst: o.fdb.dst, dev: o.fdb.ifindex });
          break;
      }
    } catch (err) {
      failed.push({ op: o, err });
    }
  }
  return failed;
}
