// kube-apiserver's pure parts: URL → request info, discovery documents, Status shapes, selectors, tables,
// continue tokens, protobuf bodies, merge patches, the token file, names and defaults.
import { describe, expect, it } from 'vitest';
import {
  alreadyExists,
  apiGroupList,
  apiResourceList,
  apiVersions,
  applyMergePatch,
  ALL_STRATEGIES,
  buildTable,
  conflict,
  decodeContinue,
  encodeContinue,
  humanDuration,
  invalid,
  notFound,
  parseBody,
  parseCsvLine,
  parseSelectors,
  parseRequest,
  selectorsMatch,
  parseTokenFile,
  strategyTable,
  unauthorized,
  versionInfo,
  wantsTable,
  ApiError,
  type Strategy,
} from '../apiserver/index.js';
import { storageKey } from '../apiserver/kinds/index.js';
import { keys, parseEndpointsObject, parsePodObject, parseServiceObject } from '../cluster/index.js';

const q = (s = '') => new URLSearchParams(s);
const kind = (r: string): Strategy => ALL_STRATEGIES.find((k) => k.def.resource === r)!;

describe('request parsing', () => {
  it('reads group, version, resource, namespace, name, subresource and verb as the apiserver does', () => {
    expect(parseRequest('GET', '/api/v1/namespaces/default/pods', q())).toEqual({ kind: 'resource', group: '', version: 'v1', resource: 'pods', namespace: 'default', verb: 'list' });
    expect(parseRequest('GET', '/api/v1/namespaces/default/pods/web', q())).toMatchObject({ resource: 'pods', namespace: 'default', name: 'web', verb: 'get' });
    expect(parseRequest('GET', '/api/v1/namespaces/default/pods', q('watch=true'))).toMatchObject({ verb: 'watch' });
    expect(parseRequest('GET', '/api/v1/watch/namespaces/default/pods', q())).toMatchObject({ resource: 'pods', verb: 'watch' });
    expect(parseRequest('GET', '/api/v1/pods', q('watch=1'))).toMatchObject({ resource: 'pods', verb: 'watch' });
    // Go's strconv.ParseBool, as kube-apiserver reads it: the Python client sends `watch=True`.
    for (const v of ['True', 'TRUE', 't', 'T']) expect(parseRequest('GET', '/api/v1/pods', q(`watch=${v}`))).toMatchObject({ verb: 'watch' });
    for (const v of ['yes', 'on', '']) expect(parseRequest('GET', '/api/v1/pods', q(`watch=${v}`))).toMatchObject({ verb: 'list' });
    expect(parseRequest('PUT', '/api/v1/namespaces/default/pods/web/status', q())).toMatchObject({ name: 'web', subresource: 'status', verb: 'update' });
    expect(parseRequest('POST', '/api/v1/namespaces/default/pods/web/binding', q())).toMatchObject({ subresource: 'binding', verb: 'create' });
    expect(parseRequest('DELETE', '/api/v1/namespaces/default/pods', q())).toMatchObject({ verb: 'deletecollection' });
    expect(parseRequest('PATCH', '/apis/apps/v1/namespaces/x/deployments/d/scale', q())).toMatchObject({ group: 'apps', version: 'v1', resource: 'deployments', namespace: 'x', name: 'd', subresource: 'scale', verb: 'patch' });
    expect(parseRequest('GET', '/api/v1/nodes/n1', q())).toEqual({ kind: 'resource', group: '', version: 'v1', resource: 'nodes', name: 'n1', verb: 'get' });
  });

  it('reads a namespace itself, and its status, as the namespaces resource', () => {
    expect(parseRequest('GET', '/api/v1/namespaces/kube-system', q())).toEqual({ kind: 'resource', group: '', version: 'v1', resource: 'namespaces', name: 'kube-system', verb: 'get' });
    expect(parseRequest('PUT', '/api/v1/namespaces/x/status', q())).toMatchObject({ resource: 'namespaces', name: 'x', subresource: 'status' });
    expect(parseRequest('PUT', '/api/v1/namespaces/x/finalize', q())).toMatchObject({ resource: 'namespaces', name: 'x', subresource: 'finalize' });
    expect(parseRequest('GET', '/api/v1/namespaces', q())).toMatchObject({ resource: 'namespaces', verb: 'list' });
  });

  it('leaves discovery and other paths as non-resource requests', () => {
    for (const p of ['/api', '/api/v1', '/apis', '/apis/apps', '/apis/apps/v1', '/version', '/healthz', '/openapi/v2']) expect(parseRequest('GET', p, q()).kind).toBe('nonresource');
  });
});

describe('discovery', () => {
  it('/api/v1 lists the kinds with short names, categories, verbs and subresources', () => {
    const doc = apiResourceList(ALL_STRATEGIES, '', 'v1') as { kind: string; groupVersion: string; resources: Record<string, unknown>[] };
    expect(doc).toMatchObject({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'v1' });
    const byName = new Map(doc.resources.map((r) => [r.name, r]));
    expect(byName.get('pods')).toEqual({ name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['po'], categories: ['all'] });
    expect(byName.get('pods/status')).toEqual({ name: 'pods/status', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update'] });
    expect(byName.get('pods/binding')).toMatchObject({ kind: 'Binding', verbs: ['create'] });
    expect(byName.get('services')).toMatchObject({ shortNames: ['svc'], categories: ['all'] });
    expect(byName.get('replicationcontrollers')).toMatchObject({ shortNames: ['rc'], categories: ['all'] });
    expect(byName.get('nodes')).toMatchObject({ namespaced: false, shortNames: ['no'] });
    expect(byName.get('namespaces')).not.toHaveProperty('categories');
    expect(byName.get('replicationcontrollers/scale')).toEqual({ name: 'replicationcontrollers/scale', singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
    expect(byName.get('componentstatuses')).toMatchObject({ namespaced: false, shortNames: ['cs'], verbs: ['get', 'list'] });
    expect(byName.get('serviceaccounts')).toMatchObject({ shortNames: ['sa'] });
    expect(byName.get('pods/log')).toMatchObject({ kind: 'Pod', verbs: ['get'] });
    const apps = apiResourceList(ALL_STRATEGIES, 'apps', 'v1') as { groupVersion: string; resources: Record<string, unknown>[] };
    const appsByName = new Map(apps.resources.map((r) => [r.name, r]));
    expect(apps.groupVersion).toBe('apps/v1');
    expect(appsByName.get('deployments')).toMatchObject({ kind: 'Deployment', shortNames: ['deploy'], categories: ['all'], namespaced: true });
    expect(appsByName.get('deployments/scale')).toMatchObject({ group: 'autoscaling', version: 'v1', kind: 'Scale' });
    expect(appsByName.get('daemonsets/status')).toMatchObject({ kind: 'DaemonSet', verbs: ['get', 'patch', 'update'] });
    expect(appsByName.has('daemonsets/scale')).toBe(false);
    expect(apiResourceList(ALL_STRATEGIES, 'batch', 'v1')).toMatchObject({ resources: expect.arrayContaining([expect.objectContaining({ name: 'cronjobs', shortNames: ['cj'], categories: ['all'] })]) });
    expect(apiResourceList(ALL_STRATEGIES, 'networking.k8s.io', 'v1')).toMatchObject({ resources: expect.arrayContaining([expect.objectContaining({ name: 'ingresses', shortNames: ['ing'] })]) });
    // autoscaling/v1 is only the group of the Scale kind of .../scale: no resource list of its own.
    expect(apiResourceList(ALL_STRATEGIES, 'autoscaling', 'v1')).toBeUndefined();
    expect(apiResourceList(ALL_STRATEGIES, 'extensions', 'v1beta1')).toBeUndefined();
  });

  it('/api, /apis and /version', () => {
    expect(apiVersions('10.0.0.1:6443')).toEqual({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '10.0.0.1:6443' }] });
    const groups = (apiGroupList(ALL_STRATEGIES) as { groups: { name: string; preferredVersion: unknown }[] }).groups;
    expect(groups.map((g) => g.name)).toEqual(['apps', 'batch', 'networking.k8s.io', 'coordination.k8s.io', 'rbac.authorization.k8s.io', 'authentication.k8s.io', 'authorization.k8s.io']);
    expect(groups[0]).toEqual({ name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } });
    expect(apiGroupList([kind('pods')])).toEqual({ kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    expect(versionInfo()).toMatchObject({ major: '1', minor: '32', gitVersion: expect.stringMatching(/^v1\.32\.\d+$/) });
  });
});

describe('Status', () => {
  it('is shaped as the real apiserver shapes it', () => {
    expect(notFound('', 'pods', 'x').toStatus()).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'pods "x" not found', reason: 'NotFound', details: { name: 'x', kind: 'pods' }, code: 404 });
    expect(notFound('apps', 'deployments', 'd').toStatus()).toMatchObject({ message: 'deployments.apps "d" not found', details: { name: 'd', group: 'apps', kind: 'deployments' } });
    expect(alreadyExists('', 'services', 's').toStatus()).toMatchObject({ code: 409, reason: 'AlreadyExists', message: 'services "s" already exists' });
    expect(conflict('', 'pods', 'p').toStatus()).toMatchObject({ code: 409, reason: 'Conflict', message: 'Operation cannot be fulfilled on pods "p": the object has been modified; please apply your changes to the latest version and try again' });
    expect(unauthorized().toStatus()).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  });

  it('422 Invalid names every field, one bare or several in brackets', () => {
    const one = invalid('', 'Pod', 'p', [{ type: 'FieldValueRequired', field: 'spec.containers[0].image' }]).toStatus();
    expect(one).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Pod "p" is invalid: spec.containers[0].image: Required value',
      reason: 'Invalid',
      details: { name: 'p', kind: 'Pod', causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' }] },
      code: 422,
    });
    const two = invalid('', 'Service', 's', [
      { type: 'FieldValueInvalid', field: 'spec.ports[0].port', value: 0, detail: 'must be between 1 and 65535, inclusive' },
      { type: 'FieldValueNotSupported', field: 'spec.type', value: 'Foo', detail: 'supported values: "ClusterIP"' },
    ]).toStatus();
    expect(two.message).toBe('Service "s" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.type: Unsupported value: "Foo": supported values: "ClusterIP"]');
  });
});

describe('selectors', () => {
  const pods = () => kind('pods').selectableFields;
  it('parses and matches every label operator', () => {
    const l = { app: 'web', tier: 'front' };
    const m = (s: string) => selectorsMatch(parseSelectors(s, '', pods()), l, {});
    expect(m('')).toBe(true);
    expect(m('app=web')).toBe(true);
    expect(m('app==web,tier=front')).toBe(true);
    expect(m('app!=web')).toBe(false);
    expect(m('app!=db')).toBe(true);
    expect(m('missing!=x')).toBe(true);
    expect(m('tier in (front, back)')).toBe(true);
    expect(m('tier notin (front)')).toBe(false);
    expect(m('missing notin (x)')).toBe(true);
    expect(m('app')).toBe(true);
    expect(m('!app')).toBe(false);
    expect(m('!missing,app in (web)')).toBe(true);
    expect(parseSelectors('example.com/role=a', '', pods()).labels).toEqual([{ key: 'example.com/role', operator: '=', values: ['a'] }]);
  });

  it('matches fields, a missing one reading as empty', () => {
    const sel = parseSelectors('', 'spec.nodeName=n1,status.phase!=Failed', pods());
    expect(selectorsMatch(sel, {}, { 'spec.nodeName': 'n1', 'status.phase': 'Running' })).toBe(true);
    expect(selectorsMatch(sel, {}, { 'spec.nodeName': 'n1', 'status.phase': 'Failed' })).toBe(false);
    expect(selectorsMatch(sel, {}, { 'status.phase': 'Running' })).toBe(false);
    expect(selectorsMatch(parseSelectors('', 'spec.nodeName=', pods()), {}, {})).toBe(true);
  });

  it('refuses a bad label selector, and a field a kind does not support, with a 400', () => {
    expect(() => parseSelectors('a in b', '', pods())).toThrow(ApiError);
    expect(() => parseSelectors('a=b c', '', pods())).toThrow("found 'c', expected: ',' or 'end of string'");
    const bad = (() => {
      try {
        parseSelectors('', 'spec.nope=1', pods());
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(bad).toBeInstanceOf(ApiError);
    expect((bad as ApiError).toStatus()).toMatchObject({ code: 400, reason: 'BadRequest', message: 'field label not supported: spec.nope' });
    expect(() => parseSelectors('', 'spec.nodeName', pods())).toThrow("invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'");
    expect(parseSelectors('', 'spec.nodeName=n1,status.phase!=Failed', pods()).fields).toEqual([
      { field: 'spec.nodeName', operator: '=', value: 'n1' },
      { field: 'status.phase', operator: '!=', value: 'Failed' },
    ]);
    expect(kind('nodes').selectableFields).not.toContain('metadata.namespace');
    expect(kind('events').selectableFields).toContain('involvedObject.name');
  });
});

describe('tables', () => {
  it('asks for a Table only when kubectl does', () => {
    expect(wantsTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json')).toBe(true);
    expect(wantsTable('application/json')).toBe(false);
    expect(wantsTable('application/json;as=Table;v=v1beta1;g=meta.k8s.io')).toBe(false);
  });

  it('prints ages as Go\'s HumanDuration', () => {
    expect([0, 59_000, 119_000, 120_000, 150_000, 600_000, 3 * 3600_000 + 60_000, 7 * 3600_000, 30 * 3600_000, 3 * 86400_000 + 3600_000, 400 * 86400_000].map(humanDuration)).toEqual(['0s', '59s', '119s', '2m', '2m30s', '10m', '3h1m', '7h', '30h', '3d1h', '400d']);
  });

  it('fills the pod, service, node and rc columns users know', () => {
    const now = Date.parse('2025-01-01T00:10:00Z');
    const pod = { metadata: { name: 'web', creationTimestamp: '2025-01-01T00:00:00Z' }, spec: { nodeName: 'n1', containers: [{}, {}] }, status: { phase: 'Running', podIP: '10.1.2.3', containerStatuses: [{ ready: true, restartCount: 1, state: { running: {} } }, { ready: false, restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } };
    const t = buildTable(strategyTable(kind('pods')), [pod], { resourceVersion: '5' }, 'Metadata', now) as { columnDefinitions: { name: string; priority: number }[]; rows: { cells: unknown[]; object: unknown }[] };
    expect(t.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name)).toEqual(['Name', 'Ready', 'Status', 'Restarts', 'Age']);
    expect(t.columnDefinitions.filter((c) => c.priority === 1).map((c) => c.name).slice(0, 2)).toEqual(['IP', 'Node']);
    expect(t.rows[0]!.cells).toEqual(['web', '1/2', 'CrashLoopBackOff', '3', '10m', '10.1.2.3', 'n1', '<none>', '<none>']);
    expect(t.rows[0]!.object).toEqual({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: pod.metadata });
    const svc = { metadata: { name: 's' }, spec: { type: 'NodePort', clusterIP: '10.254.0.9', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }], selector: { app: 'web' } } };
    expect(kind('services').tableRow(svc, now)).toEqual(['s', 'NodePort', '10.254.0.9', '<none>', '80:30080/TCP,53/UDP', '<unknown>', 'app=web']);
    const node = { metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/master': '' } }, status: { conditions: [{ type: 'Ready', status: 'False' }], nodeInfo: { kubeletVersion: 'v1.0' } } };
    expect(kind('nodes').tableRow(node, now).slice(0, 5)).toEqual(['n1', 'NotReady', 'master', '<unknown>', 'v1.0']);
    const rc = { metadata: { name: 'db' }, spec: { replicas: 2, selector: { name: 'db' }, template: { spec: { containers: [{ name: 'db', image: 'mysql' }] } } }, status: { replicas: 1, readyReplicas: 1 } };
    expect(kind('replicationcontrollers').tableRow(rc, now)).toEqual(['db', 2, 1, 1, '<unknown>', 'db', 'mysql', 'name=db']);
  });
});

describe('kinds', () => {
  it('store at early Kubernetes\' keys, the ones cluster/keys.ts names', () => {
    const key = (r: string, ns: string | undefined, name: string) => storageKey(kind(r).def, '/registry', ns ?? '', name);
    expect(key('pods', 'default', 'web')).toBe(keys.pod('default', 'web'));
    expect(key('nodes', undefined, 'n1')).toBe(keys.node('n1'));
    expect(key('services', 'default', 's')).toBe(keys.service('default', 's'));
    expect(key('endpoints', 'default', 's')).toBe(keys.endpoints('default', 's'));
    expect(key('secrets', 'default', 'x')).toBe(keys.secret('default', 'x'));
    expect(key('configmaps', 'default', 'x')).toBe(keys.configMap('default', 'x'));
    expect(key('replicationcontrollers', 'default', 'db')).toBe('/registry/controllers/default/db');
  });

  it('check names by the kind\'s rule', () => {
    const nameErrors = (r: string, name: string) => kind(r).validate({ metadata: { name, namespace: 'default' } }).filter((e) => e.field === 'metadata.name');
    expect(nameErrors('pods', 'web.v1')).toEqual([]);
    expect(nameErrors('pods', 'Web')).toMatchObject([{ type: 'FieldValueInvalid', field: 'metadata.name' }]);
    expect(nameErrors('services', '1db')).toMatchObject([{ detail: expect.stringContaining('DNS-1035') }]);
    expect(kind('namespaces').validate({ metadata: { name: 'a.b' } })).toMatchObject([{ field: 'metadata.name', detail: expect.stringContaining('RFC 1123 label') }]);
  });

  it('fill in the defaults users rely on', () => {
    const pod = { spec: { containers: [{ name: 'a', image: 'nginx' }, { name: 'b', image: 'redis:7' }] } } as Record<string, unknown>;
    kind('pods').defaults(pod);
    expect(pod.spec).toMatchObject({ restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', terminationGracePeriodSeconds: 30, containers: [{ imagePullPolicy: 'Always', terminationMessagePath: '/dev/termination-log' }, { imagePullPolicy: 'IfNotPresent' }] });
    const svc = { spec: { ports: [{ port: 80 }] } } as Record<string, unknown>;
    kind('services').defaults(svc);
    expect(svc.spec).toMatchObject({ type: 'ClusterIP', sessionAffinity: 'None', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] });
    const rc = { metadata: { name: 'db', namespace: 'default' }, spec: { template: { metadata: { labels: { name: 'db' } }, spec: { containers: [{ name: 'db', image: 'mysql' }] } } } } as Record<string, unknown>;
    kind('replicationcontrollers').defaults(rc);
    expect(rc).toMatchObject({ metadata: { labels: { name: 'db' } }, spec: { replicas: 1, selector: { name: 'db' } } });
    expect(kind('replicationcontrollers').validate(rc)).toEqual([]);
    const ns = { metadata: { name: 'team' } } as Record<string, unknown>;
    kind('namespaces').defaults(ns);
    expect(ns.metadata).toEqual({ name: 'team', labels: { 'kubernetes.io/metadata.name': 'team' } });
  });
});

describe('what the apiserver writes, the kubelet and kube-proxy read', () => {
  it('passes their parsers after defaulting (a pod, a NodePort service, the kubernetes endpoints)', () => {
    const pod = { metadata: { name: 'p', namespace: 'default', uid: 'u' }, spec: { nodeName: 'n', containers: [{ name: 'c', image: 'busybox', ports: [{ containerPort: 80 }] }] } } as Record<string, unknown>;
    kind('pods').defaults(pod);
    kind('pods').prepareForCreate(pod);
    expect(parsePodObject(pod).spec.containers[0]).toMatchObject({ image: 'busybox', imagePullPolicy: 'Always', ports: [{ containerPort: 80, protocol: 'TCP' }] });
    const svc = { metadata: { name: 's', namespace: 'default' }, spec: { type: 'NodePort', clusterIP: '10.254.0.5', clusterIPs: ['10.254.0.5'], selector: { a: 'b' }, ports: [{ port: 80, nodePort: 30001 }] } };
    kind('services').defaults(svc);
    expect(parseServiceObject(svc).spec).toMatchObject({ clusterIP: '10.254.0.5', ports: [{ port: 80, nodePort: 30001, targetPort: 80, protocol: 'TCP' }] });
    const ep = { metadata: { name: 'kubernetes', namespace: 'default' }, subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }] };
    expect(parseEndpointsObject(ep).subsets).toHaveLength(1);
  });
});

describe('bodies', () => {
  it('reads JSON and YAML, and refuses what is neither with a 400', () => {
    expect(parseBody('{"a":1}', 'application/json')).toEqual({ a: 1 });
    expect(parseBody('a: 1\n', 'application/yaml')).toEqual({ a: 1 });
    expect(() => parseBody('{nope', 'application/json')).toThrow(/json parse error/);
    expect(() => parseBody('x', 'application/cbor')).toThrow(ApiError);
  });

  it('decodes kubectl\'s protobuf envelope: a ConfigMap as `kubectl create configmap` sends it', () => {
    const varint = (n: number): number[] => {
      const out: number[] = [];
      while (n > 0x7f) {
        out.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      out.push(n);
      return out;
    };
    const field = (no: number, payload: Buffer | string): Buffer => {
      const b = Buffer.from(payload);
      return Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(b.length)]), b]);
    };
    const entry = (k: string, v: string) => Buffer.concat([field(1, k), field(2, v)]);
    const meta = Buffer.concat([field(1, 'settings'), field(2, ''), field(3, 'team'), field(11, entry('app', 'web'))]);
    const cm = Buffer.concat([field(1, meta), field(2, entry('mode', 'fast')), field(2, entry('level', '3')), Buffer.from([4 << 3, 0])]);
    const envelope = Buffer.concat([Buffer.from('k8s\0'), field(1, Buffer.concat([field(1, 'v1'), field(2, 'ConfigMap')])), field(2, cm), field(3, ''), field(4, '')]);
    expect(parseBody(envelope, 'application/vnd.kubernetes.protobuf')).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'team', labels: { app: 'web' } }, data: { mode: 'fast', level: '3' } });
    const del = Buffer.concat([Buffer.from('k8s\0'), field(1, Buffer.concat([field(1, 'v1'), field(2, 'DeleteOptions')])), field(2, Buffer.from([1 << 3, 0]))]);
    expect(parseBody(del, 'application/vnd.kubernetes.protobuf')).toEqual({ apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
    expect(() => parseBody(Buffer.from('nope'), 'application/vnd.kubernetes.protobuf')).toThrow(ApiError);
  });

  it('applies JSON merge patches (RFC 7386)', () => {
    expect(applyMergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1] }, { b: { c: null, e: 4 }, l: [2], n: 'x' })).toEqual({ a: 1, b: { d: 3, e: 4 }, l: [2], n: 'x' });
  });
});

describe('paging and tokens', () => {
  it('round-trips continue tokens and refuses a forged one', () => {
    const t = encodeContinue(42n, 'pods/default/web\u0000');
    expect(decodeContinue(t)).toEqual({ v: 'meta.k8s.io/v1', rv: 42, start: 'pods/default/web\u0000' });
    expect(() => decodeContinue('bm9wZQ==')).toThrow(/continue key is not valid/);
  });

  it('reads kube-apiserver\'s token file', () => {
    expect(parseCsvLine('t1,alice,1001,"dev,ops"')).toEqual(['t1', 'alice', '1001', 'dev,ops']);
    const users = parseTokenFile('t1,alice,1001,"dev,ops"\n\nt2,bob,1002\n');
    expect(users.get('t1')).toEqual({ name: 'alice', uid: '1001', groups: ['dev', 'ops'] });
    expect(users.get('t2')).toEqual({ name: 'bob', uid: '1002', groups: [] });
    expect(() => parseTokenFile('t3,carol\n')).toThrow('token file line 1: must have at least 3 columns (token, user name, user uid), found 2');
  });
});
