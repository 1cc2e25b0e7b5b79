// ClusterIP and node port allocation at service create, reusing the proxy's range logic and its
// reservation keys (<prefix>/ranges/serviceips/<ip>, <prefix>/ranges/servicenodeports/<port>): the
// apiserver creates the service and its reservation keys in one etcd transaction, each key only if
// absent, so two apiservers (or an apiserver and a kube-proxy of before) never hand out one number.
import type { Etcd3 } from 'etcd3';
import { REGISTRY } from '../cluster/index.js';
import { type IpRange, ipToNum, numToIp, pickFree, type PortRange, proxyKeys, type RangeOwner } from '../proxy/index.js';
import { type FieldError, invalid } from './errors.js';
import { arrOf, isObj, metaOf, nameOf, namespaceOf, numOf, type Obj, objAt, strOf } from './object.js';

export interface Reservation {
  readonly key: string;
  readonly owner: RangeOwner;
}

/** The first address of the range: the default/kubernetes service's. */
export const firstServiceIp = (r: IpRange): string => numToIp(r.base + 1);

export class ServiceAllocation {
  private readonly takenIps = new Set<number>();
  private readonly takenPorts = new Set<number>();
  private known = false;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    readonly serviceRange: IpRange,
    readonly nodePortRange: PortRange,
    private readonly rnd: () => number = Math.random,
  ) {}

  private key(k: string): string {
    return this.prefix + k.slice(REGISTRY.length);
  }
  private ipKey = (ip: string): string => this.key(proxyKeys.serviceIp(ip));
  private portKey = (p: number): string => this.key(proxyKeys.nodePort(p));

  private inRange(ip: string): boolean {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
    const n = ipToNum(ip);
    return n > this.serviceRange.base && n < this.serviceRange.base + this.serviceRange.size - 1;
  }

  /** Learns every reserved number from etcd (the hints; the transaction decides). */
  private async refresh(): Promise<void> {
    this.takenIps.clear();
    this.takenPorts.clear();
    const ipPrefix = this.ipKey('');
    const portPrefix = this.portKey(0).replace(/0$/, '');
    for (const k of await this.client.getAll().prefix(ipPrefix).keys()) this.takenIps.add(ipToNum(k.slice(ipPrefix.length)));
    for (const k of await this.client.getAll().prefix(portPrefix).keys()) this.takenPorts.add(Number(k.slice(portPrefix.length)));
    this.known = true;
  }

  /**
   * Gives a new service (in place) what it lacks: a ClusterIP unless headless or ExternalName, node ports
   * for NodePort and LoadBalancer; explicit ones are checked against the ranges. Returns the keys to
   * create with it. Throws the 422 Invalid Status a real apiserver answers.
   */
  async allocate(svc: Obj, refresh: boolean): Promise<Reservation[]> {
    if (refresh || !this.known) await this.refresh();
    const spec = objAt(svc, 'spec');
    const type = strOf(spec.type) ?? 'ClusterIP';
    const owner: RangeOwner = { namespace: namespaceOf(svc), name: nameOf(svc), ...(strOf(metaOf(svc).uid) && { uid: strOf(metaOf(svc).uid)! }) };
    const out: Reservation[] = [];
    const errs: FieldError[] = [];
    if (type !== 'ExternalName') {
      let ip = strOf(spec.clusterIP) ?? strOf(arrOf(spec.clusterIPs)[0]) ?? '';
      if (ip === '') {
        const r = this.serviceRange;
        const off = pickFree(r.size - 2, (i) => this.takenIps.has(r.base + 1 + i), this.rnd);
        if (off === undefined) errs.push({ type: 'FieldValueInvalid', field: 'spec.clusterIPs', value: '', detail: `failed to allocate IP: range is full` });
        else ip = numToIp(r.base + 1 + off);
      } else if (ip !== 'None' && !this.inRange(ip)) {
        errs.push({ type: 'FieldValueInvalid', field: 'spec.clusterIPs', value: ip, detail: `failed to allocate IP ${ip}: the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${this.serviceRange.cidr}` });
      } else if (ip !== 'None' && this.takenIps.has(ipToNum(ip))) {
        errs.push({ type: 'FieldValueInvalid', field: 'spec.clusterIPs', value: ip, detail: `failed to allocate IP ${ip}: provided IP is already allocated` });
      }
      if (ip !== '' && errs.length === 0) {
        spec.clusterIP = ip;
        spec.clusterIPs = [ip];
        if (ip !== 'None') out.push({ key: this.ipKey(ip), owner });
      }
    }
    if (type === 'NodePort' || type === 'LoadBalancer') {
      const pr = this.nodePortRange;
      const mine: number[] = [];
      arrOf(spec.ports).forEach((p, i) => {
        if (!isObj(p)) return;
        let np = numOf(p.nodePort) ?? 0;
        if (np === 0) {
          const off = pickFree(pr.max - pr.min + 1, (j) => this.takenPorts.has(pr.min + j) || mine.includes(pr.min + j), this.rnd);
          if (off === undefined) {
            errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`, value: 0, detail: 'failed to allocate a nodePort: range is full' });
            return;
          }
          np = pr.min + off;
        } else if (np < pr.min || np > pr.max) {
          errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`, value: np, detail: `provided port is not in the valid range. The range of valid ports is ${pr.min}-${pr.max}` });
          return;
        } else if (this.takenPorts.has(np) || mine.includes(np)) {
          errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`, value: np, detail: 'provided port is already allocated' });
          return;
        }
        p.nodePort = np;
        mine.push(np);
        out.push({ key: this.portKey(np), owner });
      });
    }
    if (type === 'LoadBalancer' && strOf(spec.externalTrafficPolicy) === 'Local') {
      // The port an external load balancer probes for nodes with local endpoints (kube-proxy serves it).
      const pr = this.nodePortRange;
      const mine = out.map((r) => Number(r.key.slice(this.portKey(0).length - 1)));
      let hc = numOf(spec.healthCheckNodePort) ?? 0;
      if (hc === 0) {
        const off = pickFree(pr.max - pr.min + 1, (j) => this.takenPorts.has(pr.min + j) || mine.includes(pr.min + j), this.rnd);
        if (off === undefined) errs.push({ type: 'FieldValueInvalid', field: 'spec.healthCheckNodePort', value: 0, detail: 'failed to allocate a nodePort: range is full' });
        else hc = pr.min + off;
      } else if (hc < pr.min || hc > pr.max) {
        errs.push({ type: 'FieldValueInvalid', field: 'spec.healthCheckNodePort', value: hc, detail: `provided port is not in the valid range. The range of valid ports is ${pr.min}-${pr.max}` });
        hc = 0;
      } else if (this.takenPorts.has(hc) || mine.includes(hc)) {
        errs.push({ type: 'FieldValueInvalid', field: 'spec.healthCheckNodePort', value: hc, detail: 'provided port is already allocated' });
        hc = 0;
      }
      if (hc !== 0) {
        spec.healthCheckNodePort = hc;
        out.push({ key: this.portKey(hc), owner });
      }
    }
    if (errs.length) throw invalid('', 'Service', nameOf(svc), errs);
    return out;
  }

  /** A create lost its transaction: the numbers it picked may be taken; the next allocate refreshes. */
  lost(): void {
    this.known = false;
  }

  /** An update without clusterIP or node ports keeps the stored ones (kubectl apply sends none). */
  keepAllocated(cur: Obj, next: Obj): void {
    const cs = objAt(cur, 'spec');
    const ns = objAt(next, 'spec');
    next.spec = ns;
    if (!strOf(ns.clusterIP) && strOf(cs.clusterIP)) ns.clusterIP = cs.clusterIP;
    if (arrOf(ns.clusterIPs).length === 0 && arrOf(cs.clusterIPs).length > 0) ns.clusterIPs = cs.clusterIPs;
    if (!numOf(ns.healthCheckNodePort) && numOf(cs.healthCheckNodePort) && strOf(ns.type) === 'LoadBalancer' && strOf(ns.externalTrafficPolicy ?? cs.externalTrafficPolicy) === 'Local') ns.healthCheckNodePort = cs.healthCheckNodePort;
    const old = new Map(arrOf(cs.ports).filter(isObj).map((p) => [`${String(p.port)}/${strOf(p.protocol) ?? 'TCP'}`, p]));
    for (const p of arrOf(ns.ports)) {
      if (!isObj(p) || numOf(p.nodePort)) continue;
      const o = old.get(`${String(p.port)}/${strOf(p.protocol) ?? 'TCP'}`);
      if (o && numOf(o.nodePort)) p.nodePort = o.nodePort;
    }
  }

  /**
   * Node ports are immutable once allocated (field errors, empty when unchanged); the ClusterIP's rule is the
   * Service strategy's (ValidateServiceUpdate).
   */
  immutable(cur: Obj, next: Obj): FieldError[] {
    const errs: FieldError[] = [];
    const had = new Set(arrOf(objAt(cur, 'spec').ports).map((p) => numOf(objAt(p).nodePort)).filter((n) => n !== undefined));
    arrOf(objAt(next, 'spec').ports).forEach((p, i) => {
      const np = numOf(objAt(p).nodePort);
      if (np !== undefined && np !== 0 && !had.has(np)) errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`, value: np, detail: 'may not change once set (node ports are allocated at create in this apiserver)' });
    });
    return errs;
  }

  /** The reservation keys a stored service holds, deleted with it. */
  reservationsOf(svc: Obj): string[] {
    const spec = objAt(svc, 'spec');
    const ip = strOf(spec.clusterIP);
    const keys = ip && ip !== 'None' && this.inRange(ip) ? [this.ipKey(ip)] : [];
    const ports = [...arrOf(spec.ports).map((p) => numOf(objAt(p).nodePort)), numOf(spec.healthCheckNodePort)];
    for (const np of ports) if (np && np >= this.nodePortRange.min && np <= this.nodePortRange.max) keys.push(this.portKey(np));
    return keys;
  }
}
