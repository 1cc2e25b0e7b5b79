// The kubelet's other boundaries: the Node object and stale-peer marking, static pod manifests, which
// etcd pods are ours, Docker's answers (inspect, list, the exec stream), the pause image tarball,
// the default-route interface and the flags, flanneld's subnet file (missing, incomplete, malformed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { Node } from '../cluster/index.js';
import {
  addKubeletOptions,
  apiPodFor,
  buildNode,
  defaultRouteIface,
  demuxStream,
  dockerTime,
  kubeletOptions,
  markStale,
  networkReadiness,
  podCIDRFromSubnetEnv,
  readPodCIDR,
  SubnetFileError,
  parseContainerDetails,
  parseContainerList,
  parseDockerEndpoint,
  parseManifest,
  tarball,
} from '../kubelet/index.js';

const facts = { name: 'a', ip: '192.0.2.11', podCIDR: '10.5.7.0/24', capacity: { cpu: '2', memory: '1000Ki', pods: '110' }, nodeInfo: { architecture: 'amd64', kubeletVersion: 'v0' } };

describe('Node object', () => {
  it('registers with podCIDR, capacity, addresses and Ready; keeps labels and fields others wrote', () => {
    const n = buildNode(undefined, facts, { ready: true, reason: 'KubeletReady', message: 'ok' }, '2026-01-01T00:00:00Z');
    expect(n).toMatchObject({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'a', labels: { 'kubernetes.io/hostname': 'a' } },
      spec: { podCIDR: '10.5.7.0/24', podCIDRs: ['10.5.7.0/24'] },
      status: { capacity: facts.capacity, allocatable: facts.capacity, addresses: [{ type: 'InternalIP', address: '192.0.2.11' }, { type: 'Hostname', address: 'a' }] },
    });
    expect(n.status.conditions).toEqual([{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ok', lastHeartbeatTime: '2026-01-01T00:00:00Z', lastTransitionTime: '2026-01-01T00:00:00Z' }]);
    const edited: Node = { ...n, metadata: { ...n.metadata, labels: { ...n.metadata.labels, zone: 'z1' } }, spec: { ...n.spec, unschedulable: true }, extra: 1 } as Node;
    const beat = buildNode(edited, facts, { ready: true, reason: 'KubeletReady', message: 'ok' }, '2026-01-01T00:00:10Z');
    expect(beat.metadata.labels).toMatchObject({ zone: 'z1', 'kubernetes.io/hostname': 'a' });
    expect(beat.spec.unschedulable).toBe(true);
    expect((beat as unknown as { extra: number }).extra).toBe(1);
    expect(beat.status.conditions![0]).toMatchObject({ lastHeartbeatTime: '2026-01-01T00:00:10Z', lastTransitionTime: '2026-01-01T00:00:00Z' });
    const down = buildNode(beat, facts, { ready: false, reason: 'KubeletNotReady', message: 'container runtime is down' }, '2026-01-01T00:00:20Z');
    expect(down.status.conditions![0]).toMatchObject({ status: 'False', lastTransitionTime: '2026-01-01T00:00:20Z' });
  });

  it('marks a peer whose heartbeat is older than the grace period as Unknown, once', () => {
    const n = buildNode(undefined, facts, { ready: true, reason: 'KubeletReady', message: 'ok' }, '2026-01-01T00:00:00Z');
    const t = Date.parse('2026-01-01T00:00:00Z');
    expect(markStale(n, t + 40_000, 40_000, 'x')).toBeUndefined();
    const m = markStale(n, t + 41_000, 40_000, '2026-01-01T00:00:41Z')!;
    expect(m.status.conditions![0]).toEqual({
      type: 'Ready',
      status: 'Unknown',
      reason: 'NodeStatusUnknown',
      message: 'Kubelet stopped posting node status.',
      lastHeartbeatTime: '2026-01-01T00:00:00Z',
      lastTransitionTime: '2026-01-01T00:00:41Z',
    });
    expect(markStale(m, t + 99_000, 40_000, 'x')).toBeUndefined();
  });
});

describe('static pods and etcd pods', () => {
  it('parses YAML (several documents) and JSON manifests with the static defaults', () => {
    const yaml = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: busybox\n---\nmetadata: {name: db, namespace: data}\nspec: {containers: [{name: c, image: x}]}\n';
    const pods = parseManifest(yaml, '/etc/k/web.yaml', 'node1');
    expect(pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}@${p.spec.nodeName}`)).toEqual(['default/web-node1@node1', 'data/db-node1@node1']);
    expect(pods[0]!.metadata.annotations).toMatchObject({ 'kubernetes.io/config.source': 'file' });
    expect(pods[0]!.metadata.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // Stable for the same content and node; different on another node or after an edit.
    expect(parseManifest(yaml, '/etc/k/web.yaml', 'node1')[0]!.metadata.uid).toBe(pods[0]!.metadata.uid);
    expect(parseManifest(yaml, '/etc/k/web.yaml', 'node2')[0]!.metadata.uid).not.toBe(pods[0]!.metadata.uid);
    expect(parseManifest(yaml.replace('image: busybox', 'image: other'), '/etc/k/web.yaml', 'node1')[0]!.metadata.uid).not.toBe(pods[0]!.metadata.uid);
    expect(parseManifest('{"metadata":{"name":"j"},"spec":{"containers":[{"name":"c","image":"i"}]}}', 'j.json', 'n')[0]!.metadata.name).toBe('j-n');
    expect(() => parseManifest('metadata: {name: x}\nspec: {containers: [{name: c}]}\n', 'x.yaml', 'n')).toThrow('spec.containers[0].image');
    expect(() => parseManifest('metadata: [unclosed', 'x.yaml', 'n')).toThrow();
  });

  it('takes etcd pods bound to this node, skips mirror pods, and reports invalid ones', () => {
    const put = (key: string, obj: unknown) => ({ key, obj, modRevision: '1' });
    const ok = { metadata: { name: 'p', namespace: 'default', uid: 'u' }, spec: { nodeName: 'a', containers: [{ name: 'c', image: 'i' }] } };
    expect(apiPodFor('a', put('/registry/pods/default/p', ok))).toMatchObject({ kind: 'valid' });
    expect(apiPodFor('b', put('/registry/pods/default/p', ok))).toBeUndefined();
    const mirror = { ...ok, metadata: { ...ok.metadata, annotations: { 'kubernetes.io/config.mirror': 'h' } } };
    expect(apiPodFor('a', put('/registry/pods/default/p', mirror))).toBeUndefined();
    expect(apiPodFor('a', put('/registry/pods/default/p', { ...ok, spec: { nodeName: 'a', containers: 'x' } }))).toMatchObject({ kind: 'invalid', error: { path: 'spec.containers' } });
    expect(apiPodFor('a', put('/registry/pods/other/p', ok))).toMatchObject({ kind: 'invalid', error: { path: 'metadata' } });
  });
});

describe("Docker's answers", () => {
  it('parses inspect output, with nanosecond times and "never" as undefined', () => {
    const d = parseContainerDetails({
      Id: 'abc',
      Name: '/k8s_c_p_default_u_0',
      Image: 'sha256:img',
      Created: '2026-01-01T00:00:00.123456789Z',
      Config: { Image: 'busybox', Labels: { 'io.kubernetes.pod.uid': 'u', n: 1 } },
      State: { Status: 'exited', Running: false, ExitCode: 137, OOMKilled: true, Error: '', StartedAt: '2026-01-01T00:00:01.5Z', FinishedAt: '0001-01-01T00:00:00Z', Pid: 0 },
      NetworkSettings: { IPAddress: '', Networks: { bridge: { IPAddress: '10.5.1.9' } } },
    });
    expect(d).toMatchObject({ id: 'abc', name: 'k8s_c_p_default_u_0', imageId: 'sha256:img', image: 'busybox', labels: { 'io.kubernetes.pod.uid': 'u' }, exitCode: 137, oomKilled: true, ip: '10.5.1.9', finishedAt: undefined });
    expect(d.startedAt).toBe('2026-01-01T00:00:01.500Z');
    expect(d.createdAt).toBe('2026-01-01T00:00:00.123Z');
    expect(dockerTime('garbage')).toBeUndefined();
    // Docker with --ipv6: the global v6 address beside the v4 one.
    const d6 = parseContainerDetails({ Id: 'x', NetworkSettings: { IPAddress: '10.5.1.9', GlobalIPv6Address: '', Networks: { bridge: { IPAddress: '10.5.1.9', GlobalIPv6Address: 'fc00:0:0:1::9' } } } });
    expect(d6).toMatchObject({ ip: '10.5.1.9', ip6: 'fc00:0:0:1::9' });
    expect(parseContainerDetails({ Id: 'x', NetworkSettings: { IPAddress: '10.5.1.9' } }).ip6).toBeUndefined();
    expect(parseContainerList([{ Id: 'x', Names: ['/n'], State: 'running', Labels: { a: 'b' }, Created: 5 }])).toEqual([{ id: 'x', name: 'n', image: '', state: 'running', labels: { a: 'b' }, created: 5 }]);
    expect(() => parseContainerList({})).toThrow('expected an array');
  });

  it('splits the multiplexed exec stream', () => {
    const frame = (kind: number, s: string): Buffer => Buffer.concat([Buffer.from([kind, 0, 0, 0, 0, 0, 0, Buffer.byteLength(s)]), Buffer.from(s)]);
    expect(demuxStream(Buffer.concat([frame(1, 'out1 '), frame(2, 'err'), frame(1, 'out2')]))).toEqual({ stdout: 'out1 out2', stderr: 'err' });
    expect(demuxStream(Buffer.from([1, 0, 0]))).toEqual({ stdout: '', stderr: '' });
  });

  it('parses endpoints', () => {
    expect(parseDockerEndpoint('unix:///var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(parseDockerEndpoint('tcp://127.0.0.1:2375')).toEqual({ host: '127.0.0.1', port: 2375 });
    expect(() => parseDockerEndpoint('ssh://host')).toThrow('expected unix:///path');
  });
});

describe('subnet file', () => {
  const good = 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';

  it('FLANNEL_SUBNET is the podCIDR (its network); comments, blank lines and quotes are fine', () => {
    expect(podCIDRFromSubnetEnv(good, '/run/s.env')).toBe('10.5.7.0/24');
    expect(podCIDRFromSubnetEnv('# by flanneld\n\n  FLANNEL_SUBNET="10.5.9.1/24"  \n', '/run/s.env')).toBe('10.5.9.0/24');
    expect(podCIDRFromSubnetEnv('FLANNEL_NETWORK=10.5.0.0/16\n', '/run/s.env')).toBeUndefined();
  });

  it('a line that is not KEY=VALUE, or a FLANNEL_SUBNET that is not a CIDR, is malformed, with path and line', () => {
    const err = (text: string): SubnetFileError => {
      try {
        podCIDRFromSubnetEnv(text, '/run/s.env');
      } catch (e) {
        if (e instanceof SubnetFileError) return e;
        throw e;
      }
      throw new Error('no error');
    };
    expect(err('FLANNEL_NETWORK=10.5.0.0/16\n\nFLANNEL_SUBNET 10.5.7.1/24\n')).toMatchObject({ code: 'SUBNET_FILE', path: '/run/s.env', line: 3 });
    expect(err('=x\n').line).toBe(1);
    expect(err('FLANNEL-SUBNET=10.5.7.1/24\n').line).toBe(1);
    const bad = err('FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.7.1/33\n');
    expect(bad).toMatchObject({ path: '/run/s.env', line: 2 });
    expect(bad.message).toMatch(/^subnet file \/run\/s\.env:2 is malformed: FLANNEL_SUBNET "10\.5\.7\.1\/33" is not a CIDR/);
  });

  it('from disk: a missing file is "not yet", an unreadable or malformed one says where', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'subnet-env-'));
    try {
      const f = path.join(dir, 'subnet.env');
      expect(await readPodCIDR(f)).toBeUndefined();
      expect(await networkReadiness(f)).toEqual({ ready: false, message: `network not ready: no FLANNEL_SUBNET in ${f}` });
      writeFileSync(f, good);
      expect(await networkReadiness(f)).toEqual({ ready: true, podCIDR: '10.5.7.0/24' });
      writeFileSync(f, 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=garbage\n');
      const n = await networkReadiness(f);
      expect(n.ready).toBe(false);
      expect(n).toMatchObject({ message: expect.stringMatching(new RegExp(`^network not ready: subnet file ${f}:2 is malformed: FLANNEL_SUBNET "garbage"`)) });
      await expect(readPodCIDR(dir)).rejects.toMatchObject({ code: 'SUBNET_FILE', path: dir, line: undefined, reason: expect.stringMatching(/^cannot be read: EISDIR/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pause image tarball', () => {
  it('is a tar that GNU tar lists, with the modes and the symlink', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kubelet-tar-'));
    try {
      const file = path.join(dir, 'r.tar');
      const long = `${'d'.repeat(90)}/${'f'.repeat(50)}`;
      writeFileSync(file, tarball([{ type: 'dir', path: 'bin' }, { type: 'file', path: 'bin/busybox', data: Buffer.from('x'.repeat(1000)), mode: 0o755 }, { type: 'symlink', path: 'bin/sh', target: 'busybox' }, { type: 'file', path: long, data: Buffer.from('y') }]));
      const out = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });
      expect(out).toMatch(/^drwxr-xr-x .* bin\/$/m);
      expect(out).toMatch(/^-rwxr-xr-x .* 1000 .* bin\/busybox$/m);
      expect(out).toMatch(/^lrwxrwxrwx .* bin\/sh -> busybox$/m);
      expect(out).toContain(long);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('node address and flags', () => {
  it("finds the default route's interface in /proc/net/route", () => {
    const route = 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n' + 'docker0\t0001050A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' + 'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n';
    expect(defaultRouteIface(route)).toBe('eth0');
    expect(defaultRouteIface('Iface\tDestination\n')).toBeUndefined();
  });

  it('parses the flags, with durations and KUBELET_* environment variables', () => {
    const parse = (argv: string[], env: Record<string, string> = {}) => {
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        const cmd = addKubeletOptions(new Command('kubelet')).exitOverride().configureOutput({ writeErr: () => undefined });
        cmd.parse(argv, { from: 'user' });
        return kubeletOptions(cmd.opts(), cmd.getOptionValueSource('etcdEndpoints') !== 'default');
      } finally {
        for (const k of Object.keys(env)) if (!(k in saved)) delete process.env[k];
      }
    };
    const o = parse(['--hostname-override=n1', '--sync-frequency=2s', '--crashloop-backoff-base=500ms', '--etcd-endpoints=http://10.0.0.1:2379,http://10.0.0.2:2379'], { KUBELET_POD_MANIFEST_PATH: '/etc/kubernetes/manifests' });
    expect(o).toMatchObject({
      hostnameOverride: 'n1',
      syncFrequency: 2000,
      crashloopBackoffBase: 500,
      crashloopBackoffMax: 300_000,
      etcdEndpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'],
      dockerEndpoint: 'unix:///var/run/docker.sock',
      podManifestPath: '/etc/kubernetes/manifests',
      healthzPort: 10248,
      nodeMonitorGracePeriod: 40_000,
    });
    expect(() => parse(['--sync-frequency=soon'])).toThrow();
    expect(() => parse(['--crashloop-backoff-base=1m', '--crashloop-backoff-max=10s'])).toThrow('--crashloop-backoff-max');
    // The store: the API (--kubeconfig, the seeds' --api-servers) or etcd, never both.
    expect(o.api).toBeUndefined();
    expect(parse(['--kubeconfig=/etc/kubernetes/kubelet.conf']).api).toEqual({ kubeconfig: '/etc/kubernetes/kubelet.conf' });
    expect(parse(['--api-servers=http://master:8080,http://10.0.0.2:8080']).api).toEqual({ servers: ['http://master:8080', 'http://10.0.0.2:8080'] });
    expect(parse([], { KUBELET_API_SERVERS: 'http://master:8080' }).api).toEqual({ servers: ['http://master:8080'] });
    expect(() => parse(['--kubeconfig=/k', '--etcd-endpoints=http://10.0.0.1:2379'])).toThrow('--kubeconfig and --etcd-endpoints cannot both be given');
    expect(() => parse(['--api-servers=http://m:8080'], { KUBELET_ETCD_ENDPOINTS: 'http://10.0.0.1:2379' })).toThrow('--api-servers and --etcd-endpoints');
    expect(() => parse(['--api-servers=master:8080'])).toThrow('--api-servers: "master:8080" is not an http:// URL');
  });
});
