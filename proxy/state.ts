// The proxy's desired kernel state and the planning of a sync. Pure: no I/O, no clock.
//
// Each service port contributes elements to the table's sets and maps. A sync drains the change
// trackers, recomputes only the service ports of changed services (kube-proxy's partial sync), and
// diffs their old and new contributions into element deletions and additions. Elements shared by
// several service ports (a cluster IP with several ports, a hairpin pair) are reference-counted.
// Two services claiming the same ClusterIP:port or node port: the older one owns it on every node
// (creation time, then name), the other is left out until the owner goes away.
import { type EndpointsByPort, endpointId, endpointPortId } from './model.js';
import {
  SET,
  STATIC_SETS,
  type ChainDef,
  type RulesetConfig,
  baseChains,
  chainDef,
  endpointValue,
  endpointsMap,
  firewallKey,
  frontendKey,
  gotoValue,
  hairpinKey,
  localEndpointsMap,
  localNodePortEndpointsMap,
  nodePortEndpointsMap,
  nodePortKey,
  pickChainName,
  renderFullSync,
  renderPartialSync,
  slotKey,
  withDeps,
} from './ruleset.js';
import { assignSlots } from './slots.js';
import { ChangeTracker } from './tracker.js';
import type { EndpointInfo, ServiceName, ServicePortInfo, ServicePortKey } from './types.js';

/** A UDP conntrack deletion, run after the sync that made it necessary succeeded. */
export interface ConntrackFlush {
  readonly origDst?: string;
  readonly origPortDst?: number;
  readonly dstNat?: string;
}
/** Identifies a flush for de-duplication (a JSON tuple: unambiguous for IPv6 addresses too). */
export const conntrackFlushId = (f: ConntrackFlush): string => JSON.stringify([f.origDst ?? null, f.origPortDst ?? null, f.dstNat ?? null]);

/** A UDP frontend whose flows conntrack may have to forget: a ClusterIP:port, or a node port. */
export type UdpFrontend = { readonly kind: 'clusterIP'; readonly ip: string; readonly port: number } | { readonly kind: 'nodePort'; readonly port: number };
/** A UDP frontend NATed to an endpoint IP. */
export interface UdpPair {
  readonly frontend: UdpFrontend;
  readonly endpointIp: string;
}
// Values are compared by an id that is only ever used as a map key, never parsed back.
const frontendId = (f: UdpFrontend): string => JSON.stringify(f.kind === 'clusterIP' ? [f.kind, f.ip, f.port] : [f.kind, f.port]);
const pairId = (p: UdpPair): string => JSON.stringify([frontendId(p.frontend), p.endpointIp]);

export interface SyncPlan {
  readonly full: boolean;
  /** The `nft -f` script ('' when nothing changed in a partial sync). */
  readonly script: string;
  readonly conntrack: readonly ConntrackFlush[];
  /** Pick chains and affinity sets in use after this plan: what must exist in the kernel. */
  readonly chains: ReadonlySet<string>;
  readonly sets: ReadonlySet<string>;
  readonly servicePortsChanged: number;
  readonly elementsChanged: number;
}

type Element = readonly [set: string, key: string, value: string];

interface Contribution {
  readonly elements: readonly Element[];
  /** UDP frontend → endpoint IP pairs, for conntrack (keyed by pairId). */
  readonly udpPairs: ReadonlyMap<string, UdpPair>;
  /** UDP frontends programmed with at least one endpoint (keyed by frontendId). */
  readonly udpLive: ReadonlyMap<string, UdpFrontend>;
}

class ElementTable {
  private readonly sets = new Map<string, Map<string, { value: string; refs: number }>>();
  private readonly before = new Map<string, Map<string, string | undefined>>();
  readonly chainRefs = new Map<string, number>();

  private set(name: string): Map<string, { value: string; refs: number }> {
    let s = this.sets.get(name);
    if (!s) this.sets.set(name, (s = new Map()));
    return s;
  }

  private touch(name: string, key: string, cur: string | undefined): void {
    let b = this.before.get(name);
    if (!b) this.before.set(name, (b = new Map()));
    if (!b.has(key)) b.set(key, cur);
  }

  private ref(value: string, d: number): void {
    if (!value.startsWith('goto ')) return;
    const c = value.slice(5);
    const n = (this.chainRefs.get(c) ?? 0) + d;
    if (n > 0) this.chainRefs.set(c, n);
    else this.chainRefs.delete(c);
  }

  add([name, key, value]: Element): void {
    const s = this.set(name);
    const e = s.get(key);
    this.touch(name, key, e?.value);
    if (e) {
      // Ownership makes map keys unique; only value-less set elements are ever shared.
      if (e.value !== value) throw new Error(`internal: ${name} element ${key} claimed with ${value} and ${e.value}`);
      e.refs++;
      return;
    }
    s.set(key, { value, refs: 1 });
    this.ref(value, 1);
  }

  remove([name, key]: Element): void {
    const s = this.set(name);
    const e = s.get(key);
    if (!e) return;
    this.touch(name, key, e.value);
    if (--e.refs === 0) {
      s.delete(key);
      this.ref(e.value, -1);
    }
  }

  /** Element deletions and additions since the last call (a changed value is both). */
  takeChanges(): { deletes: Map<string, string[]>; adds: Map<string, [string, string][]>; count: number } {
    const deletes = new Map<string, string[]>();
    const adds = new Map<string, [string, string][]>();
    let count = 0;
    for (const [name, keys] of this.before) {
      const s = this.set(name);
      for (const [key, was] of keys) {
        const now = s.get(key)?.value;
        if (was === now) continue;
        count++;
        if (was !== undefined) push(deletes, name, key);
        if (now !== undefined) push(adds, name, [key, now]);
      }
    }
    this.before.clear();
    return { deletes, adds, count };
  }

  snapshot(): Map<string, Map<string, string>> {
    const out = new Map<string, Map<string, string>>();
    for (const [name, s] of this.sets) out.set(name, new Map([...s].map(([k, e]) => [k, e.value])));
    return out;
  }

  size(name: string): number {
    return this.sets.get(name)?.size ?? 0;
  }
}

function push<T>(m: Map<string, T[]>, k: string, v: T): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}

const fpEndpoints = (m: EndpointsByPort): string => JSON.stringify([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export class ProxyState {
  /** Parsed Services by `<ns>/<name>`. */
  readonly services = new ChangeTracker<ServicePortInfo[]>();
  /** Parsed Endpoints by `<ns>/<name>`. */
  readonly endpoints = new ChangeTracker<EndpointsByPort>(fpEndpoints);

  private readonly table = new ElementTable();
  private readonly infos = new Map<ServicePortKey, ServicePortInfo>();
  private readonly portsOf = new Map<ServiceName, ServicePortKey[]>();
  private readonly contribs = new Map<ServicePortKey, Contribution>();
  private readonly slots = new Map<ServicePortKey, string[]>();
  /** Service ports with a Local policy or a health check port: the few the health and metrics look at. */
  private readonly localPolicy = new Set<ServicePortKey>();
  /** This node's endpoints in slot order, for the Local traffic policies. */
  private readonly localSlots = new Map<ServicePortKey, string[]>();
  private readonly claims = new Map<string, Map<ServicePortKey, string>>();
  /** Pick chains and affinity sets the kernel holds (as far as we know). */
  private kernelChains = new Set<string>();
  private kernelSets = new Set<string>();
  private readonly base: readonly ChainDef[];

  constructor(private readonly cfg: RulesetConfig) {
    this.base = baseChains(cfg);
  }

  get hasChanges(): boolean {
    return this.services.hasPending || this.endpoints.hasPending;
  }

  /**
   * Drains the trackers into the desired table and renders the transaction: every element for a
   * full sync, else only what changed. `recreate` deletes the table first (see renderFullSync).
   */
  plan(o: { full: boolean; recreate?: boolean }): SyncPlan {
    const flush = new Map<string, ConntrackFlush>();
    const changed = this.update(flush);
    const { deletes, adds, count } = this.table.takeChanges();
    const needed = withDeps(this.table.chainRefs.keys());
    const chains = new Set(needed.chains);
    const sets = new Set(needed.sets);
    let script: string;
    if (o.full) {
      script = renderFullSync({
        chains: [...this.base, ...needed.chains.map((c) => chainDef(c, this.cfg))],
        affinitySets: needed.sets,
        elements: this.table.snapshot(),
        recreate: o.recreate ?? false,
        family: this.cfg.family ?? 4,
      });
    } else {
      script = renderPartialSync({
        newSets: needed.sets.filter((s) => !this.kernelSets.has(s)),
        newChains: needed.chains.filter((c) => !this.kernelChains.has(c)).map((c) => chainDef(c, this.cfg)),
        deletes,
        adds,
        family: this.cfg.family ?? 4,
      });
    }
    return { full: o.full, script, conntrack: [...flush.values()], chains, sets, servicePortsChanged: changed, elementsChanged: count };
  }

  /** The plan is in the kernel: its chains and sets exist (stale ones may linger until a cleanup). */
  applied(plan: SyncPlan): void {
    if (plan.full) {
      this.kernelChains = new Set(plan.chains);
      this.kernelSets = new Set(plan.sets);
    } else {
      plan.chains.forEach((c) => this.kernelChains.add(c));
      plan.sets.forEach((s) => this.kernelSets.add(s));
    }
  }

  /** The desired elements of every set and map (for tests, the tracer and the benchmark). */
  elements(): Map<string, Map<string, string>> {
    return this.table.snapshot();
  }

  get servicePortCount(): number {
    return this.infos.size;
  }

  get endpointCount(): number {
    return this.table.size(SET.endpointsTcp) + this.table.size(SET.endpointsUdp);
  }

  /**
   * Services with a healthCheckNodePort (`<ns>/<name>` → the port) and this node's ready endpoints
   * of each: what kube-proxy's health check servers answer from.
   */
  healthChecks(): Map<ServiceName, { port: number; localEndpoints: number }> {
    const out = new Map<ServiceName, { port: number; localEndpoints: number }>();
    for (const k of this.localPolicy) {
      const info = this.infos.get(k)!;
      if (info.healthCheckNodePort === undefined) continue;
      const local = new Set(this.endpointsFor(info).filter((e) => e.local).map((e) => e.ip)).size;
      const cur = out.get(info.service);
      out.set(info.service, { port: info.healthCheckNodePort, localEndpoints: Math.max(local, cur?.localEndpoints ?? 0) });
    }
    return out;
  }

  /** Elements of every static set and map, by name. */
  elementCounts(): Map<string, number> {
    return new Map(STATIC_SETS.map((name) => [name, this.table.size(name)]));
  }

  /** Service ports with a Local traffic policy and endpoints, none of them on this node (kube-proxy's no_local_endpoints). */
  noLocalEndpoints(): { internal: number; external: number } {
    let internal = 0;
    let external = 0;
    for (const k of this.localPolicy) {
      const info = this.infos.get(k)!;
      if (!(info.internalLocal || info.externalLocal) || this.slotsOf(k).length === 0 || (this.localSlots.get(k)?.length ?? 0) > 0) continue;
      if (info.internalLocal) internal++;
      if (info.externalLocal) external++;
    }
    return { internal, external };
  }

  /** The endpoints of a service port in slot order. */
  slotsOf(key: ServicePortKey): readonly string[] {
    return this.slots.get(key) ?? [];
  }

  // ------------------------------------------------------------------ internals

  private update(flush: Map<string, ConntrackFlush>): number {
    const names = new Set([...this.services.drain(), ...this.endpoints.drain()]);
    const work = new Set<ServicePortKey>();
    const next = new Map<ServicePortKey, ServicePortInfo | undefined>();
    for (const name of names) {
      for (const k of this.portsOf.get(name) ?? []) next.set(k, undefined);
      const infos = this.services.get(name) ?? [];
      for (const i of infos) next.set(i.key, i);
      if (infos.length) this.portsOf.set(name, infos.map((i) => i.key));
      else this.portsOf.delete(name);
      // An Endpoints change alone leaves the infos as they are; the ports still need recomputing.
    }
    const ownersBefore = new Map<string, ServicePortKey | undefined>();
    for (const [k, info] of next) {
      work.add(k);
      const old = this.infos.get(k);
      const oldF = frontendsOf(old);
      const newF = frontendsOf(info);
      for (const f of new Set([...oldF, ...newF])) if (!ownersBefore.has(f)) ownersBefore.set(f, this.owner(f));
      for (const f of oldF) this.claims.get(f)?.delete(k);
      for (const f of newF) {
        let c = this.claims.get(f);
        if (!c) this.claims.set(f, (c = new Map()));
        c.set(k, `${info!.createdAt}\u0000${k}`);
      }
      for (const f of oldF) if (this.claims.get(f)?.size === 0) this.claims.delete(f);
      if (info) this.infos.set(k, info);
      else this.infos.delete(k);
      if (info && (info.healthCheckNodePort !== undefined || info.internalLocal || info.externalLocal)) this.localPolicy.add(k);
      else this.localPolicy.delete(k);
    }
    for (const [f, before] of ownersBefore) {
      const after = this.owner(f);
      if (before === after) continue;
      if (before) work.add(before);
      if (after) work.add(after);
    }
    for (const k of work) this.recompute(k, flush);
    return work.size;
  }

  private owner(f: string): ServicePortKey | undefined {
    const c = this.claims.get(f);
    if (!c || c.size === 0) return undefined;
    let best: [ServicePortKey, string] | undefined;
    for (const e of c) if (!best || e[1] < best[1]) best = e;
    return best![0];
  }

  private endpointsFor(info: ServicePortInfo): readonly EndpointInfo[] {
    return this.endpoints.get(info.service)?.get(endpointPortId(info.portName, info.protocol)) ?? [];
  }

  private recompute(k: ServicePortKey, flush: Map<string, ConntrackFlush>): void {
    const old = this.contribs.get(k);
    if (old) for (const e of old.elements) this.table.remove(e);
    const info = this.infos.get(k);
    if (!info) {
      this.contribs.delete(k);
      this.slots.delete(k);
      this.localSlots.delete(k);
      if (old) conntrackChanges(old, undefined, flush);
      return;
    }
    const eps = new Map(this.endpointsFor(info).map((e) => [endpointId(e), e]));
    const order = assignSlots(this.slots.get(k), [...eps.keys()]);
    this.slots.set(k, order);
    const slotted = order.map((id) => eps.get(id)!);
    const wantLocal = info.externalLocal === true || info.internalLocal === true;
    const localOrder = wantLocal ? assignSlots(this.localSlots.get(k), order.filter((id) => eps.get(id)!.local)) : [];
    if (wantLocal) this.localSlots.set(k, localOrder);
    else this.localSlots.delete(k);
    const localSlotted = localOrder.map((id) => eps.get(id)!);
    const n = slotted.length;
    const elements: Element[] = [];
    const udpPairs = new Map<string, UdpPair>();
    const udpLive = new Map<string, UdpFrontend>();
    const addUdp = (frontend: UdpFrontend, to: readonly EndpointInfo[]): void => {
      if (to.length === 0) return;
      udpLive.set(frontendId(frontend), frontend);
      for (const e of to) {
        const pair = { frontend, endpointIp: e.ip };
        udpPairs.set(pairId(pair), pair);
      }
    };
    const proto = info.protocol;
    const udp = proto === 'udp';
    const slotsInto = (map: string, ip: string | undefined, port: number, to: readonly EndpointInfo[]): void => {
      to.forEach((e, slot) => elements.push([map, slotKey(ip, port, slot), endpointValue(e.ip, e.port)]));
    };
    let programmed = false;
    if (info.clusterIP !== undefined && this.owner(ipFrontend(info, info.clusterIP)) === k) {
      programmed = true;
      const ip = info.clusterIP;
      const fk = frontendKey(ip, proto, info.port);
      elements.push([SET.clusterIps, ip, '']);
      // internalTrafficPolicy Local: only this node's endpoints; none here (but some elsewhere) drops, as kube-proxy does.
      const to = info.internalLocal ? localSlotted : slotted;
      if (n === 0) elements.push([SET.noEndpointServices, fk, '']);
      else if (to.length === 0) elements.push([SET.dropServices, fk, '']);
      else {
        elements.push([SET.serviceIps, fk, gotoValue(pickChainName(to.length, false, proto, info.affinityTimeout))]);
        slotsInto(endpointsMap(proto), ip, info.port, to);
        if (udp) addUdp({ kind: 'clusterIP', ip, port: info.port }, to);
      }
    }
    const lbIPs = new Set(info.loadBalancerIPs ?? []);
    for (const ip of new Set([...(info.externalIPs ?? []), ...lbIPs])) {
      if (this.owner(ipFrontend(info, ip)) !== k) continue;
      programmed = true;
      const fk = frontendKey(ip, proto, info.port);
      if (n === 0) elements.push([SET.noEndpointServices, fk, '']);
      else {
        elements.push([SET.serviceIps, fk, gotoValue(pickChainName(n, false, proto, info.affinityTimeout, 'ext'))]);
        slotsInto(endpointsMap(proto), ip, info.port, slotted);
        if (udp) addUdp({ kind: 'clusterIP', ip, port: info.port }, slotted);
      }
      if (info.externalLocal) {
        if (localSlotted.length === 0) elements.push([SET.noLocalIps, fk, '']);
        else {
          elements.push([SET.externalLocalIps, fk, gotoValue(pickChainName(localSlotted.length, false, proto, undefined, 'local'))]);
          slotsInto(localEndpointsMap(proto), ip, info.port, localSlotted);
        }
      }
      if (lbIPs.has(ip) && info.sourceRanges?.length) {
        elements.push([SET.firewallIps, fk, '']);
        for (const cidr of info.sourceRanges) elements.push([SET.firewallAllow, firewallKey(ip, proto, info.port, cidr), '']);
      }
    }
    if (info.nodePort !== undefined && this.owner(npFrontend(info)) === k) {
      programmed = true;
      const np = info.nodePort;
      const nk = nodePortKey(proto, np);
      if (n > 0) {
        elements.push([SET.serviceNodePorts, nk, gotoValue(pickChainName(n, true, proto, info.affinityTimeout))]);
        slotsInto(nodePortEndpointsMap(proto), undefined, np, slotted);
        if (udp) addUdp({ kind: 'nodePort', port: np }, slotted);
      } else {
        elements.push([SET.noEndpointNodePorts, nk, '']);
      }
      if (info.externalLocal) {
        if (localSlotted.length === 0) elements.push([SET.noLocalNodePorts, nk, '']);
        else {
          elements.push([SET.localNodePorts, nk, gotoValue(pickChainName(localSlotted.length, true, proto, undefined, 'local'))]);
          slotsInto(localNodePortEndpointsMap(proto), undefined, np, localSlotted);
        }
      }
    }
    if (programmed && n > 0) for (const e of new Set(slotted.filter((e) => e.local).map((e) => e.ip))) elements.push([SET.hairpin, hairpinKey(e), '']);
    for (const e of elements) this.table.add(e);
    const c: Contribution = { elements, udpPairs, udpLive };
    this.contribs.set(k, c);
    conntrackChanges(old, c, flush);
  }
}

/** A frontend address claimed by a service port: its ClusterIP, an external IP or a LoadBalancer address. */
function ipFrontend(i: ServicePortInfo, ip: string): string {
  return `ip ${ip} ${i.protocol} ${i.port}`;
}
function npFrontend(i: ServicePortInfo): string {
  return `np ${i.protocol} ${i.nodePort}`;
}
function frontendsOf(i: ServicePortInfo | undefined): string[] {
  if (!i) return [];
  const f: string[] = [];
  const ips = new Set([...(i.clusterIP !== undefined ? [i.clusterIP] : []), ...(i.externalIPs ?? []), ...(i.loadBalancerIPs ?? [])]);
  for (const ip of ips) f.push(ipFrontend(i, ip));
  if (i.nodePort !== undefined) f.push(npFrontend(i));
  return f;
}

/** A frontend as conntrack filter fields. */
function selector(f: UdpFrontend): ConntrackFlush {
  return f.kind === 'nodePort' ? { origPortDst: f.port } : { origDst: f.ip, origPortDst: f.port };
}

/**
 * UDP flows kube-proxy-style: a flow to an endpoint that left keeps being NATed to it until
 * conntrack forgets it, so it is deleted; and flows that reached a frontend before it had endpoints
 * (not NATed at all) are deleted when it gets some.
 */
function conntrackChanges(old: Contribution | undefined, cur: Contribution | undefined, out: Map<string, ConntrackFlush>): void {
  const add = (f: ConntrackFlush) => out.set(conntrackFlushId(f), f);
  for (const [id, pair] of old?.udpPairs ?? []) {
    if (cur?.udpPairs.has(id)) continue;
    add({ ...selector(pair.frontend), dstNat: pair.endpointIp });
  }
  for (const [id, f] of cur?.udpLive ?? []) if (!old?.udpLive.has(id)) add(selector(f));
}

