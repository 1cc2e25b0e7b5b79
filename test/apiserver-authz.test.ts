// The authorizer (apiserver/authz): request attributes and the verb mapping, RBAC rule matching, bindings and
// aggregation, the bootstrap policy, escalation prevention, the modes, the 403 messages; and the RBAC kinds'
// validation and tables (apiserver/kinds/rbac.ts).
import { describe, expect, it } from 'vitest';
import {
  attributesOf,
  type Attributes,
  Authorizer,
  AuthorizationModeError,
  bootstrapClusterRoleBindings,
  bootstrapClusterRoles,
  compactRule,
  escalationMessage,
  forbiddenStatus,
  parseAuthorizationModes,
  type PolicyRule,
  rbacAuthorize,
  type RbacObjects,
  reconcileClusterRole,
  reconcileClusterRoleBinding,
  RbacPolicy,
  reviewAttributes,
  reviewSubject,
  ruleAllows,
  ruleOf,
  type Subject,
  uncoveredRules,
} from '../apiserver/authz/index.js';
import { clusterRoleBindingStrategy, clusterRoleStrategy, errorString, roleBindingStrategy, roleStrategy } from '../apiserver/kinds/index.js';
import { parseRequest } from '../apiserver/request.js';

const RBAC = 'rbac.authorization.k8s.io';
const bob: Subject = { name: 'bob', groups: ['system:authenticated'] };
const anonymous: Subject = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
const masters: Subject = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };

const attrs = (user: Subject, method: string, url: string): Attributes => {
  const u = new URL(url, 'https://x');
  return attributesOf(user, parseRequest(method, u.pathname, u.searchParams), u.searchParams);
};
const rule = (verbs: string[], apiGroups: string[], resources: string[], resourceNames: string[] = []): PolicyRule => ({ verbs, apiGroups, resources, resourceNames, nonResourceURLs: [] });
const urls = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ verbs, apiGroups: [], resources: [], resourceNames: [], nonResourceURLs });
const ref = (kind: 'Role' | 'ClusterRole', name: string) => ({ apiGroup: RBAC, kind, name });
const user = (name: string) => ({ apiGroup: RBAC, kind: 'User', name });
const group = (name: string) => ({ apiGroup: RBAC, kind: 'Group', name });

function policy(p: Partial<RbacObjects>): RbacPolicy {
  return new RbacPolicy({ roles: [], clusterRoles: [], roleBindings: [], clusterRoleBindings: [], ...p });
}
const bootstrapped = (extra: Partial<RbacObjects> = {}): RbacPolicy =>
  policy({ ...extra, clusterRoles: [...bootstrapClusterRoles(), ...(extra.clusterRoles ?? [])], clusterRoleBindings: [...bootstrapClusterRoleBindings(), ...(extra.clusterRoleBindings ?? [])] });
const allowed = (p: RbacPolicy, a: Attributes): boolean => rbacAuthorize(p, a).decision === 'allow';

describe('request attributes', () => {
  it('maps HTTP methods to verbs as the RequestInfoFactory does', () => {
    const v = (method: string, url: string) => attrs(bob, method, url).verb;
    expect(v('GET', '/api/v1/namespaces/default/pods/web')).toBe('get');
    expect(v('GET', '/api/v1/namespaces/default/pods')).toBe('list');
    expect(v('GET', '/api/v1/namespaces/default/pods?watch=true')).toBe('watch');
    expect(v('GET', '/api/v1/watch/namespaces/default/pods')).toBe('watch');
    expect(v('HEAD', '/api/v1/pods')).toBe('list');
    expect(v('POST', '/api/v1/namespaces/default/pods')).toBe('create');
    expect(v('PUT', '/api/v1/namespaces/default/pods/web')).toBe('update');
    expect(v('PATCH', '/api/v1/namespaces/default/pods/web')).toBe('patch');
    expect(v('DELETE', '/api/v1/namespaces/default/pods/web')).toBe('delete');
    expect(v('DELETE', '/api/v1/namespaces/default/pods')).toBe('deletecollection');
    expect(v('GET', '/healthz')).toBe('get');
    expect(v('HEAD', '/healthz')).toBe('get');
    expect(v('POST', '/version')).toBe('post');
  });

  it('reads group, resource, subresource, namespace and name; a namespace is in itself; a name field selector names the object', () => {
    expect(attrs(bob, 'PUT', '/apis/apps/v1/namespaces/ns1/deployments/web/scale')).toMatchObject({ resourceRequest: true, apiGroup: 'apps', apiVersion: 'v1', resource: 'deployments', subresource: 'scale', namespace: 'ns1', name: 'web' });
    expect(attrs(bob, 'GET', '/api/v1/namespaces/ns1')).toMatchObject({ resource: 'namespaces', namespace: 'ns1', name: 'ns1' });
    expect(attrs(bob, 'GET', '/api/v1/nodes')).toMatchObject({ resource: 'nodes', namespace: '', name: '' });
    expect(attrs(bob, 'GET', '/api/v1/namespaces/ns1/pods?fieldSelector=metadata.name%3Dweb&watch=1')).toMatchObject({ verb: 'watch', name: 'web' });
    expect(attrs(bob, 'GET', '/apis')).toMatchObject({ resourceRequest: false, path: '/apis' });
  });

  it('builds the 403 message and details kube-apiserver answers', () => {
    expect(forbiddenStatus(attrs(bob, 'GET', '/api/v1/namespaces/default/pods'), '')).toEqual({
      message: 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"',
      details: { kind: 'pods' },
    });
    expect(forbiddenStatus(attrs(bob, 'GET', '/apis/apps/v1/namespaces/d/deployments/web/scale'), '').message).toBe(
      'deployments.apps "web" is forbidden: User "bob" cannot get resource "deployments/scale" in API group "apps" in the namespace "d"',
    );
    expect(forbiddenStatus(attrs(bob, 'GET', '/apis/apps/v1/namespaces/d/deployments/web'), '').details).toEqual({ name: 'web', group: 'apps', kind: 'deployments' });
    expect(forbiddenStatus(attrs(bob, 'DELETE', '/api/v1/nodes/n1'), 'RBAC: clusterrole.rbac.authorization.k8s.io "x" not found').message).toBe(
      'nodes "n1" is forbidden: User "bob" cannot delete resource "nodes" in API group "" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "x" not found',
    );
    expect(forbiddenStatus(attrs(anonymous, 'GET', '/api'), '')).toEqual({ message: 'forbidden: User "system:anonymous" cannot get path "/api"', details: {} });
  });
});

describe('rule matching', () => {
  const a = (verb: string, resource: string, subresource = '', name = '', apiGroup = ''): Attributes => ({ user: bob, verb, resourceRequest: true, apiGroup, apiVersion: 'v1', resource, subresource, namespace: 'd', name, path: '' });
  const nr = (verb: string, path: string): Attributes => ({ user: bob, verb, resourceRequest: false, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '', path });

  it('verbs × apiGroups × resources, with * and resource/subresource', () => {
    const r = rule(['get', 'list'], [''], ['pods', 'pods/log']);
    expect(ruleAllows(a('get', 'pods'), r)).toBe(true);
    expect(ruleAllows(a('delete', 'pods'), r)).toBe(false);
    expect(ruleAllows(a('get', 'pods', 'log'), r)).toBe(true);
    expect(ruleAllows(a('get', 'pods', 'status'), r)).toBe(false);
    expect(ruleAllows(a('get', 'pods', '', '', 'apps'), r)).toBe(false);
    expect(ruleAllows(a('get', 'services'), r)).toBe(false);
    expect(ruleAllows(a('update', 'deployments', 'scale', 'web', 'apps'), rule(['update'], ['*'], ['*/scale']))).toBe(true);
    expect(ruleAllows(a('update', 'deployments', '', 'web', 'apps'), rule(['update'], ['*'], ['*/scale']))).toBe(false);
    expect(ruleAllows(a('escalate', 'pods', 'exec'), rule(['*'], ['*'], ['*']))).toBe(true);
  });

  it('resourceNames restrict to those names: a list (no name) never matches them', () => {
    const r = rule(['get', 'list', 'update'], ['coordination.k8s.io'], ['leases'], ['kube-scheduler']);
    expect(ruleAllows(a('get', 'leases', '', 'kube-scheduler', 'coordination.k8s.io'), r)).toBe(true);
    expect(ruleAllows(a('get', 'leases', '', 'other', 'coordination.k8s.io'), r)).toBe(false);
    expect(ruleAllows(a('list', 'leases', '', '', 'coordination.k8s.io'), r)).toBe(false);
  });

  it('non-resource URLs: exact, or a prefix with a trailing *', () => {
    const r = urls(['get'], ['/healthz', '/apis/*', '/version/']);
    expect(ruleAllows(nr('get', '/healthz'), r)).toBe(true);
    expect(ruleAllows(nr('get', '/healthz/etcd'), r)).toBe(false);
    expect(ruleAllows(nr('get', '/apis/apps/v1'), r)).toBe(true);
    expect(ruleAllows(nr('get', '/apis'), r)).toBe(false);
    expect(ruleAllows(nr('post', '/healthz'), r)).toBe(false);
    expect(ruleAllows(nr('get', '/healthz'), rule(['get'], ['*'], ['*']))).toBe(false);
    expect(ruleAllows(a('get', 'pods'), r)).toBe(false);
  });
});

describe('bindings', () => {
  const reader = { metadata: { name: 'pod-reader', namespace: 'a' }, rules: [rule(['get'], [''], ['pods'])] };
  const crView = { metadata: { name: 'viewer' }, rules: [rule(['get', 'list'], [''], ['pods', 'services'])] };

  it('a RoleBinding grants its Role, or a ClusterRole, in its namespace only', () => {
    const p = policy({
      roles: [reader],
      clusterRoles: [crView],
      roleBindings: [
        { metadata: { name: 'b1', namespace: 'a' }, roleRef: ref('Role', 'pod-reader'), subjects: [user('bob')] },
        { metadata: { name: 'b2', namespace: 'b' }, roleRef: ref('ClusterRole', 'viewer'), subjects: [group('devs')] },
      ],
    });
    expect(allowed(p, attrs(bob, 'GET', '/api/v1/namespaces/a/pods/x'))).toBe(true);
    expect(allowed(p, attrs(bob, 'GET', '/api/v1/namespaces/a/pods'))).toBe(false);
    expect(allowed(p, attrs(bob, 'GET', '/api/v1/namespaces/b/pods/x'))).toBe(false);
    const dev: Subject = { name: 'd', groups: ['devs'] };
    expect(allowed(p, attrs(dev, 'GET', '/api/v1/namespaces/b/services'))).toBe(true);
    expect(allowed(p, attrs(dev, 'GET', '/api/v1/namespaces/a/services'))).toBe(false);
    expect(allowed(p, attrs(dev, 'GET', '/api/v1/services'))).toBe(false);
    expect(rbacAuthorize(p, attrs(bob, 'GET', '/api/v1/namespaces/a/pods/x')).reason).toBe('RBAC: allowed by RoleBinding "a/b1" of Role "a/pod-reader" to User "bob"');
  });

  it('a ClusterRoleBinding grants everywhere; a service account subject defaults to the binding\'s namespace', () => {
    const p = policy({
      clusterRoles: [crView],
      clusterRoleBindings: [{ metadata: { name: 'c' }, roleRef: ref('ClusterRole', 'viewer'), subjects: [{ kind: 'ServiceAccount', name: 'mon', namespace: 'ops' }] }],
      roleBindings: [{ metadata: { name: 'r', namespace: 'a' }, roleRef: ref('ClusterRole', 'viewer'), subjects: [{ kind: 'ServiceAccount', name: 'default' }] }],
    });
    const mon: Subject = { name: 'system:serviceaccount:ops:mon', groups: ['system:serviceaccounts'] };
    expect(allowed(p, attrs(mon, 'GET', '/api/v1/pods'))).toBe(true);
    expect(allowed(p, attrs(mon, 'GET', '/api/v1/namespaces/z/services'))).toBe(true);
    expect(allowed(p, attrs({ name: 'system:serviceaccount:a:default', groups: [] }, 'GET', '/api/v1/namespaces/a/pods'))).toBe(true);
    expect(allowed(p, attrs({ name: 'system:serviceaccount:b:default', groups: [] }, 'GET', '/api/v1/namespaces/a/pods'))).toBe(false);
    expect(allowed(p, attrs({ name: 'mon', groups: [] }, 'GET', '/api/v1/pods'))).toBe(false);
  });

  it('a binding to a missing role is an error in the denial\'s reason', () => {
    const p = policy({ roleBindings: [{ metadata: { name: 'b', namespace: 'a' }, roleRef: ref('Role', 'gone'), subjects: [user('bob')] }], clusterRoleBindings: [{ metadata: { name: 'c' }, roleRef: ref('ClusterRole', 'nope'), subjects: [user('bob')] }] });
    expect(rbacAuthorize(p, attrs(bob, 'GET', '/api/v1/namespaces/a/pods'))).toEqual({
      decision: 'noOpinion',
      reason: 'RBAC: [clusterrole.rbac.authorization.k8s.io "nope" not found, role.rbac.authorization.k8s.io "gone" not found]',
    });
    expect(rbacAuthorize(policy({}), attrs(bob, 'GET', '/api/v1/pods'))).toEqual({ decision: 'noOpinion', reason: '' });
  });

  it('aggregates the rules of the ClusterRoles an aggregationRule selects, transitively', () => {
    const extra = { metadata: { name: 'crd-viewer', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }, rules: [rule(['get'], ['example.com'], ['widgets'])] };
    const p = bootstrapped({ clusterRoles: [extra] });
    const view = p.clusterRoleRules('view')!;
    expect(view).toContainEqual(ruleOf(rule(['get'], ['example.com'], ['widgets'])));
    expect(p.clusterRoleRules('admin')).toContainEqual(ruleOf(rule(['get'], ['example.com'], ['widgets'])));
    expect(p.clusterRoleRules('system:aggregate-to-view')).not.toContainEqual(ruleOf(rule(['get'], ['example.com'], ['widgets'])));
    expect(p.clusterRoleRules('no-such')).toBeUndefined();
  });

  it('an aggregated role\'s own rules are replaced by what it selects; stale ones are listed with the rules to write', () => {
    const picked = { metadata: { name: 'b-picked', labels: { pick: 'me' } }, rules: [rule(['get'], [''], ['pods'])] };
    const picked2 = { metadata: { name: 'a-picked', labels: { pick: 'me' } }, rules: [rule(['list'], [''], ['pods'])] };
    const agg = { metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { pick: 'me' } }] }, rules: [rule(['delete'], [''], ['nodes'])] };
    const p = policy({ clusterRoles: [agg, picked, picked2] });
    expect(p.clusterRoleRules('agg')).toEqual([rule(['list'], [''], ['pods']), rule(['get'], [''], ['pods'])]);
    expect(p.staleAggregations()).toEqual([{ name: 'agg', rules: [rule(['list'], [''], ['pods']), rule(['get'], [''], ['pods'])] }]);
    const written = policy({ clusterRoles: [{ ...agg, rules: [rule(['list'], [''], ['pods']), rule(['get'], [''], ['pods'])] }, picked, picked2] });
    expect(written.staleAggregations()).toEqual([]);
    // The bootstrap roles as shipped: admin, edit and view have their rules still to be written.
    expect(bootstrapped().staleAggregations().map((a) => a.name).sort()).toEqual(['admin', 'edit', 'view']);
  });
});

describe('the bootstrap policy', () => {
  const p = bootstrapped({
    roleBindings: [
      { metadata: { name: 'v', namespace: 'a' }, roleRef: ref('ClusterRole', 'view'), subjects: [user('viewer')] },
      { metadata: { name: 'e', namespace: 'a' }, roleRef: ref('ClusterRole', 'edit'), subjects: [user('editor')] },
      { metadata: { name: 'ad', namespace: 'a' }, roleRef: ref('ClusterRole', 'admin'), subjects: [user('nsadmin')] },
    ],
  });
  const u = (name: string): Subject => ({ name, groups: ['system:authenticated'] });

  it('is valid as the RBAC kinds validate it, labelled as Kubernetes labels it', () => {
    for (const r of bootstrapClusterRoles()) expect(clusterRoleStrategy.validate(r).map(errorString), JSON.stringify(r)).toEqual([]);
    for (const b of bootstrapClusterRoleBindings()) expect(clusterRoleBindingStrategy.validate(b).map(errorString)).toEqual([]);
    expect(bootstrapClusterRoles().map((r) => (r.metadata as { name: string }).name)).toEqual(
      expect.arrayContaining(['cluster-admin', 'admin', 'edit', 'view', 'system:discovery', 'system:basic-user', 'system:public-info-viewer', 'system:node', 'system:node-proxier', 'system:kube-scheduler', 'system:kube-controller-manager']),
    );
    const controllers = ['endpoint-controller', 'node-controller', 'generic-garbage-collector', 'pod-garbage-collector'];
    expect(bootstrapClusterRoles().map((r) => (r.metadata as { name: string }).name)).toEqual(expect.arrayContaining(controllers.map((c) => `system:controller:${c}`)));
    const gcBinding = bootstrapClusterRoleBindings().find((b) => (b.metadata as { name: string }).name === 'system:controller:generic-garbage-collector');
    expect(gcBinding).toMatchObject({ roleRef: { kind: 'ClusterRole', name: 'system:controller:generic-garbage-collector' }, subjects: [{ kind: 'ServiceAccount', name: 'generic-garbage-collector', namespace: 'kube-system' }] });
    expect(bootstrapClusterRoles()[0]).toMatchObject({ metadata: { labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' }, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' } } });
  });

  it('reconciles an existing role or binding additively, unless annotated autoupdate=false', () => {
    const shipped = bootstrapClusterRoles().find((r) => (r.metadata as { name: string }).name === 'system:node-proxier')!;
    const trimmed = { ...shipped, metadata: { name: 'system:node-proxier', labels: { mine: 'x' } }, rules: [rule(['list', 'watch'], [''], ['endpoints', 'services']), rule(['get'], [''], ['configmaps'])] };
    const r = reconcileClusterRole(trimmed, shipped)!;
    expect((r.metadata as { labels: unknown }).labels).toEqual({ mine: 'x', 'kubernetes.io/bootstrapping': 'rbac-defaults' });
    const rules = (r.rules as unknown[]).map(ruleOf);
    expect(rules.slice(0, 2)).toEqual([rule(['list', 'watch'], [''], ['endpoints', 'services']), rule(['get'], [''], ['configmaps'])]);
    expect(uncoveredRules(rules, (shipped.rules as unknown[]).map(ruleOf))).toEqual([]);
    expect(reconcileClusterRole(r, shipped)).toBeUndefined();
    expect(reconcileClusterRole({ ...trimmed, metadata: { name: 'x', annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } } }, shipped)).toBeUndefined();
    const binding = bootstrapClusterRoleBindings().find((b) => (b.metadata as { name: string }).name === 'system:public-info-viewer')!;
    const fewer = { ...binding, subjects: [group('system:authenticated'), user('extra')] };
    expect(reconcileClusterRoleBinding(fewer, binding)?.subjects).toEqual([group('system:authenticated'), user('extra'), group('system:unauthenticated')]);
    expect(reconcileClusterRoleBinding(binding, binding)).toBeUndefined();
  });

  it('lets anyone read /healthz, /livez, /readyz and /version; only authenticated users discover and review themselves', () => {
    for (const path of ['/healthz', '/livez', '/readyz', '/version']) expect(allowed(p, attrs(anonymous, 'GET', path)), path).toBe(true);
    expect(allowed(p, attrs(anonymous, 'GET', '/api'))).toBe(false);
    expect(allowed(p, attrs(anonymous, 'GET', '/metrics'))).toBe(false);
    expect(allowed(p, attrs(anonymous, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'))).toBe(false);
    expect(allowed(p, attrs(bob, 'GET', '/apis/apps/v1'))).toBe(true);
    expect(allowed(p, attrs(bob, 'GET', '/openapi/v2'))).toBe(true);
    expect(allowed(p, attrs(bob, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'))).toBe(true);
    expect(allowed(p, attrs(bob, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews'))).toBe(false);
    expect(allowed(p, attrs(bob, 'GET', '/api/v1/namespaces/a/pods'))).toBe(false);
  });

  it('cluster-admin (system:masters) may do anything; view reads but not secrets; edit writes but not roles; admin manages roles', () => {
    expect(allowed(p, attrs(masters, 'DELETE', '/api/v1/nodes/n1'))).toBe(true);
    expect(allowed(p, attrs(masters, 'GET', '/metrics'))).toBe(true);
    expect(allowed(p, attrs(u('viewer'), 'GET', '/api/v1/namespaces/a/pods'))).toBe(true);
    expect(allowed(p, attrs(u('viewer'), 'GET', '/apis/apps/v1/namespaces/a/deployments/d/scale'))).toBe(true);
    expect(allowed(p, attrs(u('viewer'), 'GET', '/api/v1/namespaces/a/secrets'))).toBe(false);
    expect(allowed(p, attrs(u('viewer'), 'POST', '/api/v1/namespaces/a/pods'))).toBe(false);
    expect(allowed(p, attrs(u('viewer'), 'GET', '/api/v1/namespaces/b/pods'))).toBe(false);
    expect(allowed(p, attrs(u('editor'), 'POST', '/api/v1/namespaces/a/secrets'))).toBe(true);
    expect(allowed(p, attrs(u('editor'), 'PATCH', '/apis/apps/v1/namespaces/a/deployments/d'))).toBe(true);
    expect(allowed(p, attrs(u('editor'), 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles'))).toBe(false);
    expect(allowed(p, attrs(u('nsadmin'), 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings'))).toBe(true);
    expect(allowed(p, attrs(u('nsadmin'), 'GET', '/api/v1/namespaces/a/pods/x/log'))).toBe(true);
    expect(allowed(p, attrs(u('nsadmin'), 'GET', '/api/v1/nodes'))).toBe(false);
  });

  it('gives the daemons their rights: kube-proxy reads services and endpoints, the scheduler binds pods', () => {
    const proxy: Subject = { name: 'system:kube-proxy', groups: ['system:authenticated'] };
    expect(allowed(p, attrs(proxy, 'GET', '/api/v1/endpoints?watch=true'))).toBe(true);
    expect(allowed(p, attrs(proxy, 'POST', '/api/v1/namespaces/a/services'))).toBe(false);
    const sched: Subject = { name: 'system:kube-scheduler', groups: ['system:authenticated'] };
    expect(allowed(p, attrs(sched, 'POST', '/api/v1/namespaces/a/pods/web/binding'))).toBe(true);
    expect(allowed(p, attrs(sched, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler'))).toBe(true);
    expect(allowed(p, attrs(sched, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/other'))).toBe(false);
    const kcm: Subject = { name: 'system:kube-controller-manager', groups: ['system:authenticated'] };
    expect(allowed(p, attrs(kcm, 'GET', '/apis/apps/v1/deployments?watch=1'))).toBe(true);
    // system:node's binding has no subjects (the Node authorizer's business).
    expect(allowed(p, attrs({ name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] }, 'GET', '/api/v1/namespaces/a/pods'))).toBe(false);
  });
});

describe('the authorizer and its modes', () => {
  const source = (p: RbacPolicy) => ({ policy: () => Promise.resolve(p) });

  it('parses --authorization-mode; ABAC, Webhook, unknown and repeated modes are refused naming the mode', () => {
    expect(parseAuthorizationModes('AlwaysAllow')).toEqual(['AlwaysAllow']);
    expect(parseAuthorizationModes('RBAC, AlwaysDeny')).toEqual(['RBAC', 'AlwaysDeny']);
    const err = (v: string) => {
      try {
        parseAuthorizationModes(v);
      } catch (e) {
        return e instanceof AuthorizationModeError ? [e.mode, e.message] : ['?', String(e)];
      }
      return ['', 'no error'];
    };
    expect(parseAuthorizationModes('Node,RBAC')).toEqual(['Node', 'RBAC']);
    expect(err('Webhook,RBAC')).toEqual(['Webhook', 'authorization-mode "Webhook" is not supported by this apiserver yet (supported: AlwaysAllow, AlwaysDeny, Node, RBAC)']);
    expect(err('Rbac')).toEqual(['Rbac', 'authorization-mode "Rbac" is not a valid mode']);
    expect(err('RBAC,RBAC')).toEqual(['RBAC', '"RBAC" is specified more than once in authorization-mode']);
    expect(err('')).toEqual(['', 'at least one authorization-mode must be passed']);
  });

  it('asks the modes in order; system:masters is always allowed; AlwaysAllow alone does not enforce', async () => {
    const a = attrs(bob, 'GET', '/api/v1/pods');
    expect(new Authorizer(['AlwaysAllow']).enforcing).toBe(false);
    expect((await new Authorizer(['AlwaysAllow']).authorize(a)).decision).toBe('allow');
    expect(await new Authorizer(['AlwaysDeny']).authorize(a)).toEqual({ decision: 'noOpinion', reason: 'Everything is forbidden.' });
    expect((await new Authorizer(['AlwaysDeny']).authorize(attrs(masters, 'GET', '/api/v1/pods'))).decision).toBe('allow');
    expect((await new Authorizer(['RBAC', 'AlwaysAllow'], source(policy({}))).authorize(a)).decision).toBe('allow');
    expect((await new Authorizer(['RBAC'], source(bootstrapped())).authorize(a)).decision).toBe('noOpinion');
    expect(() => new Authorizer(['RBAC'])).toThrow(AuthorizationModeError);
  });
});

describe('escalation prevention', () => {
  const held = [rule(['get', 'list'], [''], ['pods', 'services']), rule(['*'], ['apps'], ['deployments']), rule(['get'], [''], ['configmaps'], ['cfg']), urls(['get'], ['/healthz/*'])];

  it('breaks the requested rules down and reports what no held rule covers, compacted', () => {
    expect(uncoveredRules(held, [rule(['get'], [''], ['pods'])])).toEqual([]);
    expect(uncoveredRules(held, [rule(['update', 'delete'], ['apps'], ['deployments', 'deployments/scale'])])).toEqual([rule(['update', 'delete'], ['apps'], ['deployments/scale'])]);
    expect(uncoveredRules(held, [rule(['get', 'delete', 'watch'], [''], ['pods'])])).toEqual([rule(['delete', 'watch'], [''], ['pods'])]);
    expect(uncoveredRules(held, [rule(['get'], [''], ['configmaps'], ['cfg'])])).toEqual([]);
    expect(uncoveredRules(held, [rule(['get'], [''], ['configmaps'])])).toEqual([rule(['get'], [''], ['configmaps'])]);
    expect(uncoveredRules(held, [urls(['get'], ['/healthz/etcd'])])).toEqual([]);
    expect(uncoveredRules(held, [urls(['get'], ['/healthz'])])).toEqual([urls(['get'], ['/healthz'])]);
    expect(uncoveredRules(held, [rule(['*'], [''], ['pods'])])).toEqual([rule(['*'], [''], ['pods'])]);
    expect(uncoveredRules([rule(['*'], ['*'], ['*'])], [rule(['escalate'], [RBAC], ['roles'])])).toEqual([]);
  });

  it('says what is missing as kube-apiserver does', () => {
    expect(compactRule(rule(['create'], [''], ['nodes']))).toBe('{APIGroups:[""], Resources:["nodes"], Verbs:["create"]}');
    expect(compactRule(urls(['get', 'post'], ['/x']))).toBe('{NonResourceURLs:["/x"], Verbs:["get" "post"]}');
    expect(escalationMessage(bob, [rule(['create'], [''], ['nodes'])], [])).toBe(
      'user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["create"]}',
    );
  });

  const p = bootstrapped({
    roles: [{ metadata: { name: 'mine', namespace: 'a' }, rules: [rule(['get'], [''], ['pods'])] }],
    roleBindings: [
      { metadata: { name: 'ad', namespace: 'a' }, roleRef: ref('ClusterRole', 'admin'), subjects: [user('carol')] },
      { metadata: { name: 'esc', namespace: 'b' }, roleRef: ref('Role', 'escalator'), subjects: [user('dave')] },
    ],
  }) as RbacPolicy;
  const withEscalator = bootstrapped({
    roles: [{ metadata: { name: 'escalator', namespace: 'b' }, rules: [rule(['create', 'escalate', 'bind'], [RBAC], ['roles', 'rolebindings'])] }],
    roleBindings: [{ metadata: { name: 'esc', namespace: 'b' }, roleRef: ref('Role', 'escalator'), subjects: [user('dave')] }],
  });
  const authz = (pol: RbacPolicy) => new Authorizer(['RBAC'], { policy: () => Promise.resolve(pol) });
  const carol: Subject = { name: 'carol', groups: ['system:authenticated'] };
  const dave: Subject = { name: 'dave', groups: ['system:authenticated'] };
  const role = (rules: PolicyRule[]) => ({ metadata: { name: 'r', namespace: 'a' }, rules });

  it('lets a user create a role with the rules they hold, and refuses one with more', async () => {
    expect(await authz(p).escalation(carol, 'roles', 'a', role([rule(['get', 'list'], [''], ['pods'])]))).toBeUndefined();
    const r = await authz(p).escalation(carol, 'roles', 'a', role([rule(['create'], [''], ['nodes'])]));
    expect(r).toEqual({ code: 403, message: 'user "carol" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["create"]}' });
    // Held in a, not in b.
    expect(await authz(p).escalation(carol, 'roles', 'b', role([rule(['get'], [''], ['pods'])]))).toMatchObject({ code: 403 });
    expect(await authz(p).escalation(masters, 'clusterroles', '', { metadata: { name: 'x' }, rules: [rule(['*'], ['*'], ['*'])] })).toBeUndefined();
    expect(await authz(p).escalation(carol, 'clusterroles', '', { metadata: { name: 'x' }, aggregationRule: { clusterRoleSelectors: [{}] } })).toEqual({ code: 403, message: 'must have cluster-admin privileges to use the aggregationRule' });
  });

  it('binding: allowed with the referenced role\'s rules held, or with `bind` on it; a missing role is 404', async () => {
    const rb = (kind: 'Role' | 'ClusterRole', name: string) => ({ metadata: { name: 'x', namespace: 'a' }, roleRef: ref(kind, name), subjects: [user('eve')] });
    expect(await authz(p).escalation(carol, 'rolebindings', 'a', rb('ClusterRole', 'view'))).toBeUndefined();
    expect(await authz(p).escalation(carol, 'rolebindings', 'a', rb('Role', 'mine'))).toBeUndefined();
    expect(await authz(p).escalation(carol, 'rolebindings', 'a', rb('ClusterRole', 'cluster-admin'))).toMatchObject({ code: 403 });
    expect(await authz(p).escalation(carol, 'rolebindings', 'a', rb('Role', 'gone'))).toEqual({ code: 404, message: 'roles.rbac.authorization.k8s.io "gone" not found' });
    // dave holds only create/escalate/bind on roles in b: he may create any Role there and bind any Role there
    // (its rules are not even looked at), but not bind a ClusterRole (`bind` on clusterroles he lacks).
    expect(await authz(withEscalator).escalation(dave, 'roles', 'b', { ...role([rule(['*'], ['*'], ['*'])]), metadata: { name: 'r', namespace: 'b' } })).toBeUndefined();
    expect(await authz(withEscalator).escalation(dave, 'rolebindings', 'b', { metadata: { name: 'x', namespace: 'b' }, roleRef: ref('Role', 'not-yet') })).toBeUndefined();
    expect(await authz(withEscalator).escalation(dave, 'rolebindings', 'b', { metadata: { name: 'x', namespace: 'b' }, roleRef: ref('ClusterRole', 'cluster-admin') })).toMatchObject({ code: 403 });
    expect(await authz(withEscalator).escalation(dave, 'clusterrolebindings', '', { metadata: { name: 'x' }, roleRef: ref('ClusterRole', 'cluster-admin') })).toMatchObject({ code: 403 });
  });
});

describe('access reviews', () => {
  it('reads the attributes of exactly one of resourceAttributes and nonResourceAttributes', () => {
    expect(reviewAttributes({ resourceAttributes: { verb: 'list', resource: 'pods', namespace: 'a', group: '' } }, bob)).toMatchObject({ resourceRequest: true, verb: 'list', resource: 'pods', namespace: 'a' });
    expect(reviewAttributes({ nonResourceAttributes: { verb: 'get', path: '/healthz' } }, bob)).toMatchObject({ resourceRequest: false, path: '/healthz' });
    expect(reviewAttributes({}, bob)).toEqual([{ field: 'spec.resourceAttributes', detail: 'exactly one of nonResourceAttributes or resourceAttributes must be specified' }]);
    expect(reviewSubject({ user: 'bob', groups: ['g'] })).toEqual({ name: 'bob', groups: ['g'] });
    expect(reviewSubject({})).toEqual([{ field: 'spec.user', detail: 'at least one of user or group must be specified' }]);
  });
});

describe('the RBAC kinds', () => {
  const errs = (s: typeof roleStrategy, o: Record<string, unknown>) => {
    s.defaults(o);
    return s.validate(o).map(errorString);
  };

  it('rules need verbs, and apiGroups and resources or (cluster-wide only) nonResourceURLs', () => {
    expect(errs(roleStrategy, { metadata: { name: 'r', namespace: 'a' }, rules: [{ apiGroups: [''], resources: ['pods'] }] })).toEqual(['rules[0].verbs: Required value: verbs must contain at least one value']);
    expect(errs(roleStrategy, { metadata: { name: 'r', namespace: 'a' }, rules: [{ verbs: ['get'] }] })).toEqual([
      'rules[0].apiGroups: Required value: resource rules must supply at least one api group',
      'rules[0].resources: Required value: resource rules must supply at least one resource',
    ]);
    expect(errs(roleStrategy, { metadata: { name: 'r', namespace: 'a' }, rules: [{ verbs: ['get'], nonResourceURLs: ['/x'] }] })).toEqual(['rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs']);
    expect(errs(clusterRoleStrategy, { metadata: { name: 'c' }, rules: [{ verbs: ['get'], nonResourceURLs: ['/x'], resources: ['pods'] }] })).toEqual([
      'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both regular resources and non-resource URLs',
    ]);
    expect(errs(clusterRoleStrategy, { metadata: { name: 'system:c' }, rules: [{ verbs: ['get'], nonResourceURLs: ['/x'] }] })).toEqual([]);
    expect(errs(clusterRoleStrategy, { metadata: { name: 'a/b' }, aggregationRule: {} })).toEqual([
      `metadata.name: Invalid value: "a/b": may not contain '/'`,
      'aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil',
    ]);
  });

  it('bindings: roleRef group and kind, subject kinds, a service account\'s namespace in a ClusterRoleBinding; defaults the API groups', () => {
    const b: Record<string, unknown> = { metadata: { name: 'b', namespace: 'a' }, roleRef: { kind: 'Role', name: 'r' }, subjects: [{ kind: 'User', name: 'bob' }, { kind: 'ServiceAccount', name: 'default' }] };
    expect(errs(roleBindingStrategy, b)).toEqual([]);
    expect(b).toMatchObject({ roleRef: { apiGroup: RBAC }, subjects: [{ apiGroup: RBAC }, { apiGroup: '' }] });
    expect(errs(roleBindingStrategy, { metadata: { name: 'b', namespace: 'a' }, roleRef: { apiGroup: 'x', kind: 'Thing', name: '' }, subjects: [{ kind: 'Robot', name: 'r2' }] })).toEqual([
      'roleRef.apiGroup: Unsupported value: "x": supported values: "rbac.authorization.k8s.io"',
      'roleRef.kind: Unsupported value: "Thing": supported values: "Role", "ClusterRole"',
      'roleRef.name: Required value',
      'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
    ]);
    expect(errs(clusterRoleBindingStrategy, { metadata: { name: 'b' }, roleRef: { kind: 'Role', name: 'r' }, subjects: [{ kind: 'ServiceAccount', name: 'default' }] })).toEqual([
      'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
      'subjects[0].namespace: Required value',
    ]);
  });

  it('roleRef is immutable', () => {
    const old = { metadata: { name: 'b', namespace: 'a' }, roleRef: { apiGroup: RBAC, kind: 'Role', name: 'r' } };
    const upd = { metadata: { name: 'b', namespace: 'a' }, roleRef: { apiGroup: RBAC, kind: 'Role', name: 'other' } };
    expect(roleBindingStrategy.validateUpdate(upd, old).map(errorString)).toEqual(['roleRef: Invalid value: map[string]string{"apiGroup":"rbac.authorization.k8s.io", "kind":"Role", "name":"other"}: cannot change roleRef']);
    expect(roleBindingStrategy.validateUpdate(structuredClone(old), old)).toEqual([]);
  });

  it('tables as kubectl shows them: roles NAME CREATED AT; bindings NAME ROLE AGE, wide USERS GROUPS SERVICEACCOUNTS', () => {
    const now = Date.parse('2026-01-01T00:01:30Z');
    const m = { name: 'x', namespace: 'a', creationTimestamp: '2026-01-01T00:00:00Z' };
    expect(roleStrategy.tableColumns.map((c) => c.name.toUpperCase())).toEqual(['NAME', 'CREATED AT']);
    expect(clusterRoleStrategy.tableRow({ metadata: m }, now)).toEqual(['x', '2026-01-01T00:00:00Z']);
    expect(roleBindingStrategy.tableColumns.map((c) => [c.name.toUpperCase(), c.priority])).toEqual([['NAME', 0], ['ROLE', 0], ['AGE', 0], ['USERS', 1], ['GROUPS', 1], ['SERVICEACCOUNTS', 1]]);
    expect(
      clusterRoleBindingStrategy.tableRow({ metadata: m, roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'a' }, { kind: 'User', name: 'b' }, { kind: 'Group', name: 'g' }, { kind: 'ServiceAccount', name: 'sa', namespace: 'kube-system' }] }, now),
    ).toEqual(['x', 'ClusterRole/view', '90s', 'a, b', 'g', 'kube-system/sa']);
  });
});
