// The whole cluster, driven by the real kubectl: kube-apiserver (Node,RBAC, NodeRestriction, default
// tolerations of 5 s), kube-controller-manager (node lifecycle: 8 s grace, checked every second) and
// kube-scheduler, each under its own identity, in host a's namespace; two nodes with flanneld (vxlan),
// dockerd, a kubelet and kube-proxy on the API. Seed 000's db + web example is created as its four files
// with `kubectl create -f` (the images `dbforweb` and `webwithdb` made on each node from busybox, see
// seed-images.ts): the scheduler spreads the pods one per node; a db pod answers from the other node and the
// web service's ClusterIP answers from the other node; `kubectl scale` 2→3→2→1→2; `kubectl rolling-update`
// (the plugin) to a new image with a client calling the service throughout; a pod that fits nowhere stays
// Pending with the reason; an interrupted update taken back with --rollback; a Deployment rolled out and
// undone; a Job that completes and one stopped by its deadline; seed 003's `*/1` CronJob running a Job; the
// controller manager killed and its standby taking over; and a node whose kubelet and flanneld are killed has its pods recreated on the other.
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from './docker.js';
import { REPO, waitFor } from './flannel.js';
import { FAST_FLAGS, KubeLab } from './kubelet.js';
import type { Host, Proc } from './lab.js';
import { startProxy } from './proxy.js';
import { makeSeedImages, webBanner } from './seed-images.js';
import { DB_RC, DB_SERVICE, SECURE_APISERVER_ARGS, SEED_003_HELLO_CRONJOB, WEB_RC, WEB_SERVICE, writeDaemonKubeconfig } from '../harness/index.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const SCHEDULER = path.join(REPO, 'dist', 'scheduler', 'main.js');
const ROLLING_UPDATE = path.join(REPO, 'dist', 'rollingupdate', 'main.js');
const SECURE = 6443;
const GRACE_S = 8;
const TOLERATION_S = 5;

interface PodJson {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: { image: string }[] };
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

const isReady = (p: PodJson): boolean => p.status?.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

describe.skipIf(!existsSync(KUBECTL))('the cluster: apiserver, controller manager, scheduler and two nodes, driven by kubectl', () => {
  let k: KubeLab;
  let apiserver: Proc | undefined;
  let cm: Proc | undefined;
  let scheduler: Proc | undefined;
  const proxies: Proc[] = [];
  let apiDir: string;
  let binDir: string;
  let kubeconfig: string;
  let hostA: Host;
  const daemonConfigs = new Map<string, string>();
  let cronCreatedAt = 0;

  // kubectl refuses flags before a plugin's name: the plugins get the kubeconfig through KUBECONFIG.
  type KubectlOpts = { input?: string; timeoutMs?: number; plugin?: boolean };
  const kubectlResult = (args: readonly string[], o: KubectlOpts = {}) =>
    hostA.exec([KUBECTL, ...(o.plugin ? [] : [`--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`]), ...args], {
      timeoutMs: o.timeoutMs ?? 30_000,
      env: { PATH: `${binDir}:${process.env.PATH ?? ''}`, HOME: apiDir, KUBECONFIG: kubeconfig },
      ...(o.input !== undefined && { input: o.input }),
    });
  const kubectl = async (args: readonly string[], o: KubectlOpts = {}): Promise<string> => {
    const r = await kubectlResult(args, o);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  /** The live (not terminating) pods matching the selector. */
  const pods = async (selector: string): Promise<PodJson[]> => (JSON.parse(await kubectl(['get', 'pods', '-l', selector, '-o', 'json'])) as { items: PodJson[] }).items.filter((p) => !p.metadata.deletionTimestamp);
  const waitPods = (selector: string, what: string, ok: (ps: PodJson[]) => boolean, ms = 60_000): Promise<PodJson[]> =>
    waitFor(`${selector}: ${what}`, async () => {
      const ps = await pods(selector);
      return ok(ps) ? ps : undefined;
    }, ms, 500).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\n${await kubectl(['get', 'pods', '-o', 'wide']).catch(String)}\n${(scheduler?.stderr() ?? '').slice(-1500)}\n${(cm?.stderr() ?? '').slice(-1500)}`);
    });
  const readyOn = (ps: PodJson[], n: number) => ps.length === n && ps.every(isReady);
  /** `wget` from a running pod; the body, or undefined on failure. */
  const fetchFrom = async (node: string, pod: string, container: string, url: string): Promise<string | undefined> => {
    const r = await k.execIn(node, pod, container, ['timeout', '5', 'wget', '-qO-', url], 10_000).catch(() => undefined);
    return r?.code === 0 ? r.stdout : undefined;
  };

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a', 'b'],
      kubeletArgs: FAST_FLAGS,
      beforeKubelets: async (kl) => {
        const a = kl.lab.host('a');
        hostA = a;
        apiDir = path.join(a.dir, 'apiserver');
        binDir = path.join(apiDir, 'bin');
        kubeconfig = path.join(apiDir, 'admin.kubeconfig');
        await mkdir(binDir, { recursive: true });
        // The plugin as scripts/install puts it on the PATH: kubectl runs `kubectl-rolling_update` for `rolling-update`.
        await writeFile(path.join(binDir, 'kubectl-rolling_update'), `#!/bin/sh\nexec ${process.execPath} ${ROLLING_UPDATE} "$@"\n`);
        await chmod(path.join(binDir, 'kubectl-rolling_update'), 0o755);
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
            `--default-not-ready-toleration-seconds=${TOLERATION_S}`,
            `--default-unreachable-toleration-seconds=${TOLERATION_S}`,
          ],
          { logFile: path.join(apiDir, 'apiserver.log') },
        );
        let last = '';
        const ok = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 30_000, 250).catch(() => false);
        if (!ok) throw new Error(`the apiserver did not become ready: ${last}\n${apiserver.stderr()}${apiserver.stdout()}`.slice(0, 4000));
        const server = `https://${a.ip}:${SECURE}`;
        const certs = path.join(apiDir, 'certs');
        for (const h of kl.lab.hosts) daemonConfigs.set(h.name, await writeDaemonKubeconfig(certs, server, apiDir, 'kubelet', h.name));
        for (const d of ['kube-proxy', 'kube-controller-manager', 'kube-scheduler'] as const) daemonConfigs.set(d, await writeDaemonKubeconfig(certs, server, apiDir, d));
        cm = a.spawn([process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${daemonConfigs.get('kube-controller-manager')!}`, '--secure-port=0', `--node-monitor-grace-period=${GRACE_S}s`, '--node-monitor-period=1s'], {
          logFile: path.join(apiDir, 'controller-manager.log'),
        });
        scheduler = a.spawn([process.execPath, SCHEDULER, `--kubeconfig=${daemonConfigs.get('kube-scheduler')!}`, '--secure-port=0'], { logFile: path.join(apiDir, 'scheduler.log') });
      },
      storeArgs: (n) => [`--kubeconfig=${daemonConfigs.get(n.host.name)!}`],
    });
    const proxyConfig = `--kubeconfig=${daemonConfigs.get('kube-proxy')!}`;
    for (const h of k.lab.hosts) proxies.push(startProxy(h, k.etcd, { tag: 'api', storeArgs: [proxyConfig], args: ['--cluster-cidr=10.5.0.0/16', '--min-sync-period=200ms'] }));
    await makeSeedImages([...k.nodes.values()].map((n) => n.dockerd), path.join(k.lab.dir, 'images'), ['v2']);
    // Seed 003's CronJob runs `busybox` (pull policy Always: present on the node is enough, as nothing is pulled).
    await Promise.all([...k.nodes.values()].map((n) => n.dockerd.docker(['tag', BUSYBOX_IMAGE, 'busybox:latest'])));
    // The default ServiceAccount (the serviceaccount controller's) before the first pod: the admission plugin needs it.
    await waitFor('the default ServiceAccount', async () => (await kubectlResult(['get', 'serviceaccount', 'default'])).code === 0, 90_000, 500);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(proxies.map((p) => p.stop(5_000)));
    await k?.destroy();
    await Promise.allSettled([scheduler?.stop(5_000), cm?.stop(5_000)]);
    await apiserver?.stop(5_000);
  }, 90_000);

  it("creates seed 000's services and RCs with kubectl create -f; the scheduler puts one pod of each RC on each node", async () => {
    const files: [string, string][] = [
      ['db-service.yaml', DB_SERVICE],
      ['db-rc.yaml', DB_RC],
      ['ws-service.yaml', WEB_SERVICE],
      ['ws-rc.yaml', WEB_RC],
    ];
    for (const [f, text] of files) await writeFile(path.join(apiDir, f), text);
    expect(await kubectl(['create', '-f', path.join(apiDir, 'db-service.yaml')])).toMatch(/service\/db-service created/);
    expect(await kubectl(['create', '-f', path.join(apiDir, 'db-rc.yaml')])).toMatch(/replicationcontroller\/db-controller created/);
    // publicIPs is not a v1 field: kubectl refuses the file as printed, and takes it without validation.
    const refused = await kubectlResult(['create', '-f', path.join(apiDir, 'ws-service.yaml')]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('publicIPs');
    expect(await kubectl(['create', '--validate=false', '-f', path.join(apiDir, 'ws-service.yaml')])).toMatch(/service\/webserve-service created/);
    expect(await kubectl(['create', '-f', path.join(apiDir, 'ws-rc.yaml')])).toMatch(/replicationcontroller\/webserver-controller created/);

    for (const sel of ['selectorname=db', 'selectorname=webserver']) {
      const ps = await waitPods(sel, '2 Ready', (x) => readyOn(x, 2), 90_000);
      expect(ps.map((p) => p.spec.nodeName).sort()).toEqual(['a', 'b']);
    }
    const events = await kubectl(['get', 'events', '--field-selector', 'reason=Scheduled', '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}']);
    expect(events).toMatch(/^Successfully assigned default\/db-controller-\S+ to [ab]$/m);
    const svc = await kubectl(['get', 'services']);
    expect(svc).toMatch(/^db-service\s+ClusterIP\s+10\.254\.\d+\.\d+\s+<none>\s+3306\/TCP\s/m);
    expect(svc).toMatch(/^webserve-service\s+ClusterIP\s+10\.254\.\d+\.\d+\s+<none>\s+80\/TCP\s/m);
  });

  it("seed 003's hello CronJob (*/1, batch/v1beta1 as the seed writes it) is created with kubectl create -f", async () => {
    expect(await kubectl(['create', '-f', '-'], { input: SEED_003_HELLO_CRONJOB })).toMatch(/cronjob\.batch\/hello created/);
    cronCreatedAt = Date.now();
    expect(await kubectl(['get', 'cronjob', 'hello'])).toMatch(/^hello\s+\*\/1 \* \* \* \*\s+<none>\s+False\s+0\s+<none>/m);
  });

  it('a db pod answers a web pod on the other node, and the web service answers through its ClusterIP from the other node, the web asking the db', async () => {
    const db = await pods('selectorname=db');
    const web = await pods('selectorname=webserver');
    for (const w of web) {
      const other = db.find((d) => d.spec.nodeName !== w.spec.nodeName)!;
      const body = await waitFor(`db ${other.metadata.name} from ${w.metadata.name}`, () => fetchFrom(w.spec.nodeName!, w.metadata.name, 'apache-frontend', `http://${other.status!.podIP!}:3306/`), 30_000, 500);
      expect(body.trim()).toBe(other.metadata.name);
    }
    const ip = (await kubectl(['get', 'service', 'webserve-service', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const seen = new Set<string>();
    for (const d of db) {
      const page = await waitFor(`http://${ip}/ from ${d.metadata.name}`, () => fetchFrom(d.spec.nodeName!, d.metadata.name, 'db', `http://${ip}/index.html`), 30_000, 500);
      expect(page.trim()).toBe(webBanner());
      const action = await waitFor(`http://${ip}/cgi-bin/action from ${d.metadata.name}`, async () => {
        const t = await fetchFrom(d.spec.nodeName!, d.metadata.name, 'db', `http://${ip}/cgi-bin/action`);
        return t?.includes('<h2>Success</h2>') ? t : undefined;
      }, 30_000, 500).catch(async (e: unknown) => {
        const w = web[0]!;
        const env = await k.execIn(w.spec.nodeName!, w.metadata.name, 'apache-frontend', ['sh', '-c', 'env | grep SERVICE; ls -l /www/cgi-bin; timeout 3 wget -qO- http://$DB_SERVICE_SERVICE_HOST:$DB_SERVICE_SERVICE_PORT/']).catch(String);
        const t = await fetchFrom(d.spec.nodeName!, d.metadata.name, 'db', `http://${ip}/cgi-bin/action`);
        throw new Error(`${String(e)}\n${JSON.stringify(env)}\n${t}`);
      });
      expect(action).toContain('<title>My Application</title>');
      seen.add(d.spec.nodeName!);
    }
    expect([...seen].sort()).toEqual(['a', 'b']);
  });

  it('kubectl scale 2→3→2→1→2: the pods follow, and the endpoints with them', async () => {
    for (const n of [3, 2, 1, 2]) {
      expect(await kubectl(['scale', `--replicas=${n}`, 'rc', 'webserver-controller'])).toMatch(/replicationcontroller\/webserver-controller scaled/);
      const ps = await waitPods('selectorname=webserver', `${n} Ready`, (x) => readyOn(x, n));
      const ips = ps.map((p) => `${p.status!.podIP!}:80`).sort();
      await waitFor(`${n} endpoints`, async () => {
        const e = JSON.parse(await kubectl(['get', 'endpoints', 'webserve-service', '-o', 'json'])) as { subsets?: { addresses?: { ip: string }[]; ports?: { port: number }[] }[] };
        const got = (e.subsets ?? []).flatMap((s) => (s.addresses ?? []).flatMap((a) => (s.ports ?? []).map((p) => `${a.ip}:${p.port}`))).sort();
        return JSON.stringify(got) === JSON.stringify(ips);
      }, 30_000, 500);
    }
    const ps = await pods('selectorname=webserver');
    expect(ps.map((p) => p.spec.nodeName).sort()).toEqual(['a', 'b']);
  });

  it('kubectl rolling-update to a new image, a client calling the service throughout: no request fails', async () => {
    const client = ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: client', 'spec:', '  terminationGracePeriodSeconds: 1', '  containers:', '  - name: c', `    image: ${BUSYBOX_IMAGE}`, '    command: ["sleep", "3600"]', ''].join('\n');
    await kubectl(['create', '-f', '-'], { input: client });
    const c = await waitFor('the client Running', async () => {
      const p = JSON.parse(await kubectl(['get', 'pod', 'client', '-o', 'json'])) as PodJson;
      return isReady(p) ? p : undefined;
    }, 60_000, 500);
    const node = c.spec.nodeName!;
    const ip = (await kubectl(['get', 'service', 'webserve-service', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    // Bounded: at most 2000 requests, until the stop file appears.
    const loop = `i=0; while [ $i -lt 2000 ] && [ ! -e /tmp/stop ]; do i=$((i+1)); if b=$(timeout 3 wget -qO- http://${ip}/); then echo "ok $b"; else echo fail; fi; sleep 0.1; done`;
    const calls = k.execIn(node, 'client', 'c', ['sh', '-c', loop], 240_000);
    try {
      await new Promise((r) => setTimeout(r, 2_000));
      const out = await kubectl(['rolling-update', 'webserver-controller', '--image=webwithdb:v2', '--update-period=3s', '--poll-interval=500ms', '--timeout=3m'], { timeoutMs: 200_000, plugin: true });
      expect(out).toMatch(/^Created webserver-controller-[0-9a-f]+$/m);
      expect(out).toMatch(/Scaling up webserver-controller-[0-9a-f]+ from 0 to 2, scaling down webserver-controller from 2 to 0 \(keep 2 pods available, don't exceed 3 pods\)/);
      expect(out).toMatch(/^Update succeeded\. Deleting old controller: webserver-controller$/m);
      expect(out).toMatch(/^Renaming webserver-controller-[0-9a-f]+ to webserver-controller$/m);
      expect(out).toMatch(/^replicationcontroller "webserver-controller" rolling updated$/m);
      const ps = await waitPods('selectorname=webserver', '2 Ready on v2', (x) => readyOn(x, 2) && x.every((p) => p.spec.containers[0]!.image === 'webwithdb:v2'));
      expect(ps).toHaveLength(2);
      // The old pods' last seconds of draining: the client sees only v2 at the end.
      await waitFor('the client sees only v2', async () => {
        const b = await fetchFrom(node, 'client', 'c', `http://${ip}/`);
        return b?.trim() === webBanner('v2');
      }, 30_000, 500);
    } finally {
      await k.execIn(node, 'client', 'c', ['touch', '/tmp/stop']).catch(() => undefined);
    }
    const r = await calls;
    const lines = r.stdout.split('\n').filter(Boolean);
    const failed = lines.filter((l) => l === 'fail').length;
    const bodies = new Set(lines.filter((l) => l.startsWith('ok ')).map((l) => l.slice(3)));
    expect(lines.length).toBeGreaterThan(20);
    expect(bodies).toEqual(new Set([webBanner(), webBanner('v2')]));
    process.stdout.write(`rolling-update: ${lines.length} requests through the ClusterIP, ${failed} failed\n`);
    expect(failed, `${failed} of ${lines.length} requests failed`).toBe(0);
    await kubectl(['delete', 'pod', 'client', '--wait=false']);
  });

  it('a pod that fits nowhere stays Pending, and kubectl describe says why', async () => {
    const big = ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: huge', 'spec:', '  containers:', '  - name: c', `    image: ${BUSYBOX_IMAGE}`, '    command: ["sleep", "3600"]', '    resources:', '      requests:', '        cpu: "1000"', ''].join('\n');
    await kubectl(['create', '-f', '-'], { input: big });
    const text = await waitFor('FailedScheduling in kubectl describe', async () => {
      const t = await kubectl(['describe', 'pod', 'huge']);
      return /FailedScheduling/.test(t) ? t : undefined;
    }, 30_000, 500);
    expect(text).toMatch(/^Status:\s+Pending$/m);
    expect(text).toMatch(/Warning\s+FailedScheduling\s+.*default-scheduler\s+0\/2 nodes are available: 2 Insufficient cpu\./);
    const p = JSON.parse(await kubectl(['get', 'pod', 'huge', '-o', 'json'])) as PodJson & { status: { conditions?: { type: string; status: string; reason?: string }[] } };
    expect(p.spec.nodeName).toBeUndefined();
    expect(p.status.conditions?.find((c) => c.type === 'PodScheduled')).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    await kubectl(['delete', 'pod', 'huge', '--wait=false']);
  });

  it('kubectl rolling-update interrupted midway is taken back with --rollback: the old RC at its count again, the new one gone', async () => {
    const env = { PATH: `${binDir}:${process.env.PATH ?? ''}`, HOME: apiDir, KUBECONFIG: kubeconfig };
    const update = hostA.spawn([KUBECTL, 'rolling-update', 'webserver-controller', 'webserver-next', '--image=webwithdb:latest', '--update-period=20s', '--poll-interval=500ms'], { env, logFile: path.join(apiDir, 'rolling-update-interrupted.log') });
    try {
      await waitFor('the first scale-up step', async () => (await kubectlResult(['get', 'rc', 'webserver-next', '-o', 'jsonpath={.spec.replicas}'])).stdout.trim() === '1' || undefined, 90_000, 250);
    } finally {
      update.kill('SIGKILL');
      await update.stop(2_000);
    }
    expect((await kubectl(['get', 'rc', 'webserver-next', '-o', 'jsonpath={.spec.replicas}'])).trim()).toBe('1');
    const back = await kubectlResult(['rolling-update', 'webserver-controller', 'webserver-next', '--rollback', '--update-period=1s', '--poll-interval=500ms'], { timeoutMs: 120_000, plugin: true });
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/replicationcontroller "webserver-controller" rolled back/);
    expect((await kubectlResult(['get', 'rc', 'webserver-next'])).stderr).toMatch(/NotFound|not found/);
    const ps = await waitPods('selectorname=webserver', '2 Ready on v2 again', (x) => readyOn(x, 2) && x.every((p) => p.spec.containers[0]!.image === 'webwithdb:v2'));
    expect(ps).toHaveLength(2);
  });

  it('a Deployment rolls out to a new image and back with kubectl rollout undo', async () => {
    const dep = ['apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: dep', 'spec:', '  replicas: 2', '  selector:', '    matchLabels:', '      app: dep', '  template:', '    metadata:', '      labels:', '        app: dep', '    spec:', '      terminationGracePeriodSeconds: 1', '      containers:', '      - name: web', '        image: webwithdb', '        command: ["/usr/sbin/httpd"]', '        args: ["-D", "FOREGROUND"]', ''].join('\n');
    await kubectl(['create', '-f', '-'], { input: dep });
    await kubectl(['rollout', 'status', 'deployment/dep', '--timeout=60s'], { timeoutMs: 70_000 }).catch(async (e: unknown) => {
      const cmLog = (cm?.stderr() ?? '') + (cm?.stdout() ?? '');
      throw new Error(`${String(e)}\n${await kubectl(['get', 'deploy,rs,pods', '-o', 'wide']).catch(String)}\n${await kubectl(['describe', 'deploy', 'dep']).catch(String)}\n${cmLog.split('\n').filter((l) => /dep|forbidden|warn|error/i.test(l)).slice(-30).join('\n')}`);
    });
    await kubectl(['set', 'image', 'deployment/dep', 'web=webwithdb:v2']);
    await kubectl(['rollout', 'status', 'deployment/dep', '--timeout=90s'], { timeoutMs: 100_000 });
    await waitPods('app=dep', '2 Ready on v2', (x) => readyOn(x, 2) && x.every((p) => p.spec.containers[0]!.image === 'webwithdb:v2'));
    expect(await kubectl(['rollout', 'history', 'deployment/dep'])).toMatch(/^1\s/m);
    await kubectl(['rollout', 'undo', 'deployment/dep']);
    await kubectl(['rollout', 'status', 'deployment/dep', '--timeout=90s'], { timeoutMs: 100_000 });
    await waitPods('app=dep', '2 Ready on the first image', (x) => readyOn(x, 2) && x.every((p) => p.spec.containers[0]!.image === 'webwithdb'));
    await kubectl(['delete', 'deployment', 'dep', '--wait=false']);
  });

  it('a Job completes, and one is stopped by its activeDeadlineSeconds', async () => {
    const job = (name: string, cmd: string, extra: string[]) => ['apiVersion: batch/v1', 'kind: Job', 'metadata:', `  name: ${name}`, 'spec:', ...extra, '  template:', '    spec:', '      restartPolicy: Never', '      terminationGracePeriodSeconds: 1', '      containers:', '      - name: c', `        image: ${BUSYBOX_IMAGE}`, `        command: ["sh", "-c", "${cmd}"]`, ''].join('\n');
    await kubectl(['create', '-f', '-'], { input: job('done', 'echo done', ['  backoffLimit: 2']) });
    await kubectl(['create', '-f', '-'], { input: job('slow', 'sleep 600', ['  activeDeadlineSeconds: 5']) });
    await kubectl(['wait', '--for=condition=complete', 'job/done', '--timeout=90s'], { timeoutMs: 100_000 });
    expect(await kubectl(['get', 'job', 'done'])).toMatch(/done\s+(Complete\s+)?1\/1/);
    const failed = await waitFor('slow failed by its deadline', async () => {
      const j = JSON.parse(await kubectl(['get', 'job', 'slow', '-o', 'json'])) as { status?: { conditions?: { type: string; reason?: string }[] } };
      return j.status?.conditions?.find((c) => c.type === 'Failed');
    }, 60_000, 500);
    expect(failed.reason).toBe('DeadlineExceeded');
    expect(await kubectl(['describe', 'job', 'slow'])).toMatch(/DeadlineExceeded/);
    await kubectl(['delete', 'job', 'done', 'slow', '--wait=false']);
  });

  it('the controller manager killed: a standby takes over its Lease and keeps the replicas', async () => {
    const standby = hostA.spawn([process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${daemonConfigs.get('kube-controller-manager')!}`, '--secure-port=0', `--node-monitor-grace-period=${GRACE_S}s`, '--node-monitor-period=1s'], {
      logFile: path.join(apiDir, 'controller-manager-standby.log'),
    });
    const leader = cm!;
    cm = standby;
    await new Promise((r) => setTimeout(r, 2_000));
    leader.kill('SIGKILL');
    await leader.stop(2_000);
    // The lease (15 s) runs out, the standby leads: a scale is carried out by it.
    expect(await kubectl(['scale', '--replicas=3', 'rc', 'webserver-controller'])).toMatch(/scaled/);
    await waitPods('selectorname=webserver', '3 Ready', (x) => readyOn(x, 3), 90_000);
    expect(await kubectl(['scale', '--replicas=2', 'rc', 'webserver-controller'])).toMatch(/scaled/);
    await waitPods('selectorname=webserver', '2 Ready', (x) => readyOn(x, 2), 60_000);
  });

  it('the hello CronJob ran at a minute boundary: its Job completed, and kubectl get cronjob shows the schedule kept', async () => {
    interface JobList { items: { metadata: { name: string; ownerReferences?: { kind: string; name: string }[] }; status?: { succeeded?: number; conditions?: { type: string; status: string }[] } }[] }
    // Created minutes ago (the tests between take longer than that); bounded for a slow run.
    const done = await waitFor('a Job of hello Complete', async () => {
      const jobs = (JSON.parse(await kubectl(['get', 'jobs', '-o', 'json'])) as JobList).items.filter((j) => j.metadata.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === 'hello'));
      return jobs.find((j) => j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'));
    }, Math.max(30_000, cronCreatedAt + 150_000 - Date.now()), 1000);
    expect(done.metadata.name).toMatch(/^hello-\d+$/);
    expect(done.status?.succeeded).toBe(1);
    const cj = JSON.parse(await kubectl(['get', 'cronjob', 'hello', '-o', 'json'])) as { status?: { lastScheduleTime?: string; lastSuccessfulTime?: string } };
    // The scheduled time is a whole minute, the Job's name its minutes since the epoch.
    expect(cj.status?.lastScheduleTime).toMatch(/:00Z$/);
    expect(Number(done.metadata.name.slice('hello-'.length)) * 60_000).toBeLessThanOrEqual(Date.parse(cj.status!.lastScheduleTime!));
    await waitFor('lastSuccessfulTime set', async () => {
      const c = JSON.parse(await kubectl(['get', 'cronjob', 'hello', '-o', 'json'])) as { status?: { lastSuccessfulTime?: string } };
      return c.status?.lastSuccessfulTime;
    }, 20_000, 500);
    expect(await kubectl(['patch', 'cronjob', 'hello', '-p', '{"spec":{"suspend":true}}'])).toMatch(/patched/);
    expect(await kubectl(['get', 'cronjob', 'hello'])).toMatch(/^hello\s+\S+ \S+ \S+ \S+ \S+\s+<none>\s+True\s/m);
    await kubectl(['delete', 'cronjob', 'hello', '--wait=false']);
  });

  it("a node whose kubelet and flanneld are killed: its pods come back on the other node within the grace period plus the toleration", async () => {
    const before = [...(await pods('selectorname=db')), ...(await pods('selectorname=webserver'))];
    const victim = 'b';
    const lost = before.filter((p) => p.spec.nodeName === victim).map((p) => p.metadata.name);
    expect(lost.length).toBeGreaterThanOrEqual(1);
    const n = k.node(victim);
    const t0 = Date.now();
    n.kubelet.kill('SIGKILL');
    n.flanneld.kill('SIGKILL');
    await waitFor(`node ${victim} Unknown`, async () => (await kubectl(['get', 'node', victim, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).trim() === 'Unknown', (GRACE_S + 20) * 1000, 500);
    const tUnknown = Date.now() - t0;
    for (const sel of ['selectorname=db', 'selectorname=webserver']) {
      await waitPods(sel, `2 Ready on a`, (x) => readyOn(x.filter((p) => p.spec.nodeName === 'a'), 2), 60_000);
    }
    const tBack = Date.now() - t0;
    // grace + toleration, plus the monitor period, the eviction, the RC's sync and the container's start.
    expect(tBack).toBeLessThan((GRACE_S + TOLERATION_S + 40) * 1000);
    expect(tUnknown).toBeGreaterThanOrEqual((GRACE_S - 2) * 1000);
    // Not before the toleration ran out: the pods were evicted by the taint manager, not earlier.
    expect(tBack).toBeGreaterThanOrEqual((GRACE_S + TOLERATION_S - 2) * 1000);
    const taints = await kubectl(['get', 'node', victim, '-o', 'jsonpath={.spec.taints[*].key}']);
    expect(taints).toContain('node.kubernetes.io/unreachable');
    // As in Kubernetes, the evicted pods of a dead node stay Terminating until it returns or is deleted.
    const all = (JSON.parse(await kubectl(['get', 'pods', '-o', 'json'])) as { items: PodJson[] }).items;
    for (const name of lost) expect(all.find((p) => p.metadata.name === name)?.metadata.deletionTimestamp).toBeTruthy();
    process.stdout.write(`node ${victim} killed: Unknown after ${tUnknown} ms, its pods back on a after ${tBack} ms\n`);
  });
});
