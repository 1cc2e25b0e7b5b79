// ClusterIP and node port allocation at service create, reusing the proxy's range logic and its
// reservation keys (<prefix>/ranges/serviceips/<ip>, <prefix>/ranges/servicenodeports/<port>): the
// apiserver creates the service and its reservation keys in one etcd transaction, each key only if
// absent, so two apiservers (or an apiserver and a kube-proxy of before) never hand out one number.
import type { Etcd3 } from 'etcd3';
import { REGISTRY } from '../cluster/index.js';
import { pickFree, type PortRange, proxyKeys, type RangeOwner } from '../proxy/index.js';
import { type FieldError, internalError, invalid } from './errors.js';
import { needsHealthCheck } from './kinds/index.js';
import { addressAt, familyOfIp, initIpFamilies, type IpFamily, offsetOf, type ServiceCidr } from './service-ips.js';
import { arrOf, isObj, metaOf, nameOf, namespaceOf, numOf, type Obj, objAt, strOf } from './object.js';

export interface Reservation {
  readonly key: string;
  readonly owner: RangeOwner;
}

/** The first address of the primary range: the default/kubernetes service's. */
export const firstServiceIp = (r: ServiceCidr): string => addressAt(r, 0);

type Taken = Map<IpFamily, Set<number>>;
const emptyTaken = (): Taken => new Map<IpFamily, Set<number>>([
  ['IPv4', new Set()],
  ['IPv6', new Set()],
]);

export class ServiceAllocation {
  private takenIps: Taken = emptyTaken();
  private takenPorts = new Set<number>();
  // What this apiserver's creates in flight have picked: concurrent creates never pick the same number,
  // and a refresh (which replaces the taken sets) does not forget them.
  private readonly pendingIps: Taken = emptyTaken();
  private readonly pendingPorts = new Set<number>();
  private known = false;
  private refreshing: Promise<void> | undefined;
  readonly families: readonly IpFamily[];

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    readonly serviceCidrs: readonly ServiceCidr[],
    readonly nodePortRange: PortRange,
    private readonly rnd: () => number = Math.random,
  ) {
    this.families = serviceCidrs.map((c) => c.family);
  }

  private key(k: string): string {
    return this.prefix + k.slice(REGISTRY.length);
  }
  private ipKey = (ip: string): string => this.key(proxyKeys.serviceIp(ip));
  private portKey = (p: number): string => this.key(proxyKeys.nodePort(p));
  private rangeOf = (f: IpFamily): ServiceCidr | undefined => this.serviceCidrs.find((c) => c.family === f);

  /** The range and offset of an allocatable address, or undefined (not in any range). */
  private place(ip: string): { r: ServiceCidr; off: number } | undefined {
    const r = this.rangeOf(familyOfIp(ip));
    const off = r ? offsetOf(r, ip) : undefined;
    return r && off !== undefined ? { r, off } : undefined;
  }
  private ipTaken = (f: IpFamily, off: number): boolean => this.takenIps.get(f)!.has(off) || this.pendingIps.get(f)!.has(off);
  private portTaken = (p: number): boolean => this.takenPorts.has(p) || this.pendingPorts.has(p);

  /** Learns every reserved number from etcd (the hints; the transaction decides). One listing at a time. */
  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const ips = emptyTaken();
      const ports = new Set<number>();
      const ipPrefix = this.ipKey('');
      const portPrefix = this.portKey(0).replace(/0$/, '');
      for (const k of await this.client.getAll().prefix(ipPrefix).keys()) {
        const at = this.place(k.slice(ipPrefix.length));
        if (at) ips.get(at.r.family)!.add(at.off);
      }
      for (const k of await this.client.getAll().prefix(portPrefix).keys()) ports.add(Number(k.slice(portPrefix.length)));
      // Swapped in whole: a create deciding meanwhile never sees a half-read set.
      this.takenIps = ips;
      this.takenPorts = ports;
      this.known = true;
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * Gives a new service (in place) what it lacks: its IP families completed from the cluster's, a
   * ClusterIP of each family unless headless or ExternalName, node ports for NodePort and LoadBalancer;
   * explicit ones are checked against the ranges. Returns the keys to create with it; `settle` must be
   * called with them once the create's transaction is decided. Throws the 422 Invalid Status a real
   * apiserver answers.
   */
  async allocate(svc: Obj, refresh: boolean): Promise<Reservation[]> {
    if (refresh || !this.known) await this.refresh();
    const spec = objAt(svc, 'spec');
    svc.spec = spec;
    const type = strOf(spec.type) ?? 'ClusterIP';
    const owner: RangeOwner = { namespace: namespaceOf(svc), name: nameOf(svc), ...(strOf(metaOf(svc).uid) && { uid: strOf(metaOf(svc).uid)! }) };
    const out: Reservation[] = [];
    const errs: FieldError[] = initIpFamilies(spec, this.families);
    if (errs.length) throw invalid('', 'Service', nameOf(svc), errs);
    const picked: { f: IpFamily; off: number }[] = [];
    if (type !== 'ExternalName') {
      const given = arrOf(spec.clusterIPs).filter((v): v is string => typeof v === 'string');
      if (given.length === 0 && strOf(spec.clusterIP)) given.push(strOf(spec.clusterIP)!);
      const ips: string[] = [];
      if (given[0] === 'None') ips.push('None');
      else {
        arrOf(spec.ipFamilies).forEach((fam, i) => {
          const f = fam as IpFamily;
          const r = this.rangeOf(f);
          if (!r) return; // initIpFamilies refused a family the cluster lacks
          const ip = given[i] ?? '';
          if (ip === '') {
            const off = pickFree(r.size, (j) => this.ipTaken(f, j), this.rnd);
            if (off === undefined) errs.push({ type: 'FieldValueInvalid', field: 'spec.clusterIPs', value: '', detail: 'failed to allocate IP: range is full' });
            else {
              picked.push({ f, off });
              this.pendingIps.get(f)!.add(off);
              ips.push(addressAt(r, off));
            }
            return;
          }
          const off = offsetOf(r, ip);
          if (off === undefined) errs.push({ type: 'FieldValueInvalid', field: 'spec.clusterIPs', value: ip, detail: `failed to allocate IP ${ip}: the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${r.cidr}` });
          else if (this.ipTaken(f, off)) errs.push({ type: 'FieldValueInvalid', field: 'spec.clusterIPs', value: ip, detail: `failed to allocate IP ${ip}: provided IP is already allocated` });
          else {
            picked.push({ f, off });
            this.pendingIps.get(f)!.add(off);
            ips.push(ip);
          }
        });
      }
      if (errs.length === 0 && ips.length) {
        spec.clusterIP = ips[0];
        spec.clusterIPs = ips;
        for (const ip of ips) if (ip !== 'None') out.push({ key: this.ipKey(ip), owner });
      }
    }
    let hcError: string | undefined;
    try {
      hcError = this.allocatePorts(spec, type, owner, out, errs);
    } finally {
      if (errs.length || hcError !== undefined) {
        for (const p of picked) this.pendingIps.get(p.f)!.delete(p.off);
        this.settle(out, false);
      }
    }
    if (errs.length) throw invalid('', 'Service', nameOf(svc), errs);
    if (hcError !== undefined) throw internalError(hcError);
    return out;
  }

  /** Node ports into `errs`; the healthCheckNodePort's failure is returned, kube-apiserver's InternalError text. */
  private allocatePorts(spec: Obj, type: string, owner: RangeOwner, out: Reservation[], errs: FieldError[]): string | undefined {
    let hcError: string | undefined;
    if (type === 'NodePort' || type === 'LoadBalancer') this.allocNodePorts(spec, new Set(), owner, out, errs);
    if (needsHealthCheck(spec)) {
      // The port an external load balancer probes for nodes with local endpoints (kube-proxy serves it).
      const mine = out.map((r) => Number(r.key.slice(this.portKey(0).length - 1)));
      const hc = this.allocHealthCheck(spec, mine);
      if (typeof hc === 'string') hcError = hc;
      else out.push({ key: this.portKey(hc), owner });
    }
    return hcError;
  }

  /**
   * The node ports of a NodePort or LoadBalancer spec: a port without one gets a free one (not for a
   * LoadBalancer with allocateLoadBalancerNodePorts false), one the client names is checked (in range, not
   * in use); the numbers in `own` are the service's already (an update's kept ones). New reservations go
   * to `out`, refusals to `errs` with kube-apiserver's field errors.
   */
  private allocNodePorts(spec: Obj, own: ReadonlySet<number>, owner: RangeOwner, out: Reservation[], errs: FieldError[]): void {
    const pr = this.nodePortRange;
    const auto = strOf(spec.type) !== 'LoadBalancer' || spec.allocateLoadBalancerNodePorts !== false;
    const mine: number[] = [];
    arrOf(spec.ports).forEach((p, i) => {
      if (!isObj(p)) return;
      let np = numOf(p.nodePort) ?? 0;
      if (np !== 0 && own.has(np) && !mine.includes(np)) {
        mine.push(np);
        return;
      }
      if (np === 0) {
        if (!auto) return;
        const off = pickFree(pr.max - pr.min + 1, (j) => this.portTaken(pr.min + j) || mine.includes(pr.min + j) || own.has(pr.min + j), this.rnd);
        if (off === undefined) {
          errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`, value: 0, detail: 'failed to allocate a nodePort: range is full' });
          return;
        }
        np = pr.min + off;
      } else if (np < pr.min || np > pr.max) {
        errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`, value: np, detail: `provided port is not in the valid range. The range of valid ports is ${pr.min}-${pr.max}` });
        return;
      } else if (this.portTaken(np) || mine.includes(np)) {
        errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`, value: np, detail: 'provided port is already allocated' });
        return;
      }
      p.nodePort = np;
      mine.push(np);
      this.pendingPorts.add(np);
      out.push({ key: this.portKey(np), owner });
    });
  }

  /**
   * Reserves the healthCheckNodePort the spec names, or picks one (written into the spec); the error's text
   * when neither can be had. kube-apiserver answers this one as an InternalError (500), not Invalid.
   */
  private allocHealthCheck(spec: Obj, mine: readonly number[]): number | string {
    const pr = this.nodePortRange;
    let hc = numOf(spec.healthCheckNodePort) ?? 0;
    if (hc === 0) {
      const off = pickFree(pr.max - pr.min + 1, (j) => this.portTaken(pr.min + j) || mine.includes(pr.min + j), this.rnd);
      if (off === undefined) return 'failed to allocate a HealthCheck NodePort 0: range is full';
      hc = pr.min + off;
    } else if (hc < pr.min || hc > pr.max) {
      return `failed to allocate requested HealthCheck NodePort ${hc}: provided port is not in the valid range. The range of valid ports is ${pr.min}-${pr.max}`;
    } else if (this.portTaken(hc) || mine.includes(hc)) {
      return `failed to allocate requested HealthCheck NodePort ${hc}: provided port is already allocated`;
    }
    spec.healthCheckNodePort = hc;
    this.pendingPorts.add(hc);
    return hc;
  }

  /**
   * An update's allocations (the Service REST's allocateUpdate, for what this apiserver changes after
   * create): a service that comes to need a healthCheckNodePort (type LoadBalancer with
   * externalTrafficPolicy Local) gets the one it names, checked, or a free one; every port reservation
   * the stored service holds and the new one does not (a healthCheckNodePort it no longer needs, node
   * ports wiped by a change to ClusterIP) is released. Returns the keys to create, to be settled as a
   * create's, and those to delete, both in the update's transaction.
   */
  async allocateUpdate(cur: Obj, next: Obj, refresh: boolean): Promise<{ reservations: Reservation[]; releases: string[] }> {
    const cs = objAt(cur, 'spec');
    const ns = objAt(next, 'spec');
    next.spec = ns;
    const reservations: Reservation[] = [];
    const type = strOf(ns.type);
    const newPorts = arrOf(ns.ports).some((p) => {
      const np = numOf(objAt(p).nodePort) ?? 0;
      return np === 0 || !this.heldPorts(cs, false).includes(np);
    });
    const newHc = needsHealthCheck(ns) && !needsHealthCheck(cs);
    if (!((type === 'NodePort' || type === 'LoadBalancer') && newPorts) && !newHc) return { reservations, releases: this.releasesOf(cs, ns) };
    if (refresh || !this.known) await this.refresh();
    const owner: RangeOwner = { namespace: namespaceOf(cur), name: nameOf(cur), ...(strOf(metaOf(cur).uid) && { uid: strOf(metaOf(cur).uid)! }) };
    const errs: FieldError[] = [];
    if (type === 'NodePort' || type === 'LoadBalancer') this.allocNodePorts(ns, new Set(this.heldPorts(cs, false)), owner, reservations, errs);
    if (errs.length) {
      this.settle(reservations, false);
      throw invalid('', 'Service', nameOf(cur), errs);
    }
    if (newHc) {
      // Its node ports are held already: the healthCheckNodePort must be another.
      const got = this.allocHealthCheck(ns, this.heldPorts(ns, false));
      if (typeof got === 'string') {
        this.settle(reservations, false);
        throw internalError(got);
      }
      reservations.push({ key: this.portKey(got), owner });
    }
    return { reservations, releases: this.releasesOf(cs, ns) };
  }

  /** The port reservations the stored spec holds and the new one does not. */
  private releasesOf(cs: Obj, ns: Obj): string[] {
    const keep = new Set(this.heldPorts(ns));
    return this.heldPorts(cs)
      .filter((p) => !keep.has(p))
      .map(this.portKey);
  }

  /** The node ports a service spec holds reservations for (its healthCheckNodePort when it needs one, unless `withHc` is false). */
  private heldPorts(spec: Obj, withHc = true): number[] {
    const pr = this.nodePortRange;
    const ports = arrOf(spec.ports).map((p) => numOf(objAt(p).nodePort));
    if (withHc && needsHealthCheck(spec)) ports.push(numOf(spec.healthCheckNodePort));
    return [...new Set(ports.filter((n): n is number => n !== undefined && n >= pr.min && n <= pr.max))];
  }

  /** An update's transaction released these reservation keys: free again in this apiserver's view. */
  released(keys: readonly string[]): void {
    const portPrefix = this.portKey(0).replace(/0$/, '');
    for (const k of keys) if (k.startsWith(portPrefix)) this.takenPorts.delete(Number(k.slice(portPrefix.length)));
  }

  /**
   * A create's transaction is decided: what it reserved is taken (`won`), or free again in this
   * apiserver's view; a lost one may have lost to another apiserver, so the next allocate refreshes.
   */
  settle(reservations: readonly Reservation[], won: boolean): void {
    const ipPrefix = this.ipKey('');
    const portPrefix = this.portKey(0).replace(/0$/, '');
    for (const r of reservations) {
      if (r.key.startsWith(ipPrefix)) {
        const at = this.place(r.key.slice(ipPrefix.length));
        if (!at) continue;
        this.pendingIps.get(at.r.family)!.delete(at.off);
        if (won) this.takenIps.get(at.r.family)!.add(at.off);
      } else if (r.key.startsWith(portPrefix)) {
        const p = Number(r.key.slice(portPrefix.length));
        this.pendingPorts.delete(p);
        if (won) this.takenPorts.add(p);
      }
    }
    if (!won) this.known = false;
  }

  /** An update without clusterIP or node ports keeps the stored ones (kubectl apply sends none). */
  keepAllocated(cur: Obj, next: Obj): void {
    const cs = objAt(cur, 'spec');
    const ns = objAt(next, 'spec');
    next.spec = ns;
    if (!strOf(ns.clusterIP) && strOf(cs.clusterIP)) ns.clusterIP = cs.clusterIP;
    if (arrOf(ns.clusterIPs).length === 0 && arrOf(cs.clusterIPs).length > 0) ns.clusterIPs = cs.clusterIPs;
    if (strOf(ns.type) !== 'ExternalName') {
      if (arrOf(ns.ipFamilies).length === 0 && arrOf(cs.ipFamilies).length > 0) ns.ipFamilies = cs.ipFamilies;
      if (!strOf(ns.ipFamilyPolicy) && strOf(cs.ipFamilyPolicy)) ns.ipFamilyPolicy = cs.ipFamilyPolicy;
    }
    if (!numOf(ns.healthCheckNodePort) && numOf(cs.healthCheckNodePort) && needsHealthCheck(cs) && needsHealthCheck(ns)) ns.healthCheckNodePort = cs.healthCheckNodePort;
    const old = new Map(arrOf(cs.ports).filter(isObj).map((p) => [`${String(p.port)}/${strOf(p.protocol) ?? 'TCP'}`, p]));
    // Only while both types have node ports: a change to ClusterIP has had them wiped (the strategy's dropTypeDependentFields).
    const hasNodePorts = (t: string | undefined): boolean => t === 'NodePort' || t === 'LoadBalancer';
    for (const p of hasNodePorts(strOf(cs.type)) && hasNodePorts(strOf(ns.type)) ? arrOf(ns.ports) : []) {
      if (!isObj(p) || numOf(p.nodePort)) continue;
      const o = old.get(`${String(p.port)}/${strOf(p.protocol) ?? 'TCP'}`);
      if (o && numOf(o.nodePort)) p.nodePort = o.nodePort;
    }
  }

  /**
   * What an update may not change of the cluster-dependent fields (field errors, empty when unchanged): the
   * IP families (this apiserver allocates ClusterIPs at create only). The ClusterIP's rule is the Service
   * strategy's (ValidateServiceUpdate); node ports may change, as in Kubernetes (allocateUpdate checks them).
   */
  immutable(cur: Obj, next: Obj): FieldError[] {
    const errs: FieldError[] = [];
    const cf = arrOf(objAt(cur, 'spec').ipFamilies);
    const nf = arrOf(objAt(next, 'spec').ipFamilies);
    if (strOf(objAt(next, 'spec').type) !== 'ExternalName' && strOf(objAt(cur, 'spec').type) !== 'ExternalName' && cf.length) {
      cf.forEach((f, i) => {
        if (i < nf.length && nf[i] !== f) errs.push({ type: 'FieldValueInvalid', field: `spec.ipFamilies[${i}]`, value: nf[i], detail: 'may not change once set' });
      });
      // Kubernetes upgrades and downgrades a service's stack on update; this apiserver allocates at create only.
      if (nf.length !== cf.length) errs.push({ type: 'FieldValueInvalid', field: 'spec.ipFamilies', value: nf, detail: 'may not add or remove a family once set (this apiserver allocates ClusterIPs at create only)' });
    }
    return errs;
  }

  /** The reservation keys a stored service holds, deleted with it. */
  reservationsOf(svc: Obj): string[] {
    const spec = objAt(svc, 'spec');
    const ips = new Set([strOf(spec.clusterIP), ...arrOf(spec.clusterIPs).map(strOf)].filter((ip): ip is string => ip !== undefined && ip !== 'None' && this.place(ip) !== undefined));
    const keys = [...ips].map(this.ipKey);
    const ports = [...arrOf(spec.ports).map((p) => numOf(objAt(p).nodePort)), numOf(spec.healthCheckNodePort)];
    for (const np of ports) if (np && np >= this.nodePortRange.min && np <= this.nodePortRange.max) keys.push(this.portKey(np));
    return keys;
  }
}
