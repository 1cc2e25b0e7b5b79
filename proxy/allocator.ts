// ClusterIP and node port allocation, race-safe across every proxy. The choice is a pure function
// (a random free number, probing on from there, as flannel picks subnets); the reservation is one
// etcd transaction that creates the reservation keys only if absent AND rewrites the service only if
// it is unchanged since we read it. Two proxies that pick the same IP cannot both succeed, and a
// proxy that loses finds the service already allocated when it reads it again. Reservation keys of
// deleted services are removed by the maintainer (RangeReconciler), never by the allocating proxy.
// Every read and write goes through the ObjectStore: services are parsed, never cast.
import { keys as clusterKeys, namespacedName, type ObjectStore, parseServiceObject, type Service, type TxnCondition } from '../cluster/index.js';
import { errorMessage, type Logger } from '../common/index.js';
import { parseCidr } from '../ipam/index.js';
import type { LeaderFence } from './election.js';
import { parseRangeOwner, proxyKeys, type RangeOwner } from './keys.js';
import { ipToNum, numToIp } from './model.js';
import { AllocationError, ObjectSpecError } from './types.js';

export interface IpRange {
  /** The network address as a number. */
  readonly base: number;
  readonly size: number;
  readonly cidr: string;
}
export interface PortRange {
  readonly min: number;
  readonly max: number;
}

export function parseServiceRange(s: string): IpRange {
  const c = parseCidr(s);
  if (c.addr.family !== 4) throw new ObjectSpecError('--service-cluster-ip-range', 'value', s, 'must be an IPv4 CIDR');
  if (c.prefix > 30) throw new ObjectSpecError('--service-cluster-ip-range', 'value', s, 'must be a /30 or larger');
  const size = 2 ** (32 - c.prefix);
  const base = Number(c.addr.value) - (Number(c.addr.value) % size);
  return { base, size, cidr: `${numToIp(base)}/${c.prefix}` };
}

export function parsePortRange(s: string): PortRange {
  const m = /^(\d+)-(\d+)$/.exec(s.trim());
  const min = Number(m?.[1]);
  const max = Number(m?.[2]);
  if (!m || min < 1 || max > 65535 || min > max) throw new ObjectSpecError('--service-node-port-range', 'value', s, 'must be <min>-<max> within 1-65535');
  return { min, max };
}

export const inIpRange = (r: IpRange, ip: string): boolean => {
  const n = ipToNum(ip);
  return n > r.base && n < r.base + r.size - 1;
};
export const inPortRange = (r: PortRange, p: number): boolean => p >= r.min && p <= r.max;

/** A random index in [0, count) that is not taken, probing upwards from a random start; pure given rnd. */
export function pickFree(count: number, isTaken: (i: number) => boolean, rnd: () => number): number | undefined {
  if (count <= 0) return undefined;
  const start = Math.floor(rnd() * count) % count;
  for (let j = 0; j < count; j++) {
    const i = (start + j) % count;
    if (!isTaken(i)) return i;
  }
  return undefined;
}

/** What a service still lacks: a ClusterIP, and node ports (indices into spec.ports). */
export function allocationNeeds(svc: Service): { clusterIP: boolean; nodePorts: number[] } {
  const spec = svc.spec;
  const type = spec.type ?? 'ClusterIP';
  if (type === 'ExternalName') return { clusterIP: false, nodePorts: [] };
  const clusterIP = spec.clusterIP === undefined || spec.clusterIP === '';
  const nodePorts: number[] = [];
  if (type === 'NodePort' || type === 'LoadBalancer') {
    spec.ports.forEach((p, i) => {
      if (p.nodePort === undefined || p.nodePort === 0) nodePorts.push(i);
    });
  }
  return { clusterIP, nodePorts };
}

export interface AllocatorOptions {
  readonly serviceRange: IpRange;
  readonly nodePortRange: PortRange;
  readonly log: Logger;
  readonly rnd?: () => number;
  readonly maxAttempts?: number;
}

export class ServiceAllocator {
  private readonly takenIps = new Set<number>();
  private readonly takenPorts = new Set<number>();
  private readonly rnd: () => number;

  constructor(
    private readonly store: ObjectStore,
    private readonly o: AllocatorOptions,
  ) {
    this.rnd = o.rnd ?? Math.random;
  }

  /** Notes what a service holds (a hint only: the reservation keys decide). */
  observe(svc: Service | undefined): void {
    const ip = svc?.spec.clusterIP;
    if (ip !== undefined && ip !== '' && ip !== 'None' && inIpRange(this.o.serviceRange, ip)) this.takenIps.add(ipToNum(ip));
    for (const p of svc?.spec.ports ?? []) if (p.nodePort !== undefined && p.nodePort > 0) this.takenPorts.add(p.nodePort);
  }

  /** Adds every reserved number in etcd to the hints (replaces them when `reset`). */
  async refreshTaken(reset = false): Promise<void> {
    if (reset) {
      this.takenIps.clear();
      this.takenPorts.clear();
    }
    for (const ip of await this.store.listKeys(proxyKeys.serviceIps())) {
      const v = ip.slice(proxyKeys.serviceIps().length);
      if (inIpRange(this.o.serviceRange, v)) this.takenIps.add(ipToNum(v));
    }
    for (const k of await this.store.listKeys(proxyKeys.nodePorts())) this.takenPorts.add(Number(k.slice(proxyKeys.nodePorts().length)));
  }

  /** Frees a hint once the service is gone (its keys may linger until the maintainer removes them). */
  forget(svc: Service | undefined): void {
    const ip = svc?.spec.clusterIP;
    if (ip !== undefined && inIpRange(this.o.serviceRange, ip)) this.takenIps.delete(ipToNum(ip));
    for (const p of svc?.spec.ports ?? []) if (p.nodePort !== undefined) this.takenPorts.delete(p.nodePort);
  }

  /**
   * Gives the service what it lacks, or returns 'unchanged' when it lacks nothing (perhaps because
   * another proxy was faster). Throws AllocationError when a range is full or the races never end.
   */
  async allocate(namespace: string, name: string): Promise<'allocated' | 'unchanged' | 'gone'> {
    const key = clusterKeys.service(namespace, name);
    const svcName = `${namespace}/${name}`;
    const attempts = this.o.maxAttempts ?? 20;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const cur = await this.store.get(key, parseServiceObject);
      if (!cur) return 'gone';
      if (!('obj' in cur)) return 'unchanged'; // corrupt: the proxy warns about it where it follows services
      const svc = cur.obj;
      const need = allocationNeeds(svc);
      if (!need.clusterIP && need.nodePorts.length === 0) return 'unchanged';
      const r = this.o.serviceRange;
      const pr = this.o.nodePortRange;
      // Offsets 1 .. size-2: neither the network nor the broadcast address.
      const pickIp = () => pickFree(r.size - 2, (i) => this.takenIps.has(r.base + 1 + i), this.rnd);
      const pickPort = (ports: number[]) => pickFree(pr.max - pr.min + 1, (i) => this.takenPorts.has(pr.min + i) || ports.includes(pr.min + i), this.rnd);
      let ip: string | undefined;
      if (need.clusterIP) {
        let off = pickIp();
        if (off === undefined) {
          // The hints never forget; before calling the range full, ask etcd what is really taken.
          await this.refreshTaken(true);
          off = pickIp();
        }
        if (off === undefined) throw new AllocationError(svcName, 'clusterIP', `${r.cidr} is full`, false);
        ip = numToIp(r.base + 1 + off);
      }
      const ports: number[] = [];
      for (let j = 0; j < need.nodePorts.length; j++) {
        let off = pickPort(ports);
        if (off === undefined) {
          await this.refreshTaken(true);
          off = pickPort(ports);
        }
        if (off === undefined) throw new AllocationError(svcName, 'nodePort', `${pr.min}-${pr.max} is full`, false);
        ports.push(pr.min + off);
      }
      const next = structuredClone(svc);
      if (ip) next.spec.clusterIP = ip;
      need.nodePorts.forEach((idx, j) => (next.spec.ports[idx]!.nodePort = ports[j]));
      const owner: RangeOwner = { namespace, name, ...(svc.metadata?.uid ? { uid: svc.metadata.uid } : {}) };
      const reservations = [...(ip ? [proxyKeys.serviceIp(ip)] : []), ...ports.map(proxyKeys.nodePort)];
      // The service unchanged since read, and every reservation key still absent: or nothing is written.
      const ok = await this.store.txn(
        [{ key, modRevision: cur.modRevision }, ...reservations.map((rk) => ({ key: rk, absent: true as const }))],
        [{ put: key, value: next }, ...reservations.map((rk) => ({ put: rk, value: owner }))],
      );
      if (ok) {
        if (ip) this.takenIps.add(ipToNum(ip));
        ports.forEach((p) => this.takenPorts.add(p));
        this.o.log.info({ service: svcName, clusterIP: ip, nodePorts: ports.length ? ports : undefined, attempt }, 'service allocated');
        return 'allocated';
      }
      // Lost a race: the service changed (the next read shows it), or a number was taken by another
      // proxy; then learn every number taken so far (one listing of keys) rather than one per retry.
      let taken = false;
      for (const rk of reservations) if (await this.store.has(rk)) taken = true;
      if (taken) await this.refreshTaken();
    }
    throw new AllocationError(svcName, 'clusterIP', `lost ${attempts} races in a row`, true);
  }
}

// ---------------------------------------------------------------- the maintainer's cleanup

export interface StoredService {
  readonly namespace: string;
  readonly name: string;
  readonly svc: Service;
  readonly modRevision: string;
}
export interface StoredReservation {
  readonly key: string;
  readonly owner: RangeOwner | undefined;
  readonly modRevision: string;
}

export interface RangePlan {
  /** A service holds an IP/port in range with no reservation key (explicitly set): reserve it. */
  readonly reserve: readonly { key: string; service: StoredService }[];
  /** A key whose owner is gone or no longer holds it: release it (if both are still as seen). */
  readonly release: readonly { key: string; modRevision: string; owner?: RangeOwner; ownerRevision?: string }[];
  /** Keys held by one service while another also claims the number. */
  readonly conflicts: readonly { key: string; service: string; holder: string }[];
}

/** Pure: compares what services hold with the reservation keys. */
export function planRanges(services: readonly StoredService[], reservations: readonly StoredReservation[], ipRange: IpRange, portRange: PortRange): RangePlan {
  const byName = new Map(services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const keys = new Map(reservations.map((r) => [r.key, r]));
  const held = new Map<string, StoredService[]>();
  for (const s of services) {
    const ip = s.svc.spec.clusterIP;
    const want: string[] = [];
    if (ip !== undefined && ip !== '' && ip !== 'None' && inIpRange(ipRange, ip)) want.push(proxyKeys.serviceIp(ip));
    // A dual-stack service's IPv6 ClusterIP (the apiserver's v6 range, which the proxy does not know) is held too.
    const ips: unknown = s.svc.spec.clusterIPs;
    if (Array.isArray(ips)) for (const v of ips) if (typeof v === 'string' && v.includes(':')) want.push(proxyKeys.serviceIp(v));
    for (const p of s.svc.spec.ports) {
      if (p.nodePort !== undefined && inPortRange(portRange, p.nodePort)) want.push(proxyKeys.nodePort(p.nodePort));
    }
    for (const k of new Set(want)) {
      const a = held.get(k);
      if (a) a.push(s);
      else held.set(k, [s]);
    }
  }
  const reserve: { key: string; service: StoredService }[] = [];
  const release: { key: string; modRevision: string; owner?: RangeOwner; ownerRevision?: string }[] = [];
  const conflicts: { key: string; service: string; holder: string }[] = [];
  for (const [k, holders] of held) {
    const r = keys.get(k);
    const ownerName = r?.owner ? `${r.owner.namespace}/${r.owner.name}` : undefined;
    if (!r) reserve.push({ key: k, service: holders[0]! });
    for (const h of holders) {
      const n = `${h.namespace}/${h.name}`;
      const holder = ownerName ?? `${holders[0]!.namespace}/${holders[0]!.name}`;
      if (n !== holder) conflicts.push({ key: k, service: n, holder });
    }
  }
  for (const r of reservations) {
    const ownerName = r.owner ? `${r.owner.namespace}/${r.owner.name}` : undefined;
    const owner = ownerName ? byName.get(ownerName) : undefined;
    if (owner && held.get(r.key)?.includes(owner)) continue;
    release.push({ key: r.key, modRevision: r.modRevision, ...(r.owner && { owner: r.owner }), ...(owner && { ownerRevision: owner.modRevision }) });
  }
  return { reserve, release, conflicts };
}

/** The maintainer's pass over the reservation keys: reserve explicit ones, release orphans. Fenced. */
export class RangeReconciler {
  constructor(
    private readonly store: ObjectStore,
    private readonly o: { serviceRange: IpRange; nodePortRange: PortRange; log: Logger },
  ) {}

  async reconcile(fence: LeaderFence): Promise<{ reserved: number; released: number }> {
    // Keys first: a service allocated between the two listings then has no key in ours, so it is
    // never mistaken for an orphan.
    const reservations: StoredReservation[] = [];
    for (const prefix of [proxyKeys.serviceIps(), proxyKeys.nodePorts()]) {
      const { items, corrupt } = await this.store.list(prefix, parseRangeOwner);
      for (const it of items) reservations.push({ key: it.key, owner: it.obj, modRevision: it.modRevision });
      // A key whose owner cannot be read is owned by no one: released.
      for (const c of corrupt) reservations.push({ key: c.key, owner: undefined, modRevision: c.modRevision });
    }
    const services: StoredService[] = [];
    // A corrupt service holds nothing.
    for (const it of (await this.store.list(clusterKeys.services(), parseServiceObject)).items) {
      const n = namespacedName(clusterKeys.services(), it.key);
      if (n) services.push({ namespace: n[0], name: n[1], svc: it.obj, modRevision: it.modRevision });
    }
    const plan = planRanges(services, reservations, this.o.serviceRange, this.o.nodePortRange);
    let reserved = 0;
    let released = 0;
    for (const c of plan.conflicts) this.o.log.warn({ key: c.key, service: c.service, holder: c.holder }, 'service claims an address or port another service holds');
    for (const r of plan.reserve) {
      const s = r.service;
      const owner: RangeOwner = { namespace: s.namespace, name: s.name, ...(s.svc.metadata?.uid ? { uid: s.svc.metadata.uid } : {}) };
      const ok = await this.store
        .txn([{ key: fence.key, leaseId: fence.leaseId }, { key: clusterKeys.service(s.namespace, s.name), modRevision: s.modRevision }, { key: r.key, absent: true }], [{ put: r.key, value: owner }])
        .catch((e: unknown) => this.o.log.warn({ key: r.key, err: errorMessage(e) }, 'reservation failed'));
      if (ok) reserved++;
    }
    for (const r of plan.release) {
      const conds: TxnCondition[] = [
        { key: fence.key, leaseId: fence.leaseId },
        { key: r.key, modRevision: r.modRevision },
      ];
      // Still as seen: the owner is still absent, or still the same version (not holding the key).
      if (r.owner) {
        const ownerKey = clusterKeys.service(r.owner.namespace, r.owner.name);
        conds.push(r.ownerRevision ? { key: ownerKey, modRevision: r.ownerRevision } : { key: ownerKey, absent: true });
      }
      const ok = await this.store.txn(conds, [{ delete: r.key }]).catch((e: unknown) => this.o.log.warn({ key: r.key, err: errorMessage(e) }, 'release failed'));
      if (ok) released++;
    }
    if (reserved || released) this.o.log.info({ reserved, released }, 'ranges reconciled');
    return { reserved, released };
  }
}
