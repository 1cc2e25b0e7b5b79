// Parsing at the boundary: a v1 Service becomes its ServicePortInfos, a v1 Endpoints the ready
// endpoints of each named port. Anything the proxy cannot program is an ObjectSpecError naming the
// field, so one bad object is skipped with a warning and never stops the others.
import type { Endpoints, Service } from '../cluster/index.js';
import { contains, formatCidr, isIp, isObject, networkOf, parseCidrOrIp, parseIp, type Cidr, type Family } from '../common/index.js';
import { ObjectSpecError, type EndpointInfo, type Protocol, type ServiceName, type ServicePortInfo } from './types.js';

export const DEFAULT_AFFINITY_TIMEOUT = 10_800;
export const MAX_AFFINITY_TIMEOUT = 86_400;

export const portKey = (service: ServiceName, portName: string): string => `${service}:${portName}`;
const isPort = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;

export function parseProtocol(key: string, path: string, v: unknown): Protocol {
  if (v === undefined || v === 'TCP') return 'tcp';
  if (v === 'UDP') return 'udp';
  throw new ObjectSpecError(key, path, v, 'must be TCP or UDP');
}

const familyOf = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

/**
 * What the proxy programs for one Service in one family's table: one entry per port (empty for
 * ExternalName, and for a service with ClusterIPs none of which is of this family); external and
 * LoadBalancer addresses of the other family are the other table's.
 */
export function parseService(service: ServiceName, obj: Service, family: 4 | 6 = 4): ServicePortInfo[] {
  const key = service;
  const spec: unknown = obj?.spec;
  if (!isObject(spec)) throw new ObjectSpecError(key, 'spec', spec, 'must be an object');
  const type: unknown = spec.type ?? 'ClusterIP';
  if (type === 'ExternalName') return [];
  if (type !== 'ClusterIP' && type !== 'NodePort' && type !== 'LoadBalancer') {
    throw new ObjectSpecError(key, 'spec.type', type, 'must be ClusterIP or NodePort');
  }
  let clusterIP: string | undefined;
  const rawIp = spec.clusterIP;
  const rawIps: unknown = spec.clusterIPs;
  if (rawIps !== undefined && rawIps !== null && !Array.isArray(rawIps)) throw new ObjectSpecError(key, 'spec.clusterIPs', rawIps, 'must be a list');
  const given: [string, unknown][] = [['spec.clusterIP', rawIp], ...((rawIps as unknown[] | undefined) ?? []).map((v, i): [string, unknown] => [`spec.clusterIPs[${i}]`, v])];
  let otherFamily = false;
  for (const [path, v] of given) {
    if (v === undefined || v === '' || v === 'None') continue;
    if (typeof v !== 'string' || !isIp(v)) throw new ObjectSpecError(key, path, v, 'must be an IP address, "None" or empty');
    if (familyOf(v) === family) clusterIP ??= v;
    else otherFamily = true;
  }
  if (clusterIP === undefined && otherFamily) return [];
  let affinityTimeout: number | undefined;
  if (spec.sessionAffinity === 'ClientIP') {
    const cfg = spec.sessionAffinityConfig;
    const t: unknown = isObject(cfg) && isObject(cfg.clientIP) ? cfg.clientIP.timeoutSeconds : undefined;
    const v = t ?? DEFAULT_AFFINITY_TIMEOUT;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_AFFINITY_TIMEOUT) {
      throw new ObjectSpecError(key, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', t, `must be 1..${MAX_AFFINITY_TIMEOUT}`);
    }
    affinityTimeout = v;
  } else if (spec.sessionAffinity !== undefined && spec.sessionAffinity !== 'None') {
    throw new ObjectSpecError(key, 'spec.sessionAffinity', spec.sessionAffinity, 'must be None or ClientIP');
  }
  const externalIPs = ipList(key, 'spec.externalIPs', spec.externalIPs, family);
  const status: unknown = obj.status;
  const ingress: unknown = type === 'LoadBalancer' && isObject(status) && isObject(status.loadBalancer) ? status.loadBalancer.ingress : undefined;
  if (ingress !== undefined && !Array.isArray(ingress)) throw new ObjectSpecError(key, 'status.loadBalancer.ingress', ingress, 'must be a list');
  // Hostname-only ingress points (a cloud's DNS name) have no address to program.
  const loadBalancerIPs = ipList(
    key,
    'status.loadBalancer.ingress[].ip',
    (ingress ?? []).map((i: unknown) => (isObject(i) ? i.ip : undefined)).filter((ip: unknown) => ip !== undefined && ip !== ''),
    family,
  );
  // Each table takes the ranges of its family, as kube-proxy does: a service whose ranges are all of the
  // other family has no firewall in this one (its addresses of this family are open to every source).
  const sourceRanges = type === 'LoadBalancer' ? cidrList(key, spec.loadBalancerSourceRanges, family) : [];
  const etp: unknown = spec.externalTrafficPolicy;
  if (etp !== undefined && etp !== '' && etp !== 'Cluster' && etp !== 'Local') throw new ObjectSpecError(key, 'spec.externalTrafficPolicy', etp, 'must be Cluster or Local');
  const itp: unknown = spec.internalTrafficPolicy;
  if (itp !== undefined && itp !== null && itp !== 'Cluster' && itp !== 'Local') throw new ObjectSpecError(key, 'spec.internalTrafficPolicy', itp, 'must be Cluster or Local');
  const hc: unknown = spec.healthCheckNodePort;
  if (hc !== undefined && hc !== 0 && !isPort(hc)) throw new ObjectSpecError(key, 'spec.healthCheckNodePort', hc, 'must be 1..65535');
  const policy = {
    ...(externalIPs.length && { externalIPs }),
    ...(loadBalancerIPs.length && { loadBalancerIPs }),
    ...(sourceRanges.length && { sourceRanges }),
    ...(etp === 'Local' && { externalLocal: true }),
    ...(itp === 'Local' && { internalLocal: true }),
    ...(type === 'LoadBalancer' && etp === 'Local' && isPort(hc) && { healthCheckNodePort: hc }),
  };
  const ports = spec.ports;
  if (!Array.isArray(ports)) throw new ObjectSpecError(key, 'spec.ports', ports, 'must be a list');
  const createdAt = typeof obj.metadata?.creationTimestamp === 'string' ? obj.metadata.creationTimestamp : '';
  const seen = new Set<string>();
  const out: ServicePortInfo[] = [];
  ports.forEach((p: unknown, i: number) => {
    const path = `spec.ports[${i}]`;
    if (!isObject(p)) throw new ObjectSpecError(key, path, p, 'must be an object');
    const portName = p.name ?? '';
    if (typeof portName !== 'string') throw new ObjectSpecError(key, `${path}.name`, p.name, 'must be a string');
    if (seen.has(portName)) throw new ObjectSpecError(key, `${path}.name`, portName, ports.length > 1 ? 'must be unique (and set when there are several ports)' : 'is duplicated');
    seen.add(portName);
    if (!isPort(p.port)) throw new ObjectSpecError(key, `${path}.port`, p.port, 'must be 1..65535');
    const protocol = parseProtocol(key, `${path}.protocol`, p.protocol);
    let nodePort: number | undefined;
    if (type !== 'ClusterIP' && p.nodePort !== undefined && p.nodePort !== 0) {
      if (!isPort(p.nodePort)) throw new ObjectSpecError(key, `${path}.nodePort`, p.nodePort, 'must be 1..65535');
      nodePort = p.nodePort;
    }
    out.push({
      key: portKey(service, portName),
      service,
      portName,
      protocol,
      port: p.port,
      ...(clusterIP !== undefined && { clusterIP }),
      ...(nodePort !== undefined && { nodePort }),
      ...(affinityTimeout !== undefined && { affinityTimeout }),
      ...policy,
      createdAt,
    });
  });
  return out;
}

/** The addresses of one family in a list of IP addresses, without duplicates, in their order. */
function ipList(key: string, path: string, v: unknown, family: 4 | 6): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ObjectSpecError(key, path, v, 'must be a list');
  v.forEach((ip: unknown, i: number) => {
    if (typeof ip !== 'string' || !isIp(ip)) throw new ObjectSpecError(key, path.includes('[]') ? path.replace('[]', `[${i}]`) : `${path}[${i}]`, ip, 'must be an IP address');
  });
  return [...new Set((v as string[]).filter((ip) => familyOf(ip) === family))];
}

/**
 * The loadBalancerSourceRanges of one family as canonical CIDRs (host bits cleared), without duplicates
 * and without ranges another one contains (overlapping intervals of one frontend would conflict in the
 * kernel's interval set). Every entry must be a CIDR of either family (or a bare address, a /32 or
 * /128); a zero-length prefix (0.0.0.0/0, ::/0) allows every source of its family, so it means no
 * firewall there: the result is empty.
 */
export function cidrList(key: string, v: unknown, family: Family = 4): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ObjectSpecError(key, 'spec.loadBalancerSourceRanges', v, 'must be a list');
  const nets = v.map((c: unknown, i: number): Cidr => {
    let n: Cidr | undefined;
    try {
      // The apiserver's validation lets surrounding spaces through, as Kubernetes' does.
      if (typeof c === 'string') n = networkOf(parseCidrOrIp(c.trim()));
    } catch {
      n = undefined;
    }
    if (!n) throw new ObjectSpecError(key, `spec.loadBalancerSourceRanges[${i}]`, c, 'must be an IPv4 or IPv6 CIDR');
    return n;
  });
  const mine = nets.filter((n) => n.addr.family === family);
  if (mine.some((n) => n.prefix === 0)) return [];
  mine.sort((a, b) => a.prefix - b.prefix || (a.addr.value < b.addr.value ? -1 : a.addr.value > b.addr.value ? 1 : 0));
  const kept: Cidr[] = [];
  for (const n of mine) if (!kept.some((k) => contains(k, n.addr))) kept.push(n);
  return kept.map(formatCidr);
}

/** `<port name>/<protocol>` → the ready endpoints of that port, sorted, without duplicates. */
export type EndpointsByPort = ReadonlyMap<string, readonly EndpointInfo[]>;
export const endpointPortId = (portName: string, protocol: Protocol): string => `${portName}/${protocol}`;

/** The ready endpoints of one family (a dual-stack service's Endpoints hold both). */
export function parseEndpoints(service: ServiceName, obj: Endpoints, nodeName: string, family: 4 | 6 = 4): EndpointsByPort {
  const subsets: unknown = obj?.subsets ?? [];
  if (!Array.isArray(subsets)) throw new ObjectSpecError(service, 'subsets', subsets, 'must be a list');
  const acc = new Map<string, Map<string, EndpointInfo>>();
  subsets.forEach((s: unknown, i: number) => {
    if (!isObject(s)) throw new ObjectSpecError(service, `subsets[${i}]`, s, 'must be an object');
    const addrs = s.addresses ?? [];
    const ports = s.ports ?? [];
    if (!Array.isArray(addrs)) throw new ObjectSpecError(service, `subsets[${i}].addresses`, addrs, 'must be a list');
    if (!Array.isArray(ports)) throw new ObjectSpecError(service, `subsets[${i}].ports`, ports, 'must be a list');
    ports.forEach((p: unknown, j: number) => {
      const path = `subsets[${i}].ports[${j}]`;
      if (!isObject(p)) throw new ObjectSpecError(service, path, p, 'must be an object');
      if (!isPort(p.port)) throw new ObjectSpecError(service, `${path}.port`, p.port, 'must be 1..65535');
      const name = p.name ?? '';
      if (typeof name !== 'string') throw new ObjectSpecError(service, `${path}.name`, p.name, 'must be a string');
      const id = endpointPortId(name, parseProtocol(service, `${path}.protocol`, p.protocol));
      let m = acc.get(id);
      if (!m) acc.set(id, (m = new Map()));
      addrs.forEach((a: unknown, k: number) => {
        const ip = isObject(a) ? a.ip : undefined;
        if (typeof ip !== 'string' || !isIp(ip)) throw new ObjectSpecError(service, `subsets[${i}].addresses[${k}].ip`, ip, 'must be an IP address');
        if (familyOf(ip) !== family) return;
        const local = isObject(a) && a.nodeName === nodeName;
        const ep = { ip, port: p.port as number, local };
        m!.set(`${ip}:${ep.port}`, ep);
      });
    });
  });
  const out = new Map<string, EndpointInfo[]>();
  for (const [id, m] of acc) out.set(id, [...m.values()].sort(compareEndpoints));
  return out;
}

export function compareEndpoints(a: EndpointInfo, b: EndpointInfo): number {
  if (a.ip.includes(':') || b.ip.includes(':')) {
    const x = parseIp(a.ip).value;
    const y = parseIp(b.ip).value;
    return x < y ? -1 : x > y ? 1 : a.port - b.port;
  }
  return ipToNum(a.ip) - ipToNum(b.ip) || a.port - b.port;
}

export function ipToNum(ip: string): number {
  let n = 0;
  for (const part of ip.split('.')) n = n * 256 + Number(part);
  return n;
}

export function numToIp(n: number): string {
  return `${Math.floor(n / 16777216) % 256}.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

export const endpointId = (e: Pick<EndpointInfo, 'ip' | 'port'>): string => `${e.ip}:${e.port}`;
