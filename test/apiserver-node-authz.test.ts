// The Node authorizer's decisions over a graph of pods, and NodeRestriction's refusals, with Kubernetes'
// reasons and messages. Pure: the graph is fed events, the plugin lookups are maps.
import { describe, expect, it } from 'vitest';
import { nodeRestriction, type NodeRestrictionLookups } from '../apiserver/admission/index.js';
import {
  type Attributes,
  Authorizer,
  bootstrapClusterRoleBindings,
  bootstrapClusterRoles,
  bootstrapRoleBindings,
  bootstrapRoles,
  NodeGraph,
  nodeAuthorize,
  nodeIdentity,
  nodeRules,
  parseAuthorizationModes,
  podReferences,
  rbacAuthorize,
  RbacPolicy,
} from '../apiserver/authz/index.js';
import { ApiError } from '../apiserver/index.js';

type Obj = Record<string, unknown>;
const nodeA = { name: 'system:node:a', groups: ['system:nodes', 'system:authenticated'] };

const pod = (ns: string, name: string, node: string, rv: string, spec: Obj = {}): Obj => ({
  metadata: { namespace: ns, name, resourceVersion: rv, uid: `uid-${name}` },
  spec: { nodeName: node, containers: [{ name: 'c', image: 'x' }], ...spec },
});

const withRefs = (ns: string, name: string, node: string, rv: string): Obj =>
  pod(ns, name, node, rv, {
    serviceAccountName: 'runner',
    imagePullSecrets: [{ name: 'pull' }],
    containers: [{ name: 'c', image: 'x', envFrom: [{ configMapRef: { name: 'env-cm' } }, { secretRef: { name: 'env-secret' } }], env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 'key-secret', key: 'k' } } }] }],
    volumes: [
      { name: 'v1', secret: { secretName: 'vol-secret' } },
      { name: 'v2', configMap: { name: 'vol-cm' } },
      { name: 'v3', projected: { sources: [{ secret: { name: 'proj-secret' } }, { configMap: { name: 'proj-cm' } }] } },
      { name: 'v4', persistentVolumeClaim: { claimName: 'data' } },
    ],
  });

const attrs = (verb: string, resource: string, over: Partial<Attributes> = {}): Attributes => ({
  user: nodeA,
  verb,
  resourceRequest: true,
  apiGroup: '',
  apiVersion: 'v1',
  resource,
  subresource: '',
  namespace: 'team',
  name: '',
  path: '',
  ...over,
});

function graphWith(...pods: Obj[]): NodeGraph {
  const g = new NodeGraph();
  for (const p of pods) g.apply({ type: 'ADDED', object: p });
  g.markSynced();
  return g;
}

describe('the node graph', () => {
  it("reads every reference Kubernetes' pod visitors find", () => {
    expect(podReferences(withRefs('team', 'p', 'a', '1'))).toEqual({
      secrets: ['pull', 'env-secret', 'key-secret', 'vol-secret', 'proj-secret'],
      configMaps: ['env-cm', 'vol-cm', 'proj-cm'],
      claims: ['data'],
      serviceAccount: 'runner',
    });
  });

  it('knows nothing before the first list, follows pods moving, and keeps an object named by two pods until both are gone', () => {
    const g = new NodeGraph();
    g.apply({ type: 'ADDED', object: pod('team', 'p1', 'a', '5', { volumes: [{ name: 'v', secret: { secretName: 's' } }] }) });
    expect(g.relates('a', 'secret', 'team', 's')).toBe(false);
    g.markSynced();
    expect(g.relates('a', 'secret', 'team', 's')).toBe(true);
    g.apply({ type: 'ADDED', object: pod('team', 'p2', 'a', '6', { volumes: [{ name: 'v', secret: { secretName: 's' } }] }) });
    g.apply({ type: 'DELETED', object: pod('team', 'p1', 'a', '7') });
    expect(g.relates('a', 'secret', 'team', 's')).toBe(true);
    // An event older than what the graph holds (the watch behind this apiserver's own write) is ignored.
    g.apply({ type: 'MODIFIED', object: pod('team', 'p2', 'b', '3') });
    expect(g.relates('a', 'pod', 'team', 'p2')).toBe(true);
    g.apply({ type: 'MODIFIED', object: pod('team', 'p2', 'b', '8', { volumes: [{ name: 'v', secret: { secretName: 's' } }] }) });
    expect(g.relates('a', 'secret', 'team', 's')).toBe(false);
    expect(g.hasNode('a')).toBe(false);
    expect(g.relates('b', 'secret', 'team', 's')).toBe(true);
    // Unbound pods are in no node's reach.
    g.apply({ type: 'ADDED', object: pod('team', 'p3', '', '9', { volumes: [{ name: 'v', secret: { secretName: 'u' } }] }) });
    expect(g.relates('', 'secret', 'team', 'u')).toBe(false);
  });

  it('answers from the last synced state while it lists again, and takes writes meanwhile', () => {
    const g = graphWith(pod('team', 'p1', 'a', '1'));
    g.reset();
    g.apply({ type: 'ADDED', object: pod('team', 'p2', 'a', '2') });
    expect(g.relates('a', 'pod', 'team', 'p1')).toBe(true);
    expect(g.relates('a', 'pod', 'team', 'p2')).toBe(true);
    g.markSynced();
    expect(g.relates('a', 'pod', 'team', 'p1')).toBe(false);
    expect(g.relates('a', 'pod', 'team', 'p2')).toBe(true);
  });
});

describe('the Node authorizer', () => {
  const g = graphWith(withRefs('team', 'web', 'a', '1'), withRefs('team', 'other', 'b', '2'), pod('team', 'b-only', 'b', '3', { volumes: [{ name: 'v', secret: { secretName: 'b-secret' } }] }));
  const decide = (a: Attributes) => nodeAuthorize(g, nodeRules(), a);

  it('identifies nodes by user name and group together', () => {
    expect(nodeIdentity(nodeA)).toEqual({ isNode: true, nodeName: 'a' });
    expect(nodeIdentity({ name: 'system:node:a', groups: [] })).toEqual({ isNode: false });
    expect(nodeIdentity({ name: 'alice', groups: ['system:nodes'] })).toEqual({ isNode: false });
    expect(decide(attrs('get', 'secrets', { user: { name: 'system:node:', groups: ['system:nodes'] }, name: 'pull' }))).toEqual({ decision: 'noOpinion', reason: 'unknown node for user "system:node:"' });
    expect(decide(attrs('get', 'secrets', { user: { name: 'alice', groups: [] }, name: 'pull' }))).toEqual({ decision: 'noOpinion', reason: '' });
  });

  it("lets a node read what its pods name and nothing of another node's pods", () => {
    for (const name of ['pull', 'env-secret', 'key-secret', 'vol-secret', 'proj-secret']) expect(decide(attrs('get', 'secrets', { name })).decision).toBe('allow');
    for (const name of ['env-cm', 'vol-cm', 'proj-cm']) expect(decide(attrs('watch', 'configmaps', { name })).decision).toBe('allow');
    expect(decide(attrs('get', 'persistentvolumeclaims', { name: 'data' })).decision).toBe('allow');
    expect(decide(attrs('get', 'secrets', { name: 'b-secret' }))).toEqual({ decision: 'noOpinion', reason: "no relationship found between node 'a' and this object" });
    expect(decide(attrs('get', 'secrets', { name: 'pull', namespace: 'elsewhere' })).decision).toBe('noOpinion');
    expect(decide(attrs('list', 'secrets'))).toEqual({ decision: 'noOpinion', reason: 'No Object name found' });
    expect(decide(attrs('update', 'secrets', { name: 'pull' }))).toEqual({ decision: 'noOpinion', reason: 'can only read resources of this type' });
    expect(decide(attrs('list', 'secrets', { namespace: '' }))).toEqual({ decision: 'noOpinion', reason: 'can only read namespaced object of this type' });
    expect(decide(attrs('list', 'persistentvolumeclaims', { name: 'data' }))).toEqual({ decision: 'noOpinion', reason: 'can only get individual resources of this type' });
  });

  it('lets a node create tokens only of its pods’ service accounts, never read service accounts', () => {
    expect(decide(attrs('create', 'serviceaccounts', { name: 'runner', subresource: 'token' })).decision).toBe('allow');
    expect(decide(attrs('get', 'serviceaccounts', { name: 'runner' }))).toEqual({ decision: 'noOpinion', reason: 'can only create tokens for individual service accounts' });
    expect(decide(attrs('create', 'serviceaccounts', { name: 'runner' }))).toEqual({ decision: 'noOpinion', reason: 'can only create token subresource of serviceaccount' });
    expect(decide(attrs('create', 'serviceaccounts', { name: 'default', subresource: 'token' })).decision).toBe('noOpinion');
  });

  it('reads only its own Node, writes Nodes (NodeRestriction narrows), and its Lease in kube-node-lease', () => {
    expect(decide(attrs('get', 'nodes', { namespace: '', name: 'a' })).decision).toBe('allow');
    expect(decide(attrs('watch', 'nodes', { namespace: '', name: 'a' })).decision).toBe('allow');
    expect(decide(attrs('get', 'nodes', { namespace: '', name: 'b' }))).toEqual({ decision: 'noOpinion', reason: "node 'a' cannot read 'b', only its own Node object" });
    expect(decide(attrs('list', 'nodes', { namespace: '' }))).toEqual({ decision: 'noOpinion', reason: "node 'a' cannot read all nodes, only its own Node object" });
    expect(decide(attrs('update', 'nodes', { namespace: '', name: 'b', subresource: 'status' })).decision).toBe('allow');
    expect(decide(attrs('delete', 'nodes', { namespace: '', name: 'a' })).decision).toBe('noOpinion');
    const lease = (verb: string, over: Partial<Attributes>) => decide(attrs(verb, 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', ...over }));
    expect(lease('update', { name: 'a' }).decision).toBe('allow');
    expect(lease('create', {}).decision).toBe('allow');
    expect(lease('update', { name: 'b' })).toEqual({ decision: 'noOpinion', reason: 'can only access node lease with the same name as the requesting node' });
    expect(lease('get', { name: 'a', namespace: 'kube-system' })).toEqual({ decision: 'noOpinion', reason: 'can only access leases in the "kube-node-lease" system namespace' });
    expect(lease('list', {})).toEqual({ decision: 'noOpinion', reason: 'can only get, create, update, patch, or delete a node lease' });
  });

  it('lists pods only by its spec.nodeName, gets only its own, and leaves the rest to the static node rules', () => {
    const mine = [{ field: 'spec.nodeName', operator: '=', value: 'a' }];
    expect(decide(attrs('list', 'pods', { namespace: '', fieldSelector: mine })).decision).toBe('allow');
    expect(decide(attrs('watch', 'pods', { namespace: '', fieldSelector: [{ field: 'spec.nodeName', operator: '=', value: 'b' }] }))).toEqual({ decision: 'noOpinion', reason: 'can only list/watch pods with spec.nodeName field selector' });
    expect(decide(attrs('get', 'pods', { name: 'web' })).decision).toBe('allow');
    expect(decide(attrs('get', 'pods', { name: 'other' })).decision).toBe('noOpinion');
    expect(decide(attrs('update', 'pods', { name: 'other', subresource: 'status' })).decision).toBe('allow');
    expect(decide(attrs('update', 'pods', { name: 'web' })).decision).toBe('noOpinion');
    expect(decide(attrs('list', 'services')).decision).toBe('allow');
    expect(decide(attrs('create', 'events')).decision).toBe('allow');
    expect(decide(attrs('delete', 'services', { name: 'x' }))).toEqual({ decision: 'noOpinion', reason: '' });
  });

  it('parses Node,RBAC; with RBAC after it, a node is refused with both reasons and nothing else is changed', async () => {
    expect(parseAuthorizationModes('Node,RBAC')).toEqual(['Node', 'RBAC']);
    const policy = new RbacPolicy({ roles: [], clusterRoles: [], roleBindings: [], clusterRoleBindings: [] });
    const authz = new Authorizer(['Node', 'RBAC'], { policy: () => Promise.resolve(policy) }, g);
    expect(await authz.authorize(attrs('get', 'secrets', { name: 'b-secret' }))).toEqual({ decision: 'noOpinion', reason: "no relationship found between node 'a' and this object" });
    expect((await authz.authorize(attrs('get', 'secrets', { name: 'pull' }))).decision).toBe('allow');
    expect(() => new Authorizer(['Node'])).toThrow('the Node authorizer needs a graph of the pods');
  });
});

describe("the bootstrap rights of this project's daemons", () => {
  const policy = new RbacPolicy({ roles: bootstrapRoles(), clusterRoles: bootstrapClusterRoles(), roleBindings: bootstrapRoleBindings(), clusterRoleBindings: bootstrapClusterRoleBindings() });
  const can = (user: string, verb: string, resource: string, over: Partial<Attributes> = {}) => rbacAuthorize(policy, attrs(verb, resource, { user: { name: user, groups: ['system:authenticated'] }, ...over })).decision === 'allow';
  const lease = { apiGroup: 'coordination.k8s.io', namespace: 'kube-system' };

  it('kube-proxy: reads services and endpoints, and writes neither (the controller manager writes the Endpoints)', () => {
    expect(can('system:kube-proxy', 'watch', 'services')).toBe(true);
    expect(can('system:kube-proxy', 'list', 'endpoints')).toBe(true);
    expect(can('system:kube-proxy', 'update', 'endpoints', { name: 'web' })).toBe(false);
    expect(can('system:kube-proxy', 'create', 'leases', lease)).toBe(false);
    expect(can('system:kube-proxy', 'create', 'pods')).toBe(false);
    expect(can('system:kube-proxy', 'get', 'secrets', { name: 's' })).toBe(false);
  });

  it("kube-controller-manager: its controllers' rights, and no creates beyond them", () => {
    expect(can('system:kube-controller-manager', 'create', 'pods')).toBe(true);
    expect(can('system:kube-controller-manager', 'update', 'replicationcontrollers', { subresource: 'status', name: 'db' })).toBe(true);
    expect(can('system:kube-controller-manager', 'update', 'replicasets', { apiGroup: 'apps', subresource: 'status', name: 'web' })).toBe(true);
    expect(can('system:kube-controller-manager', 'update', 'leases', { ...lease, name: 'kube-controller-manager' })).toBe(true);
    // It holds the garbage collector's role (update and delete of anything), but creates only what its controllers make.
    expect(can('system:kube-controller-manager', 'update', 'endpoints', { name: 'web' })).toBe(true);
    expect(can('system:kube-controller-manager', 'create', 'nodes')).toBe(false);
    expect(can('system:kube-controller-manager', 'create', 'services')).toBe(false);
  });

  it('kube-scheduler: binds and writes pod status; nodes get nothing from RBAC (the Node authorizer grants theirs)', () => {
    expect(can('system:kube-scheduler', 'create', 'pods', { subresource: 'binding', name: 'p' })).toBe(true);
    expect(can('system:kube-scheduler', 'patch', 'pods', { subresource: 'status', name: 'p' })).toBe(true);
    expect(can('system:kube-scheduler', 'create', 'pods')).toBe(false);
    expect(rbacAuthorize(policy, attrs('get', 'services')).decision).toBe('noOpinion');
  });
});

describe('NodeRestriction', () => {
  const nodes = new Map<string, Obj>([['a', { metadata: { name: 'a', uid: 'node-a-uid' } }]]);
  const pods = new Map<string, Obj>([
    ['team/web', pod('team', 'web', 'a', '1')],
    ['team/other', pod('team', 'other', 'b', '2')],
  ]);
  const lookups: NodeRestrictionLookups = { node: (n) => Promise.resolve(nodes.get(n)), pod: (ns, n) => Promise.resolve(pods.get(`${ns}/${n}`)) };
  const plugin = nodeRestriction(lookups);
  const podRes = { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true };
  const nodeRes = { group: '', version: 'v1', resource: 'nodes', kind: 'Node', namespaced: false };
  const leaseRes = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', namespaced: true };
  type Op = 'CREATE' | 'UPDATE' | 'DELETE';
  const run = async (operation: Op, resource: typeof podRes, over: { subresource?: string; namespace?: string; name?: string; object?: Obj; oldObject?: Obj; user?: { name: string; groups: string[] } }): Promise<string | undefined> => {
    try {
      const a = { operation, resource, subresource: '', namespace: 'team', name: '', user: nodeA, dryRun: false, object: undefined, oldObject: undefined, ...over };
      // Both phases, as the chain runs them (deletes have only the validating one).
      await plugin.admit!(a);
      await plugin.validate!(a);
      return undefined;
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      expect(e.httpStatus).toBe(403);
      return e.message;
    }
  };
  const mirror = (over: Obj = {}, spec: Obj = {}): Obj => ({
    metadata: { name: 'static-a', namespace: 'team', annotations: { 'kubernetes.io/config.mirror': 'hash' }, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'a', uid: 'node-a-uid', controller: true }], ...over },
    spec: { nodeName: 'a', containers: [{ name: 'c', image: 'x' }], ...spec },
  });

  it('lets users that are not nodes through untouched', async () => {
    expect(await run('UPDATE', nodeRes, { namespace: '', name: 'b', user: { name: 'admin', groups: ['system:masters'] }, object: {}, oldObject: {} })).toBeUndefined();
  });

  it('lets a node create only mirror pods bound to itself, owned by its Node, naming no secrets', async () => {
    expect(await run('CREATE', podRes, { object: mirror() })).toBeUndefined();
    expect(await run('CREATE', podRes, { object: { metadata: { name: 'x' }, spec: { nodeName: 'a' } } })).toBe('pods "x" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "a" can only create mirror pods');
    expect(await run('CREATE', podRes, { object: mirror({}, { nodeName: 'b' }) })).toBe('pods "static-a" is forbidden: node "a" can only create pods with spec.nodeName set to itself');
    expect(await run('CREATE', podRes, { object: mirror({ ownerReferences: [] }) })).toBe('pods "static-a" is forbidden: node "a" can only create pods with an owner reference set to itself');
    expect(await run('CREATE', podRes, { object: mirror({ ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'a', uid: 'stale', controller: true }] }) })).toBe('pods "static-a" is forbidden: node a UID mismatch: expected stale got node-a-uid');
    expect(await run('CREATE', podRes, { object: mirror({}, { volumes: [{ name: 'v', secret: { secretName: 's' } }] }) })).toBe('pods "static-a" is forbidden: node "a" can not create pods that reference secrets');
  });

  it('lets a node update only its own pods’ status, without their labels, and delete only its own pods', async () => {
    const web = pods.get('team/web')!;
    expect(await run('UPDATE', podRes, { subresource: 'status', name: 'web', object: web, oldObject: web })).toBeUndefined();
    const other = pods.get('team/other')!;
    expect(await run('UPDATE', podRes, { subresource: 'status', name: 'other', object: other, oldObject: other })).toBe('pods "other" is forbidden: node "a" can only update pod status for pods with spec.nodeName set to itself');
    const relabelled = { ...web, metadata: { ...(web.metadata as Obj), labels: { app: 'x' } } };
    expect(await run('UPDATE', podRes, { subresource: 'status', name: 'web', object: relabelled, oldObject: web })).toBe('pods "web" is forbidden: node "a" cannot update labels through pod status');
    expect(await run('UPDATE', podRes, { name: 'web', object: web, oldObject: web })).toBe('pods "web" is forbidden: unexpected operation "UPDATE", node "a" can only create and delete mirror pods');
    expect(await run('DELETE', podRes, { name: 'web', oldObject: web })).toBeUndefined();
    expect(await run('DELETE', podRes, { name: 'other', oldObject: other })).toBe('pods "other" is forbidden: node "a" can only delete pods with spec.nodeName set to itself');
    expect(await run('CREATE', podRes, { subresource: 'eviction', name: 'other', object: { metadata: { name: 'other' } } })).toBe('pods "other" is forbidden: node a can only evict pods with spec.nodeName set to itself');
    expect(await run('UPDATE', podRes, { subresource: 'binding', name: 'web', object: web })).toBe(`pods "web" is forbidden: unexpected pod subresource "binding", only 'status' and 'eviction' are allowed`);
  });

  it('lets a node change only its own Node, not its taints or node-restriction labels', async () => {
    const node = (labels: Record<string, string>, spec: Obj = {}): Obj => ({ metadata: { name: 'a', labels }, spec });
    const base = node({ 'kubernetes.io/hostname': 'a' });
    expect(await run('CREATE', nodeRes, { namespace: '', name: 'a', object: base })).toBeUndefined();
    expect(await run('UPDATE', nodeRes, { namespace: '', name: 'b', object: base, oldObject: base })).toBe('nodes "b" is forbidden: node "a" is not allowed to modify node "b"');
    expect(await run('CREATE', nodeRes, { namespace: '', name: 'a', object: node({ 'node-restriction.kubernetes.io/gpu': 'yes', 'node-role.kubernetes.io/master': '', 'example.com/x': '1' }) })).toBe(
      'nodes "a" is forbidden: node "a" is not allowed to set the following labels: node-restriction.kubernetes.io/gpu, node-role.kubernetes.io/master',
    );
    expect(await run('UPDATE', nodeRes, { namespace: '', name: 'a', object: node({ 'kubernetes.io/hostname': 'a', 'node.kubernetes.io/instance-type': 'big' }, { podCIDR: '10.5.1.0/24' }), oldObject: base })).toBeUndefined();
    expect(await run('UPDATE', nodeRes, { namespace: '', name: 'a', object: node({}, { taints: [] }), oldObject: node({}) })).toBeUndefined();
    expect(await run('UPDATE', nodeRes, { namespace: '', name: 'a', object: node({}), oldObject: node({}, { taints: [{ key: 'k', effect: 'NoSchedule' }] }) })).toBe('nodes "a" is forbidden: node "a" is not allowed to modify taints');
    expect(await run('UPDATE', nodeRes, { namespace: '', name: 'a', object: node({ 'node-restriction.kubernetes.io/x': '1' }), oldObject: node({}) })).toBe('nodes "a" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/x');
    expect(await run('CREATE', nodeRes, { namespace: '', name: 'a', object: node({}, { configSource: { configMap: { name: 'c' } } }) })).toBe('nodes "a" is forbidden: node "a" is not allowed to create pods with a non-nil configSource');
  });

  it('lets a node touch only its own Lease in kube-node-lease', async () => {
    expect(await run('CREATE', leaseRes, { namespace: 'kube-node-lease', object: { metadata: { name: 'a' } } })).toBeUndefined();
    expect(await run('CREATE', leaseRes, { namespace: 'kube-node-lease', object: { metadata: { name: 'b' } } })).toBe('leases.coordination.k8s.io "b" is forbidden: can only access node lease with the same name as the requesting node');
    expect(await run('UPDATE', leaseRes, { namespace: 'kube-system', name: 'a', object: {}, oldObject: {} })).toBe('leases.coordination.k8s.io "a" is forbidden: can only access leases in the "kube-node-lease" system namespace');
  });
});
