// The kubelet's projected volumes: the files of each source, the token cache's refresh at 80% of a token's
// life, the atomic write into a real directory (the ..data swap), and the API's `kubernetes` Service in
// every pod's environment.
import { lstat, mkdtemp, readFile, readlink, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod, Service } from '../cluster/index.js';
import { resolveContainerEnv } from '../kubelet/env.js';
import { projectedFiles, TokenCache, writeProjection, type TokenRequestArgs } from '../kubelet/projected.js';
import { tokenRequestBody } from '../kubelet/token-request.js';
import { setUpVolumes } from '../kubelet/volumes.js';
import { apiAccessVolume } from '../apiserver/admission/index.js';

const pod: Pod = {
  metadata: { name: 'web', namespace: 'shop', uid: 'pod-1', labels: { b: '2', a: '1' } } as Pod['metadata'],
  spec: { nodeName: 'n1', serviceAccountName: 'robot', containers: [], volumes: [apiAccessVolume('kube-api-access-xyz12') as never] },
};
const projected = (apiAccessVolume('v').projected as Record<string, unknown>);

describe('projected files', () => {
  const asked: TokenRequestArgs[] = [];
  const src = {
    configMap: async (ns: string, n: string) => (ns === 'shop' && n === 'kube-root-ca.crt' ? { 'ca.crt': 'CA PEM' } : undefined),
    secret: async () => undefined,
    token: async (r: TokenRequestArgs) => {
      asked.push(r);
      return { token: 'jwt', expiresAtMs: 0 };
    },
  };

  it('are the token bound to the pod, the CA from kube-root-ca.crt and the namespace, at mode 0644', async () => {
    const files = await projectedFiles(pod, projected, src);
    expect(Object.fromEntries(files)).toEqual({ token: { data: 'jwt', mode: 0o644 }, 'ca.crt': { data: 'CA PEM', mode: 0o644 }, namespace: { data: 'shop', mode: 0o644 } });
    expect(asked).toEqual([{ namespace: 'shop', serviceAccount: 'robot', podName: 'web', podUid: 'pod-1', expirationSeconds: 3607 }]);
    expect(tokenRequestBody(asked[0]!)).toEqual({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: [], expirationSeconds: 3607, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'pod-1' } },
    });
  });

  it('name what is missing: a config map, a key, a token source (the kubelet on etcd); optional ones are skipped', async () => {
    await expect(projectedFiles({ ...pod, metadata: { ...pod.metadata, namespace: 'other' } }, projected, src)).rejects.toThrow('configmap "kube-root-ca.crt" not found');
    await expect(projectedFiles(pod, { sources: [{ configMap: { name: 'kube-root-ca.crt', items: [{ key: 'nope', path: 'x' }] } }] }, src)).rejects.toThrow('configmap "kube-root-ca.crt" has no key "nope"');
    await expect(projectedFiles(pod, projected, { configMap: src.configMap, secret: src.secret })).rejects.toThrow(/needs the kubelet on the API server \(--kubeconfig\)/);
    expect((await projectedFiles(pod, { sources: [{ secret: { name: 's', optional: true } }, { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } }] }, src)).get('labels')).toEqual({ data: 'a="1"\nb="2"', mode: 0o644 });
    await expect(projectedFiles(pod, { sources: [{ downwardAPI: { items: [{ path: '../etc', fieldRef: { fieldPath: 'metadata.name' } }] } }] }, src)).rejects.toThrow(/must be relative/);
  });
});

describe('the token cache', () => {
  it('fetches again once 80% of the lifetime has passed, and says when that is', async () => {
    let now = 0;
    let n = 0;
    const cache = new TokenCache(async () => ({ token: `t${++n}`, expiresAtMs: now + 1000_000 }), () => now);
    const r: TokenRequestArgs = { namespace: 'ns', serviceAccount: 'sa', podName: 'p', podUid: 'u', expirationSeconds: 1000 };
    expect((await cache.get(r)).token).toBe('t1');
    now = 799_000;
    expect((await cache.get(r)).token).toBe('t1');
    expect(cache.nextRefreshIn('u')).toBe(1000);
    now = 800_000;
    expect((await cache.get(r)).token).toBe('t2');
    expect(cache.nextRefreshIn('other')).toBeUndefined();
    cache.forgetPod('u');
    expect(cache.nextRefreshIn('u')).toBeUndefined();
  });
});

describe('the atomic write', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'projected-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const read = (p: string) => readFile(p, 'utf8').catch(() => undefined);

  it('swaps ..data to a new directory, links each file through it, and rewrites nothing that is the same', async () => {
    const vol = path.join(dir, 'v');
    expect(await writeProjection(vol, new Map([['token', { data: 'a', mode: 0o644 }], ['ca.crt', { data: 'c', mode: 0o644 }]]), read)).toBe(true);
    expect(await readFile(path.join(vol, 'token'), 'utf8')).toBe('a');
    expect(await readlink(path.join(vol, 'token'))).toBe('..data/token');
    const first = await readlink(path.join(vol, '..data'));
    expect(await writeProjection(vol, new Map([['token', { data: 'a', mode: 0o644 }], ['ca.crt', { data: 'c', mode: 0o644 }]]), read)).toBe(false);
    expect(await writeProjection(vol, new Map([['token', { data: 'b', mode: 0o600 }]]), read)).toBe(true);
    expect(await readFile(path.join(vol, 'token'), 'utf8')).toBe('b');
    expect((await lstat(path.join(vol, '..data', 'token'))).mode & 0o777).toBe(0o600);
    expect(await readlink(path.join(vol, '..data'))).not.toBe(first);
    // The old directory and the link of the file gone are removed.
    expect((await readdir(vol)).sort()).toEqual(['..data', await readlink(path.join(vol, '..data')), 'token'].sort());
  });

  it('setUpVolumes writes the kube-api-access volume under the pod directory; without sources it says why', async () => {
    const src = { configMap: async () => ({ 'ca.crt': 'CA' }), secret: async () => undefined, token: async () => ({ token: 'jwt', expiresAtMs: 0 }) };
    const vols = await setUpVolumes(dir, pod, src);
    const p = vols.get('kube-api-access-xyz12')!;
    expect(p).toBe(path.join(dir, 'pods', 'pod-1', 'volumes', 'kubernetes.io~projected', 'kube-api-access-xyz12'));
    expect(await readFile(path.join(p, 'namespace'), 'utf8')).toBe('shop');
    await expect(setUpVolumes(dir, pod)).rejects.toThrow(/kube-api-access-xyz12: projected volumes are not set up/);
  });
});

describe('the kubernetes Service in the environment', () => {
  const svc = (name: string, ns: string, ip: string): Service => ({ metadata: { name, namespace: ns }, spec: { clusterIP: ip, ports: [{ name: 'https', port: 443, protocol: 'TCP' }] } }) as Service;
  const services = (ns: string) => (ns === 'default' ? [svc('kubernetes', 'default', '10.254.0.1')] : [svc('web', ns, '10.254.0.9')]);
  const src = { secret: async () => undefined, configMap: async () => undefined, services };
  const envOf = async (p: Pod) => Object.fromEntries((await resolveContainerEnv(p, { name: 'c', image: 'i' }, src)).env.map((e) => e.split('=') as [string, string]));

  it('is given to a pod of any namespace, even without service links', async () => {
    expect(await envOf(pod)).toMatchObject({ KUBERNETES_SERVICE_HOST: '10.254.0.1', KUBERNETES_SERVICE_PORT: '443', WEB_SERVICE_HOST: '10.254.0.9' });
    const noLinks = await envOf({ ...pod, spec: { ...pod.spec, enableServiceLinks: false } });
    expect(noLinks).toMatchObject({ KUBERNETES_SERVICE_HOST: '10.254.0.1', KUBERNETES_SERVICE_PORT_HTTPS: '443' });
    expect(noLinks.WEB_SERVICE_HOST).toBeUndefined();
  });
});
