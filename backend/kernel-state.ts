// Reconcile, don't replay: a backend computes the routes, neighbours and FDB entries it wants from
// the leases, reads what the kernel has on the devices it owns, and applies the difference in a safe
// order (neighbours and FDB before the routes that use them; routes removed before what they used).
// `diffKernelState` is pure; `applyOps` is the thin edge over the netlink port.
import { describeFdb, describeNeigh, describeRoute, routeDiff } from '../netlink/index.js';
import type { Fdb, Netlink, NetlinkWrite, Route } from '../netlink/index.js';
import { errorMessage, type Logger } from '../common/index.js';

export type NeighEntry = { readonly ip: string; readonly mac: string; readonly ifindex: number; readonly state?: string };

export interface KernelState {
  readonly routes: ReadonlyMap<string, Route>;
  /** Desired entries have no state (permanent); read ones carry the kernel's. */
  readonly neighs: ReadonlyMap<string, NeighEntry>;
  readonly fdbs: ReadonlyMap<string, Fdb>;
}

export interface MutableKernelState extends KernelState {
  readonly routes: Map<string, Route>;
  readonly neighs: Map<string, NeighEntry>;
  readonly fdbs: Map<string, Fdb>;
}

export type KernelOp =
  | { readonly op: 'add-route' | 'replace-route' | 'del-route'; readonly route: Route }
  | { readonly op: 'add-neigh' | 'replace-neigh'; readonly neigh: { ip: string; mac: string; ifindex: number } }
  | { readonly op: 'del-neigh'; readonly neigh: { ip: string; ifindex: number } }
  | { readonly op: 'add-fdb' | 'del-fdb'; readonly fdb: Fdb };

export function emptyKernelState(): MutableKernelState {
  return { routes: new Map(), neighs: new Map(), fdbs: new Map() };
}

// Keys are built from the canonical text both sides already hold (our own formatting, and the
// netlink layer's parsing of dumps), so they cost a template string, not a parse: with thousands
// of peers, canonicalising every address on every reconcile was most of its time.
export const routeKeyOf = (r: Route): string => `${r.dst}${r.table !== undefined && r.table !== 254 ? ` table ${r.table}` : ''}${r.metric ? ` metric ${r.metric}` : ''}`;
export const neighKeyOf = (n: { ip: string; ifindex: number }): string => `${n.ifindex}/${n.ip}`;
export const fdbKeyOf = (f: { mac: string; dst: string; ifindex: number }): string => `${f.ifindex}/${f.mac}/${f.dst}`;

export function addRoute(s: MutableKernelState, r: Route): void {
  s.routes.set(routeKeyOf(r), r);
}
export function addNeigh(s: MutableKernelState, n: NeighEntry): void {
  s.neighs.set(neighKeyOf(n), n);
}
export function addFdb(s: MutableKernelState, f: Fdb): void {
  s.fdbs.set(fdbKeyOf(f), f);
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
    // A learned (reachable, stale, incomplete) entry for a peer's gateway is replaced by ours.
    else if (h.mac !== n.mac || (h.state !== undefined && h.state !== 'permanent')) setNeighs.push({ op: 'replace-neigh', neigh: n });
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
      return `${o.op} ${describeNeigh({ ip: o.neigh.ip, mac: o.neigh.mac, dev: o.neigh.ifindex })}`;
    case 'del-neigh':
      return `${o.op} ${describeNeigh({ ip: o.neigh.ip, dev: o.neigh.ifindex })}`;
    case 'add-fdb':
    case 'del-fdb':
      return `${o.op} ${describeFdb({ ...o.fdb, dev: o.fdb.ifindex })}`;
  }
}

/** The batch write of an op: the same message as its single call (ifindexes throughout). */
export function writeOf(o: KernelOp): NetlinkWrite | undefined {
  switch (o.op) {
    case 'add-route':
    case 'replace-route':
    case 'del-route': {
      const ifindex = o.route.ifindex;
      if (ifindex === undefined) return undefined;
      const op = o.op === 'add-route' ? 'addRoute' : o.op === 'replace-route' ? 'replaceRoute' : 'deleteRoute';
      return { op, route: { ...o.route, ifindex } };
    }
    case 'add-neigh':
      return { op: 'addNeigh', neigh: o.neigh };
    case 'replace-neigh':
      return { op: 'replaceNeigh', neigh: o.neigh };
    case 'del-neigh':
      return { op: 'deleteNeigh', neigh: o.neigh };
    case 'add-fdb':
      return { op: 'addFdb', fdb: o.fdb };
    case 'del-fdb':
      return { op: 'deleteFdb', fdb: o.fdb };
  }
}

/** One op through its single (idempotent, error-naming) netlink call. */
async function applyOne(nl: Netlink, o: KernelOp): Promise<void> {
  switch (o.op) {
    case 'add-route':
      return nl.addRoute(o.route);
    case 'replace-route':
      return nl.replaceRoute(o.route);
    case 'del-route':
      await nl.deleteRoute(o.route);
      return;
    case 'add-neigh':
      return nl.addNeigh({ ip: o.neigh.ip, mac: o.neigh.mac, dev: o.neigh.ifindex });
    case 'replace-neigh':
      return nl.replaceNeigh({ ip: o.neigh.ip, mac: o.neigh.mac, dev: o.neigh.ifindex });
    case 'del-neigh':
      await nl.deleteNeigh({ ip: o.neigh.ip, dev: o.neigh.ifindex });
      return;
    case 'add-fdb':
      return nl.addFdb({ mac: o.fdb.mac, dst: o.fdb.dst, dev: o.fdb.ifindex });
    case 'del-fdb':
      await nl.deleteFdb({ mac: o.fdb.mac, dst: o.fdb.dst, dev: o.fdb.ifindex });
      return;
  }
}

/**
 * Applies every op, carrying on past failures so that one bad peer does not block the others;
 * returns the failures (the caller retries through its sync runner). The ops go out as one batch
 * (many per sendmsg, in order, which keeps the safe order of the diff); each op the kernel refused
 * there (EEXIST of an identical entry, ENOENT of a delete, ...) is run again through its single
 * call, which knows which errors mean "already so" and names the rest.
 */
export async function applyOps(nl: Netlink, ops: readonly KernelOp[]): Promise<{ op: KernelOp; err: unknown }[]> {
  const writes: NetlinkWrite[] = [];
  const batched: number[] = [];
  const single: number[] = [];
  ops.forEach((o, i) => {
    const w = writeOf(o);
    if (w) {
      writes.push(w);
      batched.push(i);
    } else {
      single.push(i);
    }
  });
  const errnos = writes.length ? await nl.writeBatch(writes) : [];
  errnos.forEach((e, k) => e !== 0 && single.push(batched[k]!));
  single.sort((a, b) => a - b);
  const failed: { op: KernelOp; err: unknown }[] = [];
  for (const i of single) {
    const o = ops[i]!;
    try {
      await applyOne(nl, o);
    } catch (err) {
      failed.push({ op: o, err });
    }
  }
  return failed;
}

export interface ConvergeResult {
  readonly ops: number;
  readonly failed: number;
  /** The updates that failed, each with its error (already logged). */
  readonly failures: readonly { readonly op: KernelOp; readonly err: unknown }[];
}

export interface ConvergerOptions {
  /** The level of the one line per applied update (`programmed`): debug (the default) for per-peer entries, info for a handful. */
  readonly opLevel?: 'debug' | 'info';
}

/**
 * Converges one device's entries and remembers what it left in the kernel, so that lease events
 * can be applied as a partial sync (only the entries of the leases that changed, no dumps: the cost
 * of one event no longer grows with the number of peers). A full sync (dump and diff) runs at start,
 * periodically, after any failure and on drift; a failure forgets the remembered state so the next
 * sync is full (kube-proxy's rule).
 */
export class Converger {
  private applied: MutableKernelState | undefined;

  private readonly opLevel: 'debug' | 'info';

  constructor(
    private readonly nl: Netlink,
    private readonly log: Logger,
    opts: ConvergerOptions = {},
  ) {
    this.opLevel = opts.opLevel ?? 'debug';
  }

  get ready(): boolean {
    return this.applied !== undefined;
  }

  sizes(): { route: number; neigh: number; fdb: number } {
    const a = this.applied;
    return { route: a?.routes.size ?? 0, neigh: a?.neighs.size ?? 0, fdb: a?.fdbs.size ?? 0 };
  }

  forget(): void {
    this.applied = undefined;
  }

  async full(want: KernelState, have: KernelState): Promise<ConvergeResult> {
    this.applied = undefined;
    const res = await this.apply(diffKernelState(want, have));
    if (res.failed === 0) this.applied = cloneState(want);
    return res;
  }

  /** Applies the entries of removed and added leases on top of the remembered state. */
  async partial(removed: KernelState, added: KernelState): Promise<ConvergeResult> {
    const applied = this.applied;
    if (!applied) throw new Error('partial sync before a full one');
    const want = emptyKernelState();
    const have = emptyKernelState();
    for (const kind of ['routes', 'neighs', 'fdbs'] as const) {
      const a = applied[kind] as Map<string, unknown>;
      for (const k of [...removed[kind].keys(), ...added[kind].keys()]) {
        if (a.has(k)) (have[kind] as Map<string, unknown>).set(k, a.get(k));
      }
      for (const [k, v] of added[kind]) (want[kind] as Map<string, unknown>).set(k, v);
    }
    this.applied = undefined;
    const res = await this.apply(diffKernelState(want, have));
    if (res.failed > 0) return res;
    for (const kind of ['routes', 'neighs', 'fdbs'] as const) {
      const a = applied[kind] as Map<string, unknown>;
      for (const k of removed[kind].keys()) a.delete(k);
      for (const [k, v] of added[kind]) a.set(k, v);
    }
    this.applied = applied;
    return res;
  }

  private async apply(ops: readonly KernelOp[]): Promise<ConvergeResult> {
    if (ops.length === 0) return { ops: 0, failed: 0, failures: [] };
    const failed = await applyOps(this.nl, ops);
    const failedOps = new Set(failed.map((f) => f.op));
    if (this.log.isLevelEnabled(this.opLevel)) {
      for (const o of ops) if (!failedOps.has(o)) this.log[this.opLevel]({ op: describeOp(o) }, 'programmed');
    }
    for (const f of failed) this.log.error({ op: describeOp(f.op), err: errorMessage(f.err) }, 'kernel update failed');
    const count = (p: string) => ops.filter((o) => o.op.startsWith(p)).length;
    this.log.info({ add: count('add'), replace: count('replace'), del: count('del'), failed: failed.length }, 'kernel entries updated');
    return { ops: ops.length, failed: failed.length, failures: failed };
  }
}

function cloneState(s: KernelState): MutableKernelState {
  return { routes: new Map(s.routes), neighs: new Map(s.neighs), fdbs: new Map(s.fdbs) };
}
