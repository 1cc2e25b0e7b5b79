// The kubelet on two lab hosts, each with flanneld (vxlan), dockerd and a kubelet in its namespace:
// node registration, pods on both hosts talking by pod IP, the container spec (env with secrets,
// config maps and service variables, volumes, resources), missing images, malformed pods, static
// pods, containers the kubelet does not own, graceful deletion, adoption after a kubelet restart and
// a node reported NotReady when its kubelet stops.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys, type Pod, parseNodeObject, parsePodObject } from '../../cluster/index.js';
import { offsetIn, parseCidr4, parseIp4 } from './addr.js';
import { BUSYBOX_IMAGE, remoteAddr } from './docker.js';
import { hasLog, waitFor } from './flannel.js';
import { KubeLab, pod, ready, running } from './kubelet.js';

const inSubnet = (cidr: string, ip: string): boolean => offsetIn(parseCidr4(cidr), parseIp4(ip)) > 1;
const IMG = { image: BUSYBOX_IMAGE, imagePullPolicy: 'Never' as const };
const HTTPD = { ...IMG, command: ['httpd', '-f', '-p', '8080', '-h', '/www'] };
const statusOf = (p: Pod, c: string) => p.status?.containerStatuses?.find((s) => s.name === c);

describe('kubelet on two hosts (vxlan)', () => {
  let k: KubeLab;

  beforeAll(async () => {
    k = await KubeLab.start({ hosts: ['a', 'b'] });
  }, 180_000);

  afterAll(async () => {
    // KUBELET_TEST_LOGS=/tmp/x keeps each kubelet's log as /tmp/x-<host>.log (the lab dir goes away).
    if (process.env.KUBELET_TEST_LOGS) for (const [n, node] of k?.nodes ?? []) await import('node:fs/promises').then((fs) => fs.writeFile(`${process.env.KUBELET_TEST_LOGS}-${n}.log`, node.kubelet.stderr()));
    await k?.destroy();
  }, 120_000);

  it('registers each node with its flannel subnet, capacity from /proc, addresses and a Ready heartbeat', async () => {
    const memKi = Number(/^MemTotal:\s+(\d+)/m.exec(await readFile('/proc/meminfo', 'utf8'))![1]);
    for (const name of ['a', 'b']) {
      const n = k.node(name);
      const s = await k.store.get(keys.node(name), parseNodeObject);
      const node = s && 'obj' in s ? s.obj : undefined;
      expect(node?.spec.podCIDR).toBe(n.subnet.replace(/\.1\/24$/, '.0/24'));
      expect(node?.metadata.labels?.['kubernetes.io/hostname']).toBe(name);
      expect(node?.status.capacity).toMatchObject({ memory: `${memKi}Ki`, pods: '110' });
      expect(Number(node?.status.capacity?.cpu)).toBeGreaterThan(0);
      expect(node?.status.addresses).toContainEqual({ type: 'InternalIP', address: n.host.ip });
      expect(node?.status.nodeInfo?.containerRuntimeVersion).toMatch(/^docker:\/\//);
      const cond = node?.status.conditions?.find((c) => c.type === 'Ready');
      expect(cond).toMatchObject({ status: 'True', reason: 'KubeletReady' });
      const healthz = await n.host.exec(['curl', '-s', '-m', '2', 'http://127.0.0.1:10248/healthz']);
      expect(healthz.stdout).toBe('ok\n');
      await waitFor(`a newer heartbeat of ${name}`, async () => {
        const again = await k.store.get(keys.node(name), parseNodeObject);
        const beat = again && 'obj' in again ? again.obj.status.conditions?.find((c) => c.type === 'Ready')?.lastHeartbeatTime : undefined;
        return beat !== undefined && beat !== cond?.lastHeartbeatTime;
      }, 10_000, 250);
    }
  });

  it('runs pods on both hosts in an infra container holding the pod IP; they reach each other by pod IP', async () => {
    for (const h of ['a', 'b']) {
      await k.putPod(pod(`web-${h}`, h, { containers: [{ name: 'web', ...HTTPD, ports: [{ containerPort: 8080 }] }] }, { labels: { app: 'web' } }));
    }
    const pa = await k.waitPod('web-a', 'Running with a pod IP', running);
    const pb = await k.waitPod('web-b', 'Running with a pod IP', running);
    expect(inSubnet(k.node('a').subnet, pa.status!.podIP!)).toBe(true);
    expect(inSubnet(k.node('b').subnet, pb.status!.podIP!)).toBe(true);
    expect(pa.status).toMatchObject({ hostIP: k.node('a').host.ip, podIPs: [{ ip: pa.status!.podIP }] });
    expect(statusOf(pa, 'web')).toMatchObject({ ready: true, restartCount: 0, state: { running: {} }, containerID: expect.stringMatching(/^docker:\/\//) });
    expect(pa.metadata.uid).toMatch(/^[0-9a-f-]{36}$/); // assigned by the kubelet (no API server)
    // The app container shares the infra container's network namespace.
    const [infra] = await k.containers('a', 'web-a', 'POD');
    const [app] = await k.containers('a', 'web-a', 'web');
    const mode = await k.node('a').dockerd.docker(['inspect', '--format', '{{.HostConfig.NetworkMode}}', app!.id]);
    expect(mode.trim()).toBe(`container:${infra!.id}`);
    // Cross-host, in both directions, each side seen with its own pod IP.
    const get = async (from: string, url: string): Promise<string> => {
      const r = await k.execIn(from, `web-${from}`, 'web', ['timeout', '5', 'wget', '-qO-', url]);
      if (r.code !== 0) throw new Error(`wget ${url} from ${from}: ${r.code} ${r.stderr}`);
      return r.stdout;
    };
    await waitFor('pod a to reach pod b', async () => (await get('a', `http://${pb.status!.podIP}:8080/cgi-bin/remote`).catch(() => '')) !== '', 20_000, 500);
    expect(remoteAddr(await get('a', `http://${pb.status!.podIP}:8080/cgi-bin/remote`))).toBe(pa.status!.podIP);
    expect(remoteAddr(await get('b', `http://${pa.status!.podIP}:8080/cgi-bin/remote`))).toBe(pb.status!.podIP);
  });

  it('gives containers env from literals, secrets, config maps, pod fields and services, plus volumes, workingDir and limits', async () => {
    await k.store.put(keys.secret('default', 'creds'), { metadata: { name: 'creds', namespace: 'default' }, data: { password: Buffer.from('s3cret').toString('base64') } });
    await k.store.put(keys.configMap('default', 'settings'), { metadata: { name: 'settings', namespace: 'default' }, data: { mode: 'fast' } });
    await k.store.put(keys.service('default', 'redis-primary'), {
      metadata: { name: 'redis-primary', namespace: 'default' },
      spec: { clusterIP: '10.96.0.10', selector: { app: 'redis' }, ports: [{ name: 'redis', port: 6379, protocol: 'TCP' }, { name: 'metrics', port: 9121, protocol: 'TCP' }] },
    });
    await k.store.put(keys.service('other', 'elsewhere'), { metadata: { name: 'elsewhere', namespace: 'other' }, spec: { clusterIP: '10.96.0.11', ports: [{ port: 80 }] } });
    const hostDir = path.join(k.node('a').host.dir, 'shared');
    await k.putPod(
      pod('envpod', 'a', {
        volumes: [{ name: 'scratch', emptyDir: {} }, { name: 'host', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } }],
        containers: [
          {
            name: 'main',
            ...IMG,
            command: ['sh', '-c'],
            args: ['echo $(MODE) > /scratch/hello; echo from-pod > /host/out; exec sleep 3600'],
            workingDir: '/tmp',
            env: [
              { name: 'GREETING', value: 'hello-$(MODE)' },
              { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } },
              { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
              { name: 'LATE', value: 'mode=$(MODE) svc=$(REDIS_PRIMARY_SERVICE_HOST) esc=$$(MODE)' },
              { name: 'MY_POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } } as never,
              { name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } } as never,
            ],
            volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }, { name: 'host', mountPath: '/host' }],
            resources: { limits: { memory: '64Mi', cpu: '500m' } },
          },
          { name: 'side', ...IMG, command: ['sleep', '3600'], volumeMounts: [{ name: 'scratch', mountPath: '/data', readOnly: true }] },
        ],
      }),
    );
    const p = await k.waitPod('envpod', 'Running', running);
    const env = new Map(
      (await k.execIn('a', 'envpod', 'main', ['env'])).stdout
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    expect(Object.fromEntries([...env].filter(([n]) => /^(GREETING|MODE|PASSWORD|LATE|MY_POD|MY_IP)$/.test(n)))).toEqual({
      GREETING: 'hello-$(MODE)', // MODE is defined after GREETING: left as written, as Kubernetes does
      MODE: 'fast',
      PASSWORD: 's3cret',
      LATE: 'mode=fast svc=10.96.0.10 esc=$(MODE)',
      MY_POD: 'envpod',
      MY_IP: p.status!.podIP,
    });
    expect(Object.fromEntries([...env].filter(([n]) => n.startsWith('REDIS_PRIMARY_')))).toEqual({
      REDIS_PRIMARY_SERVICE_HOST: '10.96.0.10',
      REDIS_PRIMARY_SERVICE_PORT: '6379',
      REDIS_PRIMARY_SERVICE_PORT_REDIS: '6379',
      REDIS_PRIMARY_SERVICE_PORT_METRICS: '9121',
      REDIS_PRIMARY_PORT: 'tcp://10.96.0.10:6379',
      REDIS_PRIMARY_PORT_6379_TCP: 'tcp://10.96.0.10:6379',
      REDIS_PRIMARY_PORT_6379_TCP_PROTO: 'tcp',
      REDIS_PRIMARY_PORT_6379_TCP_PORT: '6379',
      REDIS_PRIMARY_PORT_6379_TCP_ADDR: '10.96.0.10',
      REDIS_PRIMARY_PORT_9121_TCP: 'tcp://10.96.0.10:9121',
      REDIS_PRIMARY_PORT_9121_TCP_PROTO: 'tcp',
      REDIS_PRIMARY_PORT_9121_TCP_PORT: '9121',
      REDIS_PRIMARY_PORT_9121_TCP_ADDR: '10.96.0.10',
    });
    expect([...env.keys()].some((n) => n.startsWith('ELSEWHERE_'))).toBe(false); // other namespace
    expect((await k.execIn('a', 'envpod', 'main', ['pwd'])).stdout.trim()).toBe('/tmp');
    // emptyDir shared between the pod's containers; hostPath on the node.
    await waitFor('the emptyDir file', async () => (await k.execIn('a', 'envpod', 'side', ['cat', '/data/hello'])).stdout.trim() === 'fast', 10_000, 250);
    expect((await readFile(path.join(hostDir, 'out'), 'utf8')).trim()).toBe('from-pod');
    expect((await k.execIn('a', 'envpod', 'side', ['touch', '/data/x'])).code).not.toBe(0); // readOnly
    const [main] = await k.containers('a', 'envpod', 'main');
    const res = JSON.parse(await k.node('a').dockerd.docker(['inspect', '--format', '{{json .HostConfig}}', main!.id])) as Record<string, number>;
    expect(res).toMatchObject({ Memory: 64 * 2 ** 20, CpuPeriod: 100_000, CpuQuota: 50_000 });
  });

  it('waits with CreateContainerConfigError for a missing secret and starts once it exists', async () => {
    await k.putPod(pod('needs-secret', 'b', { containers: [{ name: 'c', ...IMG, command: ['sleep', '3600'], env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'later', key: 'token' } } }] }] }));
    const p = await k.waitPod('needs-secret', 'CreateContainerConfigError', (x) => statusOf(x, 'c')?.state.waiting?.reason === 'CreateContainerConfigError');
    expect(statusOf(p, 'c')?.state.waiting?.message).toBe('secret "later" not found');
    expect(p.status?.phase).toBe('Pending');
    await k.store.put(keys.secret('default', 'later'), { metadata: { name: 'later' }, stringData: { token: 'abc' } });
    await k.waitPod('needs-secret', 'Running after the secret appeared', running, 30_000);
    expect((await k.execIn('b', 'needs-secret', 'c', ['sh', '-c', 'echo $TOKEN'])).stdout.trim()).toBe('abc');
  });

  it('reports a missing image as ErrImageNeverPull and a malformed pod as Failed/InvalidPod, and keeps running', async () => {
    await k.putPod(pod('noimage', 'a', { containers: [{ name: 'c', image: 'example.invalid/nope:1', imagePullPolicy: 'Never' }] }));
    const p = await k.waitPod('noimage', 'ErrImageNeverPull', (x) => statusOf(x, 'c')?.state.waiting?.reason === 'ErrImageNeverPull');
    expect(p.status).toMatchObject({ phase: 'Pending' });
    expect(statusOf(p, 'c')?.state.waiting?.message).toContain('example.invalid/nope:1');
    await k.store.put(keys.pod('default', 'broken'), { metadata: { name: 'broken', namespace: 'default' }, spec: { nodeName: 'a', containers: [{ name: 'c' }] } });
    const b = await k.waitPod('broken', 'InvalidPod', (x) => x.status?.reason === 'InvalidPod');
    expect(b.status).toMatchObject({ phase: 'Failed', reason: 'InvalidPod' });
    expect(b.status?.message).toContain('spec.containers[0].image');
    expect(k.node('a').kubelet.running).toBe(true);
    await k.store.delete(keys.pod('default', 'noimage'));
    await k.store.delete(keys.pod('default', 'broken'));
  });

  it('runs static pods from the manifest directory with a mirror pod, follows edits and removal', async () => {
    const yaml = (arg: string): string =>
      ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: static-web', 'spec:', '  terminationGracePeriodSeconds: 1', '  containers:', '  - name: web', `    image: ${BUSYBOX_IMAGE}`, '    imagePullPolicy: Never', `    command: [httpd, -f, -p, "${arg}", -h, /www]`, ''].join('\n');
    await k.writeManifest('b', 'web.yaml', yaml('8080'));
    const m = await k.waitPod('static-web-b', 'mirror pod Running', running, 30_000);
    expect(m.metadata.annotations?.['kubernetes.io/config.mirror']).toBeTruthy();
    expect(m.metadata.annotations?.['kubernetes.io/config.source']).toBe('file');
    expect(m.spec.nodeName).toBe('b');
    const first = (await k.containers('b', 'static-web-b', 'web')).find((c) => c.state === 'running')!;
    // An edit is a new pod (new UID): the old containers go, new ones come.
    await k.writeManifest('b', 'web.yaml', yaml('8081'));
    await waitFor('the edited static pod', async () => {
      const p = await k.getPod('default', 'static-web-b');
      return p !== undefined && p.metadata.uid !== m.metadata.uid && running(p);
    }, 30_000, 250);
    await waitFor('the old container gone', async () => !(await k.containers('b', 'static-web-b', 'web')).some((c) => c.id === first.id), 20_000, 250);
    // A deleted mirror pod comes back; the static pod keeps running.
    await k.store.delete(keys.pod('default', 'static-web-b'));
    await k.waitPod('static-web-b', 'mirror pod recreated', running, 20_000);
    await rm(path.join(k.node('b').manifests, 'web.yaml'));
    await waitFor('mirror pod deleted', async () => (await k.getPod('default', 'static-web-b')) === undefined, 20_000, 250);
    await waitFor('static pod containers removed', async () => (await k.containers('b', 'static-web-b')).length === 0, 20_000, 250);
  });

  it('leaves containers it did not create alone', async () => {
    const d = k.node('a').dockerd;
    await d.runContainer('stray', ['sleep', '3600']);
    await new Promise((r) => setTimeout(r, 4_000)); // several relists and a housekeeping pass
    expect((await d.docker(['inspect', '--format', '{{.State.Running}}', 'stray'])).trim()).toBe('true');
    await d.docker(['rm', '-f', 'stray']);
  });

  it('stops a deleted pod gracefully: SIGTERM first, SIGKILL only after the grace period, then removes it', async () => {
    const dir = path.join(k.node('b').host.dir, 'term');
    const trapTerm = "trap 'echo TERM > /data/got-term; sleep 1; exit 0' TERM; while :; do sleep 0.2; done";
    const uids: string[] = [];
    await k.putPod(pod('polite', 'b', { terminationGracePeriodSeconds: 20, volumes: [{ name: 'd', hostPath: { path: dir, type: 'DirectoryOrCreate' } }], containers: [{ name: 'c', ...IMG, command: ['sh', '-c', trapTerm], volumeMounts: [{ name: 'd', mountPath: '/data' }] }] }));
    await k.putPod(pod('stubborn', 'b', { terminationGracePeriodSeconds: 3, containers: [{ name: 'c', ...IMG, command: ['sh', '-c', "trap '' TERM; while :; do sleep 0.2; done"] }] }));
    await k.waitPod('polite', 'Running', running);
    uids.push((await k.waitPod('stubborn', 'Running', running)).metadata.uid!);
    const t0 = Date.now();
    // Two ways to delete: mark the pod (deletionTimestamp, as an API server does; the kubelet deletes
    // the key once the pod is gone), or delete its key outright.
    await k.store.update(keys.pod('default', 'polite'), parsePodObject, (p) => p && { ...p, metadata: { ...p.metadata, deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: 20 } });
    await k.store.delete(keys.pod('default', 'stubborn'));
    await waitFor('polite removed', async () => (await k.containers('b', 'polite')).length === 0, 25_000, 100);
    await waitFor('the polite pod key deleted by the kubelet', async () => (await k.getPod('default', 'polite')) === undefined, 10_000, 100);
    const politeMs = Date.now() - t0;
    expect((await readFile(path.join(dir, 'got-term'), 'utf8')).trim()).toBe('TERM');
    expect(politeMs).toBeLessThan(15_000); // it exited by itself, long before its 20 s grace
    await waitFor('stubborn removed', async () => (await k.containers('b', 'stubborn')).length === 0, 25_000, 100);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3_000); // it ignored SIGTERM: killed after its grace
    expect(existsSync(path.join(k.node('b').rootDir, 'pods', uids[0]!))).toBe(false);
  });

  it('adopts running pods after a kubelet restart (same containers, restart counts, Ready) and removes pods deleted meanwhile', async () => {
    await k.putPod(pod('adopt', 'a', { containers: [{ name: 'web', ...HTTPD, readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 } }] }));
    const before = await k.waitPod('adopt', 'Ready', (p) => running(p) && ready(p));
    const ids = (await k.containers('a', 'adopt')).map((c) => c.id).sort();
    const readySince = before.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
    const envpod = await k.containers('a', 'envpod');
    expect(envpod.length).toBeGreaterThan(0);
    await k.node('a').kubelet.stop(10_000);
    await k.store.delete(keys.pod('default', 'envpod')); // deleted while its kubelet is down
    const kl = k.startKubelet(k.node('a'));
    k.node('a').kubelet = kl;
    await waitFor('the new kubelet to sync', () => hasLog(kl, 'initial lists complete; syncing pods'), 30_000, 200);
    await new Promise((r) => setTimeout(r, 4_000)); // relists, probes, a housekeeping pass
    expect((await k.containers('a', 'adopt')).map((c) => c.id).sort()).toEqual(ids);
    const after = (await k.getPod('default', 'adopt'))!;
    expect(statusOf(after, 'web')).toMatchObject({ restartCount: 0, ready: true, containerID: statusOf(before, 'web')?.containerID });
    expect(after.status?.podIP).toBe(before.status?.podIP);
    expect(after.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: readySince });
    expect(hasLog(kl, 'container started')).toBe(false);
    // The pod deleted meanwhile is found by its labels and removed.
    await waitFor('envpod containers removed', async () => (await k.containers('a', 'envpod')).length === 0, 20_000, 250);
    expect(hasLog(kl, 'pod sandbox started')).toBe(false);
  });

  it('reports a node NotReady when its kubelet stops (its peer marks it), Ready again when it is back', async () => {
    await k.node('b').kubelet.stop(10_000);
    await waitFor('node b NotReady', async () => (await k.nodeReady('b')) === 'Unknown', 20_000, 250);
    const s = await k.store.get(keys.node('b'), parseNodeObject);
    const cond = s && 'obj' in s ? s.obj.status.conditions?.find((c) => c.type === 'Ready') : undefined;
    expect(cond).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    expect(await k.nodeReady('a')).toBe('True');
    expect(hasLog(k.node('a').kubelet, 'node stopped posting status; marked NotReady', { peer: 'b' })).toBe(true);
    const n = k.node('b');
    n.kubelet = k.startKubelet(n);
    await waitFor('node b Ready again', async () => (await k.nodeReady('b')) === 'True', 20_000, 250);
  });
});
