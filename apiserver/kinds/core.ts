// The other core (v1) kinds: namespaces, nodes, services, endpoints, secrets, configmaps, serviceaccounts,
// events, componentstatuses. Defaults, validation and tables as pkg/apis/core and pkg/printers do them.
import { isObject, isIp, parseCidr } from '../../core/index.js';
import { ensure, list, meta, nameOf, num, obj, objs, setDefault, setDefaultStr, str, strMap, strs } from './access.js';
import { duplicate, forbidden, invalid, notSupported, required, typeInvalid } from './field-errors.js';
import { formatLabels, loadBalancerIngress, since } from './humanize.js';
import { age, AGE_COLUMN, col, defineKind, NAME_COLUMN, resourceDef, validateLabels } from './meta.js';
import {
  isDns1123Label,
  isDns1123Subdomain,
  isQualifiedName,
  isValidIp,
  isValidPortName,
  isValidPortNum,
  nameIsDns1035Label,
  nameIsDnsLabel,
  nameIsDnsSubdomain,
  nameIsPathSegment,
} from './names.js';
import type { FieldError, KubeObject, ResourceDef } from './types.js';

const core = (resource: string, kind: string, namespaced: boolean, storage: string, extra: Partial<ResourceDef> = {}): ResourceDef =>
  resourceDef({ group: '', resource, kind, namespaced, storage, ...extra });

// --- namespaces ---------------------------------------------------------------------------------------

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
export const namespaceStrategy = defineKind({
  def: core('namespaces', 'Namespace', false, 'namespaces', {
    shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: ['status', 'finalize'],
  }),
  nameCheck: nameIsDnsLabel,
  defaults(o) {
    // SetDefaults_Namespace: the immutable name label, set on every write so it cannot be removed or changed.
    const name = nameOf(o);
    if (name) ensure(ensure(o, 'metadata'), 'labels')[NAMESPACE_NAME_LABEL] = name;
    const status = obj(o, 'status');
    if (status) setDefaultStr(status, 'phase', 'Active');
  },
  validate(o, errs) {
    const fin = list(obj(o, 'spec'), 'finalizers') ?? [];
    for (const f of fin) if (typeof f !== 'string' || !f) errs.push(invalid('spec.finalizers', f, 'must be a non-empty string'));
  },
  initialStatus: () => ({ phase: 'Active' }),
  prepareForCreate(o) {
    // namespaceStrategy.PrepareForCreate: the "kubernetes" finalizer, so the namespace controller empties it first.
    const spec = ensure(o, 'spec');
    const fin = strs(spec, 'finalizers');
    if (!fin.includes('kubernetes')) spec.finalizers = [...fin, 'kubernetes'];
  },
  prepareForUpdate(o, old) {
    // spec.finalizers change only through `namespaces/<name>/finalize`.
    const oldSpec = obj(old, 'spec');
    if (oldSpec) o.spec = structuredClone(oldSpec);
    else delete o.spec;
  },
  columns: [NAME_COLUMN, col('Status', 'string', 'The status of the namespace'), AGE_COLUMN],
  row: (o, now) => [nameOf(o), str(o.status, 'phase') ?? '', age(o, now)],
  fields: { 'status.phase': (o) => str(o.status, 'phase') ?? '' },
});

// --- nodes --------------------------------------------------------------------------------------------

function nodeRoles(o: KubeObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(strMap(meta(o), 'labels'))) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return [...roles].sort().join(',') || '<none>';
}
const nodeAddress = (o: KubeObject, type: string): string => str(objs(o.status, 'addresses').find((a) => a.type === type), 'address') ?? '<none>';

export const nodeStrategy = defineKind({
  def: core('nodes', 'Node', false, 'minions', { shortNames: ['no'], subresources: ['status', 'proxy'] }),
  nameCheck: nameIsDnsSubdomain,
  validate(o, errs) {
    const spec = obj(o, 'spec') ?? {};
    const cidrs = strs(spec, 'podCIDRs');
    const podCidr = str(spec, 'podCIDR');
    if (podCidr && cidrs.length && cidrs[0] !== podCidr) errs.push(invalid('spec.podCIDRs', cidrs, 'first value must match `podCIDR`'));
    const families: string[] = [];
    cidrs.forEach((c, i) => {
      let family: string;
      try {
        family = parseCidr(c).addr.family === 4 ? 'v4' : 'v6';
      } catch {
        errs.push(invalid(`spec.podCIDRs[${i}]`, c, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
        return;
      }
      if (families.includes(family)) errs.push(invalid('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'));
      families.push(family);
    });
    if (podCidr && !cidrs.length) {
      try {
        parseCidr(podCidr);
      } catch {
        errs.push(invalid('spec.podCIDR', podCidr, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
      }
    }
    (list(spec, 'taints') ?? []).forEach((t, i) => {
      const p = `spec.taints[${i}]`;
      const effect = str(t, 'effect');
      if (!effect) errs.push(required(`${p}.effect`));
      else if (!['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(effect)) errs.push(notSupported(`${p}.effect`, effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
      if (!str(t, 'key')) errs.push(required(`${p}.key`));
    });
    if (spec.unschedulable !== undefined && typeof spec.unschedulable !== 'boolean') errs.push(typeInvalid('spec.unschedulable', spec.unschedulable, 'must be a boolean'));
  },
  validateUpdate(o, old, errs) {
    const oldSpec = obj(old, 'spec') ?? {};
    const spec = obj(o, 'spec') ?? {};
    // podCIDR(s) may be set once, not changed.
    if (str(oldSpec, 'podCIDR') && str(spec, 'podCIDR') !== str(oldSpec, 'podCIDR')) errs.push(forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
    if (str(oldSpec, 'providerID') && str(spec, 'providerID') !== str(oldSpec, 'providerID')) errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  },
  initialStatus: () => ({}),
  keepStatusOnCreate: true,
  statusWritesLabels: true,
  columns: [
    NAME_COLUMN,
    col('Status', 'string', 'The status of the node'),
    col('Roles', 'string', 'The roles of the node'),
    AGE_COLUMN,
    col('Version', 'string', 'Kubelet Version reported by the node.'),
    col('Internal-IP', 'string', 'List of addresses reachable to the node.', 1),
    col('External-IP', 'string', 'List of addresses reachable to the node.', 1),
    col('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
    col('Kernel-Version', 'string', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
    col('Container-Runtime', 'string', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
  ],
  row(o, now) {
    const ready = objs(o.status, 'conditions').find((c) => c.type === 'Ready');
    const status = ready ? [ready.status === 'True' ? 'Ready' : 'NotReady'] : ['Unknown'];
    if (obj(o, 'spec')?.unschedulable === true) status.push('SchedulingDisabled');
    const info = obj(o.status, 'nodeInfo');
    return [
      nameOf(o),
      status.join(','),
      nodeRoles(o),
      age(o, now),
      str(info, 'kubeletVersion') ?? '',
      nodeAddress(o, 'InternalIP'),
      nodeAddress(o, 'ExternalIP'),
      str(info, 'osImage') || '<unknown>',
      str(info, 'kernelVersion') || '<unknown>',
      str(info, 'containerRuntimeVersion') || '<unknown>',
    ];
  },
  fields: { 'spec.unschedulable': (o) => String(obj(o, 'spec')?.unschedulable === true) },
});

// --- services -----------------------------------------------------------------------------------------

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

function defaultService(o: KubeObject): void {
  const spec = ensure(o, 'spec');
  setDefaultStr(spec, 'type', 'ClusterIP');
  setDefaultStr(spec, 'sessionAffinity', 'None');
  if (spec.sessionAffinity === 'ClientIP') {
    const cfg = ensure(ensure(spec, 'sessionAffinityConfig'), 'clientIP');
    setDefault(cfg, 'timeoutSeconds', 10800);
  }
  for (const p of objs(spec, 'ports')) {
    setDefaultStr(p, 'protocol', 'TCP');
    if ((p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') && typeof p.port === 'number') p.targetPort = p.port;
  }
  const type = spec.type;
  if (type !== 'ExternalName') {
    const ip = str(spec, 'clusterIP');
    const ips = strs(spec, 'clusterIPs');
    if (ip && !list(spec, 'clusterIPs')) spec.clusterIPs = [ip];
    else if (!ip && ips[0]) spec.clusterIP = ips[0];
    setDefaultStr(spec, 'internalTrafficPolicy', 'Cluster');
    // ipFamilies and ipFamilyPolicy depend on the cluster's ranges: the storage completes them (service-ips.ts).
  } else {
    delete spec.ipFamilies;
    delete spec.ipFamilyPolicy;
  }
  if (externallyAccessible(spec)) setDefaultStr(spec, 'externalTrafficPolicy', 'Cluster');
  if (type === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
}

/** NodePort, LoadBalancer, or a ClusterIP service with external IPs: what externalTrafficPolicy applies to. */
const externallyAccessible = (spec: Record<string, unknown>): boolean => spec.type === 'NodePort' || spec.type === 'LoadBalancer' || (spec.type === 'ClusterIP' && strs(spec, 'externalIPs').length > 0);

function validateTrafficPolicies(spec: Record<string, unknown>, errs: FieldError[]): void {
  const type = spec.type;
  const etp = spec.externalTrafficPolicy;
  if (!externallyAccessible(spec)) {
    if (etp !== undefined && etp !== '') errs.push(invalid('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'));
  } else if (etp === undefined || etp === '') errs.push(required('spec.externalTrafficPolicy'));
  else if (etp !== 'Cluster' && etp !== 'Local') errs.push(notSupported('spec.externalTrafficPolicy', etp, ['Cluster', 'Local']));
  const itp = spec.internalTrafficPolicy;
  if (type !== 'ExternalName' && itp !== undefined && itp !== 'Cluster' && itp !== 'Local') errs.push(notSupported('spec.internalTrafficPolicy', itp, ['Cluster', 'Local']));
  const hc = spec.healthCheckNodePort;
  if (hc !== undefined && hc !== 0) {
    if (type !== 'LoadBalancer' || etp !== 'Local') errs.push(invalid('spec.healthCheckNodePort', hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
    else if (typeof hc !== 'number') errs.push(typeInvalid('spec.healthCheckNodePort', hc, 'must be an integer'));
    else for (const m of isValidPortNum(hc)) errs.push(invalid('spec.healthCheckNodePort', hc, m));
  }
  const ranges = strs(spec, 'loadBalancerSourceRanges');
  if (ranges.length && type !== 'LoadBalancer') errs.push(forbidden('spec.loadBalancerSourceRanges', "may only be used when `type` is 'LoadBalancer'"));
  else
    ranges.forEach((r, i) => {
      const t = r.trim();
      if (!isCidr(t)) errs.push(invalid(`spec.loadBalancerSourceRanges[${i}]`, r, 'must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 '));
    });
}

const isCidr = (s: string): boolean => {
  const [ip, len, extra] = s.split('/');
  if (extra !== undefined || ip === undefined || len === undefined || !/^\d{1,3}$/.test(len) || !isIp(ip)) return false;
  return Number(len) <= (ip.includes(':') ? 128 : 32);
};

const IP_FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];
const IP_FAMILIES = ['IPv4', 'IPv6'];
const v6 = (ip: string): boolean => ip.includes(':');

/** clusterIP, clusterIPs, ipFamilies and ipFamilyPolicy together, as far as they need no cluster config. */
function validateClusterIpFields(spec: Record<string, unknown>, ip: string, errs: FieldError[]): void {
  const ips = strs(spec, 'clusterIPs');
  if (ip && ips.length && ips[0] !== ip) errs.push(invalid('spec.clusterIPs', ips, 'first value must match `clusterIP`'));
  const policy = spec.ipFamilyPolicy;
  if (policy !== undefined && policy !== null && (typeof policy !== 'string' || !IP_FAMILY_POLICIES.includes(policy))) errs.push(notSupported('spec.ipFamilyPolicy', policy, IP_FAMILY_POLICIES));
  let bad = false;
  ips.forEach((v, i) => {
    if (i === 0 && v === 'None') {
      if (ips.length > 1) {
        bad = true;
        errs.push(invalid('spec.clusterIPs', ips, "'None' must be the first and only value"));
      }
    } else if (!isIp(v)) {
      bad = true;
      errs.push(invalid(`spec.clusterIPs[${i}]`, v, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    }
  });
  if (ips.length > 2) errs.push(invalid('spec.clusterIPs', ips, 'may only hold up to 2 values'));
  else if (!bad && ips.length === 2 && ips[0] !== 'None' && v6(ips[0]!) === v6(ips[1]!)) errs.push(invalid('spec.clusterIPs', ips, 'may specify no more than one IP for each IP family'));
  const fams = list(spec, 'ipFamilies') ?? [];
  const seen = new Set<unknown>();
  fams.forEach((f, i) => {
    if (typeof f !== 'string' || !IP_FAMILIES.includes(f)) errs.push(notSupported(`spec.ipFamilies[${i}]`, f, IP_FAMILIES));
    else if (seen.has(f)) errs.push(duplicate(`spec.ipFamilies[${i}]`, f));
    seen.add(f);
  });
  if (fams.length > 2) errs.push(invalid('spec.ipFamilies', fams, 'may only hold up to 2 values'));
  if (policy === 'SingleStack') {
    if (ips.length === 2) errs.push(invalid('spec.ipFamilyPolicy', policy, "must be RequireDualStack or PreferDualStack when multiple 'clusterIPs' are specified"));
    if (fams.length === 2) errs.push(invalid('spec.ipFamilyPolicy', policy, "must be RequireDualStack or PreferDualStack when multiple 'ipFamilies' are specified"));
  }
  // Each given address of the family its index names (a headless service's 'None' has none).
  if (!bad && ips[0] !== 'None') {
    ips.forEach((v, i) => {
      const f = fams[i];
      if (f === 'IPv4' && v6(v)) errs.push(invalid(`spec.clusterIPs[${i}]`, v, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (f === 'IPv6' && !v6(v)) errs.push(invalid(`spec.clusterIPs[${i}]`, v, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
}

function validateService(o: KubeObject, errs: FieldError[]): void {
  const spec = obj(o, 'spec');
  if (!spec) {
    errs.push(required('spec.ports'));
    return;
  }
  const type = spec.type;
  if (typeof type !== 'string' || !SERVICE_TYPES.includes(type)) errs.push(notSupported('spec.type', type ?? '', SERVICE_TYPES));
  const ip = str(spec, 'clusterIP') ?? '';
  const headless = ip === 'None';
  const rawPorts = spec.ports;
  if (rawPorts !== undefined && rawPorts !== null && !Array.isArray(rawPorts)) errs.push(typeInvalid('spec.ports', rawPorts, 'must be a list'));
  const ports = list(spec, 'ports') ?? [];
  if (ports.length === 0 && !headless && type !== 'ExternalName') errs.push(required('spec.ports'));
  const names = new Set<string>();
  const seen = new Set<string>();
  ports.forEach((p, i) => {
    const pp = `spec.ports[${i}]`;
    if (!isObject(p)) {
      errs.push(typeInvalid(pp, p, 'must be an object'));
      return;
    }
    const name = str(p, 'name') ?? '';
    if (ports.length > 1 && !name) errs.push(required(`${pp}.name`));
    else if (name) {
      for (const m of isDns1123Label(name)) errs.push(invalid(`${pp}.name`, name, m));
      if (names.has(name)) errs.push(duplicate(`${pp}.name`, name));
      names.add(name);
    }
    const port = p.port;
    if (typeof port !== 'number') {
      if (port === undefined) errs.push(invalid(`${pp}.port`, 0, 'must be between 1 and 65535, inclusive'));
      else errs.push(typeInvalid(`${pp}.port`, port, 'must be an integer'));
    } else for (const m of isValidPortNum(port)) errs.push(invalid(`${pp}.port`, port, m));
    const proto = p.protocol;
    if (proto === undefined || proto === '') errs.push(required(`${pp}.protocol`));
    else if (typeof proto !== 'string' || !PROTOCOLS.includes(proto)) errs.push(notSupported(`${pp}.protocol`, proto, PROTOCOLS));
    const key = `${String(port)}/${String(proto)}`;
    if (seen.has(key)) errs.push(duplicate(pp, { port, protocol: proto }));
    seen.add(key);
    const tp = p.targetPort;
    if (typeof tp === 'number') for (const m of isValidPortNum(tp)) errs.push(invalid(`${pp}.targetPort`, tp, m));
    else if (typeof tp === 'string') for (const m of isValidPortName(tp)) errs.push(invalid(`${pp}.targetPort`, tp, m));
    else if (tp !== undefined) errs.push(typeInvalid(`${pp}.targetPort`, tp, 'must be an integer or a string'));
    const np = p.nodePort;
    if (np !== undefined && np !== 0) {
      if (typeof np !== 'number') errs.push(typeInvalid(`${pp}.nodePort`, np, 'must be an integer'));
      else if (type === 'ClusterIP') errs.push(forbidden(`${pp}.nodePort`, "may not be used when `type` is 'ClusterIP'"));
      else for (const m of isValidPortNum(np)) errs.push(invalid(`${pp}.nodePort`, np, m));
    }
  });
  const affinity = spec.sessionAffinity;
  if (affinity !== 'None' && affinity !== 'ClientIP') errs.push(notSupported('spec.sessionAffinity', affinity ?? '', ['ClientIP', 'None']));
  if (type === 'ExternalName') {
    const en = str(spec, 'externalName') ?? '';
    if (!en) errs.push(required('spec.externalName'));
    else for (const m of isDns1123Subdomain(en.endsWith('.') ? en.slice(0, -1) : en)) errs.push(invalid('spec.externalName', en, m));
    if (ip) errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
  } else {
    validateClusterIpFields(spec, ip, errs);
  }
  strs(spec, 'externalIPs').forEach((v, i) => {
    for (const m of isValidIp(v)) errs.push(invalid(`spec.externalIPs[${i}]`, v, m));
  });
  validateTrafficPolicies(spec, errs);
  validateLabels(spec.selector, 'spec.selector', errs);
}

const needsNodePorts = (spec: Record<string, unknown>): boolean => spec.type === 'NodePort' || spec.type === 'LoadBalancer';
/** A LoadBalancer with externalTrafficPolicy Local: the one kind of service that has a healthCheckNodePort. */
export const needsHealthCheck = (spec: Record<string, unknown> | undefined): boolean => spec?.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
const nodePortsOf = (spec: Record<string, unknown>): string => JSON.stringify(objs(spec, 'ports').map((p) => p.nodePort ?? 0));

/**
 * The Service strategy's dropTypeDependentFields: a field the new type or policy no longer has is wiped when
 * the client left it as it was (the storage then releases what it held); one the client changed stays, for
 * the validation to refuse.
 */
function dropTypeDependentFields(spec: Record<string, unknown>, old: Record<string, unknown>): void {
  if (needsNodePorts(old) && !needsNodePorts(spec) && nodePortsOf(old) === nodePortsOf(spec)) for (const p of objs(spec, 'ports')) delete p.nodePort;
  if (needsHealthCheck(old) && !needsHealthCheck(spec) && (old.healthCheckNodePort ?? 0) === (spec.healthCheckNodePort ?? 0)) delete spec.healthCheckNodePort;
  if (externallyAccessible(old) && !externallyAccessible(spec) && old.externalTrafficPolicy === spec.externalTrafficPolicy) delete spec.externalTrafficPolicy;
  if (old.type === 'LoadBalancer' && spec.type !== 'LoadBalancer' && old.allocateLoadBalancerNodePorts === spec.allocateLoadBalancerNodePorts) delete spec.allocateLoadBalancerNodePorts;
}

export const serviceStrategy = defineKind({
  def: core('services', 'Service', true, 'services/specs', { shortNames: ['svc'], categories: ['all'], subresources: ['status', 'proxy'] }),
  nameCheck: nameIsDns1035Label,
  defaults: defaultService,
  validate: validateService,
  prepareForUpdate(o, old) {
    const spec = obj(o, 'spec');
    const oldSpec = obj(old, 'spec');
    if (spec && oldSpec) dropTypeDependentFields(spec, oldSpec);
  },
  validateUpdate(o, old, errs) {
    // A service that keeps needing its healthCheckNodePort keeps the one it has (validateServiceExternalTrafficFieldsUpdate).
    if (needsHealthCheck(obj(old, 'spec')) && needsHealthCheck(obj(o, 'spec')) && (obj(o, 'spec')?.healthCheckNodePort ?? 0) !== (obj(old, 'spec')?.healthCheckNodePort ?? 0)) {
      errs.push(forbidden('spec.healthCheckNodePort', 'field is immutable'));
    }
    const ips = strs(o.spec, 'clusterIPs');
    const oldIps = strs(old.spec, 'clusterIPs');
    if (str(old.spec, 'type') === 'ExternalName' || str(o.spec, 'type') === 'ExternalName') return;
    if (oldIps.length && ips.length === 0) errs.push(invalid('spec.clusterIPs[0]', ips, 'primary clusterIP can not be unset'));
    else oldIps.forEach((v, i) => {
      if (i < ips.length && ips[i] !== v) errs.push(invalid(`spec.clusterIPs[${i}]`, ips, 'may not change once set'));
    });
  },
  initialStatus: () => ({ loadBalancer: {} }),
  columns: [
    NAME_COLUMN,
    col('Type', 'string', 'type determines how the Service is exposed.'),
    col('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
    col('External-IP', 'string', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
    col('Port(s)', 'string', 'The list of ports that are exposed by this service.'),
    AGE_COLUMN,
    col('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1),
  ],
  row(o, now) {
    const spec = obj(o, 'spec') ?? {};
    const type = str(spec, 'type') ?? '';
    const ips = strs(spec, 'clusterIPs');
    const clusterIP = ips[0] ?? (str(spec, 'clusterIP') || '<none>');
    const externalIPs = strs(spec, 'externalIPs');
    let external: string;
    if (type === 'ClusterIP' || type === 'NodePort') external = externalIPs.length ? externalIPs.join(',') : '<none>';
    else if (type === 'LoadBalancer') {
      const lb = loadBalancerIngress(o.status);
      external = externalIPs.length ? [...(lb ? lb.split(',') : []), ...externalIPs].join(',') : lb || '<pending>';
    } else if (type === 'ExternalName') external = str(spec, 'externalName') ?? '';
    else external = '<unknown>';
    const ports = objs(spec, 'ports').map((p) => {
      const np = num(p, 'nodePort');
      const port = num(p, 'port') ?? 0;
      const proto = str(p, 'protocol') ?? '';
      return np ? `${port}:${np}/${proto}` : `${port}/${proto}`;
    });
    return [nameOf(o), type, clusterIP, external, ports.join(',') || '<none>', age(o, now), formatLabels(strMap(spec, 'selector'))];
  },
});

// --- endpoints ----------------------------------------------------------------------------------------

function formatEndpoints(o: KubeObject): string {
  const subsets = objs(o, 'subsets');
  if (!subsets.length) return '<none>';
  const out: string[] = [];
  const max = 3;
  let count = 0;
  let more = false;
  for (const ss of subsets) {
    const addrs = objs(ss, 'addresses').map((a) => str(a, 'ip') ?? '');
    const ports = objs(ss, 'ports');
    const entries = ports.length ? ports.flatMap((p) => addrs.map((ip) => (ip.includes(':') ? `[${ip}]` : ip) + `:${num(p, 'port') ?? 0}`)) : addrs;
    count += entries.length;
    for (const e of entries) {
      if (out.length === max) {
        more = true;
        break;
      }
      out.push(e);
    }
  }
  return more ? `${out.join(',')} + ${count - max} more...` : out.join(',');
}

export const endpointsStrategy = defineKind({
  def: core('endpoints', 'Endpoints', true, 'services/endpoints', { singular: 'endpoints', shortNames: ['ep'] }),
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    for (const ss of objs(o, 'subsets')) for (const p of objs(ss, 'ports')) setDefaultStr(p, 'protocol', 'TCP');
  },
  validate(o, errs) {
    (list(o, 'subsets') ?? []).forEach((ss, i) => {
      const p = `subsets[${i}]`;
      const addrs = objs(ss, 'addresses');
      const notReady = objs(ss, 'notReadyAddresses');
      if (!addrs.length && !notReady.length) errs.push(required(p, 'must specify `addresses` or `notReadyAddresses`'));
      for (const [key, list_] of [['addresses', addrs], ['notReadyAddresses', notReady]] as const)
        list_.forEach((a, j) => {
          const ip = str(a, 'ip') ?? '';
          for (const m of isValidIp(ip)) errs.push(invalid(`${p}.${key}[${j}].ip`, ip, m));
          const node = str(a, 'nodeName');
          if (node) for (const m of isDns1123Subdomain(node)) errs.push(invalid(`${p}.${key}[${j}].nodeName`, node, m));
        });
      const ports = objs(ss, 'ports');
      ports.forEach((port, j) => {
        const pp = `${p}.ports[${j}]`;
        const name = str(port, 'name') ?? '';
        if (ports.length > 1 && !name) errs.push(required(`${pp}.name`));
        else if (name) for (const m of isDns1123Label(name)) errs.push(invalid(`${pp}.name`, name, m));
        const n = num(port, 'port') ?? 0;
        for (const m of isValidPortNum(n)) errs.push(invalid(`${pp}.port`, n, m));
        const proto = str(port, 'protocol') ?? '';
        if (!proto) errs.push(required(`${pp}.protocol`));
        else if (!PROTOCOLS.includes(proto)) errs.push(notSupported(`${pp}.protocol`, proto, PROTOCOLS));
      });
    });
  },
  columns: [NAME_COLUMN, col('Endpoints', 'string', 'Endpoints of the service'), AGE_COLUMN],
  row: (o, now) => [nameOf(o), formatEndpoints(o), age(o, now)],
});

// --- secrets, configmaps, serviceaccounts ----------------------------------------------------------------

const CONFIG_KEY_RE = /^[-._a-zA-Z0-9]+$/;
/** A Secret's values are never quoted in its errors (validation says `<secret contents redacted>`). */
const SECRET_REDACTED = '<secret contents redacted>';
function validateDataKeys(o: KubeObject, field: string, errs: FieldError[], seen: Set<string>, secret = false): void {
  const data = o[field];
  if (data === undefined || data === null) return;
  if (!isObject(data)) {
    errs.push(typeInvalid(field, secret ? SECRET_REDACTED : data, 'must be an object of strings'));
    return;
  }
  for (const [k, v] of Object.entries(data)) {
    if (k.length > 253) errs.push(invalid(`${field}[${k}]`, k, 'must be no more than 253 characters'));
    if (!CONFIG_KEY_RE.test(k)) errs.push(invalid(`${field}[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
    if (typeof v !== 'string') errs.push(typeInvalid(`${field}[${k}]`, secret ? SECRET_REDACTED : v, 'must be a string'));
    if (seen.has(k)) errs.push(invalid(`${field}[${k}]`, k, 'duplicate of key present in ' + (field === 'data' ? 'binaryData' : 'data')));
    seen.add(k);
  }
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
export const secretStrategy = defineKind({
  def: core('secrets', 'Secret', true, 'secrets'),
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    setDefaultStr(o, 'type', 'Opaque');
    // The API server folds stringData into data (base64) and never stores stringData.
    const sd = obj(o, 'stringData');
    if (sd) {
      const data = ensure(o, 'data');
      for (const [k, v] of Object.entries(sd)) if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8').toString('base64');
      delete o.stringData;
    }
  },
  validate(o, errs) {
    validateDataKeys(o, 'data', errs, new Set(), true);
    for (const [k, v] of Object.entries(obj(o, 'data') ?? {}))
      if (typeof v === 'string' && (v.length % 4 !== 0 || !BASE64_RE.test(v))) errs.push(invalid(`data[${k}]`, SECRET_REDACTED, 'illegal base64 data'));
    let size = 0;
    for (const v of Object.values(obj(o, 'data') ?? {})) if (typeof v === 'string') size += Math.floor((v.length * 3) / 4);
    if (size > 1024 * 1024) errs.push({ type: 'FieldValueTooLong', field: 'data', value: '<value omitted>', detail: 'may not be more than 1048576 bytes' });
    const type = str(o, 'type') ?? '';
    const data = obj(o, 'data') ?? {};
    if (type === 'kubernetes.io/service-account-token' && !str(strMap(meta(o), 'annotations'), 'kubernetes.io/service-account.name'))
      errs.push(required('metadata.annotations[kubernetes.io/service-account.name]'));
    if (type === 'kubernetes.io/dockerconfigjson' && data['.dockerconfigjson'] === undefined) errs.push(required('data[.dockerconfigjson]'));
    if (type === 'kubernetes.io/tls') {
      if (data['tls.crt'] === undefined) errs.push(required('data[tls.crt]'));
      if (data['tls.key'] === undefined) errs.push(required('data[tls.key]'));
    }
  },
  validateUpdate(o, old, errs) {
    if ((str(o, 'type') ?? '') !== (str(old, 'type') ?? '')) errs.push(invalid('type', str(o, 'type') ?? '', 'field is immutable'));
    if (old.immutable === true && (o.immutable !== true || JSON.stringify(o.data ?? {}) !== JSON.stringify(old.data ?? {})))
      errs.push(forbidden('data', 'field is immutable when `immutable` is set'));
  },
  columns: [NAME_COLUMN, col('Type', 'string', 'Used to facilitate programmatic handling of secret data.'), col('Data', 'string', 'Data contains the secret data.'), AGE_COLUMN],
  row: (o, now) => [nameOf(o), str(o, 'type') ?? '', Object.keys(obj(o, 'data') ?? {}).length, age(o, now)],
  fields: { type: (o) => str(o, 'type') ?? '' },
});

export const configMapStrategy = defineKind({
  def: core('configmaps', 'ConfigMap', true, 'configmaps', { shortNames: ['cm'] }),
  nameCheck: nameIsDnsSubdomain,
  validate(o, errs) {
    const seen = new Set<string>();
    validateDataKeys(o, 'data', errs, seen);
    validateDataKeys(o, 'binaryData', errs, seen);
    let size = 0;
    for (const v of [...Object.values(obj(o, 'data') ?? {}), ...Object.values(obj(o, 'binaryData') ?? {})]) if (typeof v === 'string') size += v.length;
    if (size > 1024 * 1024) errs.push({ type: 'FieldValueTooLong', field: '', value: '<value omitted>', detail: 'may not be more than 1048576 bytes' });
  },
  validateUpdate(o, old, errs) {
    if (old.immutable === true && (o.immutable !== true || JSON.stringify(o.data ?? {}) !== JSON.stringify(old.data ?? {})))
      errs.push(forbidden('data', 'field is immutable when `immutable` is set'));
  },
  columns: [NAME_COLUMN, col('Data', 'string', 'Data contains the configuration data.'), AGE_COLUMN],
  row: (o, now) => [nameOf(o), Object.keys(obj(o, 'data') ?? {}).length + Object.keys(obj(o, 'binaryData') ?? {}).length, age(o, now)],
});

export const serviceAccountStrategy = defineKind({
  def: core('serviceaccounts', 'ServiceAccount', true, 'serviceaccounts', { shortNames: ['sa'], subresources: ['token'] }),
  nameCheck: nameIsDnsSubdomain,
  validate(o, errs) {
    (list(o, 'secrets') ?? []).forEach((s, i) => {
      if (!str(s, 'name')) errs.push(required(`secrets[${i}].name`));
    });
  },
  columns: [NAME_COLUMN, col('Secrets', 'string', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'), AGE_COLUMN],
  row: (o, now) => [nameOf(o), (list(o, 'secrets') ?? []).length, age(o, now)],
});

// --- events -------------------------------------------------------------------------------------------

const eventSource = (o: KubeObject): string => str(obj(o, 'source'), 'component') || str(o, 'reportingComponent') || '';
export const eventStrategy = defineKind({
  def: core('events', 'Event', true, 'events', { shortNames: ['ev'] }),
  nameCheck: nameIsPathSegment,
  // legacyValidateEvent, all that core/v1 checks (events.k8s.io/v1 adds more; not served here).
  validate(o, errs) {
    const io = obj(o, 'involvedObject') ?? {};
    const ns = str(meta(o), 'namespace') ?? '';
    const ions = str(io, 'namespace') ?? '';
    if (!str(o, 'eventTime')) {
      if (!ions) {
        if (ns !== '' && ns !== 'default') errs.push(invalid('involvedObject.namespace', ions, 'does not match event.namespace'));
      } else if (ns !== ions) errs.push(invalid('involvedObject.namespace', ions, 'does not match event.namespace'));
    } else {
      if (!ions && ns !== 'default' && ns !== 'kube-system') errs.push(invalid('involvedObject.namespace', ions, 'does not match event.namespace'));
      const rc = str(o, 'reportingComponent') ?? '';
      if (!rc) errs.push(required('reportingComponent'));
      for (const m of isQualifiedName(rc)) errs.push(invalid('reportingComponent', rc, m));
      const limits = [['reportingInstance', 128], ['action', 128], ['reason', 128]] as const;
      for (const [f, max] of limits) {
        const v = str(o, f) ?? '';
        if (!v) errs.push(required(f));
        if (v.length > max) errs.push(invalid(f, '', `can have at most ${max} characters`));
      }
      if ((str(o, 'message') ?? '').length > 1024) errs.push(invalid('message', '', 'can have at most 1024 characters'));
    }
    for (const m of isDns1123Subdomain(ns)) errs.push(invalid('namespace', ns, m));
  },
  columns: [
    col('Last Seen', 'string', 'The time at which the most recent occurrence of this event was recorded.'),
    col('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future.'),
    col('Reason', 'string', 'This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.'),
    col('Object', 'string', 'The object that this event is about.'),
    col('Subobject', 'string', 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.', 1),
    col('Source', 'string', 'The component reporting this event. Should be a short machine understandable string.', 1),
    col('Message', 'string', 'A human-readable description of the status of this operation.'),
    col('First Seen', 'string', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)', 1),
    col('Count', 'string', 'The number of times this event has occurred.', 1),
    { ...NAME_COLUMN, priority: 1 },
  ],
  row(o, now) {
    const eventTime = str(o, 'eventTime');
    const firstSeen = str(o, 'firstTimestamp') ? since(str(o, 'firstTimestamp'), now) : since(eventTime, now);
    let lastSeen = str(o, 'lastTimestamp') ? since(str(o, 'lastTimestamp'), now) : firstSeen;
    let count = num(o, 'count') ?? 0;
    const series = obj(o, 'series');
    if (series) {
      lastSeen = since(str(series, 'lastObservedTime'), now);
      count = num(series, 'count') ?? 0;
    } else if (count === 0) count = 1;
    const io = obj(o, 'involvedObject') ?? {};
    const kind = (str(io, 'kind') ?? '').toLowerCase();
    const target = str(io, 'name') ? `${kind}/${str(io, 'name') ?? ''}` : kind;
    const component = str(obj(o, 'source'), 'component') || str(o, 'reportingComponent') || '';
    const host = str(obj(o, 'source'), 'host') || str(o, 'reportingInstance') || '';
    const source = !component ? '' : host ? `${component}, ${host}` : component;
    return [lastSeen, str(o, 'type') ?? '', str(o, 'reason') ?? '', target, str(io, 'fieldPath') ?? '', source, (str(o, 'message') ?? '').trim(), firstSeen, count, nameOf(o)];
  },
  fields: {
    'involvedObject.kind': (o) => str(o.involvedObject, 'kind') ?? '',
    'involvedObject.namespace': (o) => str(o.involvedObject, 'namespace') ?? '',
    'involvedObject.name': (o) => str(o.involvedObject, 'name') ?? '',
    'involvedObject.uid': (o) => str(o.involvedObject, 'uid') ?? '',
    'involvedObject.apiVersion': (o) => str(o.involvedObject, 'apiVersion') ?? '',
    'involvedObject.resourceVersion': (o) => str(o.involvedObject, 'resourceVersion') ?? '',
    'involvedObject.fieldPath': (o) => str(o.involvedObject, 'fieldPath') ?? '',
    reason: (o) => str(o, 'reason') ?? '',
    reportingComponent: (o) => str(o, 'reportingComponent') ?? '',
    source: eventSource,
    type: (o) => str(o, 'type') ?? '',
  },
});

// --- componentstatuses (computed by the server, never stored) -------------------------------------------

export const componentStatusStrategy = defineKind({
  def: core('componentstatuses', 'ComponentStatus', false, '', { shortNames: ['cs'], verbs: ['get', 'list'] }),
  nameCheck: nameIsDnsSubdomain,
  columns: [
    NAME_COLUMN,
    col('Status', 'string', 'Status of the component conditions'),
    col('Message', 'string', 'Message of the component conditions'),
    col('Error', 'string', 'Error of the component conditions'),
  ],
  row(o) {
    const c = objs(o, 'conditions').find((x) => x.type === 'Healthy');
    const status = c ? (c.status === 'True' ? 'Healthy' : 'Unhealthy') : 'Unknown';
    return [nameOf(o), status, str(c, 'message') ?? '', str(c, 'error') ?? ''];
  },
});
