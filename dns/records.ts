// The records one Service (with its Endpoints) puts in the cluster domain, as kube-dns and CoreDNS's
// kubernetes plugin lay them out. Pure.
//
//   <svc>.<ns>.svc.<domain>                 A/AAAA: the ClusterIP(s); headless: every ready endpoint address
//   <host>.<svc>.<ns>.svc.<domain>          headless only: A/AAAA of one endpoint (its hostname, else its dashed IP)
//   _<port>._<proto>.<svc>.<ns>.svc.<domain> SRV per named port: the service name (ClusterIP) or each endpoint name (headless)
//   <svc>.<ns>.svc.<domain>                 CNAME for an ExternalName service
//   <reverse of an IP>                      PTR: a ClusterIP to the service name, an endpoint IP to its endpoint name
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer } from 'dns-packet';
import { bool, list, num, object, opt, parserOf, type Parser, str } from '../cluster/index.js';
import { canonical, dashed, reverseName } from './names.js';

/** What the DNS reads of a Service: lenient where the proxy's parser is strict (an ExternalName service may have no ports). */
export interface DnsService {
  metadata: { name: string; namespace?: string };
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalName?: string;
    publishNotReadyAddresses?: boolean;
    ports?: { name?: string; protocol?: string; port: number }[];
  };
}

export interface DnsEndpointAddress {
  ip: string;
  hostname?: string;
}

export interface DnsEndpoints {
  metadata: { name: string; namespace?: string };
  subsets?: { addresses?: DnsEndpointAddress[]; notReadyAddresses?: DnsEndpointAddress[]; ports?: { name?: string; protocol?: string; port: number }[] }[];
}

const port = object({ name: opt(str), protocol: opt(str), port: num });
const address = object({ ip: str, hostname: opt(str) });
const meta = object({ name: str, namespace: opt(str) });

export const parseDnsService: Parser<DnsService> = parserOf(
  object({
    metadata: meta,
    spec: opt(object({ type: opt(str), clusterIP: opt(str), clusterIPs: opt(list(str)), externalName: opt(str), publishNotReadyAddresses: opt(bool), ports: opt(list(port)) })),
  }),
);

export const parseDnsEndpoints: Parser<DnsEndpoints> = parserOf(
  object({ metadata: meta, subsets: opt(list(object({ addresses: opt(list(address)), notReadyAddresses: opt(list(address)), ports: opt(list(port)) }))) }),
);

const addressRecord = (name: string, ip: string, ttl: number): Answer | undefined =>
  isIPv4(ip) ? { name, type: 'A', class: 'IN', ttl, data: ip } : isIPv6(ip) ? { name, type: 'AAAA', class: 'IN', ttl, data: ip } : undefined;

/** A DNS label Kubernetes would accept as an endpoint hostname (RFC 1123 label). */
const isLabel = (s: string): boolean => /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s);

/** Every record of the service `ns/name` (canonical owner names), or none when there is no service. */
export function recordsOf(ns: string, name: string, svc: DnsService | undefined, ep: DnsEndpoints | undefined, domain: string, ttl: number): Answer[] {
  if (!svc) return [];
  const base = `${name}.${ns}.svc.${domain}`;
  const spec = svc.spec ?? {};
  const out: Answer[] = [];
  if (spec.type === 'ExternalName') {
    const target = spec.externalName ? canonical(spec.externalName) : '';
    if (target) out.push({ name: base, type: 'CNAME', class: 'IN', ttl, data: target });
    return out;
  }
  const srv = new Map<string, { port: number; target: string }[]>();
  const addSrv = (portName: string | undefined, protocol: string | undefined, p: number, target: string): void => {
    if (!portName) return;
    const owner = `_${portName.toLowerCase()}._${(protocol ?? 'TCP').toLowerCase()}.${base}`;
    const l = srv.get(owner) ?? [];
    if (!l.some((x) => x.target === target && x.port === p)) l.push({ port: p, target });
    srv.set(owner, l);
  };
  if (spec.clusterIP === 'None') {
    const seen = new Set<string>();
    for (const s of ep?.subsets ?? []) {
      const addrs = [...(s.addresses ?? []), ...(spec.publishNotReadyAddresses ? (s.notReadyAddresses ?? []) : [])];
      for (const a of addrs) {
        const host = a.hostname && isLabel(a.hostname) ? a.hostname : dashed(a.ip);
        const hostName = `${host}.${base}`;
        const rec = addressRecord(base, a.ip, ttl);
        if (!rec) continue;
        if (!seen.has(a.ip)) {
          seen.add(a.ip);
          out.push(rec, { ...rec, name: hostName });
          const rev = reverseName(a.ip);
          if (rev) out.push({ name: rev, type: 'PTR', class: 'IN', ttl, data: hostName });
        }
        for (const p of s.ports ?? []) addSrv(p.name, p.protocol, p.port, hostName);
      }
    }
  } else {
    const ips = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
    for (const ip of ips) {
      const rec = addressRecord(base, ip, ttl);
      if (!rec) continue;
      out.push(rec);
      const rev = reverseName(ip);
      if (rev) out.push({ name: rev, type: 'PTR', class: 'IN', ttl, data: base });
    }
    // Without an address there is nothing for a port's SRV to name.
    if (out.length) for (const p of spec.ports ?? []) addSrv(p.name, p.protocol, p.port, base);
    // An endpoint's own address answers a reverse lookup with its endpoint name, as CoreDNS does.
    for (const s of ep?.subsets ?? []) {
      for (const a of s.addresses ?? []) {
        const rev = reverseName(a.ip);
        const host = a.hostname && isLabel(a.hostname) ? a.hostname : dashed(a.ip);
        if (rev) out.push({ name: rev, type: 'PTR', class: 'IN', ttl, data: `${host}.${base}` });
      }
    }
  }
  for (const [owner, targets] of srv) {
    // Equal weights that add up to about 100, as CoreDNS gives them.
    const weight = Math.max(1, Math.floor(100 / targets.length));
    for (const t of targets) out.push({ name: owner, type: 'SRV', class: 'IN', ttl, data: { priority: 0, weight, port: t.port, target: t.target } });
  }
  return out;
}
