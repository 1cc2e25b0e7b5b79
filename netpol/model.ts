// networking.k8s.io/v1 NetworkPolicy, Pods and Namespaces read into what the compiler needs. Pure.
//
// A policy the apiserver accepted can still hold what this agent cannot program (a selector value that is
// not a label value, a CIDR that does not parse, a named port with an endPort). Each such part is left
// out and noted in `problems`, and leaving it out never opens anything: a bad peer or port is dropped from
// its rule (a rule whose peers or ports are all dropped allows nothing, it does not become "all"), and a
// bad podSelector makes the policy select every pod of its namespace while allowing nothing.
import { createHash } from 'node:crypto';
import { type LabelSelector, labelSelectorAsSelector, type LabelSelectorObject } from '../cluster/index.js';
import { errorMessage, isJsonObject } from '../common/index.js';
import { type Range, cidrRanges } from './cidr.js';

export type Proto = 'tcp' | 'udp' | 'sctp';

/** One entry of a rule's `ports`: a number or a range, or a name resolved on the destination pod. */
export type PortSpec = { readonly proto: Proto; readonly from: number; readonly to: number } | { readonly proto: Proto; readonly name: string };

export type Peer =
  /** Pods matching `pods` in the namespaces matching `namespaces` (undefined: the policy's own namespace). */
  | { readonly kind: 'pods'; readonly pods: LabelSelector; readonly namespaces?: LabelSelector }
  /** IPv4 addresses, the CIDR minus its excepts, as inclusive ranges. */
  | { readonly kind: 'cidr'; readonly ranges: readonly Range[] };

export interface Rule {
  /** 'all': `from`/`to` empty or absent. An empty array: every peer was dropped, nothing matches. */
  readonly peers: 'all' | readonly Peer[];
  readonly ports: 'all' | readonly PortSpec[];
}

export interface Policy {
  readonly namespace: string;
  readonly name: string;
  /** A short stable hash of namespace/name, used in chain and set names. */
  readonly hash: string;
  readonly podSelector: LabelSelector;
  /** Present when policyTypes has Ingress. */
  readonly ingress?: readonly Rule[];
  readonly egress?: readonly Rule[];
  readonly problems: readonly string[];
}

export interface PodPort {
  readonly name: string;
  readonly proto: Proto;
  readonly port: number;
}

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly node: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The containers' named ports. */
  readonly ports: readonly PodPort[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (isJsonObject(v) ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strOf = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const policyHash = (namespace: string, name: string): string => createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 12);

const PROTOS: Record<string, Proto> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

function selectorOf(v: unknown, path: string, problems: string[]): LabelSelector | undefined {
  try {
    return labelSelectorAsSelector((obj(v) ?? {}) as LabelSelectorObject);
  } catch (e) {
    problems.push(`${path}: ${errorMessage(e)}`);
    return undefined;
  }
}

function peerOf(p: unknown, path: string, problems: string[]): Peer | undefined {
  const o = obj(p) ?? {};
  const ipb = obj(o.ipBlock);
  if (ipb) {
    if (o.podSelector !== undefined || o.namespaceSelector !== undefined) {
      problems.push(`${path}: ipBlock cannot be combined with podSelector or namespaceSelector`);
      return undefined;
    }
    try {
      return { kind: 'cidr', ranges: cidrRanges(strOf(ipb.cidr) ?? '', arr(ipb.except).map((x) => String(x))) };
    } catch (e) {
      problems.push(`${path}.ipBlock: ${errorMessage(e)}`);
      return undefined;
    }
  }
  if (o.podSelector === undefined && o.namespaceSelector === undefined) {
    problems.push(`${path}: must specify a peer`);
    return undefined;
  }
  const pods = o.podSelector === undefined || o.podSelector === null ? [] : selectorOf(o.podSelector, `${path}.podSelector`, problems);
  if (pods === undefined) return undefined;
  if (o.namespaceSelector === undefined || o.namespaceSelector === null) return { kind: 'pods', pods };
  const namespaces = selectorOf(o.namespaceSelector, `${path}.namespaceSelector`, problems);
  return namespaces === undefined ? undefined : { kind: 'pods', pods, namespaces };
}

function portOf(p: unknown, path: string, problems: string[]): PortSpec | undefined {
  const o = obj(p) ?? {};
  const protoName = strOf(o.protocol) ?? 'TCP';
  const proto = PROTOS[protoName];
  if (!proto) {
    problems.push(`${path}.protocol: unsupported protocol ${JSON.stringify(protoName)}`);
    return undefined;
  }
  const end = o.endPort;
  if (o.port === undefined || o.port === null) {
    if (end !== undefined && end !== null) {
      problems.push(`${path}.endPort: needs a numeric port`);
      return undefined;
    }
    return { proto, from: 0, to: 65535 };
  }
  if (typeof o.port === 'string' && !/^\d+$/.test(o.port)) {
    if (end !== undefined && end !== null) {
      problems.push(`${path}.endPort: cannot be used with a named port (${o.port})`);
      return undefined;
    }
    return { proto, name: o.port };
  }
  const from = Number(o.port);
  const to = end === undefined || end === null ? from : Number(end);
  if (!Number.isInteger(from) || from < 1 || from > 65535) {
    problems.push(`${path}.port: ${JSON.stringify(o.port)} is not a port number`);
    return undefined;
  }
  if (!Number.isInteger(to) || to < from || to > 65535) {
    problems.push(`${path}.endPort: ${JSON.stringify(end)} must be a port number not below port`);
    return undefined;
  }
  return { proto, from, to };
}

function ruleOf(r: unknown, path: string, peerKey: 'from' | 'to', problems: string[]): Rule {
  const o = obj(r) ?? {};
  const rawPeers = arr(o[peerKey]);
  const rawPorts = arr(o.ports);
  const peers = rawPeers.length === 0 ? 'all' : rawPeers.flatMap((p, i) => peerOf(p, `${path}.${peerKey}[${i}]`, problems) ?? []);
  const ports = rawPorts.length === 0 ? 'all' : rawPorts.flatMap((p, i) => portOf(p, `${path}.ports[${i}]`, problems) ?? []);
  return { peers, ports };
}

/** The policy as the compiler reads it; never throws (what cannot be programmed is in `problems`). */
export function parsePolicy(o: Obj): Policy {
  const meta = obj(o.metadata) ?? {};
  const namespace = strOf(meta.namespace) ?? 'default';
  const name = strOf(meta.name) ?? '';
  const spec = obj(o.spec) ?? {};
  const problems: string[] = [];
  const sel = selectorOf(spec.podSelector, 'spec.podSelector', problems);
  const types = arr(spec.policyTypes).map(String);
  // SetDefaults_NetworkPolicy, for an object written without the apiserver's defaulting.
  const hasIngress = types.length ? types.includes('Ingress') : true;
  const hasEgress = types.length ? types.includes('Egress') : spec.egress !== undefined;
  const base = { namespace, name, hash: policyHash(namespace, name) };
  if (sel === undefined) {
    // Fail closed: every pod of the namespace isolated by this policy, which allows nothing.
    return { ...base, podSelector: [], ...(hasIngress && { ingress: [] }), ...(hasEgress && { egress: [] }), problems };
  }
  const ingress = hasIngress ? arr(spec.ingress).map((r, i) => ruleOf(r, `spec.ingress[${i}]`, 'from', problems)) : undefined;
  const egress = hasEgress ? arr(spec.egress).map((r, i) => ruleOf(r, `spec.egress[${i}]`, 'to', problems)) : undefined;
  return { ...base, podSelector: sel, ...(ingress && { ingress }), ...(egress && { egress }), problems };
}

/**
 * The pod as a policy sees it, or undefined when no policy applies to it or names it: not yet given an IP,
 * finished (its IP may be reused), or on the host's network (its IP is the node's).
 */
export function parsePod(o: Obj): PodInfo | undefined {
  const meta = obj(o.metadata) ?? {};
  const spec = obj(o.spec) ?? {};
  const status = obj(o.status) ?? {};
  const ip = strOf(status.podIP);
  const phase = strOf(status.phase);
  if (!ip || !/^\d+\.\d+\.\d+\.\d+$/.test(ip) || spec.hostNetwork === true || phase === 'Succeeded' || phase === 'Failed') return undefined;
  const ports: PodPort[] = [];
  for (const c of arr(spec.containers)) {
    for (const p of arr(obj(c)?.ports)) {
      const po = obj(p) ?? {};
      const name = strOf(po.name);
      const proto = PROTOS[strOf(po.protocol) ?? 'TCP'];
      if (name && proto && typeof po.containerPort === 'number') ports.push({ name, proto, port: po.containerPort });
    }
  }
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(meta.labels) ?? {})) if (typeof v === 'string') labels[k] = v;
  return { namespace: strOf(meta.namespace) ?? 'default', name: strOf(meta.name) ?? '', ip, node: strOf(spec.nodeName) ?? '', labels, ports };
}

/** A namespace's labels (with kubernetes.io/metadata.name, which the apiserver sets on every namespace). */
export function namespaceLabels(o: Obj): Record<string, string> {
  const meta = obj(o.metadata) ?? {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(meta.labels) ?? {})) if (typeof v === 'string') labels[k] = v;
  const name = strOf(meta.name);
  if (name && labels['kubernetes.io/metadata.name'] === undefined) labels['kubernetes.io/metadata.name'] = name;
  return labels;
}
