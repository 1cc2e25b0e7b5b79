// Authorization against real kubectl (1.20 and 1.33, each by path; an absent one is skipped): one etcd and one
// kube-apiserver with --authorization-mode=RBAC and a token file of a few users. Anonymous and unbound users get
// the real 403s, a bad token the 401; `kubectl auth can-i` answers per user; a Role and RoleBinding made with
// kubectl's generators grant exactly one verb in one namespace; escalation is refused; the system:masters
// certificate of the admin kubeconfig may do everything.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServerProc, EtcdServer, kubectl, kubectlBinaries, writeClientKubeconfig } from '../harness/index.js';

let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;

const USERS = { alice: 'alice-token', bob: 'bob-token', carol: 'carol-token' } as const;
type Who = keyof typeof USERS | 'admin' | 'anonymous' | 'bad';

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apisrv-rbac-'));
  etcd = await EtcdServer.start();
  await writeFile(path.join(dir, 'tokens.csv'), Object.entries(USERS).map(([u, t], i) => `${t},${u},${2000 + i}`).join('\n') + '\n');
  srv = await ApiServerProc.start(etcd.endpoint, dir, [`--token-auth-file=${path.join(dir, 'tokens.csv')}`, '--authorization-mode=RBAC']);
  const ca = srv.admin.ca!;
  for (const [u, t] of Object.entries(USERS)) await writeClientKubeconfig(path.join(dir, `${u}.kubeconfig`), srv.url, ca, { token: t });
  await writeClientKubeconfig(path.join(dir, 'bad.kubeconfig'), srv.url, ca, { token: 'no-such-token' });
  // kubectl prompts on the terminal for a user with no credentials at all; a basic-auth user and password
  // (which kube-apiserver has no authenticator for since 1.19, nor has this one) make the request anonymous.
  await writeFile(
    path.join(dir, 'anonymous.kubeconfig'),
    `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: ${ca}\n    server: ${srv.url}\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: c\ncurrent-context: c\nusers:\n- name: u\n  user:\n    username: nobody\n    password: nothing\n`,
  );
}, 60_000);

afterAll(async () => {
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the raw API', () => {
  it('answers anonymous requests only what system:public-info-viewer grants', async () => {
    const none = {};
    expect((await srv.request('GET', '/healthz', undefined, none)).status).toBe(200);
    expect((await srv.request('GET', '/version', undefined, none)).status).toBe(200);
    const r = await srv.request('GET', '/api/v1/namespaces/default/pods', undefined, none);
    expect(r.status).toBe(403);
    expect(r.json).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"',
      reason: 'Forbidden',
      details: { kind: 'pods' },
      code: 403,
    });
    const d = await srv.request('GET', '/api', undefined, none);
    expect(d.status).toBe(403);
    expect((d.json as { message: string }).message).toBe('forbidden: User "system:anonymous" cannot get path "/api"');
    expect((await srv.request('GET', '/api', undefined, { token: 'no-such-token' })).status).toBe(401);
  });

  it('answers a SubjectAccessReview about another user, and refuses one without a user or groups', async () => {
    const sar = (spec: unknown) => srv.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec });
    const yes = await sar({ user: 'someone', groups: ['system:masters'], resourceAttributes: { verb: 'delete', resource: 'nodes' } });
    expect(yes.status).toBe(201);
    expect(yes.json).toMatchObject({ kind: 'SubjectAccessReview', status: { allowed: true } });
    const no = await sar({ user: 'someone', groups: ['system:authenticated'], resourceAttributes: { verb: 'list', resource: 'pods', namespace: 'default' } });
    expect(no.json).toMatchObject({ status: { allowed: false } });
    const discovery = await sar({ user: 'someone', groups: ['system:authenticated'], nonResourceAttributes: { verb: 'get', path: '/apis' } });
    expect(discovery.json).toMatchObject({ status: { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"' } });
    const bad = await sar({ resourceAttributes: { verb: 'get', resource: 'pods' } });
    expect(bad.status).toBe(422);
    expect((bad.json as { message: string }).message).toContain('spec.user: Invalid value: "": at least one of user or group must be specified');
    // An ordinary user may not ask about others (system:basic-user grants only the self review).
    const other = await srv.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { kind: 'SubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec: { user: 'x', resourceAttributes: { verb: 'get', resource: 'pods' } } }, { token: USERS.alice });
    expect(other.status).toBe(403);
  });

  it('validates rules as Kubernetes does: 422 Invalid', async () => {
    const r = await srv.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'mixed' }, rules: [{ apiGroups: [''], resources: ['pods'], nonResourceURLs: ['/x'], verbs: ['get'] }, { apiGroups: [''], resources: ['pods'] }] });
    expect(r.status).toBe(422);
    expect((r.json as { message: string }).message).toBe(
      'ClusterRole.rbac.authorization.k8s.io "mixed" is invalid: [rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both regular resources and non-resource URLs, rules[1].verbs: Required value: verbs must contain at least one value]',
    );
  });

  it('ships the bootstrap roles, admin aggregated from system:aggregate-to-admin', async () => {
    const r = await srv.request('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/admin');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' } }] } });
    // Written at start: admin has system:aggregate-to-admin's rules, and edit's and view's through edit.
    const rules = (r.json as { rules: { resources?: string[]; verbs: string[] }[] }).rules;
    expect(rules).toContainEqual({ apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings', 'roles'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'deletecollection', 'patch', 'update'] });
    expect(rules.some((x) => x.resources?.includes('pods/log'))).toBe(true);
    const b = await srv.request('GET', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin');
    expect(b.json).toMatchObject({ roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'Group', name: 'system:masters' }] });
  });
});

for (const b of kubectlBinaries().filter((x) => x.version === '1.20' || x.version === '1.33')) {
  describe.skipIf(!b.present)(`kubectl ${b.version}${b.present ? '' : ` (absent: ${b.path})`}`, () => {
    const ns = `rbac-${b.version.replace('.', '-')}`;
    const k = async (who: Who, ...args: string[]) => {
      const cache = path.join(dir, `cache-${b.version}-${who}`);
      await mkdir(cache, { recursive: true });
      return kubectl(b.path, who === 'admin' ? srv.kubeconfig : path.join(dir, `${who}.kubeconfig`), cache, args);
    };
    const ok = async (who: Who, ...args: string[]) => {
      const r = await k(who, ...args);
      expect(r.stderr + (r.code === 0 ? '' : ` (exit ${r.code})`)).not.toMatch(/exit|error/i);
      return r.stdout;
    };
    const canI = async (who: Who, ...args: string[]) => {
      const r = await k(who, 'auth', 'can-i', ...args);
      expect(r.stderr).not.toMatch(/error/i);
      return `${r.stdout.trim()} ${r.code}`;
    };

    it('the admin certificate (system:masters) may do everything', async () => {
      expect(await ok('admin', 'create', 'namespace', ns)).toContain(`namespace/${ns} created`);
      expect(await canI('admin', '*', '*')).toBe('yes 0');
      expect(await ok('admin', 'get', 'nodes')).toBe('');
      const roles = await ok('admin', 'get', 'clusterroles');
      expect(roles).toMatch(/^NAME\s+CREATED AT\n/);
      expect(roles).toMatch(/^cluster-admin\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
      expect(roles).toMatch(/^system:public-info-viewer\s+/m);
      const crb = await ok('admin', 'get', 'clusterrolebindings', '-o', 'wide');
      expect(crb).toMatch(/^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS\n/);
      expect(crb).toMatch(/^cluster-admin\s+ClusterRole\/cluster-admin\s+\d+s\s+system:masters\s*$/m);
      expect(await ok('admin', 'create', 'clusterrole', `logs-${ns}`, '--verb=get', '--non-resource-url=/logs/*')).toContain(`clusterrole.rbac.authorization.k8s.io/logs-${ns} created`);
      const cr = JSON.parse(await ok('admin', 'get', 'clusterrole', `logs-${ns}`, '-o', 'json')) as { rules: unknown };
      expect(cr.rules).toEqual([{ nonResourceURLs: ['/logs/*'], verbs: ['get'] }]);
    });

    it('refuses an anonymous and an unbound user with the real 403, and a bad token with a 401', async () => {
      // Discovery is refused to anonymous users (system:discovery is bound to system:authenticated only): kubectl
      // cannot map "pods" (1.20: `the server doesn't have a resource type`; 1.33: `Error from server (Forbidden)`).
      const anon = await k('anonymous', 'get', 'pods', '-n', ns);
      expect(anon.code).not.toBe(0);
      expect(anon.stderr).toMatch(b.version === '1.20' ? /the server doesn't have a resource type "pods"/ : /Error from server \(Forbidden\)/);
      const raw = await k('anonymous', 'get', '--raw', `/api/v1/namespaces/${ns}/pods`);
      expect(raw.code).not.toBe(0);
      expect(raw.stderr).toContain(`Error from server (Forbidden): pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "${ns}"`);
      expect(await ok('anonymous', 'get', '--raw', '/healthz')).toBe('ok');
      const alice = await k('alice', 'get', 'pods', '-n', ns);
      expect(alice.code).not.toBe(0);
      expect(alice.stderr).toContain(`Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "${ns}"`);
      const nodes = await k('alice', 'get', 'nodes');
      expect(nodes.stderr).toContain('nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope');
      const bad = await k('bad', 'get', 'pods', '-n', ns);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('error: You must be logged in to the server');
    });

    it('a Role and RoleBinding from kubectl\'s generators grant exactly one verb in one namespace', async () => {
      expect(await canI('bob', 'list', 'pods', '-n', ns)).toBe('no 1');
      expect(await ok('admin', 'create', 'role', 'pod-lister', '--verb=list', '--resource=pods', '-n', ns)).toContain('role.rbac.authorization.k8s.io/pod-lister created');
      expect(await ok('admin', 'create', 'rolebinding', 'bob-lists', '--role=pod-lister', '--user=bob', '-n', ns)).toContain('rolebinding.rbac.authorization.k8s.io/bob-lists created');
      expect(await ok('bob', 'get', 'pods', '-n', ns)).toBe('');
      expect(await canI('bob', 'list', 'pods', '-n', ns)).toBe('yes 0');
      expect(await canI('bob', 'get', 'pods', '-n', ns)).toBe('no 1');
      expect(await canI('bob', 'delete', 'pods', '-n', ns)).toBe('no 1');
      expect(await canI('bob', 'list', 'pods', '-n', 'default')).toBe('no 1');
      expect(await canI('bob', 'list', 'services', '-n', ns)).toBe('no 1');
      const elsewhere = await k('bob', 'get', 'pods', '-n', 'default');
      expect(elsewhere.stderr).toContain('pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"');
      const roles = await ok('admin', 'get', 'roles', '-n', ns);
      expect(roles).toMatch(/^NAME\s+CREATED AT\npod-lister\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
      const rbs = await ok('admin', 'get', 'rolebindings', '-n', ns, '-o', 'wide');
      expect(rbs).toMatch(/^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS\n/);
      expect(rbs).toMatch(/^bob-lists\s+Role\/pod-lister\s+\d+s\s+bob\s*$/m);
      const y = await ok('admin', 'get', 'role', 'pod-lister', '-n', ns, '-o', 'yaml');
      expect(y).toMatch(/^- apiGroups:\n {2}- ""\n {2}resources:\n {2}- pods\n {2}verbs:\n {2}- list$/m);
    });

    it('a RoleBinding to the admin ClusterRole: can-i answers from the aggregated rules, in that namespace only', async () => {
      await ok('admin', 'create', 'rolebinding', 'carol-admin', '--clusterrole=admin', '--user=carol', '-n', ns);
      expect(await canI('carol', 'create', 'deployments.apps', '-n', ns)).toBe('yes 0');
      expect(await canI('carol', 'create', 'roles', '-n', ns)).toBe('yes 0');
      expect(await canI('carol', 'get', 'pods/log', '-n', ns)).toBe('yes 0');
      expect(await canI('carol', 'create', 'pods', '-n', 'default')).toBe('no 1');
      expect(await canI('carol', 'list', 'nodes')).toBe('no 1');
      expect(await canI('alice', 'get', 'pods', '-n', ns)).toBe('no 1');
    });

    it('creates RBAC manifests with `create -f` (validated); an aggregated ClusterRole grants what its selectors pick', async () => {
      const file = path.join(dir, `rbac-${b.version}.yaml`);
      await writeFile(
        file,
        `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: agg-${ns}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels:
      example.com/aggregate-to: ${ns}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cm-reader-${ns}
  labels:
    example.com/aggregate-to: ${ns}
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: alice-agg
  namespace: ${ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: agg-${ns}
subjects:
- kind: User
  name: alice
  apiGroup: rbac.authorization.k8s.io
`,
      );
      const out = await ok('admin', 'create', '-f', file);
      expect(out).toContain(`clusterrole.rbac.authorization.k8s.io/agg-${ns} created`);
      expect(out).toContain('rolebinding.rbac.authorization.k8s.io/alice-agg created');
      expect(await canI('alice', 'list', 'configmaps', '-n', ns)).toBe('yes 0');
      expect(await canI('alice', 'delete', 'configmaps', '-n', ns)).toBe('no 1');
      expect(await canI('alice', 'list', 'configmaps', '-n', 'default')).toBe('no 1');
      expect(await ok('alice', 'get', 'configmaps', '-n', ns)).toBe('');
      // The apiserver writes the aggregated rules into the ClusterRole, as the aggregation controller does.
      let rules: unknown;
      for (let i = 0; i < 40 && rules === undefined; i++) {
        const got = JSON.parse(await ok('admin', 'get', 'clusterrole', `agg-${ns}`, '-o', 'json')) as { rules?: unknown[] };
        if (got.rules?.length) rules = got.rules;
        else await new Promise((r) => setTimeout(r, 250));
      }
      expect(rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }]);
    });

    it('refuses escalation: a role or binding with rights the creator lacks', async () => {
      // What carol holds she may grant.
      expect(await ok('carol', 'create', 'role', 'reader', '--verb=get', '--verb=list', '--resource=pods', '-n', ns)).toContain('role.rbac.authorization.k8s.io/reader created');
      const role = await k('carol', 'create', 'role', 'node-maker', '--verb=create', '--resource=nodes', '-n', ns);
      expect(role.code).not.toBe(0);
      expect(role.stderr).toContain(`roles.rbac.authorization.k8s.io "node-maker" is forbidden: user "carol" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:`);
      expect(role.stderr).toContain('{APIGroups:[""], Resources:["nodes"], Verbs:["create"]}');
      const bind = await k('carol', 'create', 'rolebinding', 'carol-root', '--clusterrole=cluster-admin', '--user=carol', '-n', ns);
      expect(bind.code).not.toBe(0);
      expect(bind.stderr).toContain(`rolebindings.rbac.authorization.k8s.io "carol-root" is forbidden: user "carol"`);
      const crb = await k('carol', 'create', 'clusterrolebinding', 'carol-view', '--clusterrole=view', '--user=carol');
      expect(crb.code).not.toBe(0);
      expect(crb.stderr).toContain('clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "carol" cannot create resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope');
      expect(await canI('carol', 'create', 'nodes')).toBe('no 1');
      // The admin may grant anything.
      expect(await ok('admin', 'create', 'clusterrolebinding', `alice-view-${ns}`, '--clusterrole=view', '--user=alice')).toContain('created');
      expect(await canI('alice', 'get', 'pods', '-n', ns)).toBe('yes 0');
      expect(await ok('admin', 'delete', 'clusterrolebinding', `alice-view-${ns}`)).toContain('deleted');
      expect(await canI('alice', 'get', 'pods', '-n', ns)).toBe('no 1');
    });
  });
}

describe('a restart', () => {
  it('reconciles a trimmed bootstrap role and a binding stripped of a subject, and leaves the others unwritten', async () => {
    const crs = '/apis/rbac.authorization.k8s.io/v1/clusterroles';
    const crbs = '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings';
    const merge = { 'Content-Type': 'application/merge-patch+json' };
    expect((await srv.request('PATCH', `${crs}/system:node-proxier`, { rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }] }, srv.admin, merge)).status).toBe(200);
    expect((await srv.request('PATCH', `${crbs}/system:public-info-viewer`, { subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:authenticated' }] }, srv.admin, merge)).status).toBe(200);
    // Anonymous users lose /version with it; authenticated ones keep it.
    expect((await srv.request('GET', '/healthz', undefined, { token: USERS.alice })).status).toBe(200);
    expect((await srv.request('GET', '/version', undefined, {})).status).toBe(403);
    const rvOf = async (p: string) => ((await srv.request('GET', p)).json as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const viewRv = await rvOf(`${crs}/system:discovery`);
    const port = srv.port;
    await srv.stop();
    srv = await ApiServerProc.start(etcd.endpoint, dir, [`--token-auth-file=${path.join(dir, 'tokens.csv')}`, '--authorization-mode=RBAC'], port);
    const proxier = (await srv.request('GET', `${crs}/system:node-proxier`)).json as { rules: { resources: string[]; verbs: string[] }[] };
    expect(proxier.rules[0]).toEqual({ apiGroups: [''], resources: ['nodes'], verbs: ['get'] });
    expect(proxier.rules).toContainEqual({ apiGroups: [''], resources: ['endpoints', 'services'], verbs: ['list', 'watch'] });
    expect((await srv.request('GET', '/version', undefined, {})).status).toBe(200);
    expect(await rvOf(`${crs}/system:discovery`)).toBe(viewRv);
  }, 60_000);
});
