// Service accounts end to end against a real etcd, kube-apiserver (RBAC, the ServiceAccount admission on)
// and kube-controller-manager (its serviceaccount and root-ca-cert-publisher controllers) from dist/, driven
// by the real kubectl: each namespace gets its `default` account and kube-root-ca.crt; `kubectl create token`
// (several versions) makes tokens that authenticate as the account, TokenReview and `kubectl auth whoami`
// say who they are; a token bound to a pod stops working once the pod is deleted, an account's once the
// account is; a changed or foreign signature is a 401; the admission refuses a pod naming a missing
// account and mounts the kube-api-access volume in the others.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APISERVER_BIN, ApiServerProc, EtcdServer, kubectl, kubectlBinaries, writeClientKubeconfig } from '../harness/index.js';

type Obj = Record<string, any>;
const CM_BIN = path.join(path.dirname(path.dirname(APISERVER_BIN)), 'controllers', 'main.js');
const KUBECTLS = kubectlBinaries().filter((b) => b.present && b.version !== '1.20');
const NEWEST = KUBECTLS[KUBECTLS.length - 1]!;
const NS = 'team';

let dir: string;
let etcd: EtcdServer | undefined;
let srv: ApiServerProc | undefined;
let cm: ChildProcess | undefined;
const kc = (...args: string[]) => kubectl(NEWEST.path, srv!.kubeconfig, path.join(dir, 'kube-cache'), args);

/** Polls `fn` until `ok` holds (bounded: 200 tries within `ms`); the last value. */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  for (let i = 0; i < 200 && !ok(v) && Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = await fn();
  }
  return v;
}
const payloadOf = (jwt: string): Obj => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Obj;
const withToken = (token: string, p = `/api/v1/namespaces/${NS}/pods`) => srv!.request('GET', p, undefined, { token });
const get = async (p: string): Promise<Obj | undefined> => {
  const r = await srv!.request('GET', p);
  return r.status === 200 ? (r.json as Obj) : undefined;
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sa-it-'));
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir, ['--authorization-mode=RBAC', '--enable-admission-plugins=ServiceAccount']);
  const log = createWriteStream(path.join(dir, 'kcm.log'));
  cm = spawn(process.execPath, [CM_BIN, `--kubeconfig=${srv.kubeconfig}`, '--secure-port=0', '--leader-elect=false', '--controllers=serviceaccount,root-ca-cert-publisher', `--cert-dir=${path.join(dir, 'kcm-certs')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  cm.stdout?.pipe(log);
  cm.stderr?.pipe(log);
  expect((await kc('create', 'namespace', NS)).code).toBe(0);
  await writeFile(
    path.join(dir, 'view.yaml'),
    `apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: sa-view\n  namespace: ${NS}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: view\nsubjects:\n- kind: Group\n  name: system:serviceaccounts:${NS}\n`,
  );
  expect((await kc('apply', '-f', path.join(dir, 'view.yaml'))).code).toBe(0);
}, 90_000);

afterAll(async () => {
  if (cm && cm.exitCode === null) {
    const exited = new Promise((r) => cm!.once('exit', r));
    cm.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (cm.exitCode === null && cm.signalCode === null) cm.kill('SIGKILL');
  }
  await srv?.stop();
  await etcd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the controllers', () => {
  it('give every namespace its default account (made again when deleted) and kube-root-ca.crt with the API CA', async () => {
    const sa = await until(() => get(`/api/v1/namespaces/${NS}/serviceaccounts/default`), (o) => o !== undefined);
    expect(sa?.metadata.name).toBe('default');
    for (const ns of ['default', 'kube-system', NS]) {
      const cmap = await until(() => get(`/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`), (o) => o !== undefined);
      expect(cmap?.data['ca.crt']).toBe(await readFile(srv!.admin.ca!, 'utf8'));
    }
    expect((await kc('delete', 'serviceaccount', 'default', '-n', NS)).code).toBe(0);
    const again = await until(() => get(`/api/v1/namespaces/${NS}/serviceaccounts/default`), (o) => o !== undefined && o.metadata.uid !== sa!.metadata.uid);
    expect(again?.metadata.uid).not.toBe(sa!.metadata.uid);
  }, 60_000);
});

describe('kubectl create token', () => {
  it.each(KUBECTLS.map((b) => [b.version, b.path] as const))('kubectl %s: a token that authenticates as the account', async (_v, bin) => {
    await until(() => get(`/api/v1/namespaces/${NS}/serviceaccounts/default`), (o) => o !== undefined);
    const r = await kubectl(bin, srv!.kubeconfig, path.join(dir, `cache-${_v}`), ['create', 'token', 'default', '-n', NS, '--duration=20m']);
    expect(r.code, r.stderr).toBe(0);
    const token = r.stdout.trim();
    const p = payloadOf(token);
    expect(p).toMatchObject({ iss: 'https://kubernetes.default.svc.cluster.local', sub: `system:serviceaccount:${NS}:default`, aud: ['https://kubernetes.default.svc.cluster.local'], 'kubernetes.io': { namespace: NS, serviceaccount: { name: 'default' } } });
    expect(p.exp - p.iat).toBe(1200);
    expect((await withToken(token)).status).toBe(200);
    // Bound by RBAC like anyone: the view role in its namespace only.
    expect((await withToken(token, '/api/v1/namespaces/kube-system/pods')).status).toBe(403);
  }, 60_000);

  it('refuses less than 10 minutes, as kube-apiserver words it', async () => {
    const r = await kc('create', 'token', 'default', '-n', NS, '--duration=5m');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/spec\.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes/);
  });

  it('is listed in discovery, with the authentication.k8s.io reviews', async () => {
    const core = JSON.parse((await kc('get', '--raw', '/api/v1')).stdout) as Obj;
    expect(core.resources.find((x: Obj) => x.name === 'serviceaccounts/token')).toEqual({ name: 'serviceaccounts/token', singularName: '', namespaced: true, group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] });
    const authn = JSON.parse((await kc('get', '--raw', '/apis/authentication.k8s.io/v1')).stdout) as Obj;
    expect(authn.resources.map((x: Obj) => x.name).sort()).toEqual(['selfsubjectreviews', 'tokenreviews']);
  });
});

describe('tokens bound to a pod', () => {
  it('mutates a pod: the default account and the kube-api-access volume, as kubectl get -o yaml shows', async () => {
    await until(() => get(`/api/v1/namespaces/${NS}/serviceaccounts/default`), (o) => o !== undefined);
    await writeFile(path.join(dir, 'p1.yaml'), `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\nspec:\n  containers:\n  - name: c\n    image: busybox\n`);
    const r = await kc('create', '-n', NS, '-f', path.join(dir, 'p1.yaml'));
    expect(r.code, r.stderr).toBe(0);
    const y = (await kc('get', 'pod', 'p1', '-n', NS, '-o', 'yaml')).stdout;
    expect(y).toMatch(/serviceAccountName: default/);
    expect(y).toMatch(/- mountPath: \/var\/run\/secrets\/kubernetes\.io\/serviceaccount\n\s+name: kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}\n\s+readOnly: true/);
    expect(y).toMatch(/name: kube-api-access-[a-z0-9]{5}\n\s+projected:\n\s+defaultMode: 420\n\s+sources:\n\s+- serviceAccountToken:\n\s+expirationSeconds: 3607\n\s+path: token/);
    expect(y).toMatch(/- configMap:\n\s+items:\n\s+- key: ca.crt\n\s+path: ca.crt\n\s+name: kube-root-ca.crt/);
  }, 30_000);

  it('refuses a pod that names a missing account (403)', async () => {
    await writeFile(path.join(dir, 'p2.yaml'), `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p2\nspec:\n  serviceAccountName: ghost\n  containers:\n  - name: c\n    image: busybox\n`);
    const r = await kc('create', '-n', NS, '-f', path.join(dir, 'p2.yaml'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Error from server (Forbidden): error when creating "${path.join(dir, 'p2.yaml')}": pods "p2" is forbidden: error looking up service account ${NS}/ghost: serviceaccount "ghost" not found`);
  });

  it('authenticates with the pod in its extra (TokenReview, kubectl auth whoami) until the pod is deleted, then 401', async () => {
    const r = await kc('create', 'token', 'default', '-n', NS, '--bound-object-kind=Pod', '--bound-object-name=p1');
    expect(r.code, r.stderr).toBe(0);
    const token = r.stdout.trim();
    const pod = (await get(`/api/v1/namespaces/${NS}/pods/p1`))!;
    expect(payloadOf(token)['kubernetes.io'].pod).toEqual({ name: 'p1', uid: pod.metadata.uid });
    expect((await withToken(token)).status).toBe(200);

    await writeFile(path.join(dir, 'review.json'), JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }));
    const rv = await kc('create', '-f', path.join(dir, 'review.json'), '-o', 'json');
    expect(rv.code, rv.stderr).toBe(0);
    expect((JSON.parse(rv.stdout) as Obj).status).toMatchObject({
      authenticated: true,
      audiences: ['https://kubernetes.default.svc.cluster.local'],
      user: { username: `system:serviceaccount:${NS}:default`, groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'], extra: { 'authentication.kubernetes.io/pod-name': ['p1'], 'authentication.kubernetes.io/pod-uid': [pod.metadata.uid] } },
    });
    const wrongAud = await srv!.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['vault'] } });
    expect(wrongAud.status).toBe(201);
    expect((wrongAud.json as Obj).status.authenticated).toBeUndefined();
    expect((wrongAud.json as Obj).status.error).toMatch(/audience/);

    const kubeconfig = path.join(dir, 'sa.kubeconfig');
    await writeClientKubeconfig(kubeconfig, srv!.url, srv!.admin.ca!, { token });
    const who = await kubectl(NEWEST.path, kubeconfig, path.join(dir, 'cache-who'), ['auth', 'whoami']);
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout).toMatch(new RegExp(`Username\\s+system:serviceaccount:${NS}:default`));
    expect(who.stdout, who.stdout).toMatch(/pod-name.*p1/);

    expect((await kc('delete', 'pod', 'p1', '-n', NS)).code).toBe(0);
    const after = await until(() => withToken(token), (x) => x.status === 401);
    expect(after.status).toBe(401);
    expect((await kubectl(NEWEST.path, kubeconfig, path.join(dir, 'cache-who'), ['get', 'pods', '-n', NS])).stderr).toMatch(/Unauthorized|must be logged in/);
  }, 60_000);
});

describe('refused tokens', () => {
  it("an account's token is a 401 once the account is deleted", async () => {
    expect((await kc('create', 'serviceaccount', 'robot', '-n', NS)).code).toBe(0);
    const token = (await kc('create', 'token', 'robot', '-n', NS)).stdout.trim();
    expect((await withToken(token)).status).toBe(200);
    expect((await kc('delete', 'serviceaccount', 'robot', '-n', NS)).code).toBe(0);
    expect((await until(() => withToken(token), (x) => x.status === 401)).status).toBe(401);
  }, 30_000);

  it('a changed signature, or the same claims signed by another key, is a 401', async () => {
    const token = (await kc('create', 'token', 'default', '-n', NS)).stdout.trim();
    const [h, p, s] = token.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[0] = sig[0]! ^ 0xff;
    expect((await withToken(`${h}.${p}.${sig.toString('base64url')}`)).status).toBe(401);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = `${h}.${p}.${sign('sha256', Buffer.from(`${h}.${p}`), privateKey).toString('base64url')}`;
    const r = await withToken(foreign);
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    expect((await withToken(token)).status).toBe(200);
  });
});
