// The Table rows kubectl prints (kubectl get) and the selectable fields, kind by kind, as kube-apiserver's
// printers compute them: AGE in kubectl's duration format, a pod's STATUS as kubectl derives it.
import { describe, expect, it } from 'vitest';
import {
  ALL_STRATEGIES,
  componentStatusStrategy,
  configMapStrategy,
  cronJobStrategy,
  daemonSetStrategy,
  deploymentStrategy,
  endpointsStrategy,
  eventStrategy,
  formatLabelSelector,
  humanDuration,
  ingressStrategy,
  jobStrategy,
  type KubeObject,
  leaseStrategy,
  namespaceStrategy,
  networkPolicyStrategy,
  nodeStrategy,
  podDisplayStatus,
  podStrategy,
  replicaSetStrategy,
  replicationControllerStrategy,
  secretStrategy,
  serviceAccountStrategy,
  serviceStrategy,
  type Strategy,
} from '../apiserver/kinds/index.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');
const ago = (s: number): string => new Date(NOW - s * 1000).toISOString();
const m = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'default', creationTimestamp: ago(90), ...extra });
const headers = (s: Strategy, priority = 0): string[] => s.tableColumns.filter((c) => c.priority <= priority).map((c) => c.name.toUpperCase());

describe('AGE', () => {
  it('prints durations as kubectl does', () => {
    const cases: [number, string][] = [
      [-5, '<invalid>'], [-1, '0s'], [0, '0s'], [5, '5s'], [119, '119s'], [120, '2m'], [182, '3m2s'], [600, '10m'], [179 * 60, '179m'],
      [3 * 3600, '3h'], [4 * 3600 + 5 * 60, '4h5m'], [8 * 3600, '8h'], [47 * 3600, '47h'], [51 * 3600, '2d3h'], [7 * 86400, '7d'], [45 * 86400, '45d'],
      [730 * 86400, '2y'], [760 * 86400, '2y30d'], [3000 * 86400, '8y'],
    ];
    for (const [s, want] of cases) expect(humanDuration(s * 1000), `${s}s`).toBe(want);
  });
});

describe('pods', () => {
  const base = (status: Record<string, unknown>, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): KubeObject => ({
    metadata: m('web', meta),
    spec: { containers: [{ name: 'c', image: 'nginx' }], nodeName: 'n1', ...spec },
    status,
  });
  const running = { running: { startedAt: ago(60) } };

  it('has the columns kubectl users know', () => {
    expect(headers(podStrategy)).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    expect(headers(podStrategy, 1)).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
    expect(podStrategy.tableColumns[0]).toMatchObject({ format: 'name', type: 'string' });
  });

  it('computes STATUS, READY and RESTARTS', () => {
    const status = (s: Record<string, unknown>, spec?: Record<string, unknown>, meta?: Record<string, unknown>) => podDisplayStatus(base(s, spec, meta), NOW);
    expect(status({ phase: 'Pending' })).toEqual({ ready: '0/1', status: 'Pending', restarts: '0' });
    expect(status({ phase: 'Pending', containerStatuses: [{ name: 'c', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] }).status).toBe('ContainerCreating');
    expect(status({ phase: 'Running', containerStatuses: [{ name: 'c', ready: true, restartCount: 0, state: running }] })).toEqual({ ready: '1/1', status: 'Running', restarts: '0' });
    expect(status({ phase: 'Succeeded', containerStatuses: [{ name: 'c', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }).status).toBe('Completed');
    expect(status({ phase: 'Failed', containerStatuses: [{ name: 'c', ready: false, restartCount: 0, state: { terminated: { exitCode: 2 } } }] }).status).toBe('ExitCode:2');
    expect(
      status({
        phase: 'Running',
        containerStatuses: [{ name: 'c', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, finishedAt: ago(75) } } }],
      }),
    ).toEqual({ ready: '0/1', status: 'CrashLoopBackOff', restarts: '4 (75s ago)' });
    expect(status({ phase: 'Running', containerStatuses: [{ name: 'c', ready: true, restartCount: 0, state: running }] }, {}, { deletionTimestamp: ago(1) }).status).toBe('Terminating');
    expect(status({ phase: 'Running', reason: 'NodeLost' }, {}, { deletionTimestamp: ago(1) }).status).toBe('Unknown');
    expect(status({ phase: 'Failed', reason: 'Evicted' }).status).toBe('Evicted');
    // Init containers: the pod shows their progress until they are done.
    const init = { initContainers: [{ name: 'i1', image: 'busybox' }, { name: 'i2', image: 'busybox' }] };
    expect(status({ phase: 'Pending', initContainerStatuses: [{ name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 0 } } }, { name: 'i2', ready: false, restartCount: 0, state: { running: {} } }] }, init).status).toBe('Init:1/2');
    expect(status({ phase: 'Pending', initContainerStatuses: [{ name: 'i1', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } }] }, init)).toEqual({ ready: '0/1', status: 'Init:CrashLoopBackOff', restarts: '3' });
    expect(status({ phase: 'Pending', initContainerStatuses: [{ name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 7 } } }] }, init).status).toBe('Init:ExitCode:7');
    expect(status({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] }).status).toBe('SchedulingGated');
    // A sidecar (restartable init container) counts as a container.
    expect(
      status(
        { phase: 'Running', initContainerStatuses: [{ name: 's', ready: true, started: true, restartCount: 1, state: running }], containerStatuses: [{ name: 'c', ready: true, restartCount: 0, state: running }] },
        { initContainers: [{ name: 's', image: 'envoy', restartPolicy: 'Always' }] },
      ),
    ).toEqual({ ready: '2/2', status: 'Running', restarts: '1' });
  });

  it('prints a row with the wide cells', () => {
    const o = base({ phase: 'Running', podIP: '10.1.1.5', podIPs: [{ ip: '10.1.1.5' }], containerStatuses: [{ name: 'c', ready: true, restartCount: 0, state: running }] });
    expect(podStrategy.tableRow(o, NOW)).toEqual(['web', '1/1', 'Running', '0', '90s', '10.1.1.5', 'n1', '<none>', '<none>']);
    const gated = base({ phase: 'Running', conditions: [{ type: 'g1', status: 'True' }] }, { nodeName: undefined, readinessGates: [{ conditionType: 'g1' }, { conditionType: 'g2' }] });
    expect(podStrategy.tableRow(gated, NOW).slice(5)).toEqual(['<none>', '<none>', '<none>', '1/2']);
    expect(podStrategy.tableRow({ metadata: { name: 'x' }, spec: {} }, NOW)).toEqual(['x', '0/0', '', '0', '<unknown>', '<none>', '<none>', '<none>', '<none>']);
  });

  it('answers the selectable fields', () => {
    const o = base({ phase: 'Running', podIP: '10.1.1.5' }, { restartPolicy: 'Always', schedulerName: 'default-scheduler', serviceAccountName: 'default' });
    expect(podStrategy.selectableFields).toEqual([
      'metadata.name', 'metadata.namespace', 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName',
    ]);
    const v = (f: string) => podStrategy.fieldValue(o, f);
    expect([v('metadata.name'), v('metadata.namespace'), v('spec.nodeName'), v('status.phase'), v('status.podIP'), v('spec.restartPolicy'), v('spec.hostNetwork'), v('spec.serviceAccountName')]).toEqual([
      'web', 'default', 'n1', 'Running', '10.1.1.5', 'Always', 'false', 'default',
    ]);
    expect(podStrategy.fieldValue({ metadata: { name: 'x' }, spec: {} }, 'spec.nodeName')).toBe('');
    expect(v('spec.containers')).toBeUndefined();
  });
});

describe('services, endpoints, nodes, namespaces', () => {
  it('services: TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE (+SELECTOR)', () => {
    expect(headers(serviceStrategy, 1)).toEqual(['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR']);
    const svc = (spec: Record<string, unknown>, status: Record<string, unknown> = {}): KubeObject => ({ metadata: m('db'), spec, status });
    expect(serviceStrategy.tableRow(svc({ type: 'ClusterIP', clusterIP: '10.254.0.9', clusterIPs: ['10.254.0.9'], ports: [{ port: 6379, protocol: 'TCP' }], selector: { b: '2', a: '1' } }), NOW)).toEqual([
      'db', 'ClusterIP', '10.254.0.9', '<none>', '6379/TCP', '90s', 'a=1,b=2',
    ]);
    expect(serviceStrategy.tableRow(svc({ type: 'NodePort', clusterIPs: ['10.254.0.3'], ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }], externalIPs: ['192.0.2.1'] }), NOW).slice(1, 5)).toEqual([
      'NodePort', '10.254.0.3', '192.0.2.1', '80:30080/TCP,53/UDP',
    ]);
    expect(serviceStrategy.tableRow(svc({ type: 'LoadBalancer', clusterIP: 'None', ports: [] }), NOW).slice(1, 5)).toEqual(['LoadBalancer', 'None', '<pending>', '<none>']);
    expect(serviceStrategy.tableRow(svc({ type: 'LoadBalancer', ports: [] }, { loadBalancer: { ingress: [{ ip: '198.51.100.1' }, { hostname: 'lb.example' }] } }), NOW)[3]).toBe('198.51.100.1,lb.example');
    expect(serviceStrategy.tableRow(svc({ type: 'ExternalName', externalName: 'db.example.com' }), NOW).slice(1, 5)).toEqual(['ExternalName', '<none>', 'db.example.com', '<none>']);
    expect(serviceStrategy.fieldValue(svc({}), 'metadata.namespace')).toBe('default');
  });

  it('endpoints: up to three, then a count', () => {
    expect(headers(endpointsStrategy)).toEqual(['NAME', 'ENDPOINTS', 'AGE']);
    const ep = (subsets: unknown[]): KubeObject => ({ metadata: m('db'), subsets });
    expect(endpointsStrategy.tableRow(ep([]), NOW)[1]).toBe('<none>');
    expect(endpointsStrategy.tableRow(ep([{ addresses: [{ ip: '10.1.0.2' }, { ip: 'fd00::2' }], ports: [{ port: 6379 }] }]), NOW)[1]).toBe('10.1.0.2:6379,[fd00::2]:6379');
    expect(endpointsStrategy.tableRow(ep([{ addresses: [{ ip: 'a' }, { ip: 'b' }, { ip: 'c' }, { ip: 'd' }, { ip: 'e' }], ports: [{ port: 1 }] }]), NOW)[1]).toBe('a:1,b:1,c:1 + 2 more...');
    expect(endpointsStrategy.tableRow(ep([{ addresses: [{ ip: '10.0.0.1' }] }]), NOW)[1]).toBe('10.0.0.1');
  });

  it('nodes: STATUS ROLES AGE VERSION (+INTERNAL-IP ...)', () => {
    expect(headers(nodeStrategy, 1)).toEqual(['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', 'INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME']);
    const node: KubeObject = {
      metadata: { name: 'n1', creationTimestamp: ago(3 * 86400), labels: { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/role': 'master', 'node-role.kubernetes.io/': 'x' } },
      spec: { unschedulable: true },
      status: {
        conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True' }],
        addresses: [{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '192.0.2.11' }],
        nodeInfo: { kubeletVersion: 'v1.32.0', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0', containerRuntimeVersion: 'docker://24.0.5' },
      },
    };
    expect(nodeStrategy.tableRow(node, NOW)).toEqual(['n1', 'Ready,SchedulingDisabled', 'control-plane,master', '3d', 'v1.32.0', '192.0.2.11', '<none>', 'Debian GNU/Linux 12 (bookworm)', '6.1.0', 'docker://24.0.5']);
    expect(nodeStrategy.tableRow({ metadata: { name: 'n2' }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } }, NOW).slice(0, 3)).toEqual(['n2', 'NotReady', '<none>']);
    expect(nodeStrategy.tableRow({ metadata: { name: 'n3' } }, NOW)[1]).toBe('Unknown');
    expect(nodeStrategy.fieldValue(node, 'spec.unschedulable')).toBe('true');
    expect(nodeStrategy.fieldValue(node, 'metadata.namespace')).toBeUndefined();
  });

  it('namespaces: STATUS AGE', () => {
    expect(headers(namespaceStrategy)).toEqual(['NAME', 'STATUS', 'AGE']);
    expect(namespaceStrategy.tableRow({ metadata: { name: 'kube-system', creationTimestamp: ago(7200) }, status: { phase: 'Terminating' } }, NOW)).toEqual(['kube-system', 'Terminating', '120m']);
    expect(namespaceStrategy.fieldValue({ metadata: { name: 'a' }, status: { phase: 'Active' } }, 'status.phase')).toBe('Active');
  });
});

describe('workloads', () => {
  const tpl = { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'redis' }, { name: 'exp', image: 'exporter:1' }], nodeSelector: { disk: 'ssd' } } };

  it('rc: DESIRED CURRENT READY AGE (+CONTAINERS IMAGES SELECTOR)', () => {
    expect(headers(replicationControllerStrategy, 1)).toEqual(['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR']);
    const rc: KubeObject = { metadata: m('db'), spec: { replicas: 3, selector: { app: 'db' }, template: tpl }, status: { replicas: 2, readyReplicas: 1 } };
    expect(replicationControllerStrategy.tableRow(rc, NOW)).toEqual(['db', 3, 2, 1, '90s', 'db,exp', 'redis,exporter:1', 'app=db']);
    expect(replicationControllerStrategy.fieldValue(rc, 'status.replicas')).toBe('2');
  });

  it('replicasets and deployments', () => {
    const selector = { matchLabels: { app: 'db' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }, { key: 'canary', operator: 'DoesNotExist' }] };
    expect(formatLabelSelector(selector)).toBe('app=db,!canary,tier in (a,b)');
    expect(formatLabelSelector({})).toBe('<none>');
    expect(formatLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Near' }] })).toBe('<error>');
    expect(headers(replicaSetStrategy)).toEqual(['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE']);
    expect(replicaSetStrategy.tableRow({ metadata: m('db-5d4'), spec: { replicas: 2, selector, template: tpl }, status: { replicas: 2, readyReplicas: 2 } }, NOW)).toEqual([
      'db-5d4', 2, 2, 2, '90s', 'db,exp', 'redis,exporter:1', 'app=db,!canary,tier in (a,b)',
    ]);
    expect(headers(deploymentStrategy, 1)).toEqual(['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR']);
    expect(deploymentStrategy.tableRow({ metadata: m('web'), spec: { replicas: 3, selector: { matchLabels: { app: 'db' } }, template: tpl }, status: { readyReplicas: 1, updatedReplicas: 3, availableReplicas: 1 } }, NOW)).toEqual([
      'web', '1/3', 3, 1, '90s', 'db,exp', 'redis,exporter:1', 'app=db',
    ]);
  });

  it('daemonsets: DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE', () => {
    expect(headers(daemonSetStrategy)).toEqual(['NAME', 'DESIRED', 'CURRENT', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'NODE SELECTOR', 'AGE']);
    const ds: KubeObject = { metadata: m('flannel'), spec: { selector: { matchLabels: { app: 'db' } }, template: tpl }, status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2 } };
    expect(daemonSetStrategy.tableRow(ds, NOW)).toEqual(['flannel', 3, 3, 2, 3, 2, 'disk=ssd', '90s', 'db,exp', 'redis,exporter:1', 'app=db']);
  });

  it('jobs: STATUS COMPLETIONS DURATION AGE', () => {
    expect(headers(jobStrategy)).toEqual(['NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE']);
    const job = (spec: Record<string, unknown>, status: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject => ({ metadata: m('pi', meta), spec: { template: tpl, ...spec }, status });
    expect(jobStrategy.tableRow(job({ completions: 1 }, { succeeded: 1, startTime: ago(80), completionTime: ago(20), conditions: [{ type: 'Complete', status: 'True' }] }), NOW).slice(0, 5)).toEqual(['pi', 'Complete', '1/1', '60s', '90s']);
    expect(jobStrategy.tableRow(job({ parallelism: 3 }, { succeeded: 0, startTime: ago(30) }), NOW).slice(1, 4)).toEqual(['Running', '0/1 of 3', '30s']);
    expect(jobStrategy.tableRow(job({}, {}), NOW).slice(1, 4)).toEqual(['Running', '0/1', '']);
    expect(jobStrategy.tableRow(job({ completions: 2 }, { conditions: [{ type: 'Failed', status: 'True' }] }), NOW)[1]).toBe('Failed');
    expect(jobStrategy.tableRow(job({}, { conditions: [{ type: 'Suspended', status: 'True' }] }, { deletionTimestamp: ago(1) }), NOW)[1]).toBe('Terminating');
    expect(jobStrategy.fieldValue(job({}, { succeeded: 2 }), 'status.successful')).toBe('2');
  });

  it('cronjobs: SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE', () => {
    expect(headers(cronJobStrategy)).toEqual(['NAME', 'SCHEDULE', 'TIMEZONE', 'SUSPEND', 'ACTIVE', 'LAST SCHEDULE', 'AGE']);
    const cj: KubeObject = { metadata: m('tick'), spec: { schedule: '*/5 * * * *', suspend: false, jobTemplate: { spec: { template: tpl } } }, status: { active: [{ name: 'tick-1' }], lastScheduleTime: ago(240) } };
    expect(cronJobStrategy.tableRow(cj, NOW)).toEqual(['tick', '*/5 * * * *', '<none>', 'False', 1, '4m', '90s', 'db,exp', 'redis,exporter:1', '<none>']);
    expect(cronJobStrategy.tableRow({ metadata: m('t'), spec: { schedule: '@daily', timeZone: 'Etc/UTC' } }, NOW).slice(2, 6)).toEqual(['Etc/UTC', '<unset>', 0, '<none>']);
  });
});

describe('config, events, networking, leases, componentstatuses', () => {
  it('secrets, configmaps, serviceaccounts', () => {
    expect(headers(secretStrategy)).toEqual(['NAME', 'TYPE', 'DATA', 'AGE']);
    const s: KubeObject = { metadata: m('s'), type: 'Opaque', data: { a: 'YQ==', b: 'Yg==' } };
    expect(secretStrategy.tableRow(s, NOW)).toEqual(['s', 'Opaque', 2, '90s']);
    expect(secretStrategy.fieldValue(s, 'type')).toBe('Opaque');
    expect(headers(configMapStrategy)).toEqual(['NAME', 'DATA', 'AGE']);
    expect(configMapStrategy.tableRow({ metadata: m('c'), data: { a: '1' }, binaryData: { b: 'AA==' } }, NOW)).toEqual(['c', 2, '90s']);
    expect(headers(serviceAccountStrategy)).toEqual(['NAME', 'SECRETS', 'AGE']);
    expect(serviceAccountStrategy.tableRow({ metadata: m('default') }, NOW)).toEqual(['default', 0, '90s']);
  });

  it('events: LAST SEEN TYPE REASON OBJECT MESSAGE, and the involvedObject fields kubectl describe selects on', () => {
    expect(headers(eventStrategy)).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    expect(headers(eventStrategy, 1)).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'SUBOBJECT', 'SOURCE', 'MESSAGE', 'FIRST SEEN', 'COUNT', 'NAME']);
    const ev: KubeObject = {
      metadata: m('web.17a'),
      involvedObject: { kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1', apiVersion: 'v1', resourceVersion: '42', fieldPath: 'spec.containers{c}' },
      reason: 'Pulled',
      message: ' Container image "nginx" already present \n',
      type: 'Normal',
      source: { component: 'kubelet', host: 'n1' },
      firstTimestamp: ago(300),
      lastTimestamp: ago(30),
      count: 3,
    };
    expect(eventStrategy.tableRow(ev, NOW)).toEqual(['30s', 'Normal', 'Pulled', 'pod/web', 'spec.containers{c}', 'kubelet, n1', 'Container image "nginx" already present', '5m', 3, 'web.17a']);
    const single: KubeObject = { metadata: m('e2'), involvedObject: { kind: 'Node' }, eventTime: ago(10), reportingComponent: 'kube-proxy' };
    expect(eventStrategy.tableRow(single, NOW)).toEqual(['10s', '', '', 'node', '', 'kube-proxy', '', '10s', 1, 'e2']);
    const f = (name: string) => eventStrategy.fieldValue(ev, name);
    expect(['involvedObject.kind', 'involvedObject.name', 'involvedObject.namespace', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'source', 'type'].map(f)).toEqual([
      'Pod', 'web', 'default', 'u1', 'v1', '42', 'spec.containers{c}', 'Pulled', 'kubelet', 'Normal',
    ]);
    expect(eventStrategy.fieldValue(single, 'source')).toBe('kube-proxy');
  });

  it('networkpolicies, ingresses, leases, componentstatuses', () => {
    expect(headers(networkPolicyStrategy)).toEqual(['NAME', 'POD-SELECTOR', 'AGE']);
    expect(networkPolicyStrategy.tableRow({ metadata: m('p'), spec: { podSelector: { matchLabels: { app: 'db' } } } }, NOW)).toEqual(['p', 'app=db', '90s']);
    expect(networkPolicyStrategy.tableRow({ metadata: m('p'), spec: { podSelector: {} } }, NOW)[1]).toBe('<none>');
    expect(headers(ingressStrategy)).toEqual(['NAME', 'CLASS', 'HOSTS', 'ADDRESS', 'PORTS', 'AGE']);
    const rules = ['a', 'b', 'c', 'd', 'e'].map((h) => ({ host: `${h}.example` }));
    expect(ingressStrategy.tableRow({ metadata: m('i'), spec: { ingressClassName: 'nginx', rules, tls: [{}] }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.5' }] } } }, NOW)).toEqual([
      'i', 'nginx', 'a.example,b.example,c.example + 2 more...', '192.0.2.5', '80, 443', '90s',
    ]);
    expect(ingressStrategy.tableRow({ metadata: m('i'), spec: { defaultBackend: {} } }, NOW).slice(1, 5)).toEqual(['<none>', '*', '', '80']);
    expect(headers(leaseStrategy)).toEqual(['NAME', 'HOLDER', 'AGE']);
    expect(leaseStrategy.tableRow({ metadata: m('n1'), spec: { holderIdentity: 'n1' } }, NOW)).toEqual(['n1', 'n1', '90s']);
    expect(headers(componentStatusStrategy)).toEqual(['NAME', 'STATUS', 'MESSAGE', 'ERROR']);
    expect(componentStatusStrategy.tableRow({ metadata: { name: 'etcd-0' }, conditions: [{ type: 'Healthy', status: 'True', message: 'ok' }] }, NOW)).toEqual(['etcd-0', 'Healthy', 'ok', '']);
    expect(componentStatusStrategy.tableRow({ metadata: { name: 'etcd-1' }, conditions: [{ type: 'Healthy', status: 'False', error: 'refused' }] }, NOW)).toEqual(['etcd-1', 'Unhealthy', '', 'refused']);
  });

  it('every kind has a name column, one cell per column, and metadata.name selectable', () => {
    for (const s of ALL_STRATEGIES) {
      const o: KubeObject = { metadata: { name: 'x', namespace: 'default', creationTimestamp: ago(1) } };
      expect(s.tableRow(o, NOW), s.def.resource).toHaveLength(s.tableColumns.length);
      expect(s.tableColumns.filter((c) => c.format === 'name'), s.def.resource).toHaveLength(1);
      expect(s.fieldValue(o, 'metadata.name')).toBe('x');
      expect(s.fieldValue(o, 'no.such.field')).toBeUndefined();
    }
  });
});
