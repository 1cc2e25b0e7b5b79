// The kinds this first slice of the apiserver serves, each with what the generic store needs: where it
// lives in etcd, its discovery entry, its supported field selectors, the defaults and checks Kubernetes
// applies on create (the minimum users rely on; apiserver/kinds will replace this file with the full
// set), and its `kubectl get` columns.
import { type FieldError } from '../errors.js';
import { arrOf, isObj, labelsOf, metaOf, nameOf, numOf, objAt, type Obj, strOf } from '../object.js';
import { age, column, GENERIC_TABLE, type TableDef } from '../table.js';

export interface SubresourceDef {
  readonly name: string;
  readonly verbs: readonly string[];
  /** Discovery's kind of the subresource (Binding for pods/binding); the parent's by default. */
  readonly kind?: string;
}

export interface KindDef {
  readonly group: string;
  readonly version: string;
  /** The plural resource name of URLs: `pods`. */
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly verbs: readonly string[];
  readonly subresources: readonly SubresourceDef[];
  /** The etcd key path under --etcd-prefix: `pods` → <prefix>/pods/<ns>/<name>. */
  readonly storage: string;
  /** Names are RFC 1123 subdomains unless this says otherwise. */
  readonly nameRule: 'subdomain' | 'label' | 'dns1035';
  /** Field selector values beyond metadata.name and metadata.namespace. */
  readonly fields?: (o: Obj) => Record<string, string>;
  /** Fills in Kubernetes' defaults on create (and update), in place. */
  readonly defaults?: (o: Obj) => void;
  /** The checks on create and update beyond the name; [] when valid. */
  readonly validate?: (o: Obj) => FieldError[];
  readonly table: TableDef;
  /** Status set on create, when the object has none (pods start Pending). */
  readonly initialStatus?: (o: Obj) => Obj;
}

const STANDARD_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;
const STATUS: SubresourceDef = { name: 'status', verbs: ['get', 'patch', 'update'] };

const none = (s: string | undefined): string => (s === undefined || s === '' ? '<none>' : s);

function setDefault(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null || o[key] === '') o[key] = value;
}

// ---------------------------------------------------------------- pods

function defaultContainer(c: unknown): void {
  if (!isObj(c)) return;
  const image = strOf(c.image) ?? '';
  // The tag is what follows the last ':' after the last '/'; none, or latest, means Always.
  const last = image.slice(image.lastIndexOf('/') + 1);
  const tag = last.includes('@') ? 'digest' : last.includes(':') ? last.slice(last.indexOf(':') + 1) : '';
  setDefault(c, 'imagePullPolicy', tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent');
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  setDefault(c, 'resources', {});
  for (const p of arrOf(c.ports)) if (isObj(p)) setDefault(p, 'protocol', 'TCP');
}

export function defaultPodSpec(spec: Obj): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'securityContext', {});
  for (const c of [...arrOf(spec.containers), ...arrOf(spec.initContainers)]) defaultContainer(c);
}

export function validatePodSpec(spec: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const containers = arrOf(spec.containers);
  if (containers.length === 0) errs.push({ type: 'FieldValueRequired', field: `${path}.containers` });
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const p = `${path}.containers[${i}]`;
    const co = isObj(c) ? c : {};
    const name = strOf(co.name) ?? '';
    if (name === '') errs.push({ type: 'FieldValueRequired', field: `${p}.name` });
    else if (!LABEL.test(name)) errs.push({ type: 'FieldValueInvalid', field: `${p}.name`, value: name, detail: LABEL_MSG });
    else if (names.has(name)) errs.push({ type: 'FieldValueDuplicate', field: `${p}.name`, value: name });
    names.add(name);
    if ((strOf(co.image) ?? '').trim() === '') errs.push({ type: 'FieldValueRequired', field: `${p}.image` });
  });
  const rp = spec.restartPolicy;
  if (rp !== undefined && rp !== 'Always' && rp !== 'OnFailure' && rp !== 'Never') {
    errs.push({ type: 'FieldValueNotSupported', field: `${path}.restartPolicy`, value: rp, detail: 'supported values: "Always", "Never", "OnFailure"' });
  }
  return errs;
}

function podStatusText(o: Obj): string {
  const status = objAt(o, 'status');
  let reason = strOf(status.reason) ?? strOf(status.phase) ?? 'Pending';
  for (const cs of arrOf(status.containerStatuses)) {
    const state = objAt(cs, 'state');
    const w = strOf(objAt(state, 'waiting').reason);
    const t = objAt(state, 'terminated');
    if (w) reason = w;
    else if (strOf(t.reason)) reason = strOf(t.reason)!;
    else if (isObj(state.terminated)) reason = numOf(t.signal) ? `Signal:${numOf(t.signal)}` : `ExitCode:${numOf(t.exitCode) ?? 0}`;
  }
  if (strOf(objAt(o, 'metadata').deletionTimestamp)) reason = 'Terminating';
  return reason;
}

const podTable: TableDef = {
  columns: [
    column('Name', 'string', 'Name must be unique within a namespace.', 0, 'name'),
    column('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    column('Status', 'string', 'The aggregate status of the containers in this pod.'),
    column('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    column('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
    column('IP', 'string', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
    column('Node', 'string', 'NodeName is a request to schedule this pod onto a specific node.', 1),
    column('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1),
    column('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
  ],
  cells: (o, now) => {
    const status = objAt(o, 'status');
    const statuses = arrOf(status.containerStatuses);
    const total = arrOf(objAt(o, 'spec').containers).length;
    const ready = statuses.filter((c) => isObj(c) && c.ready === true).length;
    const restarts = statuses.reduce<number>((n, c) => n + (numOf(objAt(c).restartCount) ?? 0), 0);
    return [nameOf(o), `${ready}/${total}`, podStatusText(o), restarts, age(o, now), none(strOf(status.podIP)), none(strOf(objAt(o, 'spec').nodeName)), none(strOf(status.nominatedNodeName)), '<none>'];
  },
};

// ---------------------------------------------------------------- services

function servicePorts(o: Obj): string {
  const ports = arrOf(objAt(o, 'spec').ports).filter(isObj);
  if (ports.length === 0) return '<none>';
  return ports.map((p) => `${numOf(p.port) ?? ''}${numOf(p.nodePort) ? `:${numOf(p.nodePort)}` : ''}/${strOf(p.protocol) ?? 'TCP'}`).join(',');
}

function selectorText(sel: Obj): string {
  const parts = Object.entries(sel).map(([k, v]) => `${k}=${String(v)}`).sort();
  return parts.length ? parts.join(',') : '<none>';
}

const serviceTable: TableDef = {
  columns: [
    column('Name', 'string', 'Name must be unique within a namespace.', 0, 'name'),
    column('Type', 'string', 'type determines how the Service is exposed.'),
    column('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
    column('External-IP', 'string', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
    column('Port(s)', 'string', 'The list of ports that are exposed by this service.'),
    column('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
    column('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1),
  ],
  cells: (o, now) => {
    const spec = objAt(o, 'spec');
    const type = strOf(spec.type) ?? 'ClusterIP';
    const ext = arrOf(spec.externalIPs).filter((x): x is string => typeof x === 'string');
    const externalIp = type === 'ExternalName' ? (strOf(spec.externalName) ?? '<none>') : ext.length ? ext.join(',') : type === 'LoadBalancer' ? '<pending>' : '<none>';
    return [nameOf(o), type, none(strOf(spec.clusterIP)), externalIp, servicePorts(o), age(o, now), selectorText(objAt(spec, 'selector'))];
  },
};

function defaultService(o: Obj): void {
  const spec = objAt(o, 'spec');
  o.spec = spec;
  setDefault(spec, 'type', 'ClusterIP');
  setDefault(spec, 'sessionAffinity', 'None');
  if (spec.type !== 'ExternalName') {
    setDefault(spec, 'internalTrafficPolicy', 'Cluster');
    setDefault(spec, 'ipFamilyPolicy', 'SingleStack');
    setDefault(spec, 'ipFamilies', ['IPv4']);
  }
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') setDefault(spec, 'externalTrafficPolicy', 'Cluster');
  for (const p of arrOf(spec.ports)) {
    if (!isObj(p)) continue;
    setDefault(p, 'protocol', 'TCP');
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if (!isObj(o.status)) o.status = { loadBalancer: {} };
}

function validateService(o: Obj): FieldError[] {
  const spec = objAt(o, 'spec');
  const errs: FieldError[] = [];
  const type = strOf(spec.type) ?? 'ClusterIP';
  if (!['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'].includes(type)) {
    errs.push({ type: 'FieldValueNotSupported', field: 'spec.type', value: type, detail: 'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"' });
  }
  const ports = arrOf(spec.ports);
  if (type !== 'ExternalName' && ports.length === 0 && spec.clusterIP !== 'None') errs.push({ type: 'FieldValueRequired', field: 'spec.ports' });
  ports.forEach((p, i) => {
    const port = numOf(objAt(p).port);
    if (port === undefined || port < 1 || port > 65535 || !Number.isInteger(port)) {
      errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].port`, value: objAt(p).port ?? 0, detail: 'must be between 1 and 65535, inclusive' });
    }
    if (ports.length > 1 && !strOf(objAt(p).name)) errs.push({ type: 'FieldValueRequired', field: `spec.ports[${i}].name` });
  });
  return errs;
}

// ---------------------------------------------------------------- the others

const NAME_COL = column('Name', 'string', 'Name must be unique within a namespace.', 0, 'name');
const AGE_COL = column('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

const nodeTable: TableDef = {
  columns: [
    NAME_COL,
    column('Status', 'string', 'The status of the node'),
    column('Roles', 'string', 'The roles of the node'),
    AGE_COL,
    column('Version', 'string', 'Kubelet Version reported by the node.'),
    column('Internal-IP', 'string', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
    column('External-IP', 'string', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
    column('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
    column('Kernel-Version', 'string', 'Kernel Version reported by the node from `uname -r` (e.g. 3.16.0-0.bpo.4-amd64).', 1),
    column('Container-Runtime', 'string', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
  ],
  cells: (o, now) => {
    const status = objAt(o, 'status');
    const ready = arrOf(status.conditions).find((c) => objAt(c).type === 'Ready');
    let st = ready === undefined ? 'Unknown' : objAt(ready).status === 'True' ? 'Ready' : objAt(ready).status === 'False' ? 'NotReady' : 'Unknown';
    if (objAt(o, 'spec').unschedulable === true) st += ',SchedulingDisabled';
    const roles = Object.keys(labelsOf(o))
      .filter((k) => k.startsWith('node-role.kubernetes.io/'))
      .map((k) => k.slice('node-role.kubernetes.io/'.length))
      .filter(Boolean)
      .sort();
    const addr = (type: string): string => none(strOf(objAt(arrOf(status.addresses).find((a) => objAt(a).type === type)).address));
    const info = objAt(status, 'nodeInfo');
    return [nameOf(o), st, roles.length ? roles.join(',') : '<none>', age(o, now), strOf(info.kubeletVersion) ?? '', addr('InternalIP'), addr('ExternalIP'), none(strOf(info.osImage)), none(strOf(info.kernelVersion)), none(strOf(info.containerRuntimeVersion))];
  },
};

const namespaceTable: TableDef = {
  columns: [NAME_COL, column('Status', 'string', 'The status of the namespace'), AGE_COL],
  cells: (o, now) => [nameOf(o), strOf(objAt(o, 'status').phase) ?? 'Active', age(o, now)],
};

const rcTable: TableDef = {
  columns: [
    NAME_COL,
    column('Desired', 'integer', 'Replicas is the number of desired replicas.'),
    column('Current', 'integer', 'Replicas is the most recently observed number of replicas.'),
    column('Ready', 'integer', 'The number of ready replicas for this replication controller.'),
    AGE_COL,
    column('Containers', 'string', 'Names of each container in the template.', 1),
    column('Images', 'string', 'Images referenced by each container in the template.', 1),
    column('Selector', 'string', 'Label selector for pods.', 1),
  ],
  cells: (o, now) => {
    const spec = objAt(o, 'spec');
    const status = objAt(o, 'status');
    const cs = arrOf(objAt(spec, 'template', 'spec').containers).map((c) => objAt(c));
    return [nameOf(o), numOf(spec.replicas) ?? 1, numOf(status.replicas) ?? 0, numOf(status.readyReplicas) ?? 0, age(o, now), cs.map((c) => strOf(c.name) ?? '').join(','), cs.map((c) => strOf(c.image) ?? '').join(','), selectorText(objAt(spec, 'selector'))];
  },
};

function defaultRc(o: Obj): void {
  const spec = objAt(o, 'spec');
  o.spec = spec;
  setDefault(spec, 'replicas', 1);
  const tmpl = objAt(spec, 'template');
  const tlabels = objAt(tmpl, 'metadata', 'labels');
  if (Object.keys(objAt(spec, 'selector')).length === 0 && Object.keys(tlabels).length > 0) spec.selector = { ...tlabels };
  const meta = metaOf(o);
  if (Object.keys(objAt(meta, 'labels')).length === 0 && Object.keys(tlabels).length > 0) meta.labels = { ...tlabels };
  if (isObj(spec.template) && isObj(spec.template.spec)) defaultPodSpec(spec.template.spec);
  if (!isObj(o.status)) o.status = { replicas: 0 };
}

function validateRc(o: Obj): FieldError[] {
  const spec = objAt(o, 'spec');
  const errs: FieldError[] = [];
  const r = spec.replicas;
  if (r !== undefined && (typeof r !== 'number' || r < 0 || !Number.isInteger(r))) errs.push({ type: 'FieldValueInvalid', field: 'spec.replicas', value: r, detail: 'must be greater than or equal to 0' });
  const sel = objAt(spec, 'selector');
  if (Object.keys(sel).length === 0) errs.push({ type: 'FieldValueRequired', field: 'spec.selector' });
  if (!isObj(spec.template)) errs.push({ type: 'FieldValueRequired', field: 'spec.template' });
  else {
    const labels = objAt(spec.template, 'metadata', 'labels');
    if (!Object.entries(sel).every(([k, v]) => labels[k] === v)) {
      errs.push({ type: 'FieldValueInvalid', field: 'spec.template.metadata.labels', value: selectorText(labels), detail: '`selector` does not match template `labels`' });
    }
    errs.push(...validatePodSpec(objAt(spec.template, 'spec'), 'spec.template.spec'));
  }
  return errs;
}

const countTable = (extra: { name: string; cell: (o: Obj) => unknown }[]): TableDef => ({
  columns: [NAME_COL, ...extra.map((e) => column(e.name, 'string', e.name)), AGE_COL],
  cells: (o, now) => [nameOf(o), ...extra.map((e) => e.cell(o)), age(o, now)],
});

const endpointsText = (o: Obj): string => {
  const out: string[] = [];
  for (const s of arrOf(o.subsets)) {
    const ports = arrOf(objAt(s).ports).map((p) => numOf(objAt(p).port));
    for (const a of arrOf(objAt(s).addresses)) {
      const ip = strOf(objAt(a).ip) ?? '';
      if (ports.length === 0) out.push(ip);
      for (const p of ports) out.push(`${ip}:${p ?? ''}`);
    }
  }
  if (out.length === 0) return '<none>';
  return out.length > 3 ? `${out.slice(0, 3).join(',')} + ${out.length - 3} more...` : out.join(',');
};

// ---------------------------------------------------------------- the table of kinds

const core = (d: Omit<KindDef, 'group' | 'version' | 'verbs' | 'nameRule' | 'categories'> & Partial<Pick<KindDef, 'verbs' | 'nameRule' | 'categories'>>): KindDef => ({
  group: '',
  version: 'v1',
  verbs: STANDARD_VERBS,
  nameRule: 'subdomain',
  categories: [],
  ...d,
});

export const BUILTIN_KINDS: readonly KindDef[] = [
  core({
    resource: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [{ name: 'finalize', verbs: ['update'] }, STATUS],
    storage: 'namespaces',
    nameRule: 'label',
    fields: (o) => ({ 'status.phase': strOf(objAt(o, 'status').phase) ?? '' }),
    defaults: (o) => {
      const meta = metaOf(o);
      meta.labels = { ...objAt(meta, 'labels'), 'kubernetes.io/metadata.name': nameOf(o) };
      if (!isObj(o.spec)) o.spec = { finalizers: ['kubernetes'] };
    },
    initialStatus: () => ({ phase: 'Active' }),
    table: namespaceTable,
  }),
  core({
    resource: 'nodes',
    singular: 'node',
    kind: 'Node',
    namespaced: false,
    shortNames: ['no'],
    subresources: [STATUS],
    storage: 'minions',
    fields: (o) => ({ 'spec.unschedulable': String(objAt(o, 'spec').unschedulable === true) }),
    table: nodeTable,
  }),
  core({
    resource: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    subresources: [{ name: 'binding', verbs: ['create'], kind: 'Binding' }, STATUS],
    storage: 'pods',
    fields: (o) => {
      const spec = objAt(o, 'spec');
      const status = objAt(o, 'status');
      return {
        'spec.nodeName': strOf(spec.nodeName) ?? '',
        'spec.restartPolicy': strOf(spec.restartPolicy) ?? '',
        'spec.schedulerName': strOf(spec.schedulerName) ?? '',
        'spec.serviceAccountName': strOf(spec.serviceAccountName) ?? '',
        'status.phase': strOf(status.phase) ?? '',
        'status.podIP': strOf(status.podIP) ?? '',
        'status.nominatedNodeName': strOf(status.nominatedNodeName) ?? '',
      };
    },
    defaults: (o) => {
      o.spec = objAt(o, 'spec');
      defaultPodSpec(o.spec as Obj);
    },
    validate: (o) => validatePodSpec(objAt(o, 'spec'), 'spec'),
    initialStatus: () => ({ phase: 'Pending', qosClass: 'BestEffort' }),
    table: podTable,
  }),
  core({
    resource: 'services',
    singular: 'service',
    kind: 'Service',
    namespaced: true,
    shortNames: ['svc'],
    categories: ['all'],
    subresources: [STATUS],
    storage: 'services/specs',
    nameRule: 'dns1035',
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    defaults: defaultService,
    validate: validateService,
    table: serviceTable,
  }),
  core({
    resource: 'endpoints',
    singular: 'endpoints',
    kind: 'Endpoints',
    namespaced: true,
    shortNames: ['ep'],
    subresources: [],
    storage: 'services/endpoints',
    table: countTable([{ name: 'Endpoints', cell: endpointsText }]),
  }),
  core({
    resource: 'replicationcontrollers',
    singular: 'replicationcontroller',
    kind: 'ReplicationController',
    namespaced: true,
    shortNames: ['rc'],
    categories: ['all'],
    subresources: [STATUS],
    storage: 'controllers',
    fields: (o) => ({ 'status.replicas': String(numOf(objAt(o, 'status').replicas) ?? 0) }),
    defaults: defaultRc,
    validate: validateRc,
    table: rcTable,
  }),
  core({
    resource: 'configmaps',
    singular: 'configmap',
    kind: 'ConfigMap',
    namespaced: true,
    shortNames: ['cm'],
    subresources: [],
    storage: 'configmaps',
    table: countTable([{ name: 'Data', cell: (o) => Object.keys(objAt(o, 'data')).length + Object.keys(objAt(o, 'binaryData')).length }]),
  }),
  core({
    resource: 'secrets',
    singular: 'secret',
    kind: 'Secret',
    namespaced: true,
    shortNames: [],
    subresources: [],
    storage: 'secrets',
    fields: (o) => ({ type: strOf(o.type) ?? 'Opaque' }),
    defaults: (o) => setDefault(o, 'type', 'Opaque'),
    table: countTable([
      { name: 'Type', cell: (o) => strOf(o.type) ?? 'Opaque' },
      { name: 'Data', cell: (o) => Object.keys(objAt(o, 'data')).length },
    ]),
  }),
  core({
    resource: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
    subresources: [],
    storage: 'events',
    fields: (o) => {
      const io = objAt(o, 'involvedObject');
      const f: Record<string, string> = {};
      for (const k of ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']) f[`involvedObject.${k}`] = strOf(io[k]) ?? '';
      f.reason = strOf(o.reason) ?? '';
      f.type = strOf(o.type) ?? '';
      f.source = strOf(objAt(o, 'source').component) ?? '';
      f.reportingComponent = strOf(o.reportingComponent) ?? '';
      return f;
    },
    table: GENERIC_TABLE,
  }),
];

/** The field selectors a kind accepts, in the order the apiserver lists them. */
export function fieldsOf(def: KindDef, o: Obj): Record<string, string> {
  const meta = objAt(o, 'metadata');
  return { 'metadata.name': strOf(meta.name) ?? '', ...(def.namespaced && { 'metadata.namespace': strOf(meta.namespace) ?? '' }), ...def.fields?.(o) };
}

export function supportedFields(def: KindDef): string[] {
  return Object.keys(fieldsOf(def, {}));
}

export const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_MSG = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/** The name check of a kind: undefined when the name is valid, else the field error on metadata.name. */
export function checkName(def: KindDef, name: string): FieldError | undefined {
  const [re, msg, max] = def.nameRule === 'label' ? [LABEL, LABEL_MSG, 63] : def.nameRule === 'dns1035' ? [DNS1035, DNS1035_MSG, 63] : [SUBDOMAIN, SUBDOMAIN_MSG, 253];
  if (name.length > max) return { type: 'FieldValueInvalid', field: 'metadata.name', value: name, detail: `must be no more than ${max} characters` };
  return re.test(name) ? undefined : { type: 'FieldValueInvalid', field: 'metadata.name', value: name, detail: msg };
}
