// Admission and access against real kubectl (1.20 and 1.33, each by path; an absent one is skipped): one etcd
// and one kube-apiserver with --authorization-mode=RBAC, debug logs and a token file of two users. A pod gets
// the DefaultTolerationSeconds tolerations; a LimitRange defaults containers and refuses one over its max; a
// quota refuses the pod beyond it and `describe quota` shows its usage; `auth can-i --list` and `--as` answer
// per bindings; an impersonation the requester may not do is refused. Secrets sent with bad input never come
// back in an answer or go into the log.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServerProc, EtcdServer, kubectl, kubectlBinaries, writeClientKubeconfig } from '../harness/index.js';

let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;

const USERS = { alice: 'alice-token', bob: 'bob-token' } as const;
type Who = keyof typeof USERS | 'admin';

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apisrv-admit-'));
  etcd = await EtcdServer.start();
  await writeFile(path.join(dir, 'tokens.csv'), Object.entries(USERS).map(([u, t], i) => `${t},${u},${3000 + i}`).join('\n') + '\n');
  srv = await ApiServerProc.start(etcd.endpoint, dir, [`--token-auth-file=${path.join(dir, 'tokens.csv')}`, '--authorization-mode=RBAC', '--log-level=debug']);
  for (const [u, t] of Object.entries(USERS)) await writeClientKubeconfig(path.join(dir, `${u}.kubeconfig`), srv.url, srv.admin.ca!, { token: t });
}, 60_000);

afterAll(async () => {
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const podYaml = (name: string, resources = ''): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers:\n  - name: c\n    image: busybox${resources ? `\n    resources:\n${resources}` : ''}\n`;

for (const b of kubectlBinaries().filter((x) => x.version === '1.20' || x.version === '1.33')) {
  describe.skipIf(!b.present)(`kubectl ${b.version}${b.present ? '' : ` (absent: ${b.path})`}`, () => {
    const ns = `admit-${b.version.replace('.', '-')}`;
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
    const file = async (name: string, text: string): Promise<string> => {
      const f = path.join(dir, `${b.version}-${name}.yaml`);
      await writeFile(f, text);
      return f;
    };

    it('a pod gets the not-ready and unreachable NoExecute tolerations', async () => {
      await ok('admin', 'create', 'namespace', ns);
      await ok('admin', 'create', '-f', await file('plain', podYaml('plain')), '-n', ns);
      const y = await ok('admin', 'get', 'pod', 'plain', '-n', ns, '-o', 'yaml');
      expect(y).toMatch(/ {2}tolerations:\n {2}- effect: NoExecute\n {4}key: node\.kubernetes\.io\/not-ready\n {4}operator: Exists\n {4}tolerationSeconds: 300\n {2}- effect: NoExecute\n {4}key: node\.kubernetes\.io\/unreachable\n {4}operator: Exists\n {4}tolerationSeconds: 300\n/);
    });

    it('a LimitRange defaults requests and limits, and refuses a container over its max', async () => {
      const lrNs = `${ns}-lr`;
      await ok('admin', 'create', 'namespace', lrNs);
      const lr = await file('lr', `apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: cpu-limits\nspec:\n  limits:\n  - type: Container\n    max:\n      cpu: "1"\n    default:\n      cpu: 500m\n    defaultRequest:\n      cpu: 200m\n`);
      expect(await ok('admin', 'create', '-f', lr, '-n', lrNs)).toContain('limitrange/cpu-limits created');
      expect(await ok('admin', 'get', 'limits', '-n', lrNs)).toMatch(/^NAME\s+CREATED AT\ncpu-limits\s+\d{4}-\d\d-\d\dT/);
      await ok('admin', 'create', '-f', await file('small', podYaml('small')), '-n', lrNs);
      const res = JSON.parse(await ok('admin', 'get', 'pod', 'small', '-n', lrNs, '-o', 'jsonpath={.spec.containers[0].resources}')) as unknown;
      expect(res).toEqual({ limits: { cpu: '500m' }, requests: { cpu: '200m' } });
      expect(await ok('admin', 'get', 'pod', 'small', '-n', lrNs, '-o', 'jsonpath={.metadata.annotations.kubernetes\\.io/limit-ranger}')).toBe('LimitRanger plugin set: cpu request for container c; cpu limit for container c');
      const big = await k('admin', 'create', '-f', await file('big', podYaml('big', '      limits:\n        cpu: "2"')), '-n', lrNs);
      expect(big.code).not.toBe(0);
      expect(big.stderr).toContain('pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2');
    });

    it('a quota refuses the pod beyond it, and describe quota shows Used and Hard', async () => {
      const qNs = `${ns}-q`;
      await ok('admin', 'create', 'namespace', qNs);
      expect(await ok('admin', 'create', 'quota', 'q', '--hard=pods=2,count/configmaps=5', '-n', qNs)).toContain('resourcequota/q created');
      for (const n of ['p1', 'p2']) await ok('admin', 'create', '-f', await file(n, podYaml(n)), '-n', qNs);
      const p3 = await k('admin', 'create', '-f', await file('p3', podYaml('p3')), '-n', qNs);
      expect(p3.code).not.toBe(0);
      expect(p3.stderr).toContain('pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2');
      const d = await ok('admin', 'describe', 'quota', 'q', '-n', qNs);
      expect(d).toMatch(/^Resource\s+Used\s+Hard\n-+\s+-+\s+-+\n/m);
      expect(d).toMatch(/^count\/configmaps\s+0\s+5$/m);
      expect(d).toMatch(/^pods\s+2\s+2$/m);
      expect(await ok('admin', 'get', 'quota', '-n', qNs)).toMatch(/^q\s+\d+s\s+count\/configmaps: 0\/5, pods: 2\/2\s*$/m);
      // A deleted pod no longer counts: the next one fits.
      await ok('admin', 'delete', 'pod', 'p1', '-n', qNs);
      let fitted = '';
      for (let i = 0; i < 50 && !fitted.includes('created'); i++) {
        const r = await k('admin', 'create', '-f', await file('p3', podYaml('p3')), '-n', qNs);
        fitted = r.stdout;
        if (!fitted.includes('created')) await new Promise((r) => setTimeout(r, 200));
      }
      expect(fitted).toContain('pod/p3 created');
      expect(await ok('admin', 'describe', 'quota', 'q', '-n', qNs)).toMatch(/^pods\s+2\s+2$/m);
    });

    it('auth can-i --list and --as answer per bindings; an impersonation not granted is refused', async () => {
      const list = await ok('admin', 'auth', 'can-i', '--list', '-n', ns);
      expect(list).toMatch(/^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs\n/);
      expect(list).toMatch(/^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/m);
      expect((await k('admin', 'auth', 'can-i', 'get', 'pods', '--as=bob', '-n', ns)).stdout.trim()).toBe('no');
      await ok('admin', 'create', 'role', 'pod-reader', '--verb=get,list', '--resource=pods', '-n', ns);
      await ok('admin', 'create', 'rolebinding', 'bob-reads', '--role=pod-reader', '--user=bob', '-n', ns);
      const asBob = await k('admin', 'auth', 'can-i', 'get', 'pods', '--as=bob', '-n', ns);
      expect(`${asBob.stdout.trim()} ${asBob.code}`).toBe('yes 0');
      expect((await k('admin', 'auth', 'can-i', 'delete', 'pods', '--as=bob', '-n', ns)).stdout.trim()).toBe('no');
      expect((await k('admin', 'auth', 'can-i', 'get', 'pods', '--as=bob', '-n', 'default')).stdout.trim()).toBe('no');
      const bobList = await ok('bob', 'auth', 'can-i', '--list', '-n', ns);
      expect(bobList).toMatch(/^pods\s+\[\]\s+\[\]\s+\[get list\]$/m);
      expect(bobList).toMatch(/^selfsubjectrulesreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/m);
      expect(await ok('admin', 'get', 'pods', '--as=bob', '-n', ns, '-o', 'name')).toContain('pod/plain');
      const refused = await k('alice', 'get', '--raw', `/api/v1/namespaces/${ns}/pods`, '--as=bob');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('Error from server (Forbidden): users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope');
    });
  });
}

describe('the raw API', () => {
  it('answers a LocalSubjectAccessReview in its namespace only', async () => {
    const lsar = (ns: string, spec: unknown) => srv.request('POST', `/apis/authorization.k8s.io/v1/namespaces/${ns}/localsubjectaccessreviews`, { apiVersion: 'authorization.k8s.io/v1', kind: 'LocalSubjectAccessReview', spec });
    const r = await lsar('default', { user: 'bob', resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'default' } });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ kind: 'LocalSubjectAccessReview', metadata: { namespace: 'default' }, status: { allowed: false } });
    const other = await lsar('default', { user: 'bob', resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'kube-system' } });
    expect(other.status).toBe(422);
    expect((other.json as { message: string }).message).toContain('spec.resourceAttributes.namespace: Invalid value: "": must match metadata.namespace');
  });

  it('never answers or logs a secret value sent with bad input', async () => {
    const secret = 'hunter2-very-secret';
    const b64 = Buffer.from(secret).toString('base64');
    const base = '/api/v1/namespaces/default/secrets';
    const answers: string[] = [];
    const ask = async (method: string, p: string, body: string, contentType = 'application/json') => {
      const r = await srv.request(method, p, body, undefined, { 'Content-Type': contentType });
      expect(r.status, r.text).toBeGreaterThanOrEqual(400);
      answers.push(r.text);
    };
    await ask('POST', base, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bad64' }, data: { k: `${secret}!` } }));
    await ask('POST', base, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k": ${secret}}}`);
    await ask('POST', base, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: y\nstringData:\n  k: ${secret}: [\n`, 'application/yaml');
    await ask('POST', base, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'num' }, data: { k: 12345678, j: { nested: secret } } }));
    const made = await srv.request('POST', base, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'good' }, data: { k: b64 } });
    expect(made.status).toBe(201);
    await ask('PATCH', `${base}/good?fieldValidation=Strict`, JSON.stringify({ data: { k: b64 }, bogus: secret }), 'application/merge-patch+json');
    await ask('PATCH', `${base}/good`, JSON.stringify({ data: { $patch: 'nonsense', k: b64 } }), 'application/strategic-merge-patch+json');
    await ask('PATCH', `${base}/good`, JSON.stringify([{ op: 'replace', path: '/data/k', value: `${secret}!` }]), 'application/json-patch+json');
    await ask('PUT', `${base}/good`, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'good' }, data: { k: `${secret}?` } }));
    await ask('PUT', `${base}/good`, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'good' }, type: 'kubernetes.io/tls', data: { k: b64 } }));
    expect(answers).toHaveLength(9);
    for (const a of answers) {
      expect(a).not.toContain(secret);
      expect(a).not.toContain(b64);
    }
    // The refusals still say what is wrong.
    const message = (i: number): string => (JSON.parse(answers[i]!) as { message: string }).message;
    expect(message(0)).toBe('Secret "bad64" is invalid: data[k]: Invalid value: "<secret contents redacted>": illegal base64 data');
    expect(message(3)).toContain('data[k]: Invalid value: "<secret contents redacted>": must be a string');
    const log = await readFile(path.join(dir, `apiserver-${srv.port}.log`), 'utf8');
    expect(log).toContain('"level":20');
    expect(log).not.toContain(secret);
    expect(log).not.toContain(b64);
  });
});
