// ClusterIP and node port allocation, race-safe across every proxy. The choice is a pure function
// (a random free number, probing on from there, as flannel picks subnets); the reservation is one
// etcd transaction that creates the reservation keys only if absent AND rewrites the service only if
// it is unchanged since we read it. Two proxies that pick the same IP cannot both succeed, and a
// proxy that loses finds the service already allocated when it reads it again. Reservation keys of
// deleted services are removed by the maintainer (RangeReconciler), never by the allocating proxy.
import type { Etcd3 } from 'etcd3';
import { keys as clusterKeys, type Service } from '../cluster/index.js';
import { errorMessage, type Logger } from '../common/index.js';
import { parseCidr } from '../ipam/index.js';
import type { LeaderFence } from './election.js';
import { proxyKeys, type RangeOwner } from './keys.js';
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
  const spec = svc?.spec;
  if (!spec || typeof spec !== 'object') return { clusterIP: false, nodePorts: [] };
  const type: string = spec.type ?? 'ClusterIP';
  if (type === 'ExternalName') return { clusterIP: false, nodePorts: [] };
  const clusterIP = spec.clusterIP === undefined || spec.clusterIP === '';
  const nodePorts: number[] = [];
  if (type === 'NodePort' || type === 'LoadBalancer') {
    (Array.isArray(spec.ports) ? spec.ports : []).forEach((p, i) => {
      if (p && (p.nodePort === undefined || p.nodePort === 0)) nodePorts.push(i);
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
    private readonly client: Etcd3,
    private readonly o: AllocatorOptions,
  ) {
    this.rnd = o.rnd ?? Math.random;
  }

  /** Notes what a service holds (a hint only: the reservation keys decide). */
  observe(svc: Service | undefined): void {
    const ip = svc?.spec?.clusterIP;
    if (typeof ip === 'string' && ip !== '' && ip !== 'None' && inIpRange(this.o.serviceRange, ip)) this.takenIps.add(ipToNum(ip));
    for (const p of Array.isArray(svc?.spec?.ports) ? svc!.spec.ports : []) if (typeof p?.nodePort === 'number' && p.nodePort > 0) this.takenPorts.add(p.nodePort);
  }

  /** Adds every reserved number in etcd to the hints (replaces them when `reset`). */
  async refreshTaken(reset = false): Promise<void> {
    if (reset) {
      this.takenIps.clear();
      this.takenPorts.clear();
    }
    for (const ip of await this.client.getAll().prefix(proxyKeys.serviceIps()).keys()) {
      const v = ip.slice(proxyKeys.serviceIps().length);
      if (inIpRange(this.o.serviceRange, v)) this.takenIps.add(ipToNum(v));
    }
    for (const k of await this.client.getAll().prefix(proxyKeys.nodePorts()).keys()) this.takenPorts.add(Number(k.slice(proxyKeys.nodePorts().length)));
  }

  /** Frees a hint once the service is gone (its keys may linger until the maintainer removes them). */
  forget(svc: Service | undefined): void {
    const ip = svc?.spec?.clusterIP;
    if (typeof ip === 'string' && inIpRange(this.o.serviceRange, ip)) this.takenIps.delete(ipToNum(ip));
    for (const p of Array.isArray(svc?.spec?.ports) ? svc!.spec.ports : []) if (typeof p?.nodePort === 'number') this.takenPorts.delete(p.nodePort);
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
      const kv = (await this.client.get(key).exec()).kvs[0];
      if (!kv) return 'gone';
      let svc: Service;
      try {
        svc = JSON.parse(kv.value.toString()) as Service;
      } catch {
        return 'unchanged'; // corrupt: the proxy warns about it where it parses services
      }
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
      let txn = this.client.if(key, 'Mod', '==', kv.mod_revision);
      for (const rk of reservations) txn = txn.and(rk, 'Version', '==', 0);
      const res = await txn
        .then(this.client.put(key).value(JSON.stringify(next)), ...reservations.map((rk) => this.client.put(rk).value(JSON.stringify(owner))))
        .commit();
      if (res.succeeded) {
        if (ip) this.takenIps.add(ipToNum(ip));
        ports.forEach((p) => this.takenPorts.add(p));
        this.o.log.info({ service: svcName, clusterIP: ip, nodePorts: ports.length ? ports : undefined, attempt }, 'service allocated');
        return 'allocated';
      }
      // Lost a race: the service changed (the next read shows it), or a number was taken by another
      // proxy; then learn every number taken so far (one listing of keys) rather than one per retry.
      let taken = false;
      for (const rk of reservations) if ((await this.client.get(rk).exec()).kvs.length > 0) taken = true;
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
    const ip = s.svc.spec?.clusterIP;
    const want: string[] = [];
    if (typeof ip === 'string' && ip !== '' && ip !== 'None' && inIpRange(ipRange, ip)) want.push(proxyKeys.serviceIp(ip));
    for (const p of Array.isArray(s.svc.spec?.ports) ? s.svc.spec.ports : []) {
      if (typeof p?.nodePort === 'number' && inPortRange(portRange, p.nodePort)) want.push(proxyKeys.nodePort(p.nodePort));
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
    private readonly client: Etcd3,
    private readonly o: { serviceRange: IpRange; nodePortRange: PortRange; log: Logger },
  ) {}

  async reconcile(fence: LeaderFence): Promise<{ reserved: number; released: number }> {
    // Keys first: a service allocated between the two listings then has no key in ours, so it is
    // never mistaken for an orphan.
    const reservations: StoredReservation[] = [];
    for (const prefix of [proxyKeys.serviceIps(), proxyKeys.nodePorts()]) {
      const res = await this.client.getAll().prefix(prefix).exec();
      for (const kv of res.kvs) {
        let owner: RangeOwner | undefined;
        try {
          owner = JSON.parse(kv.value.toString()) as RangeOwner;
        } catch {
          owner = undefined;
        }
        reservations.push({ key: kv.key.toString(), owner, modRevision: kv.mod_revision });
      }
    }
    const svcRes = await this.client.getAll().prefix(clusterKeys.services()).exec();
    const services: StoredService[] = [];
    for (const kv of svcRes.kvs) {
      const k = kv.key.toString().slice(clusterKeys.services().length).split('/');
      if (k.length !== 2) continue;
      try {
        services.push({ namespace: k[0]!, name: k[1]!, svc: JSON.parse(kv.value.toString()) as Service, modRevision: kv.mod_revision });
      } catch {
        // corrupt service: it holds nothing
      }
    }
    const plan = planRanges(services, reservations, this.o.serviceRange, this.o.nodePortRange);
    let reserved = 0;
    let released = 0;
    for (const c of plan.conflicts) this.o.log.warn({ key: c.key, service: c.service, holder: c.holder }, 'service claims an address or port another service holds');
    for (const r of plan.reserve) {
      const s = r.service;
      const owner: RangeOwner = { namespace: s.namespace, name: s.name, ...(s.svc.metadata?.uid ? { uid: s.svc.metadata.uid } : {}) };
      const res = await this.client
        .if(fence.key, 'Lease', '==', fence.leaseId)
        .and(clusterKeys.service(s.namespace, s.name), 'Mod', '==', s.modRevision)
        .and(r.key, 'Version', '==', 0)
        .then(this.client.put(r.key).value(JSON.stringify(owner)))
        .commit()
        .catch((e: unknown) => this.o.log.warn({ key: r.key, err: errorMessage(e) }, 'reservation failed'));
      if (res?.succeeded) reserved++;
    }
    for (const r of plan.release) {
      let txn = this.client.if(fence.key, 'Lease', '==', fence.leaseId).and(r.key, 'Mod', '==', r.modRevision);
      // Still as seen: the owner is still absent, or still the same version (not holding the key).
      if (r.owner && typeof r.owner.namespace === 'string' && typeof r.owner.name === 'string') {
        const ownerKey = clusterKeys.service(r.owner.namespace, r.owner.name);
        txn = r.ownerRevision ? txn.and(ownerKey, 'Mod', '==', r.ownerRevision) : txn.and(ownerKey, 'Version', '==', 0);
      }
      const res = await txn
        .then(this.client.delete().key(r.key))
        .commit()
        .catch((e: unknown) => this.o.log.warn({ key: r.key, err: errorMessage(e) }, 'release failed'));
      if (res?.succeeded) released++;
    }
    if (reserved || released) this.o.log.info({ reserved, released }, 'ranges reconciled');
    return { reserved, released };
  }
}
