// Node authorization against real kubectl (1.20 and the newest present, each by path; an absent one is
// skipped): one etcd and one kube-apiserver with --authorization-mode=Node,RBAC and NodeRestriction. The
// admin makes two nodes' pods, each naming its own secret and config map; node a's kubeconfig (a client
// certificate CN=system:node:a, O=system:nodes, signed by the apiserver's CA) reads its pods' secret and
// config map and is refused node b's, with the Node authorizer's reasons; changes its own Node and is refused
// node b's and a node-restriction label, with NodeRestriction's messages; writes its own pod's status and is
// refused node b's; lists pods only by its spec.nodeName.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServerProc, type ClientCreds, EtcdServer, kubectl, kubectlBinaries, SECURE_APISERVER_ARGS } from '../harness/index.js';

let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;
const kubeconfigs: Record<'a' | 'b', string> = { a: '', b: '' };
let nodeACreds: ClientCreds;

const NS = 'team';
const podOf = (node: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `web-${node}`, namespace: NS },
  spec: {
    nodeName: node,
    containers: [{ name: 'c', image: 'busybox', env: [{ name: 'K', valueFrom: { configMapKeyRef: { name: `cm-${node}`, key: 'k' } } }] }],
    volumes: [{ name: 's', secret: { secretName: `secret-${node}` } }],
  },
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apisrv-node-'));
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir, SECURE_APISERVER_ARGS);
  const admin = async (method: string, p: string, body: unknown): Promise<void> => {
    const r = await srv.request(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  };
  await admin('POST', '/api/v1/namespaces', { metadata: { name: NS } });
  for (const n of ['a', 'b']) {
    await admin('POST', `/api/v1/namespaces/${NS}/secrets`, { metadata: { name: `secret-${n}` }, stringData: { password: `pw-${n}` } });
    await admin('POST', `/api/v1/namespaces/${NS}/configmaps`, { metadata: { name: `cm-${n}` }, data: { k: n } });
    await admin('POST', '/api/v1/nodes', { metadata: { name: n } });
    await admin('POST', `/api/v1/namespaces/${NS}/pods`, podOf(n));
    kubeconfigs[n as 'a' | 'b'] = await srv.kubeconfigOf('kubelet', n);
  }
  nodeACreds = { cert: path.join(srv.certDir, 'client-system-node-a.crt'), key: path.join(srv.certDir, 'client-system-node-a.key') };
}, 60_000);

afterAll(async () => {
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const present = kubectlBinaries().filter((b) => b.present);
const bins = [present.find((b) => b.version === '1.20'), present.filter((b) => b.version !== '1.20').at(-1)].filter((b) => b !== undefined);

describe.each(bins)('kubectl $version as node a', (bin) => {
  const asNode = (args: string[], node: 'a' | 'b' = 'a') => kubectl(bin.path, kubeconfigs[node], path.join(dir, `cache-${bin.version}-${node}`), args);

  it("reads its own pod's secret and config map, and is refused node b's with the Node authorizer's reason", async () => {
    const own = await asNode(['get', 'secret', 'secret-a', '-n', NS, '-o', 'jsonpath={.data.password}']);
    expect(own.stderr).toBe('');
    expect(Buffer.from(own.stdout, 'base64').toString()).toBe('pw-a');
    expect((await asNode(['get', 'configmap', 'cm-a', '-n', NS, '-o', 'jsonpath={.data.k}'])).stdout).toBe('a');
    const secret = await asNode(['get', 'secret', 'secret-b', '-n', NS]);
    expect(secret.code).not.toBe(0);
    expect(secret.stderr).toContain(`Error from server (Forbidden): secrets "secret-b" is forbidden: User "system:node:a" cannot get resource "secrets" in API group "" in the namespace "${NS}": no relationship found between node 'a' and this object`);
    // The refusal names no secret value.
    expect(secret.stderr).not.toContain('pw-b');
    const cm = await asNode(['get', 'configmap', 'cm-b', '-n', NS]);
    expect(cm.stderr).toContain(`configmaps "cm-b" is forbidden: User "system:node:a" cannot get resource "configmaps" in API group "" in the namespace "${NS}": no relationship found between node 'a' and this object`);
    // Node b's credentials are the mirror image.
    expect((await asNode(['get', 'secret', 'secret-b', '-n', NS, '-o', 'name'], 'b')).stdout).toBe('secret/secret-b\n');
    expect((await asNode(['get', 'secret', 'secret-a', '-n', NS], 'b')).stderr).toContain('no relationship found between node \'b\' and this object');
  });

  it('kubectl auth can-i answers by the graph', async () => {
    expect((await asNode(['auth', 'can-i', 'get', 'secret/secret-a', '-n', NS])).stdout.trim()).toBe('yes');
    expect((await asNode(['auth', 'can-i', 'get', 'secret/secret-b', '-n', NS])).stdout.trim()).toBe("no - no relationship found between node 'a' and this object");
  });

  it("changes its own Node, and is refused node b's and a node-restriction label with NodeRestriction's messages", async () => {
    const label = `example.com/k${bin.version.replace('.', '')}`;
    const own = await asNode(['label', 'node', 'a', `${label}=v`]);
    expect(own.stderr).toBe('');
    expect(own.stdout).toBe('node/a labeled\n');
    // kubectl reads the Node before it patches it: node b's is not node a's to read.
    const other = await asNode(['label', 'node', 'b', `${label}=v`]);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain(`Error from server (Forbidden): nodes "b" is forbidden: User "system:node:a" cannot get resource "nodes" in API group "" at the cluster scope: node 'a' cannot read 'b', only its own Node object`);
    const restricted = await asNode(['label', 'node', 'a', 'node-restriction.kubernetes.io/pool=x']);
    expect(restricted.stderr).toContain('nodes "a" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/pool');
    expect((await asNode(['get', 'nodes'])).stderr).toContain(`nodes is forbidden: User "system:node:a" cannot list resource "nodes" in API group "" at the cluster scope: node 'a' cannot read all nodes, only its own Node object`);
  });

  it('lists pods only with its spec.nodeName field selector, and may not delete node b’s pod', async () => {
    expect((await asNode(['get', 'pods', '-A', '--field-selector', 'spec.nodeName=a', '-o', 'name'])).stdout).toBe('pod/web-a\n');
    expect((await asNode(['get', 'pods', '-A'])).stderr).toContain('can only list/watch pods with spec.nodeName field selector');
    const del = await asNode(['delete', 'pod', 'web-b', '-n', NS, '--wait=false']);
    expect(del.stderr).toContain('pods "web-b" is forbidden: node "a" can only delete pods with spec.nodeName set to itself');
  });
});

describe('the raw API as node a', () => {
  it("is refused a write of node b's Node by NodeRestriction (the Node authorizer lets Node writes through)", async () => {
    const r = await srv.request('PATCH', '/api/v1/nodes/b', { metadata: { labels: { 'example.com/x': 'y' } } }, nodeACreds, { 'Content-Type': 'application/merge-patch+json' });
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({ reason: 'Forbidden', message: 'nodes "b" is forbidden: node "a" is not allowed to modify node "b"', details: { name: 'b', kind: 'nodes' } });
    const status = await srv.request('PATCH', '/api/v1/nodes/b/status', { status: { phase: 'Running' } }, nodeACreds, { 'Content-Type': 'application/merge-patch+json' });
    expect((status.json as { message: string }).message).toBe('nodes "b" is forbidden: node "a" is not allowed to modify node "b"');
    const lease = await srv.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { metadata: { name: 'b' }, spec: { holderIdentity: 'b' } }, nodeACreds);
    expect((lease.json as { message: string }).message).toBe('leases.coordination.k8s.io "b" is forbidden: can only access node lease with the same name as the requesting node');
    const own = await srv.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { metadata: { name: 'a' }, spec: { holderIdentity: 'a' } }, nodeACreds);
    expect(own.status).toBe(201);
  });

  it("node a writes its own pod's status and is refused node b's", async () => {
    const statusOf = async (name: string) => {
      const cur = (await srv.request('GET', `/api/v1/namespaces/${NS}/pods/${name}`)).json as Record<string, unknown>;
      return { ...cur, status: { phase: 'Running', podIP: '10.5.0.9' } };
    };
    const own = await srv.request('PUT', `/api/v1/namespaces/${NS}/pods/web-a/status`, await statusOf('web-a'), nodeACreds);
    expect(own.status).toBe(200);
    expect((own.json as { status: { phase: string } }).status.phase).toBe('Running');
    const other = await srv.request('PUT', `/api/v1/namespaces/${NS}/pods/web-b/status`, await statusOf('web-b'), nodeACreds);
    expect(other.status).toBe(403);
    expect(other.json).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403, message: 'pods "web-b" is forbidden: node "a" can only update pod status for pods with spec.nodeName set to itself', details: { name: 'web-b', kind: 'pods' } });
    // And node a may not read node b's pod at all.
    expect((await srv.request('GET', `/api/v1/namespaces/${NS}/pods/web-b`, undefined, nodeACreds)).status).toBe(403);
  });
});

describe("the apiserver's log", () => {
  it('names the node whose requests the Node authorizer refused (what the labs check no daemon of theirs is)', async () => {
    const refused = await srv.forbiddenRequests();
    expect(refused.some((l) => l.includes('"user":"system:node:a"') && l.includes('"resource":"secrets"'))).toBe(true);
  });
});
