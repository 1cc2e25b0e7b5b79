// The replication manager's sync against a recording fake API client and hand-filled caches: the
// requests it makes (create with generateName, adopt by patch, delete, status through …/status), and
// expectations holding a second sync back until the watch has shown the pods the first one made.
import { describe, expect, it } from 'vitest';
import { type ApiClient, ApiStatusError, type Corrupt, type Stored } from '../cluster/index.js';
import { PrefixCache, silentLogger } from '../common/index.js';
import { addControllerManagerOptions, controllerManagerOptions, ReplicationManager, WorkQueue } from '../controllers/index.js';
import { Command } from 'commander';

type Obj = Record<string, unknown>;
const noSource = { list: () => Promise.reject(new Error('unused')), watch: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('unused')) }) }) };
const cache = (prefix: string) => new PrefixCache<Stored<Obj>, Corrupt>(noSource, { prefix, log: silentLogger }, () => {});

function setup(replicas: number, failCreate = false) {
  const calls: { method: string; path: string; body?: unknown }[] = [];
  let n = 0;
  const client = {
    request: (method: string, path: string, o: { body?: unknown } = {}) => {
      calls.push({ method, path, ...(o.body !== undefined && { body: o.body }) });
      if (method === 'POST' && path.endsWith('/pods') && failCreate) return Promise.reject(new ApiStatusError(method, path, 403, 'Forbidden', 'pods "db-" is forbidden: exceeded quota'));
      if (method === 'POST' && path.endsWith('/pods')) return Promise.resolve({ ...(o.body as Obj), metadata: { ...((o.body as Obj).metadata as Obj), name: `db-${n++}` } });
      if (method === 'GET' && path.endsWith('/replicationcontrollers/db')) return Promise.resolve(rc);
      return Promise.resolve({});
    },
  } as unknown as ApiClient;
  const rc: Obj = { metadata: { name: 'db', namespace: 'default', uid: 'u1', generation: 1, resourceVersion: '7' }, spec: { replicas, selector: { app: 'db' }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [] } } } };
  const owners = cache('/registry/controllers/');
  owners.items.set('/registry/controllers/default/db', { key: '/registry/controllers/default/db', obj: rc, modRevision: '7' });
  const pods = cache('/registry/pods/');
  const queue = new WorkQueue();
  const m = new ReplicationManager('ReplicationController', { client, owners, pods, queue, log: silentLogger });
  const addPod = (name: string, refs: Obj[] | undefined) => {
    const key = `/registry/pods/default/${name}`;
    pods.items.set(key, { key, modRevision: '1', obj: { metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '3', labels: { app: 'db' }, ...(refs && { ownerReferences: refs }) }, status: { phase: 'Pending' } } });
    m.podsChanged(new Set([key]));
  };
  return { calls, m, queue, addPod };
}
const ref = { apiVersion: 'v1', kind: 'ReplicationController', name: 'db', uid: 'u1', controller: true, blockOwnerDeletion: true };

describe('ReplicationManager.sync', () => {
  it('creates the missing pods once; a second sync before the watch shows them creates nothing', async () => {
    const { calls, m, addPod, queue } = setup(3);
    addPod('orphan', undefined);
    await m.sync('default/db');
    const creates = calls.filter((c) => c.method === 'POST' && c.path === '/api/v1/namespaces/default/pods');
    expect(creates).toHaveLength(2);
    expect((creates[0]!.body as Obj).metadata).toMatchObject({ generateName: 'db-', ownerReferences: [ref] });
    expect(calls.find((c) => c.method === 'PATCH')).toEqual({ method: 'PATCH', path: '/api/v1/namespaces/default/pods/orphan', body: { metadata: { resourceVersion: '3', ownerReferences: [ref] } } });
    const events = calls.filter((c) => c.path === '/api/v1/namespaces/default/events').map((c) => (c.body as Obj).message);
    expect(events.sort()).toEqual(['Created pod: db-0', 'Created pod: db-1']);
    const status = calls.find((c) => c.method === 'PUT');
    expect(status?.path).toBe('/api/v1/namespaces/default/replicationcontrollers/db/status');
    expect((status?.body as Obj).status).toEqual({ replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 0, availableReplicas: 0, observedGeneration: 1 });
    // A burst of events before the new pods arrive: no second round of creations.
    calls.length = 0;
    await m.sync('default/db');
    expect(calls.filter((c) => c.method === 'POST' && c.path.endsWith('/pods'))).toHaveLength(0);
    // The watch shows both: the owner is queued, and the expectations are met.
    addPod('db-0', [ref]);
    addPod('db-1', [ref]);
    expect(m.expectations.satisfied('default/db')).toBe(true);
    expect(await queue.get()).toBe('default/db');
    queue.shutDown();
  });

  it('a template the apiserver refuses costs one request (slow start), a FailedCreate event, and a retry', async () => {
    const { calls, m } = setup(50, true);
    await expect(m.sync('default/db')).rejects.toThrow(/exceeded quota/);
    expect(calls.filter((c) => c.method === 'POST' && c.path.endsWith('/pods'))).toHaveLength(1);
    expect(calls.filter((c) => c.path.endsWith('/events')).map((c) => [(c.body as Obj).reason, (c.body as Obj).message])).toEqual([['FailedCreate', 'Error creating: pods "db-" is forbidden: exceeded quota']]);
    // Nothing is expected any more: the retry tries again at once.
    expect(m.expectations.satisfied('default/db')).toBe(true);
  });

  it('deletes the surplus and waits for the deletions to be seen', async () => {
    const { calls, m, addPod } = setup(1);
    addPod('a', [ref]);
    addPod('b', [ref]);
    addPod('c', [ref]);
    await m.sync('default/db');
    expect(calls.filter((c) => c.method === 'DELETE')).toHaveLength(2);
    expect(m.expectations.satisfied('default/db')).toBe(false);
  });

  it('an owner gone from the cache is dropped without a request', async () => {
    const { calls, m } = setup(1);
    await m.sync('default/absent');
    expect(calls).toEqual([]);
  });
});

describe('kube-controller-manager flags', () => {
  const parse = (args: string[]) => {
    const cmd = addControllerManagerOptions(new Command()).exitOverride();
    cmd.parse(args, { from: 'user' });
    return controllerManagerOptions(cmd.opts());
  };
  it("defaults as Kubernetes': elected on kube-system/kube-controller-manager, every controller, 5 syncs, :10257", () => {
    const o = parse([]);
    expect(o).toMatchObject({ leaderElect: true, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, leaseNamespace: 'kube-system', leaseName: 'kube-controller-manager', concurrentRcSyncs: 5, concurrentDeploymentSyncs: 5, securePort: 10257 });
    expect([...o.controllers].sort()).toEqual(['cronjob', 'daemonset', 'deployment', 'endpoint', 'garbagecollector', 'job', 'nodeipam', 'nodelifecycle', 'podgc', 'replicaset', 'replicationcontroller', 'root-ca-cert-publisher', 'service-lb-controller', 'serviceaccount']);
    expect(o).toMatchObject({ concurrentJobSyncs: 5, concurrentCronJobSyncs: 5, concurrentDaemonsetSyncs: 2 });
    expect(o).toMatchObject({ nodeMonitorPeriodMs: 5_000, nodeMonitorGracePeriodMs: 50_000, nodeStartupGracePeriodMs: 60_000, nodeEvictionRate: 0.1, secondaryNodeEvictionRate: 0.01, unhealthyZoneThreshold: 0.55, largeClusterSizeThreshold: 50, allocateNodeCidrs: false, nodeCidrMaskSize: 24, concurrentEndpointSyncs: 5, concurrentGcSyncs: 20 });
  });
  it('takes node IPAM only with a cluster CIDR that holds a node CIDR, and a grace period longer than the monitor period', () => {
    expect(parse(['--allocate-node-cidrs', '--cluster-cidr=10.244.0.0/16', '--node-cidr-mask-size=24'])).toMatchObject({ allocateNodeCidrs: true, clusterCidr: '10.244.0.0/16', nodeCidrMaskSize: 24 });
    expect(() => parse(['--allocate-node-cidrs'])).toThrow(/--allocate-node-cidrs: needs --cluster-cidr/);
    expect(() => parse(['--cluster-cidr=10.244.0.0/25'])).toThrow(/--cluster-cidr: is smaller than one node CIDR/);
    expect(() => parse(['--cluster-cidr=nope'])).toThrow(/--cluster-cidr/);
    expect(() => parse(['--node-monitor-grace-period=4s'])).toThrow(/--node-monitor-grace-period: must be longer than --node-monitor-period/);
    expect(() => parse(['--node-eviction-rate=fast'])).toThrow(/--node-eviction-rate/);
    expect([...parse(['--controllers=*,-garbagecollector']).controllers]).not.toContain('garbagecollector');
  });
  it('takes --leader-elect=false, refuses inconsistent election timings and unknown controllers', () => {
    expect(parse(['--leader-elect=false']).leaderElect).toBe(false);
    expect(parse(['--leader-elect']).leaderElect).toBe(true);
    expect(() => parse(['--leader-elect-renew-deadline', '20s'])).toThrow(/lease-duration/);
    expect(() => parse(['--controllers', 'nope'])).toThrow(/nope/);
    expect(() => parse(['--concurrent-rc-syncs', '0'])).toThrow(/concurrent-rc-syncs/);
    expect(() => parse(['--concurrent-deployment-syncs', 'x'])).toThrow(/concurrent-deployment-syncs/);
    expect(() => parse(['--concurrent-daemonset-syncs', 'x'])).toThrow(/concurrent-daemonset-syncs/);
  });
});
