// The daemons on the Kubernetes API, driven by the real kubectl: two lab hosts with flanneld (vxlan),
// dockerd, a kubelet and kube-proxy each with a kubeconfig of its own identity (the kubelet its node's,
// system:node:<name> in system:nodes; kube-proxy system:kube-proxy), signed by the apiserver's CA; the
// kube-apiserver runs in host a's namespace on a's underlay address with --authorization-mode=Node,RBAC
// and NodeRestriction, over the lab's etcd, with kube-controller-manager (which writes the Endpoints) under
// its own identity too. kubectl runs in host a's namespace too, with the admin
// kubeconfig and a cache dir of the test's. A pod created with `kubectl create -f` (nodeName set) runs
// and shows Running with its flannel IP on its node; both nodes are Ready; a service created with
// kubectl gets a ClusterIP from the apiserver that works from a pod on the other host; `kubectl delete`
// returns once the kubelet has finished the pod's graceful deletion.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offsetIn, parseCidr4, parseIp4 } from './addr.js';
import { BUSYBOX_IMAGE } from './docker.js';
import { hasLog, REPO, waitFor } from './flannel.js';
import { FAST_FLAGS, KubeLab } from './kubelet.js';
import type { Host, Proc } from './lab.js';
import { startProxy } from './proxy.js';
import { SECURE_APISERVER_ARGS, writeDaemonKubeconfig } from '../harness/index.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const SECURE = 6443;

interface PodEvent {
  readonly reason: string;
  readonly type: string;
  readonly message: string;
  readonly count: number;
  readonly source: { component?: string; host?: string };
  readonly involvedObject: { kind: string; name: string; fieldPath?: string };
}

const podManifest = (name: string, node: string, app: string, cmd: string): string =>
  [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    `  name: ${name}`,
    '  labels:',
    `    app: ${app}`,
    'spec:',
    `  nodeName: ${node}`,
    '  terminationGracePeriodSeconds: 1',
    '  containers:',
    '  - name: c',
    `    image: ${BUSYBOX_IMAGE}`,
    '    imagePullPolicy: Never',
    `    command: ["sh", "-c", ${JSON.stringify(cmd)}]`,
    '    ports:',
    '    - containerPort: 8080',
    '',
  ].join('\n');

const inSubnet = (cidr: string, ip: string): boolean => offsetIn(parseCidr4(cidr), parseIp4(ip)) > 1;

describe.skipIf(!existsSync(KUBECTL))('kubelet and kube-proxy on the API, driven by kubectl', () => {
  let k: KubeLab;
  let apiserver: Proc | undefined;
  let cm: Proc | undefined;
  const proxies: Proc[] = [];
  let apiDir: string;
  let kubeconfig: string;
  const daemonConfigs = new Map<string, string>();

  let hostA: Host;
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await hostA.exec([KUBECTL, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: apiDir }, ...(input !== undefined && { input }) });
    return r.stdout;
  };

  const podEvents = async (name: string): Promise<PodEvent[]> =>
    (JSON.parse(await kubectl(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])) as { items: PodEvent[] }).items;

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a', 'b'],
      kubeletArgs: FAST_FLAGS,
      beforeKubelets: async (kl) => {
        const a = kl.lab.host('a');
        hostA = a;
        apiDir = path.join(a.dir, 'apiserver');
        kubeconfig = path.join(apiDir, 'admin.kubeconfig');
        await mkdir(apiDir, { recursive: true });
        apiserver = a.spawn(
          [
            process.execPath,
            APISERVER,
            `--etcd-servers=${kl.etcd.endpoint}`,
            `--bind-address=${a.ip}`,
            `--advertise-address=${a.ip}`,
            `--secure-port=${SECURE}`,
            `--cert-dir=${path.join(apiDir, 'certs')}`,
            `--write-kubeconfig=${kubeconfig}`,
            ...SECURE_APISERVER_ARGS,
          ],
          { logFile: path.join(apiDir, 'apiserver.log') },
        );
        let last = '';
        const ok = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 30_000, 250).catch(() => false);
        if (!ok) throw new Error(`the apiserver did not become ready: ${last}\n${apiserver.stderr()}${apiserver.stdout()}`.slice(0, 4000));
        const server = `https://${a.ip}:${SECURE}`;
        for (const h of kl.lab.hosts) daemonConfigs.set(h.name, await writeDaemonKubeconfig(path.join(apiDir, 'certs'), server, apiDir, 'kubelet', h.name));
        daemonConfigs.set('kube-proxy', await writeDaemonKubeconfig(path.join(apiDir, 'certs'), server, apiDir, 'kube-proxy'));
        daemonConfigs.set('kube-controller-manager', await writeDaemonKubeconfig(path.join(apiDir, 'certs'), server, apiDir, 'kube-controller-manager'));
        cm = a.spawn([process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${daemonConfigs.get('kube-controller-manager')!}`, '--secure-port=0'], { logFile: path.join(apiDir, 'controller-manager.log') });
      },
      storeArgs: (n) => [`--kubeconfig=${daemonConfigs.get(n.host.name)!}`],
    });
    const proxyConfig = `--kubeconfig=${daemonConfigs.get('kube-proxy')!}`;
    for (const h of k.lab.hosts) proxies.push(startProxy(h, k.etcd, { tag: 'api', storeArgs: [proxyConfig], args: ['--cluster-cidr=10.5.0.0/16', '--leader-elect-lease-duration=3s'] }));
    // The ServiceAccount admission refuses pods until the controller manager has made the namespace's default account.
    await waitFor('the default ServiceAccount and kube-root-ca.crt', async () => (await kubectl(['get', 'serviceaccount/default', 'configmap/kube-root-ca.crt', '-o', 'name']).catch(() => '')).split('\n').filter(Boolean).length === 2, 90_000, 250);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(proxies.map((p) => p.stop(5_000)));
    await k?.destroy();
    await cm?.stop(5_000);
    await apiserver?.stop(5_000);
  }, 60_000);

  it('kubectl get nodes shows both nodes Ready, registered by their kubelets through the API', async () => {
    const out = await waitFor('both nodes Ready in kubectl', async () => {
      const t = await kubectl(['get', 'nodes']);
      return /^a\s+Ready\s/m.test(t) && /^b\s+Ready\s/m.test(t) ? t : undefined;
    }, 20_000, 500);
    expect(out.split('\n')[0]).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION/);
    for (const n of k.nodes.values()) expect(n.kubelet.stderr() + n.kubelet.stdout()).toContain('using the API server');
  });

  it('a pod created with kubectl create -f runs, and kubectl get pods -o wide shows it Running with its flannel IP on its node', async () => {
    const file = path.join(apiDir, 'web.yaml');
    await writeFile(file, podManifest('web', 'a', 'web', 'mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www'));
    expect(await kubectl(['create', '-f', file])).toMatch(/pod\/web created/);
    await writeFile(path.join(apiDir, 'client.yaml'), podManifest('client', 'b', 'client', 'exec sleep 3600'));
    await kubectl(['create', '-f', path.join(apiDir, 'client.yaml')]);
    const row = await waitFor('web Running in kubectl get pods -o wide', async () => {
      const t = await kubectl(['get', 'pods', '-o', 'wide']);
      const line = t.split('\n').find((l) => l.startsWith('web '));
      return line && /\sRunning\s/.test(line) && /\s10\.5\.\d+\.\d+\s/.test(line) ? line : undefined;
    }, 45_000, 500);
    const cols = row.trim().split(/\s+/);
    // NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES
    expect(cols[0]).toBe('web');
    expect(cols[1]).toBe('1/1');
    expect(cols[2]).toBe('Running');
    expect(cols[6]).toBe('a');
    expect(inSubnet(k.node('a').subnet, cols[5]!)).toBe(true);
    const json = JSON.parse(await kubectl(['get', 'pod', 'web', '-o', 'json'])) as { status: { podIP: string; hostIP: string } };
    expect(json.status.podIP).toBe(cols[5]);
    expect(json.status.hostIP).toBe(k.lab.host('a').ip);
  });

  it("the kubelet's events: Pulled, Created and Started on the pod's container from its node, and a crash-looping container's BackOff counted up on one event", async () => {
    const web = await waitFor('the Pulled, Created and Started events of web', async () => {
      const evs = await podEvents('web');
      return ['Pulled', 'Created', 'Started'].every((r) => evs.some((e) => e.reason === r)) ? evs : undefined;
    }, 20_000, 500);
    for (const reason of ['Pulled', 'Created', 'Started']) {
      const e = web.find((x) => x.reason === reason)!;
      expect(e).toMatchObject({ type: 'Normal', source: { component: 'kubelet', host: 'a' }, involvedObject: { kind: 'Pod', name: 'web', fieldPath: 'spec.containers{c}' } });
    }
    expect(web.find((x) => x.reason === 'Started')!.message).toBe('Started container c');
    expect(web.find((x) => x.reason === 'Pulled')!.message).toBe(`Container image "${BUSYBOX_IMAGE}" already present on machine`);
    const described = await kubectl(['describe', 'pod', 'web']);
    expect(described).toMatch(/Normal\s+Started\s+\S+\s+kubelet\s+Started container c/);

    await kubectl(['create', '-f', '-'], podManifest('crash', 'b', 'crash', 'exit 1'));
    const backOff = await waitFor('one BackOff event on crash counted at least twice', async () => {
      const evs = (await podEvents('crash')).filter((e) => e.reason === 'BackOff');
      return evs.length === 1 && evs[0]!.count >= 2 ? evs[0] : undefined;
    }, 60_000, 1000);
    expect(backOff).toMatchObject({ type: 'Warning', source: { component: 'kubelet', host: 'b' } });
    expect(backOff!.message).toMatch(/^Back-off restarting failed container c in pod crash_default\(/);
    await kubectl(['delete', 'pod', 'crash', '--wait=false']);
  });

  it('a service created with kubectl gets a ClusterIP from the apiserver that kube-proxy (system:kube-proxy) makes work from a pod on the other host', async () => {
    await kubectl(['create', '-f', '-'], ['apiVersion: v1', 'kind: Service', 'metadata:', '  name: web', 'spec:', '  selector:', '    app: web', '  ports:', '  - port: 80', '    targetPort: 8080', ''].join('\n'));
    const ip = (await kubectl(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    expect(ip).toMatch(/^10\.254\.\d+\.\d+$/);
    await waitFor('the web endpoints written by the controller manager', async () => /10\.5\.\d+\.\d+:8080/.test(await kubectl(['get', 'endpoints', 'web'])), 20_000, 500).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${[cm!, ...proxies].map((p) => (p.stderr() + p.stdout()).slice(-1500)).join('\n----\n')}`);
    });
    await client(ip);
    expect(hasLog(cm!, 'endpoints updated', { service: 'default/web' })).toBe(true);
    // On the API the proxies only read the Endpoints: no election among them.
    expect(proxies.filter((p) => hasLog(p, 'became leader'))).toHaveLength(0);
    // On the API the proxy does not allocate (the apiserver did).
    for (const p of proxies) expect(hasLog(p, 'service allocated')).toBe(false);
  });

  it('kubectl delete pod returns once the kubelet has stopped the pod and finished its graceful deletion', async () => {
    expect((await k.containers('b', 'client')).some((c) => c.state === 'running')).toBe(true);
    const t0 = Date.now();
    expect(await kubectl(['delete', 'pod', 'client', '--timeout=25s'])).toMatch(/pod "client" deleted/);
    expect(Date.now() - t0).toBeLessThan(25_000);
    expect(await kubectl(['get', 'pods', '-o', 'name'])).not.toContain('pod/client');
    expect((await k.containers('b', 'client')).filter((c) => c.state === 'running')).toEqual([]);
    const killing = (await podEvents('client')).find((e) => e.reason === 'Killing');
    expect(killing).toMatchObject({ type: 'Normal', message: 'Stopping container c', source: { component: 'kubelet', host: 'b' } });
  });

  it("a pod's ConfigMap and Secret reach its container through its node's credentials (the Node authorizer's graph)", async () => {
    await kubectl(['create', 'configmap', 'app-config', '--from-literal=greeting=hello']);
    await kubectl(['create', 'secret', 'generic', 'app-secret', '--from-literal=token=s3cret']);
    const env = (name: string, kind: 'configMapKeyRef' | 'secretKeyRef', ref: string, key: string) => [`    - name: ${name}`, '      valueFrom:', `        ${kind}:`, `          name: ${ref}`, `          key: ${key}`];
    const manifest = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata:',
      '  name: envpod',
      'spec:',
      '  nodeName: b',
      '  terminationGracePeriodSeconds: 1',
      '  containers:',
      '  - name: c',
      `    image: ${BUSYBOX_IMAGE}`,
      '    imagePullPolicy: Never',
      '    command: ["sleep", "3600"]',
      '    env:',
      ...env('GREETING', 'configMapKeyRef', 'app-config', 'greeting'),
      ...env('TOKEN', 'secretKeyRef', 'app-secret', 'token'),
      '',
    ].join('\n');
    await kubectl(['create', '-f', '-'], manifest);
    await waitFor('envpod Running', async () => (await kubectl(['get', 'pod', 'envpod', '-o', 'jsonpath={.status.phase}'])).trim() === 'Running', 45_000, 500);
    const r = await k.execIn('b', 'envpod', 'c', ['sh', '-c', 'echo "$GREETING-$TOKEN"']);
    expect(r.stdout.trim()).toBe('hello-s3cret');
    await kubectl(['delete', 'pod', 'envpod', '--timeout=25s']);
  });

  it("a static pod's mirror pod is made through the API owned by its Node, replaced on an edit, deleted with the manifest", async () => {
    const yaml = (port: string): string =>
      ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: static-web', 'spec:', '  terminationGracePeriodSeconds: 1', '  containers:', '  - name: web', `    image: ${BUSYBOX_IMAGE}`, '    imagePullPolicy: Never', `    command: [httpd, -f, -p, "${port}", -h, /tmp]`, ''].join('\n');
    await k.writeManifest('a', 'web.yaml', yaml('8090'));
    type Mirror = { metadata: { uid: string; annotations?: Record<string, string>; ownerReferences?: Record<string, unknown>[] } };
    const get = async (): Promise<Mirror | undefined> => {
      const t = await kubectl(['get', 'pods', '--field-selector', 'metadata.name=static-web-a', '-o', 'json']);
      return (JSON.parse(t) as { items: Mirror[] }).items[0];
    };
    const first = await waitFor('the mirror pod', get, 30_000, 500);
    const nodeUid = (await kubectl(['get', 'node', 'a', '-o', 'jsonpath={.metadata.uid}'])).trim();
    expect(first.metadata.annotations?.['kubernetes.io/config.mirror']).toBeTruthy();
    expect(first.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Node', name: 'a', uid: nodeUid, controller: true }]);
    await k.writeManifest('a', 'web.yaml', yaml('8091'));
    await waitFor('the mirror pod replaced', async () => ((await get())?.metadata.uid ?? first.metadata.uid) !== first.metadata.uid, 30_000, 500);
    await rm(path.join(k.node('a').manifests, 'web.yaml'));
    await waitFor('the mirror pod deleted', async () => (await get()) === undefined, 30_000, 500);
  });

  it('no daemon was refused a request: each works with its own bootstrap rights', async () => {
    const log = await readFile(path.join(apiDir, 'apiserver.log'), 'utf8');
    expect(log).toContain('node authorizer graph synced');
    expect(log.split('\n').filter((l) => l.includes('"request forbidden"'))).toEqual([]);
  });

  async function client(ip: string): Promise<void> {
    const body = await waitFor(`http://${ip}/ from the client pod on b`, async () => {
      const r = await k.execIn('b', 'client', 'c', ['timeout', '5', 'wget', '-qO-', `http://${ip}/`], 10_000).catch(() => undefined);
      return r?.code === 0 ? r.stdout : undefined;
    }, 30_000, 500).catch(async (e: unknown) => {
      const podIp = JSON.parse(await kubectl(['get', 'pod', 'web', '-o', 'json'])) as { status: { podIP: string } };
      const direct = await k.execIn('b', 'client', 'c', ['timeout', '5', 'wget', '-qO-', `http://${podIp.status.podIP}:8080/`], 10_000).catch((x: unknown) => String(x));
      const viaIp = await k.execIn('b', 'client', 'c', ['timeout', '5', 'wget', '-qO-', `http://${ip}/`], 10_000).catch((x: unknown) => String(x));
      const nft = await k.lab.host('b').exec(['nft', 'list', 'ruleset']).then((r) => r.stdout).catch((x: unknown) => String(x));
      throw new Error(`${String(e)}\ndirect: ${JSON.stringify(direct)}\nvia: ${JSON.stringify(viaIp)}\n${nft.slice(0, 6000)}\n${proxies.map((p) => (p.stderr() + p.stdout()).slice(-1500)).join('\n----\n')}`);
    });
    expect(body.trim()).toBe('hello-from-web');
  }
});
