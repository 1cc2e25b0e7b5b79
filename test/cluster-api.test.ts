// The API side of the cluster store, pure parts: kubeconfig parsing, the key ↔ API path mapping, the
// flags that pick the store, and the client's Status handling.
import { describe, expect, it } from 'vitest';
import { apiFlagsOf, apiPathOf, apiTargetOf, FlagConflictError, keyOfApiObject, KubeconfigError, keys, parseKubeconfig, parseServerList, queryString, statusOf, UnmappedKeyError } from '../cluster/index.js';
import { microTime } from '../proxy/index.js';

const kc = (user: string, cluster = '    server: https://10.0.0.1:6443/\n    certificate-authority: ca.crt\n') =>
  `apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://other:1\n- name: c\n  cluster:\n${cluster}contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\ncurrent-context: ctx\nusers:\n- name: u\n  user:\n${user}`;

describe('parseKubeconfig', () => {
  it("takes the current context's cluster and user, files relative to the kubeconfig", () => {
    const t = parseKubeconfig(kc('    client-certificate: /abs/admin.crt\n    client-key: admin.key\n'), '/etc/k/admin.conf');
    expect(t).toEqual({ context: 'ctx', server: 'https://10.0.0.1:6443', insecureSkipTlsVerify: false, ca: { file: '/etc/k/ca.crt' }, cert: { file: '/abs/admin.crt' }, key: { file: '/etc/k/admin.key' } });
  });
  it('decodes -data fields, and takes a token, a tokenFile and insecure-skip-tls-verify', () => {
    const t = parseKubeconfig(
      kc(`    client-certificate-data: ${Buffer.from('CERT').toString('base64')}\n    client-key-data: ${Buffer.from('KEY').toString('base64')}\n    token: abc\n    tokenFile: tok\n`, '    server: http://master:8080\n    insecure-skip-tls-verify: true\n'),
      'rel/k.conf',
    );
    expect(t.cert).toEqual({ data: Buffer.from('CERT') });
    expect(t.key).toEqual({ data: Buffer.from('KEY') });
    expect(t.token).toBe('abc');
    expect(t.tokenFile).toMatch(/\/rel\/tok$/);
    expect(t.insecureSkipTlsVerify).toBe(true);
    expect(t.server).toBe('http://master:8080');
    expect(t.ca).toBeUndefined();
  });
  it('a named context instead of the current one', () => {
    const text = `${kc('    token: t\n')}`.replace('contexts:\n', 'contexts:\n- name: two\n  context:\n    cluster: other\n');
    expect(parseKubeconfig(text, 'k', 'two')).toMatchObject({ context: 'two', server: 'https://other:1' });
    expect(parseKubeconfig(text, 'k', 'two').token).toBeUndefined();
  });
  it('names the field at fault', () => {
    const err = (text: string): KubeconfigError => {
      try {
        parseKubeconfig(text, 'k.conf');
      } catch (e) {
        return e as KubeconfigError;
      }
      throw new Error('no error');
    };
    expect(err('a: [').message).toMatch(/^kubeconfig k\.conf: not YAML/);
    expect(err('- 1')).toMatchObject({ field: undefined, reason: 'not a kubeconfig (expected a mapping)' });
    expect(err(kc('    token: t\n').replace('current-context: ctx', 'current-context: nope'))).toMatchObject({ field: 'contexts', reason: 'has no entry named "nope"' });
    expect(err(kc('    token: t\n').replace('current-context: ctx\n', ''))).toMatchObject({ field: 'current-context' });
    expect(err(kc('    token: t\n', '    server: ftp://x\n'))).toMatchObject({ field: 'clusters[1].cluster.server' });
    expect(err(kc('    token: t\n', '    certificate-authority: x\n'))).toMatchObject({ field: 'clusters[1].cluster.server', reason: 'missing' });
    expect(err(kc('    client-certificate: a.crt\n'))).toMatchObject({ field: 'users[0].user.client-key' });
    expect(err(kc('    token: 7\n'))).toMatchObject({ field: 'users[0].user.token', reason: 'must be a string' });
    expect(err(kc('    client-key-data: "!!"\n    client-certificate: a\n'))).toMatchObject({ field: 'users[0].user.client-key-data', reason: 'is not base64' });
  });
});

describe('the seeds’ server flags', () => {
  it('parseServerList: a comma list of http URLs', () => {
    expect(parseServerList('http://master:8080, http://10.0.0.2:8080/')).toEqual(['http://master:8080', 'http://10.0.0.2:8080']);
    expect(() => parseServerList('master:8080')).toThrow(/not an http:\/\/ URL/);
    expect(() => parseServerList(' , ')).toThrow(/no server/);
  });
  it('apiFlagsOf: kubeconfig, a server list, or etcd; two of them is an error naming both flags', () => {
    expect(apiFlagsOf(undefined, undefined, '--master', true)).toBeUndefined();
    expect(apiFlagsOf(undefined, undefined, '--master', false)).toBeUndefined();
    expect(apiFlagsOf('/k', undefined, '--master', false)).toEqual({ kubeconfig: '/k' });
    expect(apiFlagsOf(undefined, 'http://m:8080', '--api-servers', false)).toEqual({ servers: ['http://m:8080'] });
    expect(() => apiFlagsOf('/k', undefined, '--master', true)).toThrow(FlagConflictError);
    expect(() => apiFlagsOf('/k', undefined, '--master', true)).toThrow(/--kubeconfig and --etcd-endpoints/);
    expect(() => apiFlagsOf(undefined, 'http://m:8080', '--api-servers', true)).toThrow(/--api-servers and --etcd-endpoints/);
    expect(() => apiFlagsOf('/k', 'http://m:8080', '--master', false)).toThrow(/--kubeconfig and --master/);
    expect(() => apiFlagsOf(undefined, 'm:8080', '--master', false)).toThrow(/^--master: "m:8080" is not/);
  });
});

describe('key ↔ API path', () => {
  it('maps objects, namespace prefixes and all-namespace prefixes of every kind', () => {
    const p = (k: string) => apiPathOf(apiTargetOf(k));
    expect(p(keys.pod('default', 'web'))).toBe('/api/v1/namespaces/default/pods/web');
    expect(p(keys.pods())).toBe('/api/v1/pods');
    expect(p(keys.pods('kube-system'))).toBe('/api/v1/namespaces/kube-system/pods');
    expect(p(keys.node('a'))).toBe('/api/v1/nodes/a');
    expect(p(keys.nodes())).toBe('/api/v1/nodes');
    expect(p(keys.service('ns', 'db'))).toBe('/api/v1/namespaces/ns/services/db');
    expect(p(keys.services())).toBe('/api/v1/services');
    expect(p(keys.endpoints('ns', 'db'))).toBe('/api/v1/namespaces/ns/endpoints/db');
    expect(p(keys.allEndpoints())).toBe('/api/v1/endpoints');
    expect(p(keys.secret('ns', 's'))).toBe('/api/v1/namespaces/ns/secrets/s');
    expect(p(keys.configMap('ns', 'c'))).toBe('/api/v1/namespaces/ns/configmaps/c');
    expect(p('/registry/leases/kube-system/kube-proxy-endpoints')).toBe('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-proxy-endpoints');
    expect(apiPathOf(apiTargetOf(keys.pod('default', 'web')), 'status')).toBe('/api/v1/namespaces/default/pods/web/status');
    expect(apiPathOf(apiTargetOf(keys.node('a')), 'status')).toBe('/api/v1/nodes/a/status');
  });
  it('and back: an object of the API has its key from its metadata', () => {
    for (const key of [keys.pod('default', 'web'), keys.node('a'), keys.service('ns', 'db'), keys.endpoints('ns', 'db'), keys.secret('x', 'y')]) {
      const t = apiTargetOf(key);
      expect(keyOfApiObject(t.res, t.namespace, t.name!)).toBe(key);
    }
  });
  it('refuses keys of other shapes', () => {
    for (const k of ['/registry/ranges/serviceips/10.0.0.1', '/coreos.com/network/config', '/registry/pods/a/b/c', '/registry/minions/a/b', '/registry/pods//x'])
      expect(() => apiTargetOf(k), k).toThrow(UnmappedKeyError);
  });
});

describe('API client helpers', () => {
  it('statusOf: reason and message of a Status, else the text', () => {
    expect(statusOf(409, JSON.stringify({ kind: 'Status', reason: 'Conflict', message: 'the object has been modified' }))).toEqual({ reason: 'Conflict', message: 'the object has been modified' });
    expect(statusOf(502, 'Bad Gateway\n')).toEqual({ message: 'Bad Gateway' });
    expect(statusOf(500, '')).toEqual({ message: 'HTTP 500' });
  });
  it('queryString leaves unset values out', () => {
    expect(queryString({ watch: 'true', continue: undefined, fieldSelector: 'spec.nodeName=a' })).toBe('?watch=true&fieldSelector=spec.nodeName%3Da');
    expect(queryString({})).toBe('');
  });
  it('microTime has microseconds, as metav1.MicroTime', () => {
    expect(microTime(Date.UTC(2024, 0, 2, 3, 4, 5, 678))).toBe('2024-01-02T03:04:05.678000Z');
  });
});
