// The per-kind strategies (apiserver/kinds): defaults, validation with kube-apiserver's messages, the
// status/generation rules of create and update, and the 422 Status text, kind by kind.
import { describe, expect, it } from 'vitest';
import {
  createKindRegistry,
  cronJobStrategy,
  daemonSetStrategy,
  defaultPullPolicy,
  deploymentStrategy,
  endpointsStrategy,
  eventStrategy,
  type FieldError,
  ingressStrategy,
  invalidMessage,
  invalidStatus,
  isDns1123Subdomain,
  jobStrategy,
  type KubeObject,
  leaseStrategy,
  namespaceStrategy,
  networkPolicyStrategy,
  nodeStrategy,
  podStrategy,
  replicaSetStrategy,
  replicationControllerStrategy,
  secretStrategy,
  configMapStrategy,
  serviceAccountStrategy,
  serviceStrategy,
  storageKey,
  type Strategy,
  bindPod,
  cronScheduleError,
} from '../apiserver/kinds/index.js';

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** Defaults then validation, as the server runs them on a create body. */
function check(s: Strategy, o: KubeObject): string[] {
  s.defaults(o);
  return s.validate(o).map((e) => `${e.field}: ${e.type}${e.detail ? ` (${e.detail})` : ''}`);
}
const messages = (s: Strategy, o: KubeObject): string => {
  s.defaults(o);
  return invalidMessage(s.def.group, s.def.kind, String((o.metadata as { name?: string }).name ?? ''), s.validate(o));
};

const pod = (over: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'nginx:1.25', ports: [{ containerPort: 80 }] }], ...over },
});
const template = (labels: Record<string, string> = { app: 'db' }, podOver: Record<string, unknown> = {}) => ({
  metadata: { labels },
  spec: { containers: [{ name: 'db', image: 'redis' }], ...podOver },
});

describe('names and the 422 message', () => {
  it('renders kube-apiserver messages for one and for several errors', () => {
    const one: FieldError[] = [{ type: 'FieldValueRequired', field: 'spec.containers[0].image', detail: '' }];
    expect(invalidMessage('', 'Pod', 'x', one)).toBe('Pod "x" is invalid: spec.containers[0].image: Required value');
    const two: FieldError[] = [
      ...one,
      { type: 'FieldValueNotSupported', field: 'spec.restartPolicy', value: 'Sometimes', detail: 'supported values: "Always", "OnFailure", "Never"' },
      ...one,
    ];
    expect(invalidMessage('apps', 'Deployment', 'd', two)).toBe(
      'Deployment.apps "d" is invalid: [spec.containers[0].image: Required value, spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"]',
    );
    const st = invalidStatus('apps', 'Deployment', 'd', one);
    expect(st).toMatchObject({ kind: 'Status', code: 422, reason: 'Invalid', status: 'Failure', details: { name: 'd', group: 'apps', kind: 'Deployment' } });
    expect(st.details.causes).toEqual([{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' }]);
    expect(invalidStatus('', 'Pod', 'x', one).details).not.toHaveProperty('group');
  });

  it('checks names as Kubernetes does', () => {
    expect(isDns1123Subdomain('a.b-c')).toEqual([]);
    expect(isDns1123Subdomain('Bad_Name')).toEqual([SUBDOMAIN_MSG]);
    expect(isDns1123Subdomain('a'.repeat(254))).toEqual(['must be no more than 253 characters']);
    expect(messages(podStrategy, { ...pod(), metadata: { name: 'Bad_Name', namespace: 'default' } })).toBe(`Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ${SUBDOMAIN_MSG}`);
    expect(check(podStrategy, { ...pod(), metadata: { namespace: 'default' } })).toEqual(['metadata.name: FieldValueRequired (name or generateName is required)']);
    expect(check(podStrategy, { ...pod(), metadata: { generateName: 'web-', namespace: 'default' } })).toEqual(['metadata.name: FieldValueRequired (name or generateName is required)']);
    expect(check(podStrategy, { ...pod(), metadata: { name: 'web', namespace: 'default', generateName: 'Web-' } })[0]).toMatch(/^metadata.generateName: FieldValueInvalid/);
    // Services are DNS-1035 labels: no leading digit, no dots.
    expect(messages(serviceStrategy, { metadata: { name: '1svc', namespace: 'default' }, spec: { ports: [{ port: 80 }] } })).toBe(
      `Service "1svc" is invalid: metadata.name: Invalid value: "1svc": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    );
    expect(check(namespaceStrategy, { metadata: { name: 'a.b' } })[0]).toMatch(/^metadata.name: FieldValueInvalid \(a lowercase RFC 1123 label must consist/);
  });

  it('checks labels, annotations, namespaces, owner references and finalizers', () => {
    const o = pod();
    o.metadata = {
      name: 'web',
      namespace: 'Default',
      labels: { 'bad key!': 'v', ok: 'not ok!' },
      annotations: { 'a/b/c': 'x' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'ReplicationController', name: 'rc' }],
      finalizers: ['mine'],
    };
    const fields = check(podStrategy, o).map((e) => e.split(':')[0]);
    expect(fields).toEqual(['metadata.namespace', 'metadata.labels', 'metadata.labels', 'metadata.annotations', 'metadata.ownerReferences[0].uid', 'metadata.finalizers']);
    const errs = podStrategy.validate(o);
    expect(errs.find((e) => e.field === 'metadata.labels' && e.value === 'not ok!')?.detail).toBe(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    );
    expect(check(nodeStrategy, { metadata: { name: 'n1', namespace: 'default' } })).toEqual(['metadata.namespace: FieldValueForbidden (not allowed on this type)']);
  });
});

describe('the request namespace', () => {
  it('fills, clears or refuses the object namespace as kube-apiserver does', async () => {
    const { matchRequestNamespace, NAMESPACE_MISMATCH } = await import('../apiserver/kinds/index.js');
    const p = pod();
    delete (p.metadata as Record<string, unknown>).namespace;
    expect(matchRequestNamespace(podStrategy.def, p, 'team')).toBeUndefined();
    expect(p.metadata).toMatchObject({ namespace: 'team' });
    expect(matchRequestNamespace(podStrategy.def, p, 'other')).toBe(NAMESPACE_MISMATCH);
    const n: KubeObject = { metadata: { name: 'n1', namespace: 'default' } };
    expect(matchRequestNamespace(nodeStrategy.def, n, '')).toBeUndefined();
    expect(n.metadata).toEqual({ name: 'n1' });
  });
});

describe('pods', () => {
  it('fills in the defaults Kubernetes fills in', () => {
    const o = pod({ volumes: [{ name: 'v' }] });
    const spec = o.spec as Record<string, unknown>;
    (spec.containers as unknown[]).push({ name: 'side', image: 'busybox', resources: { limits: { cpu: '1', memory: '1Gi' } }, livenessProbe: { httpGet: { port: 80 } } });
    podStrategy.defaults(o);
    expect(spec).toMatchObject({
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      terminationGracePeriodSeconds: 30,
      schedulerName: 'default-scheduler',
      securityContext: {},
      enableServiceLinks: true,
      volumes: [{ name: 'v', emptyDir: {} }],
    });
    expect((spec.containers as unknown[])[0]).toEqual({
      name: 'c',
      image: 'nginx:1.25',
      imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      ports: [{ containerPort: 80, protocol: 'TCP' }],
    });
    expect((spec.containers as unknown[])[1]).toMatchObject({
      imagePullPolicy: 'Always',
      resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } },
      livenessProbe: { httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
    });
    expect(podStrategy.validate(o)).toEqual([]);
  });

  it('defaults imagePullPolicy from the tag', () => {
    expect(defaultPullPolicy('nginx')).toBe('Always');
    expect(defaultPullPolicy('nginx:latest')).toBe('Always');
    expect(defaultPullPolicy('registry:5000/nginx')).toBe('Always');
    expect(defaultPullPolicy('registry:5000/nginx:1.2')).toBe('IfNotPresent');
    expect(defaultPullPolicy('nginx@sha256:abcd')).toBe('IfNotPresent');
    expect(defaultPullPolicy('nginx:latest@sha256:abcd')).toBe('Always');
  });

  it('refuses a missing image, bad values and wrong types', () => {
    const o = pod();
    delete ((o.spec as { containers: Record<string, unknown>[] }).containers[0] as Record<string, unknown>).image;
    expect(messages(podStrategy, o)).toBe('Pod "web" is invalid: spec.containers[0].image: Required value');
    expect(messages(podStrategy, pod({ restartPolicy: 'Sometimes' }))).toBe(
      'Pod "web" is invalid: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    );
    expect(messages(podStrategy, pod({ containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 70000, protocol: 'ICMP' }] }] }))).toBe(
      'Pod "web" is invalid: [spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"]',
    );
    expect(check(podStrategy, pod({ containers: [] }))).toEqual(['spec.containers: FieldValueRequired']);
    expect(check(podStrategy, pod({ containers: [{ name: 'a', image: 'x' }, { name: 'a', image: 'y', volumeMounts: [{ name: 'nope', mountPath: '/x' }] }] }))).toEqual([
      'spec.containers[1].name: FieldValueDuplicate',
      'spec.containers[1].volumeMounts[0].name: FieldValueNotFound',
    ]);
    expect(check(podStrategy, pod({ terminationGracePeriodSeconds: 'soon' }))).toEqual(['spec.terminationGracePeriodSeconds: FieldValueTypeInvalid (must be an integer)']);
    expect(check(podStrategy, pod({ nodeName: 'Node_1' }))[0]).toMatch(/^spec.nodeName: FieldValueInvalid/);
    expect(check(podStrategy, pod({ containers: [{ name: 'c', image: 'x', resources: { limits: { cpu: '500m', memory: 'lots' }, requests: { cpu: '1' } } }] }))).toEqual([
      "spec.containers[0].resources.limits[memory]: FieldValueTypeInvalid (quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$')",
      // The request defaults to the limit, so the bad quantity is reported there too.
      "spec.containers[0].resources.requests[memory]: FieldValueTypeInvalid (quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$')",
      'spec.containers[0].resources.requests: FieldValueInvalid (must be less than or equal to cpu limit of 500m)',
    ]);
    expect(check(podStrategy, pod({ activeDeadlineSeconds: 0 }))).toEqual(['spec.activeDeadlineSeconds: FieldValueInvalid (must be between 1 and 2147483647, inclusive)']);
  });

  it('starts Pending with its QoS class; keeps status on update; status updates touch only status', () => {
    const o = pod();
    podStrategy.defaults(o);
    o.status = { phase: 'Running' };
    (o.metadata as Record<string, unknown>).deletionTimestamp = '2024-01-01T00:00:00Z';
    podStrategy.prepareForCreate(o);
    expect(o.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
    expect(o.metadata).not.toHaveProperty('deletionTimestamp');
    expect(o.metadata).not.toHaveProperty('generation');

    const old: KubeObject = { ...structuredClone(o), status: { phase: 'Running', podIP: '10.1.2.3' } };
    (old.metadata as Record<string, unknown>).uid = 'u1';
    (old.metadata as Record<string, unknown>).creationTimestamp = '2024-01-01T00:00:00Z';
    const upd = structuredClone(o);
    upd.status = { phase: 'Failed' };
    podStrategy.prepareForUpdate(upd, old);
    expect(upd.status).toEqual({ phase: 'Running', podIP: '10.1.2.3' });
    expect(upd.metadata).toMatchObject({ uid: 'u1', creationTimestamp: '2024-01-01T00:00:00Z' });

    const st = structuredClone(old);
    (st.spec as Record<string, unknown>).nodeName = 'elsewhere';
    st.status = { phase: 'Succeeded' };
    (st.metadata as Record<string, unknown>).labels = { set: 'by-kubelet' };
    (st.metadata as Record<string, unknown>).ownerReferences = [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'x' }];
    podStrategy.prepareForStatusUpdate(st, old);
    expect(st.status).toEqual({ phase: 'Succeeded' });
    expect(st.spec).toEqual(old.spec);
    expect(st.metadata).toMatchObject({ labels: { set: 'by-kubelet' } });
    expect(st.metadata).not.toHaveProperty('ownerReferences');

    const g = pod({ containers: [{ name: 'c', image: 'x', resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1000m' } } }] });
    podStrategy.defaults(g);
    podStrategy.prepareForCreate(g);
    expect(g.status).toMatchObject({ qosClass: 'Guaranteed' });
    const b = pod({ containers: [{ name: 'c', image: 'x', resources: { requests: { memory: '64Mi' } } }] });
    podStrategy.defaults(b);
    podStrategy.prepareForCreate(b);
    expect(b.status).toMatchObject({ qosClass: 'Burstable' });
  });

  it('lets an update change only images, activeDeadlineSeconds down and tolerations added', () => {
    const old = pod({ activeDeadlineSeconds: 100, tolerations: [{ key: 'k', operator: 'Exists' }] });
    podStrategy.defaults(old);
    const ok = structuredClone(old);
    const spec = ok.spec as { containers: { image: string }[]; activeDeadlineSeconds: number; tolerations: unknown[] };
    spec.containers[0]!.image = 'nginx:1.26';
    spec.activeDeadlineSeconds = 50;
    spec.tolerations.push({ key: 'k2', operator: 'Exists' });
    expect(podStrategy.validateUpdate(ok, old)).toEqual([]);

    const up = structuredClone(old);
    (up.spec as Record<string, unknown>).activeDeadlineSeconds = 200;
    expect(podStrategy.validateUpdate(up, old).map((e) => `${e.field}: ${e.detail}`)).toEqual(['spec.activeDeadlineSeconds: must be less than or equal to previous value']);

    const bad = structuredClone(old);
    (bad.spec as Record<string, unknown>).nodeName = 'n1';
    (bad.spec as Record<string, unknown>).tolerations = [];
    const errs = podStrategy.validateUpdate(bad, old);
    expect(errs.map((e) => e.field)).toEqual(['spec.tolerations', 'spec']);
    expect(errs[1]?.detail).toMatch(/^pod updates may not change fields other than `spec.containers\[\*\].image`,`spec.initContainers\[\*\].image`,`spec.activeDeadlineSeconds`,/);
    expect(errs[1]?.detail).toContain('spec.nodeName');

    const renamed = structuredClone(old);
    (renamed.metadata as Record<string, unknown>).name = 'other';
    expect(podStrategy.validateUpdate(renamed, old).map((e) => `${e.field}: ${e.detail}`)).toEqual(['metadata.name: field is immutable']);
  });

  it('binds an unbound pod once', () => {
    const o = pod();
    expect(bindPod(o, 'n1')).toBeUndefined();
    expect((o.spec as Record<string, unknown>).nodeName).toBe('n1');
    expect(bindPod(o, 'n2')).toBe('pod web is already assigned to node "n1"');
  });
});

describe('services and endpoints', () => {
  const svc = (spec: Record<string, unknown>): KubeObject => ({ metadata: { name: 'db', namespace: 'default' }, spec });

  // ipFamilies and ipFamilyPolicy are the storage's, from the cluster's ranges (test/apiserver-dualstack.test.ts).
  it('defaults type, affinity, protocol and targetPort', () => {
    const o = svc({ selector: { app: 'db' }, ports: [{ port: 6379 }, { name: 'b', port: 80, targetPort: 'http' }], clusterIP: '10.254.0.9' });
    (o.spec as { ports: Record<string, unknown>[] }).ports[0]!.name = 'a';
    serviceStrategy.defaults(o);
    expect(o.spec).toEqual({
      selector: { app: 'db' },
      type: 'ClusterIP',
      sessionAffinity: 'None',
      clusterIP: '10.254.0.9',
      clusterIPs: ['10.254.0.9'],
      internalTrafficPolicy: 'Cluster',
      ports: [
        { name: 'a', port: 6379, protocol: 'TCP', targetPort: 6379 },
        { name: 'b', port: 80, protocol: 'TCP', targetPort: 'http' },
      ],
    });
    expect(serviceStrategy.validate(o)).toEqual([]);
    const np = svc({ type: 'NodePort', ports: [{ port: 80 }] });
    serviceStrategy.defaults(np);
    expect(np.spec).toMatchObject({ externalTrafficPolicy: 'Cluster' });
  });

  it('refuses bad services', () => {
    expect(check(serviceStrategy, svc({}))).toEqual(['spec.ports: FieldValueRequired']);
    expect(check(serviceStrategy, svc({ type: 'Magic', ports: [{ port: 80 }, { port: 0 }] }))).toEqual([
      'spec.type: FieldValueNotSupported (supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort")',
      'spec.ports[0].name: FieldValueRequired',
      'spec.ports[1].name: FieldValueRequired',
      'spec.ports[1].port: FieldValueInvalid (must be between 1 and 65535, inclusive)',
      // targetPort defaults to the port, 0 here, and is checked too (as kube-apiserver does).
      'spec.ports[1].targetPort: FieldValueInvalid (must be between 1 and 65535, inclusive)',
    ]);
    expect(check(serviceStrategy, svc({ ports: [{ port: 80, nodePort: 30080 }] }))).toEqual(["spec.ports[0].nodePort: FieldValueForbidden (may not be used when `type` is 'ClusterIP')"]);
    expect(check(serviceStrategy, svc({ type: 'ExternalName', externalName: '' }))).toEqual(['spec.externalName: FieldValueRequired']);
    expect(check(serviceStrategy, svc({ clusterIP: 'not-an-ip', ports: [{ port: 80 }] }))).toEqual([
      'spec.clusterIPs[0]: FieldValueInvalid (must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff))',
    ]);
    expect(check(serviceStrategy, svc({ ports: [{ port: 80 }], clusterIP: 'None' }))).toEqual([]);
  });

  it('keeps the clusterIP immutable and the status on update', () => {
    const old = svc({ ports: [{ port: 80 }], clusterIP: '10.254.0.9' });
    serviceStrategy.defaults(old);
    serviceStrategy.prepareForCreate(old);
    expect(old.status).toEqual({ loadBalancer: {} });
    const upd = svc({ ports: [{ port: 80 }], clusterIP: '10.254.0.10' });
    serviceStrategy.defaults(upd);
    const errs = serviceStrategy.validateUpdate(upd, old);
    expect(invalidMessage('', 'Service', 'db', errs)).toBe('Service "db" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.254.0.10"}: may not change once set');
    const same = svc({ ports: [{ port: 81 }], clusterIP: '10.254.0.9' });
    serviceStrategy.defaults(same);
    expect(serviceStrategy.validateUpdate(same, old)).toEqual([]);
  });

  it('validates endpoints', () => {
    const ok = { metadata: { name: 'db', namespace: 'default' }, subsets: [{ addresses: [{ ip: '10.1.0.2' }], ports: [{ port: 6379 }] }] };
    expect(check(endpointsStrategy, ok)).toEqual([]);
    expect(ok.subsets[0]!.ports[0]).toEqual({ port: 6379, protocol: 'TCP' });
    expect(check(endpointsStrategy, { metadata: { name: 'db', namespace: 'default' }, subsets: [{ addresses: [{ ip: '999.1.1.1' }] }] })).toEqual([
      'subsets[0].addresses[0].ip: FieldValueInvalid (must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff))',
    ]);
  });
});

describe('namespaces, nodes, config kinds, events, leases', () => {
  it('namespaces carry their immutable name label, the kubernetes finalizer and phase Active', () => {
    const o: KubeObject = { metadata: { name: 'team', labels: { [`kubernetes.io/metadata.name`]: 'other' } } };
    namespaceStrategy.defaults(o);
    namespaceStrategy.prepareForCreate(o);
    expect(o).toEqual({ metadata: { name: 'team', labels: { 'kubernetes.io/metadata.name': 'team' } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    expect(namespaceStrategy.validate(o)).toEqual([]);
    const upd: KubeObject = { metadata: { name: 'team' }, spec: { finalizers: [] } };
    namespaceStrategy.defaults(upd);
    namespaceStrategy.prepareForUpdate(upd, o);
    expect(upd).toMatchObject({ metadata: { labels: { 'kubernetes.io/metadata.name': 'team' } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
  });

  it('nodes keep the status they register with; podCIDR is set once', () => {
    const o: KubeObject = { metadata: { name: 'n1' }, spec: { podCIDR: '10.1.1.0/24' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
    expect(check(nodeStrategy, o)).toEqual([]);
    nodeStrategy.prepareForCreate(o);
    expect(o.status).toEqual({ conditions: [{ type: 'Ready', status: 'True' }] });
    const upd = structuredClone(o);
    (upd.spec as Record<string, unknown>).podCIDR = '10.1.2.0/24';
    expect(nodeStrategy.validateUpdate(upd, o).map((e) => e.field)).toEqual(['spec.podCIDRs']);
  });

  it('a node podCIDR that is not a CIDR, or two of one family, is refused', () => {
    const node = (spec: Record<string, unknown>): KubeObject => ({ metadata: { name: 'n1' }, spec });
    expect(check(nodeStrategy, node({ podCIDR: 'garbage', podCIDRs: ['garbage'] }))).toEqual(['spec.podCIDRs[0]: FieldValueInvalid (must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64))']);
    expect(check(nodeStrategy, node({ podCIDR: '10.1/24' }))).toEqual(['spec.podCIDR: FieldValueInvalid (must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64))']);
    expect(check(nodeStrategy, node({ podCIDR: '10.1.1.0/24', podCIDRs: ['10.1.1.0/24', '10.1.2.0/24'] }))).toEqual(['spec.podCIDRs: FieldValueInvalid (may specify no more than one CIDR for each IP family)']);
    expect(check(nodeStrategy, node({ podCIDR: '10.1.1.0/24', podCIDRs: ['10.1.1.0/24', 'fd00:1::/64'] }))).toEqual([]);
  });

  it('secrets fold stringData into data, check base64 and keep type immutable', () => {
    const o: KubeObject = { metadata: { name: 's', namespace: 'default' }, stringData: { password: 'hunter2' } };
    expect(check(secretStrategy, o)).toEqual([]);
    expect(o).toEqual({ metadata: { name: 's', namespace: 'default' }, type: 'Opaque', data: { password: 'aHVudGVyMg==' } });
    const bad: KubeObject = { metadata: { name: 's', namespace: 'default' }, data: { 'bad key': 'aGk=', k: 'not base64!' } };
    const errs = check(secretStrategy, bad);
    expect(errs.map((e) => e.split(':')[0])).toEqual(['data[bad key]', 'data[k]']);
    expect(JSON.stringify(secretStrategy.validate(bad))).not.toContain('not base64!');
    const tls: KubeObject = { metadata: { name: 's', namespace: 'default' }, type: 'kubernetes.io/tls', data: {} };
    expect(check(secretStrategy, tls)).toEqual(['data[tls.crt]: FieldValueRequired', 'data[tls.key]: FieldValueRequired']);
    expect(secretStrategy.validateUpdate({ ...o, type: 'kubernetes.io/tls', data: { 'tls.crt': '', 'tls.key': '' } }, o).map((e) => e.field)).toEqual(['type']);
  });

  it('configmaps check keys; immutable ones do not change', () => {
    expect(check(configMapStrategy, { metadata: { name: 'c', namespace: 'default' }, data: { 'a.conf': 'x' } })).toEqual([]);
    expect(check(configMapStrategy, { metadata: { name: 'c', namespace: 'default' }, data: { 'a/b': 'x' } })[0]).toMatch(/^data\[a\/b\]: FieldValueInvalid \(a valid config key/);
    const old = { metadata: { name: 'c', namespace: 'default' }, immutable: true, data: { a: '1' } };
    expect(configMapStrategy.validateUpdate({ ...old, data: { a: '2' } }, old).map((e) => e.detail)).toEqual(['field is immutable when `immutable` is set']);
  });

  it('service accounts, events and leases', () => {
    expect(check(serviceAccountStrategy, { metadata: { name: 'default', namespace: 'default' } })).toEqual([]);
    expect(check(eventStrategy, { metadata: { name: 'web.17a', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'web', namespace: 'default' }, type: 'Normal' })).toEqual([]);
    expect(check(eventStrategy, { metadata: { name: 'e', namespace: 'team' }, involvedObject: { kind: 'Pod', namespace: 'other' } })).toEqual([
      'involvedObject.namespace: FieldValueInvalid (does not match event.namespace)',
    ]);
    // An event with eventTime is a "new" event: it names its reporter and action.
    expect(check(eventStrategy, { metadata: { name: 'e', namespace: 'default' }, eventTime: '2024-01-01T00:00:00.000000Z', involvedObject: { kind: 'Node' } })).toEqual([
      'reportingComponent: FieldValueRequired',
      'reportingComponent: FieldValueInvalid (name part must be non-empty)',
      expect.stringMatching(/^reportingComponent: FieldValueInvalid \(name part must consist of/),
      'reportingInstance: FieldValueRequired',
      'action: FieldValueRequired',
      'reason: FieldValueRequired',
    ]);
    expect(check(eventStrategy, { metadata: { name: 'a/b', namespace: 'default' }, involvedObject: {} })).toEqual(["metadata.name: FieldValueInvalid (may not contain '/')"]);
    expect(check(leaseStrategy, { metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { holderIdentity: 'n1', leaseDurationSeconds: 40 } })).toEqual([]);
    expect(check(leaseStrategy, { metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { leaseDurationSeconds: 0 } })).toEqual([
      'spec.leaseDurationSeconds: FieldValueInvalid (must be greater than 0)',
    ]);
  });
});

describe('workloads', () => {
  it('rc: replicas 1, selector and labels from the template, generation tracking, status kept', () => {
    const o: KubeObject = { metadata: { name: 'db', namespace: 'default' }, spec: { template: template() } };
    expect(check(replicationControllerStrategy, o)).toEqual([]);
    expect(o).toMatchObject({ metadata: { labels: { app: 'db' } }, spec: { replicas: 1, selector: { app: 'db' }, template: { spec: { restartPolicy: 'Always' } } } });
    o.status = { replicas: 5 };
    replicationControllerStrategy.prepareForCreate(o);
    expect(o.status).toEqual({ replicas: 0 });
    expect((o.metadata as Record<string, unknown>).generation).toBe(1);
    const same = structuredClone(o);
    (same.metadata as Record<string, unknown>).labels = { app: 'db', extra: 'x' };
    replicationControllerStrategy.prepareForUpdate(same, { ...o, status: { replicas: 3 } });
    expect(same).toMatchObject({ metadata: { generation: 1 }, status: { replicas: 3 } });
    const scaled = structuredClone(o);
    replicationControllerStrategy.scale?.write(scaled, 4);
    replicationControllerStrategy.prepareForUpdate(scaled, o);
    expect((scaled.metadata as Record<string, unknown>).generation).toBe(2);
    expect(replicationControllerStrategy.scale?.read(scaled)).toEqual({ specReplicas: 4, statusReplicas: 0, selector: 'app=db' });
  });

  it('rc: a selector that misses the template, a template restart policy other than Always', () => {
    const o: KubeObject = { metadata: { name: 'db', namespace: 'default' }, spec: { selector: { app: 'other' }, template: template({ app: 'db' }, { restartPolicy: 'Never' }), replicas: -1 } };
    expect(messages(replicationControllerStrategy, o)).toBe(
      'ReplicationController "db" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.template.metadata.labels: Invalid value: map[string]string{"app":"db"}: `selector` does not match template `labels`, spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"]',
    );
  });

  it('deployments: apps/v1 defaults, a required selector, immutable selector', () => {
    const o: KubeObject = { metadata: { name: 'web', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'db' } }, template: template() } };
    expect(check(deploymentStrategy, o)).toEqual([]);
    expect(o.spec).toMatchObject({ replicas: 1, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }, revisionHistoryLimit: 10, progressDeadlineSeconds: 600 });
    expect(check(deploymentStrategy, { metadata: { name: 'web', namespace: 'default' }, spec: { template: template() } })).toEqual(['spec.selector: FieldValueRequired']);
    expect(check(deploymentStrategy, { metadata: { name: 'web', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'x' } }, template: template() } })).toEqual([
      'spec.template.metadata.labels: FieldValueInvalid (`selector` does not match template `labels`)',
    ]);
    const upd = structuredClone(o);
    (upd.spec as Record<string, unknown>).selector = { matchLabels: { app: 'db', v: '2' } };
    ((upd.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels).v = '2';
    expect(invalidMessage('apps', 'Deployment', 'web', deploymentStrategy.validateUpdate(upd, o))).toBe(
      'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"db", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    );
    const image = structuredClone(o);
    (image.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image = 'redis:7';
    deploymentStrategy.prepareForCreate(o);
    deploymentStrategy.prepareForUpdate(image, o);
    expect((image.metadata as Record<string, unknown>).generation).toBe(2);
    expect(deploymentStrategy.scale?.read(o).selector).toBe('app=db');
  });

  it('replicasets and daemonsets', () => {
    const rs: KubeObject = { metadata: { name: 'r', namespace: 'default' }, spec: { selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] }, template: template() } };
    expect(check(replicaSetStrategy, rs)).toEqual([]);
    expect(check(replicaSetStrategy, { metadata: { name: 'r', namespace: 'default' }, spec: { selector: { matchExpressions: [{ key: 'app', operator: 'Near' }] }, template: template() } })).toEqual([
      'spec.selector.matchExpressions[0].operator: FieldValueInvalid (not a valid selector operator)',
      'spec.template.metadata.labels: FieldValueInvalid (`selector` does not match template `labels`)',
    ]);
    const ds: KubeObject = { metadata: { name: 'd', namespace: 'kube-system' }, spec: { selector: { matchLabels: { app: 'db' } }, template: template() } };
    expect(check(daemonSetStrategy, ds)).toEqual([]);
    expect(ds.spec).toMatchObject({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, revisionHistoryLimit: 10 });
    daemonSetStrategy.prepareForCreate(ds);
    expect(ds.status).toEqual({ currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 });
  });

  it('jobs: defaults, a generated selector, OnFailure/Never only, an immutable template', () => {
    const o: KubeObject = { metadata: { name: 'pi', namespace: 'default', uid: 'u-1' }, spec: { template: template({}, { restartPolicy: 'Never' }) } };
    jobStrategy.defaults(o);
    expect(o.spec).toMatchObject({ completions: 1, parallelism: 1, backoffLimit: 6, completionMode: 'NonIndexed', suspend: false, podReplacementPolicy: 'TerminatingOrFailed' });
    jobStrategy.prepareForCreate(o);
    expect(o.spec).toMatchObject({
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u-1' } },
      template: { metadata: { labels: { 'job-name': 'pi', 'batch.kubernetes.io/job-name': 'pi', 'controller-uid': 'u-1', 'batch.kubernetes.io/controller-uid': 'u-1' } } },
    });
    expect(o.metadata).toMatchObject({ labels: { 'job-name': 'pi', 'batch.kubernetes.io/controller-uid': 'u-1' } });
    expect(jobStrategy.validate(o)).toEqual([]);
    expect(check(jobStrategy, { metadata: { name: 'pi', namespace: 'default' }, spec: { template: template({}) } })).toEqual([
      'spec.selector: FieldValueRequired',
      'spec.template.spec.restartPolicy: FieldValueNotSupported (supported values: "OnFailure", "Never")',
    ]);
    const upd = structuredClone(o);
    (upd.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image = 'perl';
    (upd.spec as Record<string, unknown>).parallelism = 3;
    expect(jobStrategy.validateUpdate(upd, o).map((e) => `${e.field}: ${e.detail}`)).toEqual(['spec.template: field is immutable']);
  });

  it('cronjobs: defaults, schedule parsing, name length', () => {
    const o: KubeObject = { metadata: { name: 'tick', namespace: 'default' }, spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: template({}, { restartPolicy: 'OnFailure' }) } } } };
    expect(check(cronJobStrategy, o)).toEqual([]);
    expect(o.spec).toMatchObject({ concurrencyPolicy: 'Allow', suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 });
    expect(cronScheduleError('0 3 * * mon-fri')).toBeUndefined();
    expect(cronScheduleError('@hourly')).toBeUndefined();
    expect(cronScheduleError('@every 1h30m')).toBeUndefined();
    expect(cronScheduleError('bad')).toBe('expected exactly 5 fields, found 1: [bad]');
    expect(cronScheduleError('61 * * * *')).toBe('end of range (61) above maximum (59): 61');
    const bad = structuredClone(o);
    (bad.metadata as Record<string, unknown>).name = 'a'.repeat(53);
    (bad.spec as Record<string, unknown>).schedule = 'TZ=UTC 0 * * * *';
    expect(check(cronJobStrategy, bad)).toEqual([
      'metadata.name: FieldValueInvalid (must be no more than 52 characters)',
      'spec.schedule: FieldValueInvalid (cannot use TZ or CRON_TZ in schedule, use timeZone field instead)',
    ]);
  });
});

describe('networking', () => {
  it('networkpolicies default policyTypes and protocols, check operators and ports', () => {
    const o: KubeObject = { metadata: { name: 'p', namespace: 'default' }, spec: { podSelector: {}, ingress: [{ ports: [{ port: 80 }], from: [{ podSelector: { matchLabels: { a: 'b' } } }] }] } };
    expect(check(networkPolicyStrategy, o)).toEqual([]);
    expect(o.spec).toMatchObject({ policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 80, protocol: 'TCP' }] }] });
    networkPolicyStrategy.prepareForCreate(o);
    expect((o.metadata as Record<string, unknown>).generation).toBe(1);
    expect(check(networkPolicyStrategy, { metadata: { name: 'p', namespace: 'default' }, spec: { podSelector: {}, egress: [{ ports: [{ port: 0, protocol: 'GRE' }] }] } })).toEqual([
      'spec.egress[0].ports[0].protocol: FieldValueNotSupported (supported values: "SCTP", "TCP", "UDP")',
      'spec.egress[0].ports[0].port: FieldValueInvalid (must be between 1 and 65535, inclusive)',
    ]);
  });

  it('ingresses need rules or a default backend, absolute paths and a backend', () => {
    const ok: KubeObject = { metadata: { name: 'i', namespace: 'default' }, spec: { rules: [{ host: 'a.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } };
    expect(check(ingressStrategy, ok)).toEqual([]);
    expect(check(ingressStrategy, { metadata: { name: 'i', namespace: 'default' }, spec: {} })).toEqual(['spec: FieldValueInvalid (either `defaultBackend` or `rules` must be specified)']);
    expect(check(ingressStrategy, { metadata: { name: 'i', namespace: 'default' }, spec: { rules: [{ http: { paths: [{ path: 'x', pathType: 'Exact' }] } }] } })).toEqual([
      'spec.rules[0].http.paths[0].path: FieldValueInvalid (must be an absolute path)',
      'spec.rules[0].http.paths[0].backend: FieldValueRequired',
    ]);
  });
});

describe('the registry', () => {
  const reg = createKindRegistry();
  it('serves every kind of the issue, by resource, kind and short name', () => {
    const want = [
      '/namespaces', '/nodes', '/pods', '/services', '/endpoints', '/replicationcontrollers', '/secrets', '/configmaps', '/events', '/serviceaccounts', '/limitranges', '/resourcequotas', '/componentstatuses',
      'apps/deployments', 'apps/replicasets', 'apps/daemonsets', 'batch/jobs', 'batch/cronjobs', 'networking.k8s.io/networkpolicies', 'networking.k8s.io/ingresses', 'coordination.k8s.io/leases',
      'rbac.authorization.k8s.io/clusterrolebindings', 'rbac.authorization.k8s.io/clusterroles', 'rbac.authorization.k8s.io/rolebindings', 'rbac.authorization.k8s.io/roles',
      'authentication.k8s.io/selfsubjectreviews', 'authentication.k8s.io/tokenreviews',
      'authorization.k8s.io/localsubjectaccessreviews', 'authorization.k8s.io/selfsubjectaccessreviews', 'authorization.k8s.io/selfsubjectrulesreviews', 'authorization.k8s.io/subjectaccessreviews',
    ];
    expect(reg.all().map((s) => `${s.def.group}/${s.def.resource}`)).toEqual(want);
    expect(reg.byResource('apps', 'deployments')).toBe(deploymentStrategy);
    expect(reg.byKind('', 'Pod')).toBe(podStrategy);
    expect(reg.byKind('apps', 'Pod')).toBeUndefined();
    for (const [short, res] of [['po', 'pods'], ['svc', 'services'], ['rc', 'replicationcontrollers'], ['deploy', 'deployments'], ['cs', 'componentstatuses'], ['no', 'nodes'], ['ns', 'namespaces'], ['ep', 'endpoints'], ['ds', 'daemonsets'], ['rs', 'replicasets'], ['ing', 'ingresses'], ['cm', 'configmaps'], ['sa', 'serviceaccounts'], ['ev', 'events'], ['cj', 'cronjobs']])
      expect(reg.lookup(short!).map((s) => s.def.resource)).toEqual([res]);
    expect(reg.groupVersions()).toEqual(['v1', 'apps/v1', 'batch/v1', 'networking.k8s.io/v1', 'coordination.k8s.io/v1', 'rbac.authorization.k8s.io/v1', 'authentication.k8s.io/v1', 'authorization.k8s.io/v1']);
    expect(podStrategy.def.subresources).toEqual(['status', 'binding', 'log', 'exec', 'attach', 'portforward']);
    expect(deploymentStrategy.def.subresources).toEqual(['scale', 'status']);
    for (const r of ['pods', 'services', 'replicationcontrollers', 'deployments', 'replicasets', 'daemonsets', 'jobs', 'cronjobs'])
      expect(reg.lookup(r)[0]?.def.categories).toEqual(['all']);
  });

  it('stores objects under the keys the daemons read (cluster/keys.ts)', () => {
    expect(storageKey(nodeStrategy.def, '/registry', '', 'n1')).toBe('/registry/minions/n1');
    expect(storageKey(podStrategy.def, '/registry', 'default', 'web')).toBe('/registry/pods/default/web');
    expect(storageKey(serviceStrategy.def, '/registry', 'default', 'db')).toBe('/registry/services/specs/default/db');
    expect(storageKey(endpointsStrategy.def, '/registry', 'default', 'db')).toBe('/registry/services/endpoints/default/db');
    expect(storageKey(replicationControllerStrategy.def, '/registry', 'default', 'db')).toBe('/registry/controllers/default/db');
    expect(storageKey(ingressStrategy.def, '/registry', 'default', 'i')).toBe('/registry/ingress/default/i');
  });
});

describe('scale', () => {
  it('reads and writes replicas through an autoscaling/v1 Scale', async () => {
    const { scaleOf, validateScale, applyScale, podStrategy: pods } = await import('../apiserver/kinds/index.js');
    const d: KubeObject = {
      metadata: { name: 'web', namespace: 'default', uid: 'u', resourceVersion: '7' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } } },
      status: { replicas: 1 },
    };
    expect(scaleOf(deploymentStrategy, d)).toEqual({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: 'web', namespace: 'default', uid: 'u', resourceVersion: '7' },
      spec: { replicas: 2 },
      status: { replicas: 1, selector: 'app=web' },
    });
    expect(scaleOf(pods, d)).toBeUndefined();
    expect(validateScale({ spec: { replicas: 5 } })).toEqual([]);
    expect(invalidMessage('autoscaling', 'Scale', 'web', validateScale({ spec: { replicas: -1 } }))).toBe(
      'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    );
    applyScale(deploymentStrategy, d, { spec: { replicas: 5 } });
    expect((d.spec as Record<string, unknown>).replicas).toBe(5);
    expect(replicaSetStrategy.scale).toBeDefined();
    expect(daemonSetStrategy.scale).toBeUndefined();
  });
});

describe('every kind', () => {
  const tpl = template();
  const valid: Record<string, KubeObject> = {
    namespaces: { metadata: { name: 'team' } },
    nodes: { metadata: { name: 'n1' }, spec: { podCIDR: '10.1.1.0/24' }, status: {} },
    pods: pod(),
    services: { metadata: { name: 'db', namespace: 'default' }, spec: { selector: { app: 'db' }, ports: [{ port: 6379 }] } },
    endpoints: { metadata: { name: 'db', namespace: 'default' }, subsets: [{ addresses: [{ ip: '10.1.0.2' }], ports: [{ port: 6379 }] }] },
    replicationcontrollers: { metadata: { name: 'db', namespace: 'default' }, spec: { template: tpl } },
    secrets: { metadata: { name: 's', namespace: 'default' }, stringData: { a: 'b' } },
    configmaps: { metadata: { name: 'c', namespace: 'default' }, data: { a: 'b' } },
    events: { metadata: { name: 'web.1', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'web', namespace: 'default' }, reason: 'Started', type: 'Normal' },
    serviceaccounts: { metadata: { name: 'default', namespace: 'default' } },
    componentstatuses: { metadata: { name: 'etcd-0' }, conditions: [{ type: 'Healthy', status: 'True' }] },
    deployments: { metadata: { name: 'web', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'db' } }, template: tpl } },
    replicasets: { metadata: { name: 'web-1', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'db' } }, template: tpl } },
    daemonsets: { metadata: { name: 'agent', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'db' } }, template: tpl } },
    jobs: { metadata: { name: 'pi', namespace: 'default', uid: 'u' }, spec: { template: template({}, { restartPolicy: 'Never' }) } },
    cronjobs: { metadata: { name: 'tick', namespace: 'default' }, spec: { schedule: '@hourly', jobTemplate: { spec: { template: template({}, { restartPolicy: 'Never' }) } } } },
    networkpolicies: { metadata: { name: 'deny', namespace: 'default' }, spec: { podSelector: {} } },
    ingresses: { metadata: { name: 'web', namespace: 'default' }, spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } } },
    leases: { metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { holderIdentity: 'n1' } },
    roles: { metadata: { name: 'pod-reader', namespace: 'default' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] },
    clusterroles: { metadata: { name: 'system:x' }, rules: [{ nonResourceURLs: ['/healthz'], verbs: ['get'] }] },
    rolebindings: { metadata: { name: 'b', namespace: 'default' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' }, subjects: [{ kind: 'User', name: 'bob' }, { kind: 'ServiceAccount', name: 'default' }] },
    clusterrolebindings: { metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'Group', name: 'devs' }, { kind: 'ServiceAccount', name: 'default', namespace: 'kube-system' }] },
    selfsubjectaccessreviews: { metadata: { name: 'r' }, spec: { resourceAttributes: { verb: 'get', resource: 'pods' } } },
    selfsubjectreviews: { metadata: { name: 'r' }, spec: {} },
    tokenreviews: { metadata: { name: 'r' }, spec: { token: 't' } },
    subjectaccessreviews: { metadata: { name: 'r' }, spec: { user: 'bob', resourceAttributes: { verb: 'get', resource: 'pods' } } },
    localsubjectaccessreviews: { metadata: { name: 'r', namespace: 'default' }, spec: { user: 'bob', resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'default' } } },
    selfsubjectrulesreviews: { metadata: { name: 'r' }, spec: { namespace: 'default' } },
    limitranges: { metadata: { name: 'lr', namespace: 'default' }, spec: { limits: [{ type: 'Container', max: { cpu: '1' }, default: { cpu: '500m' } }] } },
    resourcequotas: { metadata: { name: 'q', namespace: 'default' }, spec: { hard: { pods: '2', 'requests.cpu': '1' } } },
  };
  const reg = createKindRegistry();

  it('accepts a valid object, and its defaults are stable (a second apply changes nothing)', () => {
    for (const s of reg.all()) {
      const o = structuredClone(valid[s.def.resource]);
      expect(o, s.def.resource).toBeDefined();
      if (!o) continue;
      s.defaults(o);
      s.prepareForCreate(o);
      expect(s.validate(o), s.def.resource).toEqual([]);
      const again = structuredClone(o);
      s.defaults(again);
      expect(again, s.def.resource).toEqual(o);
      // An update that sends the stored object back is valid, keeps the generation and changes nothing.
      const upd = structuredClone(o);
      s.defaults(upd);
      s.prepareForUpdate(upd, o);
      expect(s.validateUpdate(upd, o), s.def.resource).toEqual([]);
      expect(upd, s.def.resource).toEqual(o);
    }
  });
});

describe('status writes and metadata', () => {
  it('deployments/status keeps annotation changes (the controller writes its revision there) but not labels; replicasets/status keeps neither', () => {
    const old = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default', uid: 'u', generation: 2, labels: { a: '1' }, annotations: { k: 'v' } }, spec: { replicas: 1 }, status: {} };
    const st = structuredClone(old) as Record<string, any>;
    st.metadata.annotations = { k: 'v', 'deployment.kubernetes.io/revision': '2' };
    st.metadata.labels = { a: 'changed' };
    st.spec = { replicas: 9 };
    st.status = { observedGeneration: 2 };
    deploymentStrategy.prepareForStatusUpdate(st, old);
    expect(st.metadata.annotations).toEqual({ k: 'v', 'deployment.kubernetes.io/revision': '2' });
    expect(st.metadata.labels).toEqual({ a: '1' });
    expect(st.spec).toEqual({ replicas: 1 });
    const rs = { ...structuredClone(old), kind: 'ReplicaSet' };
    const rst = structuredClone(rs) as Record<string, any>;
    rst.metadata.annotations = { other: 'x' };
    replicaSetStrategy.prepareForStatusUpdate(rst, rs);
    expect(rst.metadata.annotations).toEqual({ k: 'v' });
  });
});
