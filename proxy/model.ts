// Parsing at the boundary: a v1 Service becomes its ServicePortInfos, a v1 Endpoints the ready
// endpoints of each named port. Anything the proxy cannot program is an ObjectSpecError naming the
// field, so one bad object is skipped with a warning and never stops the others.
import type { Endpoints, Service } from '../cluster/index.js';
import { isIp, isObject, parseCidr } from '../common/index.js';
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

/** What the proxy programs for one Service: one entry per port (empty for ExternalName). */
export function parseService(service: ServiceName, obj: Service): ServicePortInfo[] {
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
  if (rawIp !== undefined && rawIp !== '' && rawIp !== 'None') {
    if (typeof rawIp !== 'string' || !isIp(rawIp) || rawIp.includes(':')) throw new ObjectSpecError(key, 'spec.clusterIP', rawIp, 'must be an IPv4 address, "None" or empty');
    clusterIP = rawIp;
  }
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
  const externalIPs = ipv4List(key, 'spec.externalIPs', spec.externalIPs);
  const status: unknown = obj.status;
  const ingress: unknown = type === 'LoadBalancer' && isObject(status) && isObject(status.loadBalancer) ? status.loadBalancer.ingress : undefined;
  if (ingress !== undefined && !Array.isArray(ingress)) throw new ObjectSpecError(key, 'status.loadBalancer.ingress', ingress, 'must be a list');
  // Hostname-only ingress points (a cloud's DNS name) have no address to program.
  const loadBalancerIPs = ipv4List(
    key,
    'status.loadBalancer.ingress[].ip',
    (ingress ?? []).map((i: unknown) => (isObject(i) ? i.ip : undefined)).filter((ip: unknown) => ip !== undefined && ip !== ''),
  );
  const sourceRanges = type === 'LoadBalancer' ? cidrList(key, spec.loadBalancerSourceRanges) : [];
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

/** A list of IPv4 addresses, without duplicates, in their order. */
function ipv4List(key: string, path: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ObjectSpecError(key, path, v, 'must be a list');
  v.forEach((ip: unknown, i: number) => {
    if (typeof ip !== 'string' || !isIp(ip) || ip.includes(':')) throw new ObjectSpecError(key, path.includes('[]') ? path.replace('[]', `[${i}]`) : `${path}[${i}]`, ip, 'must be an IPv4 address');
  });
  return [...new Set(v as string[])];
}

/**
 * loadBalancerSourceRanges as canonical CIDRs, without duplicates and without ranges another one
 * contains (overlapping intervals of one frontend would conflict in the kernel's interval set).
 */
export function cidrList(key: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ObjectSpecError(key, 'spec.loadBalancerSourceRanges', v, 'must be a list');
  const nets = v.map((c: unknown, i: number) => {
    const path = `spec.loadBalancerSourceRanges[${i}]`;
    let n: ReturnType<typeof parseCidr> | undefined;
    try {
      if (typeof c === 'string') n = parseCidr(c.trim().includes('/') ? c.trim() : `${c.trim()}/32`);
    } catch {
      n = undefined;
    }
    if (!n || n.addr.family !== 4) throw new ObjectSpecError(key, path, c, 'must be an IPv4 CIDR');
    const size = 2 ** (32 - n.prefix);
    return { base: Math.floor(Number(n.addr.value) / size) * size, size, len: n.prefix };
  });
  nets.sort((a, b) => b.size - a.size || a.base - b.base);
  const kept: typeof nets = [];
  for (const n of nets) if (!kept.some((k) => n.base >= k.base && n.base < k.base + k.size)) kept.push(n);
  return kept.map((n) => `${numToIp(n.base)}/${n.len}`);
}

/** `<port name>/<protocol>` → the ready endpoints of that port, sorted, without duplicates. */
export type EndpointsByPort = ReadonlyMap<string, readonly EndpointInfo[]>;
export const endpointPortId = (portName: string, protocol: Protocol): string => `${portName}/${protocol}`;

export function parseEndpoints(service: ServiceName, obj: Endpoints, nodeName: string): EndpointsByPort {
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
        if (typeof ip !== 'string' || !isIp(ip) || ip.includes(':')) throw new ObjectSpecError(service, `subsets[${i}].addresses[${k}].ip`, ip, 'must be an IPv4 address');
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
