// Kubernetes' protobuf request bodies (application/vnd.kubernetes.protobuf), decoded to the JSON form:
// kubectl 1.31 and later send them for what its typed client creates (`kubectl create namespace`,
// `create configmap`, `create secret`, `create service`, `create serviceaccount`, `create token`; from 1.32
// `create deployment`, `create job`, `create cronjob`, `create ingress`). The envelope is "k8s\0" and a runtime.Unknown
// {typeMeta, raw}; raw is the kind's generated message. Field numbers are k8s.io/api's generated.proto;
// only the kinds kubectl's generators create among those served here are known. Pure.
import { badRequest, unsupportedMedia } from './errors.js';

type FieldType = 'string' | 'bytes' | 'int' | 'bool' | 'time' | 'intstr' | 'mapss' | 'mapsb' | 'mapsq' | { readonly msg: string } | { readonly inline: string };
interface Field {
  readonly name: string;
  readonly type: FieldType;
  readonly repeated?: boolean;
  /** A pointer field in Go: written only when set, so a zero read is kept (gracePeriodSeconds: 0). */
  readonly ptr?: boolean;
}
type Schema = Readonly<Record<number, Field>>;

const f = (name: string, type: FieldType, repeated = false, ptr = false): Field => ({ name, type, repeated, ptr });

const SCHEMAS: Readonly<Record<string, Schema>> = {
  ObjectMeta: {
    1: f('name', 'string'),
    2: f('generateName', 'string'),
    3: f('namespace', 'string'),
    5: f('uid', 'string'),
    6: f('resourceVersion', 'string'),
    7: f('generation', 'int'),
    8: f('creationTimestamp', 'time'),
    9: f('deletionTimestamp', 'time'),
    10: f('deletionGracePeriodSeconds', 'int', false, true),
    11: f('labels', 'mapss'),
    12: f('annotations', 'mapss'),
    13: f('ownerReferences', { msg: 'OwnerReference' }, true),
    14: f('finalizers', 'string', true),
  },
  OwnerReference: { 5: f('apiVersion', 'string'), 1: f('kind', 'string'), 3: f('name', 'string'), 4: f('uid', 'string'), 6: f('controller', 'bool'), 7: f('blockOwnerDeletion', 'bool') },
  Namespace: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'NamespaceSpec' }) },
  NamespaceSpec: { 1: f('finalizers', 'string', true) },
  ConfigMap: { 1: f('metadata', { msg: 'ObjectMeta' }), 4: f('immutable', 'bool'), 2: f('data', 'mapss'), 3: f('binaryData', 'mapsb') },
  Secret: { 1: f('metadata', { msg: 'ObjectMeta' }), 5: f('immutable', 'bool'), 2: f('data', 'mapsb'), 4: f('stringData', 'mapss'), 3: f('type', 'string') },
  Service: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'ServiceSpec' }) },
  ServiceSpec: {
    1: f('ports', { msg: 'ServicePort' }, true),
    2: f('selector', 'mapss'),
    3: f('clusterIP', 'string'),
    18: f('clusterIPs', 'string', true),
    4: f('type', 'string'),
    5: f('externalIPs', 'string', true),
    7: f('sessionAffinity', 'string'),
    8: f('loadBalancerIP', 'string'),
    9: f('loadBalancerSourceRanges', 'string', true),
    10: f('externalName', 'string'),
    11: f('externalTrafficPolicy', 'string'),
    12: f('healthCheckNodePort', 'int'),
    13: f('publishNotReadyAddresses', 'bool'),
    19: f('ipFamilies', 'string', true),
    17: f('ipFamilyPolicy', 'string'),
    20: f('allocateLoadBalancerNodePorts', 'bool'),
    21: f('loadBalancerClass', 'string'),
    22: f('internalTrafficPolicy', 'string'),
    23: f('trafficDistribution', 'string'),
  },
  ServicePort: { 1: f('name', 'string'), 2: f('protocol', 'string'), 6: f('appProtocol', 'string'), 3: f('port', 'int'), 4: f('targetPort', 'intstr'), 5: f('nodePort', 'int') },
  DeleteOptions: { 1: f('gracePeriodSeconds', 'int', false, true), 2: f('preconditions', { msg: 'Preconditions' }), 3: f('orphanDependents', 'bool', false, true), 4: f('propagationPolicy', 'string'), 5: f('dryRun', 'string', true) },
  Preconditions: { 1: f('uid', 'string'), 2: f('resourceVersion', 'string') },
  // rbac.authorization.k8s.io/v1 (`kubectl create role/clusterrole/rolebinding/clusterrolebinding`).
  Role: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('rules', { msg: 'PolicyRule' }, true) },
  ClusterRole: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('rules', { msg: 'PolicyRule' }, true), 3: f('aggregationRule', { msg: 'AggregationRule' }) },
  PolicyRule: { 1: f('verbs', 'string', true), 2: f('apiGroups', 'string', true), 3: f('resources', 'string', true), 4: f('resourceNames', 'string', true), 5: f('nonResourceURLs', 'string', true) },
  AggregationRule: { 1: f('clusterRoleSelectors', { msg: 'LabelSelector' }, true) },
  LabelSelector: { 1: f('matchLabels', 'mapss'), 2: f('matchExpressions', { msg: 'LabelSelectorRequirement' }, true) },
  LabelSelectorRequirement: { 1: f('key', 'string'), 2: f('operator', 'string'), 3: f('values', 'string', true) },
  RoleBinding: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('subjects', { msg: 'Subject' }, true), 3: f('roleRef', { msg: 'RoleRef' }) },
  ClusterRoleBinding: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('subjects', { msg: 'Subject' }, true), 3: f('roleRef', { msg: 'RoleRef' }) },
  RoleRef: { 1: f('apiGroup', 'string'), 2: f('kind', 'string'), 3: f('name', 'string') },
  Subject: { 1: f('kind', 'string'), 2: f('apiGroup', 'string'), 3: f('name', 'string'), 4: f('namespace', 'string') },
  // authorization.k8s.io/v1 (`kubectl auth can-i`).
  SelfSubjectAccessReview: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'SelfSubjectAccessReviewSpec' }) },
  SelfSubjectAccessReviewSpec: { 1: f('resourceAttributes', { msg: 'ResourceAttributes' }), 2: f('nonResourceAttributes', { msg: 'NonResourceAttributes' }) },
  SubjectAccessReview: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'SubjectAccessReviewSpec' }) },
  SubjectAccessReviewSpec: {
    1: f('resourceAttributes', { msg: 'ResourceAttributes' }),
    2: f('nonResourceAttributes', { msg: 'NonResourceAttributes' }),
    3: f('user', 'string'),
    4: f('groups', 'string', true),
    6: f('uid', 'string'),
  },
  ResourceAttributes: { 1: f('namespace', 'string'), 2: f('verb', 'string'), 3: f('group', 'string'), 4: f('version', 'string'), 5: f('resource', 'string'), 6: f('subresource', 'string'), 7: f('name', 'string') },
  NonResourceAttributes: { 1: f('path', 'string'), 2: f('verb', 'string') },
  LocalSubjectAccessReview: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'SubjectAccessReviewSpec' }) },
  SelfSubjectRulesReview: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'SelfSubjectRulesReviewSpec' }) },
  SelfSubjectRulesReviewSpec: { 1: f('namespace', 'string') },
  ResourceQuota: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'ResourceQuotaSpec' }) },
  ResourceQuotaSpec: { 1: f('hard', 'mapsq'), 2: f('scopes', 'string', true) },
  LimitRange: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'LimitRangeSpec' }) },
  LimitRangeSpec: { 1: f('limits', { msg: 'LimitRangeItem' }, true) },
  LimitRangeItem: { 1: f('type', 'string'), 2: f('max', 'mapsq'), 3: f('min', 'mapsq'), 4: f('default', 'mapsq'), 5: f('defaultRequest', 'mapsq'), 6: f('maxLimitRequestRatio', 'mapsq') },
  Quantity: { 1: f('string', 'string') },
  ServiceAccount: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('secrets', { msg: 'ObjectReference' }, true), 3: f('imagePullSecrets', { msg: 'LocalObjectReference' }, true), 4: f('automountServiceAccountToken', 'bool', false, true) },
  ObjectReference: { 1: f('kind', 'string'), 2: f('namespace', 'string'), 3: f('name', 'string'), 4: f('uid', 'string'), 5: f('apiVersion', 'string'), 6: f('resourceVersion', 'string'), 7: f('fieldPath', 'string') },
  LocalObjectReference: { 1: f('name', 'string') },
  // authentication.k8s.io/v1 (`kubectl create token`, `kubectl auth whoami`).
  TokenRequest: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'TokenRequestSpec' }) },
  TokenRequestSpec: { 1: f('audiences', 'string', true), 4: f('expirationSeconds', 'int', false, true), 3: f('boundObjectRef', { msg: 'BoundObjectReference' }) },
  BoundObjectReference: { 1: f('kind', 'string'), 2: f('apiVersion', 'string'), 3: f('name', 'string'), 4: f('uid', 'string') },
  TokenReview: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'TokenReviewSpec' }) },
  TokenReviewSpec: { 1: f('token', 'string'), 2: f('audiences', 'string', true) },
  SelfSubjectReview: { 1: f('metadata', { msg: 'ObjectMeta' }) },
  // Workloads (`kubectl create deployment|job|cronjob|ingress`, which kubectl 1.32 and later send as protobuf):
  // the pod template's fields that kubectl's generators and common manifests set.
  PodTemplateSpec: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'PodSpec' }) },
  PodSpec: {
    2: f('containers', { msg: 'Container' }, true),
    20: f('initContainers', { msg: 'Container' }, true),
    3: f('restartPolicy', 'string'),
    4: f('terminationGracePeriodSeconds', 'int', false, true),
    5: f('activeDeadlineSeconds', 'int', false, true),
    6: f('dnsPolicy', 'string'),
    7: f('nodeSelector', 'mapss'),
    8: f('serviceAccountName', 'string'),
    9: f('serviceAccount', 'string'),
    21: f('automountServiceAccountToken', 'bool', false, true),
    10: f('nodeName', 'string'),
    11: f('hostNetwork', 'bool'),
    12: f('hostPID', 'bool'),
    13: f('hostIPC', 'bool'),
    15: f('imagePullSecrets', { msg: 'LocalObjectReference' }, true),
    16: f('hostname', 'string'),
    17: f('subdomain', 'string'),
    19: f('schedulerName', 'string'),
    22: f('tolerations', { msg: 'Toleration' }, true),
    24: f('priorityClassName', 'string'),
    30: f('enableServiceLinks', 'bool', false, true),
  },
  Container: {
    1: f('name', 'string'),
    2: f('image', 'string'),
    3: f('command', 'string', true),
    4: f('args', 'string', true),
    5: f('workingDir', 'string'),
    6: f('ports', { msg: 'ContainerPort' }, true),
    7: f('env', { msg: 'EnvVar' }, true),
    8: f('resources', { msg: 'ResourceRequirements' }),
    9: f('volumeMounts', { msg: 'VolumeMount' }, true),
    13: f('terminationMessagePath', 'string'),
    20: f('terminationMessagePolicy', 'string'),
    14: f('imagePullPolicy', 'string'),
    16: f('stdin', 'bool'),
    17: f('stdinOnce', 'bool'),
    18: f('tty', 'bool'),
  },
  ContainerPort: { 1: f('name', 'string'), 2: f('hostPort', 'int'), 3: f('containerPort', 'int'), 4: f('protocol', 'string'), 5: f('hostIP', 'string') },
  EnvVar: { 1: f('name', 'string'), 2: f('value', 'string') },
  ResourceRequirements: { 1: f('limits', 'mapsq'), 2: f('requests', 'mapsq') },
  VolumeMount: { 1: f('name', 'string'), 2: f('readOnly', 'bool'), 3: f('mountPath', 'string'), 4: f('subPath', 'string') },
  Toleration: { 1: f('key', 'string'), 2: f('operator', 'string'), 3: f('value', 'string'), 4: f('effect', 'string'), 5: f('tolerationSeconds', 'int', false, true) },
  Deployment: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'DeploymentSpec' }) },
  DeploymentSpec: {
    1: f('replicas', 'int', false, true),
    2: f('selector', { msg: 'LabelSelector' }),
    3: f('template', { msg: 'PodTemplateSpec' }),
    4: f('strategy', { msg: 'DeploymentStrategy' }),
    5: f('minReadySeconds', 'int'),
    6: f('revisionHistoryLimit', 'int', false, true),
    7: f('paused', 'bool'),
    9: f('progressDeadlineSeconds', 'int', false, true),
  },
  DeploymentStrategy: { 1: f('type', 'string'), 2: f('rollingUpdate', { msg: 'RollingUpdateDeployment' }) },
  RollingUpdateDeployment: { 1: f('maxUnavailable', 'intstr'), 2: f('maxSurge', 'intstr') },
  Job: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'JobSpec' }) },
  JobSpec: {
    1: f('parallelism', 'int', false, true),
    2: f('completions', 'int', false, true),
    3: f('activeDeadlineSeconds', 'int', false, true),
    7: f('backoffLimit', 'int', false, true),
    4: f('selector', { msg: 'LabelSelector' }),
    5: f('manualSelector', 'bool', false, true),
    6: f('template', { msg: 'PodTemplateSpec' }),
    8: f('ttlSecondsAfterFinished', 'int', false, true),
    9: f('completionMode', 'string'),
    10: f('suspend', 'bool', false, true),
  },
  CronJob: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'CronJobSpec' }) },
  CronJobSpec: {
    1: f('schedule', 'string'),
    8: f('timeZone', 'string'),
    2: f('startingDeadlineSeconds', 'int', false, true),
    3: f('concurrencyPolicy', 'string'),
    4: f('suspend', 'bool', false, true),
    5: f('jobTemplate', { msg: 'JobTemplateSpec' }),
    6: f('successfulJobsHistoryLimit', 'int', false, true),
    7: f('failedJobsHistoryLimit', 'int', false, true),
  },
  JobTemplateSpec: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'JobSpec' }) },
  Ingress: { 1: f('metadata', { msg: 'ObjectMeta' }), 2: f('spec', { msg: 'IngressSpec' }) },
  IngressSpec: { 4: f('ingressClassName', 'string'), 1: f('defaultBackend', { msg: 'IngressBackend' }), 2: f('tls', { msg: 'IngressTLS' }, true), 3: f('rules', { msg: 'IngressRule' }, true) },
  IngressBackend: { 4: f('service', { msg: 'IngressServiceBackend' }) },
  IngressServiceBackend: { 1: f('name', 'string'), 2: f('port', { msg: 'ServiceBackendPort' }) },
  ServiceBackendPort: { 1: f('name', 'string'), 2: f('number', 'int') },
  // IngressRuleValue is embedded in Go: its `http` is a field of the rule itself in JSON.
  IngressRule: { 1: f('host', 'string'), 2: f('ingressRuleValue', { inline: 'IngressRuleValue' }) },
  IngressRuleValue: { 1: f('http', { msg: 'HTTPIngressRuleValue' }) },
  HTTPIngressRuleValue: { 1: f('paths', { msg: 'HTTPIngressPath' }, true) },
  HTTPIngressPath: { 1: f('path', 'string'), 3: f('pathType', 'string'), 2: f('backend', { msg: 'IngressBackend' }) },
  IngressTLS: { 1: f('hosts', 'string', true), 2: f('secretName', 'string') },
  Time: { 1: f('seconds', 'int'), 2: f('nanos', 'int') },
  IntOrString: { 1: f('type', 'int'), 2: f('intVal', 'int'), 3: f('strVal', 'string') },
  Unknown: { 1: f('typeMeta', { msg: 'TypeMeta' }), 2: f('raw', 'bytes'), 3: f('contentEncoding', 'string'), 4: f('contentType', 'string') },
  TypeMeta: { 1: f('apiVersion', 'string'), 2: f('kind', 'string') },
};

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

class Reader {
  pos = 0;
  constructor(private readonly b: Buffer) {}
  get done(): boolean {
    return this.pos >= this.b.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.b.length) throw badRequest('protobuf: truncated varint');
      const byte = this.b[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
    throw badRequest('protobuf: varint too long');
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    if (this.pos + n > this.b.length) throw badRequest('protobuf: truncated field');
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw badRequest(`protobuf: unsupported wire type ${wire}`);
  }
}

/** int64 as Go writes it (two's complement in a varint) to a JS number. */
const toInt = (v: bigint): number => Number(BigInt.asIntN(64, v));

/** A map's entries: string values, bytes (as base64, a Secret's data), or resource.Quantity messages. */
function decodeMap(entries: Buffer[], value: 'mapss' | 'mapsb' | 'mapsq'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const r = new Reader(e);
    let k = '';
    let v = '';
    while (!r.done) {
      const tag = Number(r.varint());
      const [no, wire] = [tag >> 3, tag & 7];
      if (wire !== 2) {
        r.skip(wire);
        continue;
      }
      const b = r.bytes();
      if (no === 1) k = b.toString('utf8');
      else if (no === 2) v = value === 'mapsb' ? b.toString('base64') : value === 'mapsq' ? String(decodeMessage(b, 'Quantity').string ?? '') : b.toString('utf8');
    }
    out[k] = v;
  }
  return out;
}

/** Decodes one message; zero values are dropped, as the JSON form omits them. */
export function decodeMessage(buf: Buffer, schemaName: string): Record<string, unknown> {
  const schema = SCHEMAS[schemaName];
  if (!schema) throw unsupportedMedia(`application/vnd.kubernetes.protobuf (${schemaName})`);
  const r = new Reader(buf);
  const raw = new Map<number, { wire: number; values: (bigint | Buffer)[] }>();
  while (!r.done) {
    const tag = Number(r.varint());
    const [no, wire] = [tag >> 3, tag & 7];
    if (!schema[no]) {
      r.skip(wire);
      continue;
    }
    const slot = raw.get(no) ?? { wire, values: [] };
    slot.values.push(wire === 0 ? r.varint() : wire === 2 ? r.bytes() : (r.skip(wire), 0n));
    raw.set(no, slot);
  }
  const out: Record<string, unknown> = {};
  for (const [no, { values }] of raw) {
    const fd = schema[no]!;
    const t = fd.type;
    if (t === 'mapss' || t === 'mapsb' || t === 'mapsq') {
      const m = decodeMap(values as Buffer[], t);
      if (Object.keys(m).length) out[fd.name] = m;
      continue;
    }
    const one = (v: bigint | Buffer): unknown => {
      if (t === 'string') return (v as Buffer).toString('utf8');
      if (t === 'bytes') return Buffer.from(v as Buffer);
      if (t === 'int') return toInt(v as bigint);
      if (t === 'bool') return v !== 0n;
      if (t === 'time') {
        const m = decodeMessage(v as Buffer, 'Time');
        const s = typeof m.seconds === 'number' ? m.seconds : 0;
        return s === 0 ? undefined : new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      }
      if (t === 'intstr') {
        const m = decodeMessage(v as Buffer, 'IntOrString');
        return m.type === 1 ? (m.strVal ?? '') : (m.intVal ?? 0);
      }
      return decodeMessage(v as Buffer, 'msg' in t ? t.msg : t.inline);
    };
    if (typeof t === 'object' && 'inline' in t) {
      Object.assign(out, one(values[values.length - 1]!));
      continue;
    }
    if (fd.repeated) {
      const arr = values.map(one);
      if (arr.length) out[fd.name] = arr;
    } else {
      const v = one(values[values.length - 1]!);
      if (v !== undefined && (fd.ptr || (v !== '' && v !== 0 && v !== false))) out[fd.name] = v;
    }
  }
  return out;
}

/** A protobuf request body ("k8s\0" + runtime.Unknown) as the JSON object it stands for. */
export function decodeKubernetesProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw badRequest('protobuf: the body does not start with the Kubernetes protobuf prefix');
  const unknown = decodeMessage(body.subarray(4), 'Unknown');
  const tm = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  if (!tm.kind) throw badRequest('protobuf: the envelope names no kind');
  const raw = unknown.raw instanceof Buffer ? unknown.raw : Buffer.alloc(0);
  return { apiVersion: tm.apiVersion ?? 'v1', kind: tm.kind, ...decodeMessage(raw, tm.kind) };
}
