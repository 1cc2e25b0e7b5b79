import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { type ApiClient, ApiStatusError } from '../cluster/index.js';
import { silentLogger } from '../common/index.js';
import { formatCidr, parseNetworkConfig } from '../ipam/index.js';
import {
  annotationNames,
  AnnotationPrefixError,
  KubeLeaser,
  KubeNodeRegistry,
  KubeSetupError,
  kubeConnection,
  leaseOfNodeObject,
  networkUpPatch,
  nodeEvent,
  NodeLeaseError,
  nodeToLease,
  ownAnnotations,
  podCidrsOf,
  resolveNodeName,
  type NodeView,
} from '../flanneld/kube/index.js';
import { flanneldArgs } from '../flanneld/go-flags.js';
import { addDaemonOptions, daemonOptions } from '../flanneld/options.js';

const A = annotationNames();
const CFG = parseNetworkConfig('{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}');
const DUAL = parseNetworkConfig('{"EnableIPv6":true,"Network":"10.5.0.0/16","IPv6Network":"fd00:5::/56","Backend":{"Type":"vxlan"}}');
const MAC = '6a:1f:2b:3c:4d:5e';

const node = (name: string, spec: NodeView['spec'], annotations?: Record<string, string>): NodeView => ({ metadata: { name, ...(annotations && { annotations }) }, spec });
const flannelAnnotations = (ip: string, extra: Record<string, string> = {}): Record<string, string> => ({
  'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
  'flannel.alpha.coreos.com/backend-type': 'vxlan',
  'flannel.alpha.coreos.com/backend-data': `{"VNI":1,"VtepMAC":"${MAC}"}`,
  'flannel.alpha.coreos.com/public-ip': ip,
  ...extra,
});

describe('annotation names', () => {
  it('are flannel\'s under the default prefix', () => {
    expect(A).toEqual({
      managed: 'flannel.alpha.coreos.com/kube-subnet-manager',
      backendType: 'flannel.alpha.coreos.com/backend-type',
      backendData: 'flannel.alpha.coreos.com/backend-data',
      backendV6Data: 'flannel.alpha.coreos.com/backend-v6-data',
      publicIP: 'flannel.alpha.coreos.com/public-ip',
      publicIPv6: 'flannel.alpha.coreos.com/public-ipv6',
      publicIPOverwrite: 'flannel.alpha.coreos.com/public-ip-overwrite',
      publicIPv6Overwrite: 'flannel.alpha.coreos.com/public-ipv6-overwrite',
    });
  });

  it('take a prefix with a name part, joined with "-"', () => {
    expect(annotationNames('example.com/net').publicIP).toBe('example.com/net-public-ip');
    expect(annotationNames('example.com/').managed).toBe('example.com/kube-subnet-manager');
  });

  it('refuse a prefix that is not fqdn/[name]', () => {
    expect(() => annotationNames('a/b/c')).toThrow(AnnotationPrefixError);
    expect(() => annotationNames('a/b/c')).toThrow('at most one "/"');
    expect(() => annotationNames('NoDots')).toThrow(/domain name/);
  });
});

describe('pod CIDRs of a node', () => {
  it('reads spec.podCIDRs, else spec.podCIDR, and masks host bits as Go does', () => {
    const both = podCidrsOf(node('n', { podCIDR: '10.5.3.0/24', podCIDRs: ['10.5.3.0/24', 'fd00:5:0:3::/64'] }))!;
    expect(formatCidr(both.v4!)).toBe('10.5.3.0/24');
    expect(formatCidr(both.v6!)).toBe('fd00:5:0:3::/64');
    expect(formatCidr(podCidrsOf(node('n', { podCIDR: '10.5.4.7/24' }))!.v4!)).toBe('10.5.4.0/24');
    expect(podCidrsOf(node('n', {}))).toBeUndefined();
  });

  it('names the node and the value of a garbage or ambiguous podCIDR', () => {
    expect(() => podCidrsOf(node('n1', { podCIDR: 'garbage' }))).toThrow('node "n1": pod CIDR "garbage" is not a CIDR');
    expect(() => podCidrsOf(node('n1', { podCIDRs: ['10.5.1.0/24', '10.5.2.0/24'] }))).toThrow(/two IPv4 CIDRs/);
    expect(() => podCidrsOf(node('n1', { podCIDRs: ['10.5.1.0/24', 'fd00::/64', '10.5.2.0/24'] }))).toThrow(NodeLeaseError);
  });
});

describe('Node → peer lease', () => {
  it('is the podCIDR with the annotations as LeaseAttrs', () => {
    const l = nodeToLease(node('b', { podCIDR: '10.5.7.0/24' }, flannelAnnotations('192.0.2.12')), A, CFG)!;
    expect(formatCidr(l.subnet!)).toBe('10.5.7.0/24');
    expect(l.ipv6Subnet).toBeUndefined();
    expect(l.attrs).toEqual({ publicIP: '192.0.2.12', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: MAC } });
    expect(l.reservation).toBe(false);
  });

  it('is dual-stack with the v6 annotations under a dual-stack config', () => {
    const l = nodeToLease(
      node('b', { podCIDRs: ['10.5.7.0/24', 'fd00:5:0:7::/64'] }, flannelAnnotations('192.0.2.12', { 'flannel.alpha.coreos.com/public-ipv6': 'fd00::12', 'flannel.alpha.coreos.com/backend-v6-data': '{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}' })),
      A,
      DUAL,
    )!;
    expect(formatCidr(l.ipv6Subnet!)).toBe('fd00:5:0:7::/64');
    expect(l.attrs).toMatchObject({ publicIPv6: 'fd00::12', backendV6Data: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:ff' } });
  });

  it('is nothing for a node flanneld has not annotated, even with a podCIDR', () => {
    expect(nodeToLease(node('c', { podCIDR: '10.5.8.0/24' }), A, CFG)).toBeUndefined();
    expect(nodeToLease(node('c', { podCIDR: '10.5.8.0/24' }, { 'flannel.alpha.coreos.com/kube-subnet-manager': 'false' }), A, CFG)).toBeUndefined();
  });

  it('is an error naming the node and the field for garbage', () => {
    const bad = (spec: NodeView['spec'], extra: Record<string, string>) => () => nodeToLease(node('x', spec, flannelAnnotations('192.0.2.13', extra)), A, CFG);
    expect(bad({ podCIDR: '10.5.9.0/24' }, { 'flannel.alpha.coreos.com/backend-data': '{not json' })).toThrow('node "x": annotation flannel.alpha.coreos.com/backend-data is not JSON');
    expect(bad({ podCIDR: '10.5.9.0/24' }, { 'flannel.alpha.coreos.com/public-ip': 'fd00::1' })).toThrow('annotation flannel.alpha.coreos.com/public-ip "fd00::1" is not an IPv4 address');
    expect(bad({ podCIDR: 'nonsense' }, {})).toThrow('pod CIDR "nonsense" is not a CIDR');
    expect(bad({}, {})).toThrow('annotated by flanneld but has no spec.podCIDR');
    expect(bad({ podCIDR: '10.9.0.0/24' }, {})).toThrow('pod CIDR 10.9.0.0/24 is not inside the network 10.5.0.0/16');
    expect(bad({ podCIDR: '10.5.0.0/8' }, {})).toThrow(/is not inside the network/);
    expect(() => nodeToLease(node('y', { podCIDR: '10.5.9.0/24' }, flannelAnnotations('192.0.2.13')), A, DUAL)).toThrow(/no IPv6 pod CIDR/);
  });

  it('treats a "null" backend-data (udp) as none', () => {
    const l = nodeToLease(node('u', { podCIDR: '10.5.2.0/24' }, flannelAnnotations('192.0.2.14', { 'flannel.alpha.coreos.com/backend-type': 'udp', 'flannel.alpha.coreos.com/backend-data': 'null' })), A, CFG)!;
    expect(l.attrs).toEqual({ publicIP: '192.0.2.14', backendType: 'udp' });
  });
});

describe('watch events of Nodes', () => {
  const obj = (name: string, podCIDR: string | undefined, annotations?: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, ...(annotations && { annotations }) },
    spec: podCIDR ? { podCIDR } : {},
    status: {},
  });

  it('are puts for annotated nodes, deletes for others and for deleted nodes, corrupt for garbage', () => {
    expect(nodeEvent('ADDED', obj('b', '10.5.7.0/24', flannelAnnotations('192.0.2.12')), A, CFG)).toMatchObject({ type: 'put', key: 'b', lease: { attrs: { publicIP: '192.0.2.12' } } });
    expect(nodeEvent('MODIFIED', obj('c', '10.5.8.0/24'), A, CFG)).toEqual({ type: 'delete', key: 'c' });
    expect(nodeEvent('DELETED', obj('b', '10.5.7.0/24', flannelAnnotations('192.0.2.12')), A, CFG)).toEqual({ type: 'delete', key: 'b' });
    const bad = nodeEvent('MODIFIED', obj('x', 'garbage', flannelAnnotations('192.0.2.13')), A, CFG);
    expect(bad).toMatchObject({ type: 'corrupt', key: 'x', error: { reason: 'pod CIDR "garbage" is not a CIDR' } });
  });

  it('report a Node object of the wrong shape as corrupt, not as a crash', () => {
    const got = leaseOfNodeObject({ metadata: { name: 'w', annotations: { a: 1 } }, spec: {}, status: {} }, A, CFG);
    expect(got.name).toBe('w');
    expect(got.error?.reason).toMatch(/annotations/);
  });
});

describe('our own Node\'s annotations', () => {
  const attrs = { publicIP: '192.0.2.11', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: MAC } };

  it('are all of flannel\'s on a fresh node, and nothing once written', () => {
    const patch = ownAnnotations(node('a', { podCIDR: '10.5.1.0/24' }), A, attrs, CFG)!;
    expect(patch).toEqual({
      'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
      'flannel.alpha.coreos.com/backend-type': 'vxlan',
      'flannel.alpha.coreos.com/backend-data': `{"VNI":1,"VtepMAC":"${MAC}"}`,
      'flannel.alpha.coreos.com/public-ip': '192.0.2.11',
    });
    expect(ownAnnotations(node('a', { podCIDR: '10.5.1.0/24' }, { ...patch, other: 'x' }), A, attrs, CFG)).toBeUndefined();
  });

  it('are only the changed keys when the VTEP MAC changed', () => {
    const old = flannelAnnotations('192.0.2.11', { 'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"00:00:00:00:00:01"}' });
    expect(ownAnnotations(node('a', {}, old), A, attrs, CFG)).toEqual({ 'flannel.alpha.coreos.com/backend-data': `{"VNI":1,"VtepMAC":"${MAC}"}` });
  });

  it('let a user\'s public-ip-overwrite win over the detected address', () => {
    const patch = ownAnnotations(node('a', {}, { 'flannel.alpha.coreos.com/public-ip-overwrite': '203.0.113.5' }), A, attrs, CFG)!;
    expect(patch['flannel.alpha.coreos.com/public-ip']).toBe('203.0.113.5');
  });

  it('carry the v6 data and address under a dual-stack config', () => {
    const patch = ownAnnotations(node('a', {}), A, { ...attrs, publicIPv6: 'fd00::11', backendV6Data: { VNI: 1, VtepMAC: MAC } }, DUAL)!;
    expect(patch).toMatchObject({ 'flannel.alpha.coreos.com/public-ipv6': 'fd00::11', 'flannel.alpha.coreos.com/backend-v6-data': `{"VNI":1,"VtepMAC":"${MAC}"}` });
  });

  it('write backend-data "null" for a backend without data (udp), as flannel', () => {
    expect(ownAnnotations(node('a', {}), A, { publicIP: '192.0.2.11', backendType: 'udp' }, CFG)).toMatchObject({ 'flannel.alpha.coreos.com/backend-data': 'null' });
  });
});

describe('the NetworkUnavailable condition', () => {
  it('is flannel\'s FlannelIsUp, times to the second', () => {
    expect(networkUpPatch(new Date('2026-01-02T03:04:05.678Z'))).toEqual({
      status: {
        conditions: [
          { type: 'NetworkUnavailable', status: 'False', reason: 'FlannelIsUp', message: 'Flannel is running on this node', lastTransitionTime: '2026-01-02T03:04:05Z', lastHeartbeatTime: '2026-01-02T03:04:05Z' },
        ],
      },
    });
  });
});

describe('connection and node name', () => {
  it("in a pod: cluster/'s in-cluster config (the service host and port, an IPv6 host in brackets, the token file named)", async () => {
    const sa = await mkdtemp(path.join(tmpdir(), 'flannel-sa-'));
    try {
      await writeFile(path.join(sa, 'token'), 'tok\n');
      await writeFile(path.join(sa, 'ca.crt'), 'CA');
      const conn = await kubeConnection({}, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, sa);
      expect(conn).toEqual({ servers: ['https://[fd00::1]:443'], token: 'tok', tokenFile: path.join(sa, 'token'), ca: Buffer.from('CA') });
      expect((await kubeConnection({}, { KUBERNETES_SERVICE_HOST: '10.254.0.1', KUBERNETES_SERVICE_PORT: '443' }, sa)).servers).toEqual(['https://10.254.0.1:443']);
      // The flags win over the pod's environment.
      expect(await kubeConnection({ kubeApiUrl: 'http://10.0.0.1:8080' }, { KUBERNETES_SERVICE_HOST: '10.254.0.1', KUBERNETES_SERVICE_PORT: '443' }, sa)).toEqual({ servers: ['http://10.0.0.1:8080'] });
    } finally {
      await rm(sa, { recursive: true, force: true });
    }
  });

  it('outside a pod without flags, or without a token, a KubeSetupError that says what is missing', async () => {
    await expect(kubeConnection({}, {})).rejects.toThrow(/--kubeconfig-file or --kube-api-url, or run in a pod \(unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined\)/);
    await expect(kubeConnection({}, { KUBERNETES_SERVICE_HOST: '10.254.0.1', KUBERNETES_SERVICE_PORT: 'https' })).rejects.toThrow(KubeSetupError);
    await expect(kubeConnection({}, { KUBERNETES_SERVICE_HOST: '10.254.0.1', KUBERNETES_SERVICE_PORT: '443' }, '/nonexistent-sa')).rejects.toThrow('cannot read the service-account token /nonexistent-sa/token');
  });

  it('--kube-api-url alone is the server; a bad one is refused', async () => {
    expect(await kubeConnection({ kubeApiUrl: 'http://10.0.0.1:8080/' }, {})).toEqual({ servers: ['http://10.0.0.1:8080'] });
    await expect(kubeConnection({ kubeApiUrl: 'ftp://x' }, {})).rejects.toThrow(KubeSetupError);
  });

  it('NODE_NAME, else the pod\'s spec.nodeName', async () => {
    const asked: string[] = [];
    const client = {
      request: async (_m: string, p: string) => {
        asked.push(p);
        return { spec: { nodeName: 'node-7' } };
      },
    };
    expect(await resolveNodeName({ NODE_NAME: 'n1' }, client)).toBe('n1');
    expect(await resolveNodeName({ POD_NAME: 'kube-flannel-ds-x', POD_NAMESPACE: 'kube-flannel' }, client)).toBe('node-7');
    expect(asked).toEqual(['/api/v1/namespaces/kube-flannel/pods/kube-flannel-ds-x']);
    await expect(resolveNodeName({}, client)).rejects.toThrow(/POD_NAME and POD_NAMESPACE must be set/);
    await expect(resolveNodeName({ POD_NAME: 'p', POD_NAMESPACE: 'ns' }, { request: async () => ({ spec: {} }) })).rejects.toThrow("node name not present in pod spec 'ns/p'");
  });
});

describe('flags', () => {
  const parse = (args: string[]) => daemonOptions(addDaemonOptions(new Command()).exitOverride().parse(args, { from: 'user' }).opts());

  it('read in Go\'s grammar, as kube-flannel.yml and old unit files write them', () => {
    const program = addDaemonOptions(new Command('flanneld')).exitOverride();
    program.action(() => undefined);
    const { args } = flanneldArgs(program, ['-kube-subnet-mgr', '-kubeconfig-file', '/k', '-ip-masq', '-kube-annotation-prefix=example.com/net']);
    expect(daemonOptions(program.parse(args, { from: 'user' }).opts())).toMatchObject({ kubeSubnetMgr: true, kubeconfigFile: '/k', ipMasq: true, kubeAnnotationPrefix: 'example.com/net' });
  });

  it('are flannel\'s, with its defaults', () => {
    const o = parse([]);
    expect(o).toMatchObject({ kubeSubnetMgr: false, kubeAnnotationPrefix: 'flannel.alpha.coreos.com', netConfPath: '/etc/kube-flannel/net-conf.json', setNodeNetworkUnavailable: true });
    const k = parse(['--kube-subnet-mgr', '--kubeconfig-file=/k', '--kube-api-url=https://a:6443', '--net-config-path=/n.json', '--set-node-network-unavailable=false']);
    expect(k).toMatchObject({ kubeSubnetMgr: true, kubeconfigFile: '/k', kubeApiUrl: 'https://a:6443', netConfPath: '/n.json', setNodeNetworkUnavailable: false });
  });
});

describe('the Node registry and leaser over a scripted API', () => {
  const nodeObj = (name: string, podCIDR?: string, annotations?: Record<string, string>, rv = '5') => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, resourceVersion: rv, ...(annotations && { annotations }) },
    spec: podCIDR ? { podCIDR } : {},
    status: {},
  });
  const garbage = flannelAnnotations('192.0.2.13', { 'flannel.alpha.coreos.com/backend-data': '{' });

  it('lists the annotated Nodes as leases, garbage as corrupt, and turns a lost watch (410) into a fresh listing', async () => {
    const lists = [
      { metadata: { resourceVersion: '40' }, items: [nodeObj('a', '10.5.1.0/24', flannelAnnotations('192.0.2.11')), nodeObj('b', '10.5.2.0/24'), nodeObj('x', '10.5.9.0/24', garbage)] },
      { metadata: { resourceVersion: '90' }, items: [] },
    ];
    const watches: Record<string, string | undefined>[] = [];
    const client = {
      request: async () => lists.shift(),
      async *watch(_p: string, q: Record<string, string | undefined>) {
        watches.push(q);
        yield [
          { type: 'MODIFIED', object: nodeObj('b', '10.5.2.0/24', flannelAnnotations('192.0.2.12'), '41') },
          // x's heartbeat: the same garbage, not reported again.
          { type: 'MODIFIED', object: nodeObj('x', '10.5.9.0/24', garbage, '42') },
          { type: 'MODIFIED', object: nodeObj('x', 'nonsense', garbage, '43') },
          { type: 'BOOKMARK', object: { metadata: { resourceVersion: '45' } } },
        ];
        yield [{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } }];
      },
    } as unknown as ApiClient;
    const dir = await mkdtemp(path.join(tmpdir(), 'kube-subnet-'));
    const file = path.join(dir, 'net-conf.json');
    const reg = new KubeNodeRegistry(client, A, file);
    expect(await reg.getNetworkConfig()).toBeUndefined();
    await writeFile(file, '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}');
    expect(await reg.getNetworkConfig()).toContain('10.5.0.0/16');
    const snap = await reg.listLeases();
    expect([...snap.leases.keys()]).toEqual(['a']);
    expect(snap.corrupt.map((c) => [c.key, c.reason])).toEqual([['x', 'annotation flannel.alpha.coreos.com/backend-data is not JSON: "{"']]);
    expect(snap.revision).toBe(40n);
    const batches: unknown[] = [];
    for await (const b of reg.watchLeases(snap.revision + 1n, new AbortController().signal)) batches.push(b);
    expect(watches[0]).toMatchObject({ resourceVersion: '40', allowWatchBookmarks: 'true' });
    expect(batches[0]).toMatchObject({ kind: 'events', revision: 45n, events: [{ type: 'put', key: 'b' }, { type: 'corrupt', key: 'x', error: { reason: 'pod CIDR "nonsense" is not a CIDR' } }] });
    expect((batches[0] as { events: unknown[] }).events).toHaveLength(2);
    expect(batches[1]).toMatchObject({ kind: 'reset', snapshot: { revision: 90n } });
    expect(batches).toHaveLength(2);
    await rm(dir, { recursive: true });
  });

  it('waits for the Node and its podCIDR, annotates it through nodes/status, and gives up after waitMs', async () => {
    const answers: unknown[] = [new ApiStatusError('GET', '/api/v1/nodes/a', 404, 'NotFound', 'nodes "a" not found'), nodeObj('a'), nodeObj('a', '10.5.3.0/24')];
    const calls: { method: string; path: string; body?: unknown; contentType?: string }[] = [];
    const client = {
      request: async (method: string, p: string, ro: { body?: unknown; contentType?: string } = {}) => {
        calls.push({ method, path: p, ...(ro.body !== undefined && { body: ro.body }), ...(ro.contentType && { contentType: ro.contentType }) });
        if (method !== 'GET') return {};
        const next = answers.length > 1 ? answers.shift() : answers[0];
        if (next instanceof Error) throw next;
        return next;
      },
    } as unknown as ApiClient;
    const leaser = new KubeLeaser({ client, nodeName: 'a', names: A, log: silentLogger, setNetworkUnavailable: true, pollMs: 1, waitMs: 5_000 });
    const attrs = { publicIP: '192.0.2.11', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: MAC } };
    const got = await leaser.acquire(CFG, attrs);
    expect(formatCidr(got.lease.subnet!)).toBe('10.5.3.0/24');
    expect(got).toMatchObject({ key: 'a', expiration: undefined, attempts: 3 });
    const patch = calls.find((c) => c.method === 'PATCH')!;
    expect(patch.path).toBe('/api/v1/nodes/a/status');
    expect(patch.body).toEqual({ metadata: { annotations: ownAnnotations(node('a', {}), A, attrs, CFG) } });
    await leaser.networkUp(got, new AbortController().signal);
    expect(calls.at(-1)).toMatchObject({ method: 'PATCH', path: '/api/v1/nodes/a/status', contentType: 'application/strategic-merge-patch+json', body: { status: { conditions: [{ type: 'NetworkUnavailable', status: 'False' }] } } });

    answers.splice(0, answers.length, nodeObj('a'));
    const impatient = new KubeLeaser({ client, nodeName: 'a', names: A, log: silentLogger, setNetworkUnavailable: false, pollMs: 5, waitMs: 30 });
    await expect(impatient.acquire(CFG, attrs)).rejects.toThrow(/node "a": has no spec.podCIDR yet .* waited 0 s/);
  });
});
