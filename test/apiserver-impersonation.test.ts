// Impersonation (headers → requests → authorization → the user), the rules review's status, and the
// redaction of secret values from error texts.
import { describe, expect, it } from 'vitest';
import { ApiError, impersonate, impersonatedUser, impersonationRequests, jsonErrorText, scrubError, secretValues, yamlErrorText } from '../apiserver/index.js';
import { Authorizer, localReviewProblems, RbacPolicy, rulesReviewStatus } from '../apiserver/authz/index.js';

const policy = new RbacPolicy({
  roles: [],
  clusterRoles: [{ metadata: { name: 'impersonator' }, rules: [{ apiGroups: [''], resources: ['users'], verbs: ['impersonate'], resourceNames: ['bob'] }] }],
  roleBindings: [],
  clusterRoleBindings: [{ metadata: { name: 'carol-impersonates' }, roleRef: { kind: 'ClusterRole', name: 'impersonator' }, subjects: [{ kind: 'User', name: 'carol' }] }],
});
const rbac = new Authorizer(['RBAC'], { policy: () => Promise.resolve(policy) });

describe('impersonation', () => {
  it('reads the headers as kube-apiserver does', () => {
    expect(impersonationRequests({ 'impersonate-user': ['system:serviceaccount:ns:sa'], 'impersonate-group': ['g1', 'g2'], 'impersonate-extra-scopes': ['a', 'b'] })).toEqual([
      { kind: 'ServiceAccount', namespace: 'ns', name: 'sa' },
      { kind: 'Group', name: 'g1' },
      { kind: 'Group', name: 'g2' },
      { kind: 'UserExtra', key: 'scopes', name: 'a' },
      { kind: 'UserExtra', key: 'scopes', name: 'b' },
    ]);
    expect(impersonationRequests({ 'impersonate-group': ['g'] })).toBe('requested Group g without impersonating a user');
  });

  it('gives the impersonated user system:authenticated (and a service account its groups)', () => {
    expect(impersonatedUser([{ kind: 'User', name: 'bob' }])).toEqual({ name: 'bob', groups: ['system:authenticated'] });
    expect(impersonatedUser([{ kind: 'ServiceAccount', namespace: 'x', name: 'sa' }])).toEqual({ name: 'system:serviceaccount:x:sa', groups: ['system:serviceaccounts', 'system:serviceaccounts:x', 'system:authenticated'] });
    expect(impersonatedUser([{ kind: 'User', name: 'bob' }, { kind: 'Group', name: 'dev' }, { kind: 'Uid', name: '42' }])).toEqual({ name: 'bob', uid: '42', groups: ['dev', 'system:authenticated'] });
    expect(impersonatedUser([{ kind: 'User', name: 'system:anonymous' }])).toEqual({ name: 'system:anonymous', groups: ['system:unauthenticated'] });
  });

  it("allows what RBAC grants (system:masters always), refusing the rest with Kubernetes' 403", async () => {
    const alice = { name: 'alice', groups: ['system:authenticated'] };
    expect(await impersonate(rbac, { name: 'carol', groups: ['system:authenticated'] }, { 'impersonate-user': ['bob'] })).toEqual({ name: 'bob', groups: ['system:authenticated'] });
    expect(await impersonate(rbac, { name: 'admin', groups: ['system:masters'] }, { 'impersonate-user': ['anyone'], 'impersonate-group': ['g'] })).toEqual({ name: 'anyone', groups: ['g', 'system:authenticated'] });
    expect(await impersonate(rbac, alice, {})).toBe(alice);
    const refused = await impersonate(rbac, alice, { 'impersonate-user': ['bob'] }).catch((e: unknown) => e);
    expect((refused as ApiError).toStatus()).toMatchObject({ code: 403, reason: 'Forbidden', message: 'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope', details: { name: 'bob', kind: 'users' } });
    const group = await impersonate(rbac, { name: 'carol', groups: [] }, { 'impersonate-user': ['bob'], 'impersonate-group': ['admins'] }).catch((e: unknown) => e);
    expect((group as ApiError).message).toBe('groups "admins" is forbidden: User "carol" cannot impersonate resource "groups" in API group "" at the cluster scope');
    const sa = await impersonate(rbac, alice, { 'impersonate-user': ['system:serviceaccount:x:robot'] }).catch((e: unknown) => e);
    expect((sa as ApiError).message).toBe('serviceaccounts "robot" is forbidden: User "alice" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "x"');
  });
});

describe('access reviews', () => {
  it('SelfSubjectRulesReview: resource and non-resource rules apart; everything under AlwaysAllow', async () => {
    expect(await rbac.rulesReview({ name: 'carol', groups: [] }, 'default')).toEqual({ resourceRules: [{ verbs: ['impersonate'], apiGroups: [''], resources: ['users'], resourceNames: ['bob'] }], nonResourceRules: [], incomplete: false });
    expect(await new Authorizer(['AlwaysAllow']).rulesReview({ name: 'x', groups: [] }, 'default')).toEqual({
      resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
      nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
      incomplete: false,
    });
    expect(rulesReviewStatus([], ['role.rbac.authorization.k8s.io "gone" not found'])).toMatchObject({ evaluationError: 'role.rbac.authorization.k8s.io "gone" not found' });
  });

  it('LocalSubjectAccessReview: its namespace only, no non-resource attributes', () => {
    expect(localReviewProblems({ spec: { user: 'bob', resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'x' } } }, 'x')).toEqual([]);
    expect(localReviewProblems({ spec: { user: 'bob', resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'y' } } }, 'x')).toEqual([{ field: 'spec.resourceAttributes.namespace', detail: 'must match metadata.namespace' }]);
    expect(localReviewProblems({ spec: { user: 'bob', nonResourceAttributes: { verb: 'get', path: '/' } } }, 'x')).toEqual([{ field: 'spec.nonResourceAttributes', detail: 'disallowed on this kind of request' }]);
  });
});

describe('secret values in errors', () => {
  it('parse errors keep their position, not the input', () => {
    let json = '';
    try {
      JSON.parse('{"data": {"k": hunter2}}');
    } catch (e) {
      json = jsonErrorText((e as Error).message);
    }
    expect(json).not.toContain('hunter2');
    expect(yamlErrorText('Nested mappings are not allowed in compact mappings at line 1, column 9:\n\ndata: a: hunter2\n        ^\n')).toBe('Nested mappings are not allowed in compact mappings at line 1, column 9');
  });

  it('strikes every data and stringData value (and its decoding) out of an error', () => {
    const values = secretValues({ data: { k: Buffer.from('hunter2').toString('base64') }, stringData: { s: 'p@ss"word' } });
    const e = scrubError(new ApiError(422, 'Invalid', `bad: aHVudGVyMg== hunter2 "p@ss\\"word"`, { causes: [{ message: 'hunter2' }] } as never), values);
    expect(e.message).toBe('bad: <secret contents redacted> <secret contents redacted> "<secret contents redacted>"');
    expect(JSON.stringify(e.details)).not.toContain('hunter2');
    expect(secretValues([{ op: 'add', path: '/data/x', value: 'c2VjcmV0' }]).has('secret')).toBe(true);
  });
});
