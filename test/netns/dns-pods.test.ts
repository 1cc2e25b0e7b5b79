// Cluster DNS as pods: the control plane of cluster.test.ts (kube-apiserver under Node,RBAC with the
// ServiceAccount admission, kube-controller-manager, kube-scheduler, each with its own identity) on host a,
// and two nodes with flanneld (vxlan), dockerd, a kubelet (--cluster-dns=10.254.0.10,
// --cluster-domain=cluster.local, --resolv-conf naming the lab's outside DNS) and kube-proxy. The project's
// image (flannel-ts:dev, images.ts) is imported on both nodes; `kubectl create -f dns/kube-dns.yaml` starts
// kube-dns as a Deployment in kube-system, reaching the API in-cluster (its service-account token, the
// `kubernetes` Service's ClusterIP). The outside world is a dnsmasq in the lab's switch namespace. From a
// busybox pod on the node kube-dns is NOT on, busybox's own nslookup (the seed's `nslookup webapp`) finds a
// service, a headless service's pods, a pod name and an outside name, through kube-proxy's 10.254.0.10.
// The seed's debugging steps go through the real `kubectl exec` (kubectl 1.20 and 1.33): the apiserver
// presents --kubelet-client-certificate (bound to system:kubelet-api-admin) to the kubelets' 10250, whose
// --client-ca-file is the apiserver's CA; `ping -s 1424` to the pod on the other node while tcpdump (run in
// the node's namespace) watches flannel.1, nslookup, stdin through -i, exit codes, and a TTY through -t.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from './docker.js';
import { REPO, waitFor } from './flannel.js';
import { importProjectImage, PROJECT_IMAGE, type ProjectImageTimings } from './images.js';
import { FAST_FLAGS, KubeLab } from './kubelet.js';
import { capture, type Host, type Proc } from './lab.js';
import { startProxy } from './proxy.js';
import { KUBELET_CLIENT_BINDING, kubeletClientCredentials, SECURE_APISERVER_ARGS, writeDaemonKubeconfig } from '../harness/index.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
/** The two kubectl generations: 1.20 speaks SPDY/3.1 only, 1.33 tries WebSocket (v5.channel.k8s.io) first. */
const KUBECTLS = [
  { name: 'kubectl 1.20', bin: KUBECTL },
  { name: 'kubectl 1.33', bin: '/usr/lib/google-cloud-sdk/bin/kubectl.1.33' },
].filter((x) => existsSync(x.bin));
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const SCHEDULER = path.join(REPO, 'dist', 'scheduler', 'main.js');
const MANIFEST = path.join(REPO, 'dns', 'kube-dns.yaml');
const DNSMASQ = '/usr/sbin/dnsmasq';
const SECURE = 6443;
const CLUSTER_DNS = '10.254.0.10';
const DOMAIN = 'cluster.local';

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}
const isReady = (p: PodJson): boolean => p.status?.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.skipIf(!existsSync(KUBECTL) || !existsSync(DNSMASQ))('cluster DNS as pods: kube-dns from the project image, nslookup from a pod on the other node', () => {
  let k: KubeLab;
  const procs: Proc[] = [];
  let apiDir: string;
  let kubeconfig: string;
  let hostA: Host;
  let image: ProjectImageTimings;
  /** The nodes' resolv.conf (kubelet --resolv-conf): the lab's outside DNS. */
  let nodeResolv = '';
  /** The kubelets' --client-ca-file: the apiserver's CA, which signed its --kubelet-client-certificate. */
  let clientCaFile = '';
  const daemonConfigs = new Map<string, string>();

  /** The pods the exec steps use: busybox's node, the db pod on the other node, webapp's ClusterIP. */
  const seen = { other: '', remoteIp: '', remoteNode: '', webIp: '' };
  const kubectlArgv = (bin: string, args: readonly string[]): string[] => [bin, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, ...args];
  const kubectlWith = (bin: string, args: readonly string[], input?: string, timeoutMs = 30_000) =>
    hostA.exec(kubectlArgv(bin, args), { timeoutMs, env: { PATH: process.env.PATH ?? '', HOME: apiDir }, ...(input !== undefined && { input }) });
  const kubectlResult = (args: readonly string[], input?: string) => kubectlWith(KUBECTL, args, input);
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await kubectlResult(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const getPods = async (ns: string, selector: string): Promise<PodJson[]> =>
    (JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-l', selector, '-o', 'json'])) as { items: PodJson[] }).items.filter((p) => !p.metadata.deletionTimestamp);
  /** kube-dns's container output, through the node's Docker. */
  const dnsLogs = async (node: string, pod: string): Promise<string> => {
    const [c] = await k.containers(node, pod, 'kubedns');
    if (!c) return '(no kubedns container)';
    const r = await k.node(node).dockerd.dockerExec(['logs', '--tail', '60', c.id]);
    return r.stdout + r.stderr;
  };

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a', 'b'],
      kubeletArgs: [...FAST_FLAGS, `--cluster-dns=${CLUSTER_DNS}`, `--cluster-domain=${DOMAIN}`],
      beforeKubelets: async (kl) => {
        const a = kl.lab.host('a');
        hostA = a;
        apiDir = path.join(a.dir, 'apiserver');
        kubeconfig = path.join(apiDir, 'admin.kubeconfig');
        await mkdir(apiDir, { recursive: true });
        const kubeletClient = await kubeletClientCredentials(path.join(apiDir, 'certs'));
        clientCaFile = kubeletClient.clientCaFile;
        const api = a.spawn(
          [process.execPath, APISERVER, `--etcd-servers=${kl.etcd.endpoint}`, `--bind-address=${a.ip}`, `--advertise-address=${a.ip}`, `--secure-port=${SECURE}`, `--cert-dir=${path.join(apiDir, 'certs')}`, `--write-kubeconfig=${kubeconfig}`, ...kubeletClient.apiserverArgs, ...SECURE_APISERVER_ARGS],
          { logFile: path.join(apiDir, 'apiserver.log') },
        );
        procs.push(api);
        let last = '';
        const ok = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 30_000, 250).catch(() => false);
        if (!ok) throw new Error(`the apiserver did not become ready: ${last}\n${api.stderr()}`.slice(0, 4000));
        await kubectl(KUBELET_CLIENT_BINDING);
        const server = `https://${a.ip}:${SECURE}`;
        const certs = path.join(apiDir, 'certs');
        for (const h of kl.lab.hosts) daemonConfigs.set(h.name, await writeDaemonKubeconfig(certs, server, apiDir, 'kubelet', h.name));
        for (const d of ['kube-proxy', 'kube-controller-manager', 'kube-scheduler'] as const) daemonConfigs.set(d, await writeDaemonKubeconfig(certs, server, apiDir, d));
        procs.push(a.spawn([process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${daemonConfigs.get('kube-controller-manager')!}`, '--secure-port=0'], { logFile: path.join(apiDir, 'controller-manager.log') }));
        procs.push(a.spawn([process.execPath, SCHEDULER, `--kubeconfig=${daemonConfigs.get('kube-scheduler')!}`, '--secure-port=0'], { logFile: path.join(apiDir, 'scheduler.log') }));
        // The lab's outside world: dnsmasq in the switch namespace, the nodes' resolver (their resolv.conf).
        const sw = kl.lab.switch;
        const outside = path.join(kl.lab.dir, 'outside');
        await mkdir(outside, { recursive: true });
        await writeFile(path.join(outside, 'hosts'), '198.18.0.7 outside.test\n');
        procs.push(sw.spawn([DNSMASQ, '--no-daemon', '--no-resolv', '--no-hosts', `--addn-hosts=${path.join(outside, 'hosts')}`, `--listen-address=${sw.ip}`, '--bind-interfaces', '--port=53', '--user=root', '--pid-file='], { logFile: path.join(outside, 'dnsmasq.log') }));
        nodeResolv = path.join(outside, 'resolv.conf');
        await writeFile(nodeResolv, `nameserver ${sw.ip}\n`);
      },
      storeArgs: (n) => [`--kubeconfig=${daemonConfigs.get(n.host.name)!}`, `--resolv-conf=${nodeResolv}`, `--client-ca-file=${clientCaFile}`],
    });
    for (const h of k.lab.hosts) procs.push(startProxy(h, k.etcd, { tag: 'api', storeArgs: [`--kubeconfig=${daemonConfigs.get('kube-proxy')!}`], args: ['--cluster-cidr=10.5.0.0/16', '--min-sync-period=200ms'] }));
    image = await importProjectImage([...k.nodes.values()].map((n) => n.dockerd));
    process.stdout.write(`project image: tar ${image.tar.built ? 'built' : 'from the cache'} in ${image.tar.ms} ms (${(image.tar.bytes / 2 ** 20).toFixed(0)} MiB), docker import ${image.importMs.join(' / ')} ms\n`);
    await waitFor('the default ServiceAccount', async () => (await kubectlResult(['get', 'serviceaccount', 'default'])).code === 0, 90_000, 500);
  }, 240_000);

  afterAll(async () => {
    await k?.destroy();
    await Promise.allSettled([...procs].reverse().map((p) => p.stop(5_000)));
  }, 90_000);

  it('the project image runs node and our daemons; kube-dns outside a pod says what it lacks', async () => {
    const d = k.node('b').dockerd;
    const v = await d.dockerExec(['run', '--rm', '--network', 'none', PROJECT_IMAGE, 'kube-dns', '--version'], { timeoutMs: 60_000 });
    expect(v.stdout.trim(), v.stderr).toMatch(/^\d+\.\d+\.\d+$/);
    const r = await d.dockerExec(['run', '--rm', '--network', 'none', PROJECT_IMAGE, 'kube-dns', '--healthz-port=0', '--dns-port=5353'], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('kube-dns: unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (outside a pod, give --kubecfg-file or --kube-master-url)');
  }, 120_000);

  it('kubectl create -f dns/kube-dns.yaml: kube-dns Running and Ready in kube-system behind 10.254.0.10, on the API in-cluster', async () => {
    const out = await kubectl(['create', '-f', MANIFEST]);
    expect(out).toMatch(/^serviceaccount\/kube-dns created$/m);
    expect(out).toMatch(/^service\/kube-dns created$/m);
    expect(out).toMatch(/^deployment\.apps\/kube-dns created$/m);
    const svc = await kubectl(['get', 'service', 'kube-dns', '-n', 'kube-system']);
    expect(svc).toMatch(new RegExp(`^kube-dns\\s+ClusterIP\\s+${esc(CLUSTER_DNS)}\\s+<none>\\s+53/UDP,53/TCP\\s`, 'm'));
    const [p] = await waitFor('kube-dns Ready', async () => {
      const ps = await getPods('kube-system', 'k8s-app=kube-dns');
      return ps.length === 1 && isReady(ps[0]!) ? ps : undefined;
    }, 120_000, 1000).catch(async (e: unknown) => {
      const ps = await getPods('kube-system', 'k8s-app=kube-dns').catch(() => []);
      const logs = ps[0]?.spec.nodeName ? await dnsLogs(ps[0].spec.nodeName, ps[0].metadata.name) : '';
      throw new Error(`${String(e)}\n${await kubectl(['describe', 'pods', '-n', 'kube-system']).catch(String)}\n${logs}`);
    });
    const logs = await dnsLogs(p!.spec.nodeName!, p!.metadata.name);
    expect(logs).toContain('using the in-cluster configuration');
    expect(logs).toContain('"server":"https://10.254.0.1:443"');
    expect(logs).toContain('services listed');
    const eps = await waitFor('the kube-dns endpoints', async () => {
      const t = await kubectl(['get', 'endpoints', 'kube-dns', '-n', 'kube-system', '-o', 'jsonpath={.subsets[*].addresses[*].ip}']);
      return t.trim() || undefined;
    }, 30_000, 500);
    expect(eps).toBe(p!.status!.podIP);
  }, 180_000);

  it('from a busybox pod on the other node: a service, a headless service, a pod name and an outside name', async () => {
    const [dnsPod] = await getPods('kube-system', 'k8s-app=kube-dns');
    const other = dnsPod!.spec.nodeName === 'a' ? 'b' : 'a';
    const pod = (name: string, node: string, labels: string) =>
      ['apiVersion: v1', 'kind: Pod', `metadata: {name: ${name}, labels: {${labels}}}`, 'spec:', `  nodeName: ${node}`, '  terminationGracePeriodSeconds: 1', `  containers: [{name: c, image: "${BUSYBOX_IMAGE}", command: [sleep, "3600"]}]`].join('\n');
    const yaml = [
      'apiVersion: v1\nkind: Service\nmetadata: {name: webapp}\nspec: {ports: [{port: 80, name: http}]}',
      'apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432, name: pg}]}',
      pod('db-a', 'a', 'app: db'),
      pod('db-b', 'b', 'app: db'),
      pod('busybox', other, 'app: client'),
    ].join('\n---\n');
    await kubectl(['create', '-f', '-'], `${yaml}\n`);
    const ip = (await kubectl(['get', 'service', 'webapp', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    expect(ip).toMatch(/^10\.254\.\d+\.\d+$/);
    const dbPods = await waitFor('the db pods Ready', async () => {
      const ps = await getPods('default', 'app=db');
      return ps.length === 2 && ps.every(isReady) ? ps : undefined;
    }, 60_000, 500);
    const dbs = dbPods.map((p) => p.status!.podIP!).sort();
    const remote = dbPods.find((p) => p.spec.nodeName !== other)!;
    Object.assign(seen, { other, remoteIp: remote.status!.podIP!, remoteNode: remote.spec.nodeName!, webIp: ip });
    await waitFor('the busybox pod Ready', async () => {
      const [b] = await getPods('default', 'app=client');
      return b && isReady(b);
    }, 60_000, 500);
    const resolv = await k.execIn(other, 'busybox', 'c', ['cat', '/etc/resolv.conf']);
    expect(resolv.stdout).toContain(`nameserver ${CLUSTER_DNS}`);
    expect(resolv.stdout).toContain(`search default.svc.${DOMAIN} svc.${DOMAIN} ${DOMAIN}`);
    expect(resolv.stdout).toContain('options ndots:5');
    // What an in-cluster client finds in every pod: the kubelet's variables of the `kubernetes` Service and
    // the service-account volume (token, ca.crt, namespace).
    const env = (await k.execIn(other, 'busybox', 'c', ['env'])).stdout;
    expect(env).toMatch(/^KUBERNETES_SERVICE_HOST=10\.254\.0\.1$/m);
    expect(env).toMatch(/^KUBERNETES_SERVICE_PORT=443$/m);
    expect(env).toMatch(/^KUBERNETES_PORT_443_TCP=tcp:\/\/10\.254\.0\.1:443$/m);
    const sa = await k.execIn(other, 'busybox', 'c', ['sh', '-c', 'cd /var/run/secrets/kubernetes.io/serviceaccount && ls && cat namespace && head -c 27 ca.crt']);
    expect(sa.stdout).toMatch(/^ca\.crt\nnamespace\ntoken\ndefault-----BEGIN CERTIFICATE/);

    // The seed's way in: kubectl exec, through the apiserver to the kubelet of busybox's node.
    const nslookup = async (name: string): Promise<string> => {
      const r = await kubectlResult(['exec', 'busybox', '--', 'nslookup', name]);
      return r.stdout + r.stderr;
    };
    /** Retried (bounded): the headless service's endpoints reach kube-dns through the controller manager's sync. */
    const lookup = (name: string, ok: (t: string) => boolean): Promise<string> =>
      waitFor(`nslookup ${name}`, async () => {
        const t = await nslookup(name).catch(() => '');
        return ok(t) ? t : undefined;
      }, 30_000, 500).catch(async (e: unknown) => {
        throw new Error(`${String(e)}\nlast: ${await nslookup(name).catch(String)}\nkube-dns: ${await dnsLogs(dnsPod!.spec.nodeName!, dnsPod!.metadata.name)}`);
      });

    // The seed's line: busybox's nslookup expands the dotless name through the search list.
    const web = await lookup('webapp', (t) => t.includes(ip));
    expect(web).toMatch(new RegExp(`Server:\\s+${esc(CLUSTER_DNS)}`));
    expect(web).toMatch(new RegExp(`Name:\\s+webapp\\.default\\.svc\\.${esc(DOMAIN)}`));
    expect(web).toMatch(new RegExp(`Address(?: 1)?:\\s+${esc(ip)}`));
    const db = await lookup('db', (t) => dbs.every((x) => t.includes(x)));
    for (const x of dbs) expect(db).toMatch(new RegExp(`Address(?: \\d)?:\\s+${esc(x)}`));
    const dashed = `${dbs[0]!.replace(/\./g, '-')}.default.pod.${DOMAIN}`;
    expect(await lookup(dashed, (t) => t.includes(dbs[0]!))).toMatch(new RegExp(`Address(?: 1)?:\\s+${esc(dbs[0]!)}`));
    expect(await lookup('outside.test', (t) => t.includes('198.18.0.7'))).toMatch(/Address(?: 1)?:\s+198\.18\.0\.7/);
    expect(await nslookup(`nothere.default.svc.${DOMAIN}`)).toMatch(/NXDOMAIN/);
  }, 180_000);
  for (const kc of KUBECTLS) {
    describe(kc.name, () => {
      it("the seed's `kubectl exec busybox -- ping -c 3 -s 1424 <pod on the other node>` while tcpdump on flannel.1 sees the ICMP", async () => {
        expect(seen.remoteIp, 'the busybox and db pods (the test before)').toMatch(/^10\.5\.\d+\.\d+$/);
        // In busybox's node's namespace, bounded by a count and a time: the echo requests leave through the
        // VXLAN device, the replies come back through it.
        const cap = await capture(k.lab.host(seen.other), 'flannel.1', `icmp and host ${seen.remoteIp}`, { count: 40, timeoutMs: 40_000 });
        let lines: string[];
        let r: Awaited<ReturnType<typeof kubectlWith>>;
        try {
          r = await kubectlWith(kc.bin, ['exec', 'busybox', '--', 'ping', '-c', '3', '-s', '1424', seen.remoteIp]);
          await cap.waitFor((ls) => ls.filter((l) => l.includes('ICMP echo reply')).length >= 3, 5_000);
        } finally {
          lines = await cap.stop();
        }
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`PING ${seen.remoteIp} (${seen.remoteIp}): 1424 data bytes`);
        expect(r.stdout).toMatch(new RegExp(`^1432 bytes from ${esc(seen.remoteIp)}: seq=2 `, 'm'));
        expect(r.stdout).toContain('3 packets transmitted, 3 packets received, 0% packet loss');
        const text = lines.join('\n');
        expect(lines.filter((l) => new RegExp(`> ${esc(seen.remoteIp)}: ICMP echo request`).test(l)).length, text).toBeGreaterThanOrEqual(3);
        expect(lines.filter((l) => new RegExp(`^\\S+ IP ${esc(seen.remoteIp)} > \\S+: ICMP echo reply`).test(l)).length, text).toBeGreaterThanOrEqual(3);
      }, 90_000);

      it('kubectl exec busybox -- nslookup webapp prints the ClusterIP', async () => {
        // busybox's nslookup asks every name of the search list and exits 1 when some are NXDOMAIN (as against
        // any kube-dns): the code comes back through kubectl, the answer is on stdout.
        const r = await kubectlWith(kc.bin, ['exec', 'busybox', '--', 'nslookup', 'webapp']);
        expect(r.code, r.stdout + r.stderr).toBe(1);
        expect(r.stderr).toBe('command terminated with exit code 1\n');
        expect(r.stdout).toContain(`** server can't find webapp.svc.${DOMAIN}: NXDOMAIN`);
        expect(r.stdout).toMatch(new RegExp(`Server:\\s+${esc(CLUSTER_DNS)}`));
        expect(r.stdout).toMatch(new RegExp(`Name:\\s+webapp\\.default\\.svc\\.${esc(DOMAIN)}\\s+Address(?: 1)?:\\s+${esc(seen.webIp)}`));
      });

      it("kubectl exec -i: stdin reaches the command, its exit code comes back; a failing command's code and stderr", async () => {
        // The name comes through stdin; the script's code through the error stream's Status.
        const r = await kubectlWith(kc.bin, ['exec', '-i', 'busybox', '--', 'sh', '-c', `name="$(cat)"; nslookup "$name" | grep -q '${seen.webIp}' && echo "$name found"; exit 7`], 'webapp\n');
        expect(r.code, r.stderr).toBe(7);
        expect(r.stdout).toBe('webapp found\n');
        expect(r.stderr).toContain('command terminated with exit code 7');
        const f = await kubectlWith(kc.bin, ['exec', 'busybox', '--', 'nslookup', `nothere.default.svc.${DOMAIN}`]);
        expect(f.code).toBe(1);
        expect(f.stdout + f.stderr).toMatch(/NXDOMAIN/);
        expect(f.stderr).toContain('command terminated with exit code 1');
      });

      it('kubectl exec -it (under script, a terminal for kubectl): the command on a TTY, stderr merged into it, its exit code', async () => {
        const cmd = kubectlArgv(kc.bin, ['exec', '-it', 'busybox', '--', 'sh', '-c', 'tty; [ -t 1 ] && echo stdout-tty; echo on-stderr >&2; exit 5']).map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
        const r = await hostA.exec(['script', '-qefc', cmd, '/dev/null'], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: apiDir, TERM: 'dumb' }, input: '' });
        expect(r.code, r.stdout + r.stderr).toBe(5);
        // A TTY turns \n into \r\n and carries stderr on the same stream.
        // (Not anchored: the container's terminal echoes what script hands kubectl once its own input ends.)
        // That echo (`^@`, `^D`) can land between the command's lines too: it is taken out before matching.
        expect(r.stdout.replace(/\^[@D]/g, '')).toMatch(/\/dev\/pts\/\d+\r\nstdout-tty\r\non-stderr\r\n/);
        expect(r.stdout).toContain('command terminated with exit code 5');
        expect(r.stdout).not.toContain('Unable to use a TTY');
      });
    });
  }
});
