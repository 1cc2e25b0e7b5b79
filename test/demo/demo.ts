// `bash scripts/demo`: a three-host flannel VXLAN cluster on one machine, built from network
// namespaces (test/netns/lab.ts), shown step by step with real command output:
//
//   1. a lab of hosts a, b, c on an underlay bridge, etcd and kube-apiserver in the switch namespace,
//      the network config
//   2. flanneld on every host, each writing its subnet.env
//   3. what flanneld programmed: subnet.env, routes, neighbours, FDB, and the leases in etcd
//   4. a pod per host, ping and TCP between pods across hosts, tcpdump on flannel.1 and on the wire
//   5. dockerd per host on flanneld's Docker options, containers across hosts
//   6. the control plane under Node,RBAC, each daemon with its own identity: kube-controller-manager and
//      kube-scheduler beside the apiserver, a kubelet and kube-proxy per host; `kubectl get nodes`
//   7. seed 000's walkthrough with kubectl: its images imported on every node, its db and web services and
//      RCs created as written (`kubectl create -f`), the pods spread by the scheduler (`kubectl get pods -o
//      wide`, `kubectl get services`), a page from a web pod across hosts and through the service's ClusterIP,
//      `kubectl scale` 2 → 3 → 2, `kubectl rolling-update` to webwithdb:v2 (the plugin kubectl-rolling_update)
//   8. cluster DNS: the project's image flannel-ts:dev imported on every node, `kubectl create -f dns/kube-dns.yaml`,
//      a busybox pod on another node, and the seed's debugging through `kubectl exec` (the kubelets' 10250):
//      `ping -c 3 -s 1424` to kube-dns's pod while tcpdump watches flannel.1, `nslookup webserve-service`
//   9. teardown (or, with --keep, how to look around and how to tear down later)
//
//   node dist/test/demo/demo.js [--keep]      run the demo
//   node dist/test/demo/demo.js --down <prefix>   tear down a kept demo by the names and PIDs it recorded
//
// Nothing is created in the machine's root network namespace. Every wait is bounded. Cleanup runs on
// success, on failure and on SIGINT/SIGTERM/SIGHUP, by exact namespace name and recorded PID.
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { contains, parseCidr, parseIp } from '../../core/index.js';
import { DB_RC, DB_SERVICE, type EtcdServer, KUBELET_CLIENT_BINDING, kubeletClientCredentials, kubectlBinaries, SECURE_APISERVER_ARGS, WEB_RC, WEB_SERVICE, writeDaemonKubeconfig } from '../harness/index.js';
import {
  BUSYBOX_IMAGE,
  capture,
  type Dockerd,
  type Endpoint,
  FLANNELD,
  KUBELET,
  netOf,
  type Host,
  Lab,
  LabError,
  importProjectImage,
  makeSeedImages,
  NETNS_DIR,
  PROJECT_IMAGE,
  pidAlive,
  ping,
  type Pod,
  PREFIX_RE,
  type Proc,
  readEnvFile,
  REPO,
  runCommand,
  startDockerd,
  startFlanneld,
  startProxy,
  startLabEtcd,
  startTcpEcho,
  subnetFileOf,
  tcpProbe,
  TMP_ROOT,
  waitFor,
  webBanner,
} from '../netns/index.js';

const dockerOptsFile = (h: Host): string => path.join(h.dir, 'docker');
const APISERVER = path.join(REPO, 'dist/apiserver/main.js');
const APISERVER_PORT = 6443;
const CONTROLLER_MANAGER = path.join(REPO, 'dist/controllers/main.js');
const SCHEDULER = path.join(REPO, 'dist/scheduler/main.js');
const ROLLING_UPDATE = path.join(REPO, 'dist/rollingupdate/main.js');
/** The kubelet's periods, short so that the demo's nodes are Ready within a few seconds (all flags of the kubelet). */
const KUBELET_FLAGS = ['--sync-frequency=3s', '--pleg-relist-period=500ms', '--node-status-update-frequency=1s', '--node-monitor-period=1s', '--node-monitor-grace-period=10s', ...clusterDnsFlags()];
/** kube-dns's Service address in dns/kube-dns.yaml, and the domain it serves. */
function clusterDnsFlags(): string[] {
  return ['--cluster-dns=10.254.0.10', '--cluster-domain=cluster.local'];
}
const KUBE_DNS_MANIFEST = path.join(REPO, 'dns', 'kube-dns.yaml');

const NETWORK_CONFIG = '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}';
const ETCD_PREFIX = '/coreos.com/network';
const HOSTS = ['a', 'b', 'c'] as const;
const STATE_FILE = 'demo-state.json';
/** The whole demo must stay well under two minutes; this is the hard stop. */
const OVERALL_LIMIT_MS = 100_000;

// ------------------------------------------------------------------ output

/** Set once the demo is being torn down after a signal or the overall limit: the steps still running go quiet. */
let muted = false;
const say = (s = ''): void => void process.stdout.write(`${s}\n`);
const out = (s = ''): void => {
  if (!muted) say(s);
};
const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
const cmdline = (argv: readonly string[]): string => argv.map(quote).join(' ');
const indent = (text: string, pad = '    '): string =>
  text
    .replace(/\s+$/, '')
    .split('\n')
    .map((l) => pad + l)
    .join('\n');

let step = 0;
function heading(title: string): void {
  step++;
  const t = `${step}. ${title}`;
  out();
  out(`== ${t} ${'='.repeat(Math.max(3, 76 - t.length))}`);
}

/** `a# ip route` followed by what it printed. */
function shown(label: string, argv: readonly string[], text: string): void {
  out(`  ${label}# ${cmdline(argv)}`);
  if (text.trim()) out(indent(text));
  else out('    (nothing)');
}

function lines(text: string, max: number): string {
  const ls = text.split('\n').filter((l) => l.length > 0);
  const more = ls.length > max ? `\n… ${ls.length - max} more lines` : '';
  return ls.slice(0, max).join('\n') + more;
}

class DemoError extends Error {}

// ------------------------------------------------------------------ the demo's state

interface Recorded {
  prefix: string;
  /** Every namespace the lab created, in creation order (lab.namespaces). */
  namespaces: string[];
  /** Long-running processes started in the lab: etcd, kube-apiserver and flanneld. */
  pids: { pid: number; what: string; ns: string }[];
  createdBy: number;
  createdAt: string;
}

class Demo {
  lab: Lab | undefined;
  etcd: EtcdServer | undefined;
  apiserver: Proc | undefined;
  readonly flanneld = new Map<string, Proc>();
  readonly kubelets = new Map<string, Proc>();
  readonly proxies = new Map<string, Proc>();
  controllerManager: Proc | undefined;
  scheduler: Proc | undefined;
  /** The kubelets' --client-ca-file: the apiserver's CA, which signed its --kubelet-client-certificate. */
  clientCaFile = '';
  readonly pods = new Map<string, Pod>();
  private cleaning: Promise<void> | undefined;

  constructor(readonly keep: boolean) {}

  /** Writes /tmp/<prefix>/demo-state.json: what `--down <prefix>` may kill and delete. */
  async record(): Promise<void> {
    const lab = this.lab;
    if (!lab || !existsSync(lab.dir)) return;
    const pids: Recorded['pids'] = [];
    if (this.etcd?.pid) pids.push({ pid: this.etcd.pid, what: 'etcd', ns: lab.switch.ns });
    if (this.apiserver?.running) pids.push({ pid: this.apiserver.pid, what: 'kube-apiserver', ns: lab.switch.ns });
    for (const [h, p] of this.kubelets) if (p.running) pids.push({ pid: p.pid, what: `kubelet on ${h}`, ns: lab.host(h).ns });
    for (const [h, p] of this.proxies) if (p.running) pids.push({ pid: p.pid, what: `kube-proxy on ${h}`, ns: lab.host(h).ns });
    if (this.controllerManager?.running) pids.push({ pid: this.controllerManager.pid, what: 'kube-controller-manager', ns: lab.switch.ns });
    if (this.scheduler?.running) pids.push({ pid: this.scheduler.pid, what: 'kube-scheduler', ns: lab.switch.ns });
    for (const [h, p] of this.flanneld) if (p.running) pids.push({ pid: p.pid, what: `flanneld on ${h}`, ns: lab.host(h).ns });
    const rec: Recorded = { prefix: lab.prefix, namespaces: [...lab.namespaces], pids, createdBy: process.pid, createdAt: new Date().toISOString() };
    await writeFile(path.join(lab.dir, STATE_FILE), `${JSON.stringify(rec, null, 2)}\n`);
  }

  /** Idempotent: etcd, then every lab process and namespace, by PID and exact name. */
  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      await this.etcd?.destroy().catch((e: unknown) => out(`  etcd stop failed: ${String(e)}`));
      await this.lab?.destroy();
    })();
    return this.cleaning;
  }

  /** Runs argv in an endpoint, prints the prompt and the output; throws if it fails. */
  async show(e: Endpoint, argv: readonly string[], timeoutMs = 10_000): Promise<string> {
    const r = await e.exec(argv, { timeoutMs });
    shown(e.name, argv, r.stdout + (r.code === 0 ? '' : r.stderr));
    if (r.code !== 0 || r.timedOut) throw new LabError(`run in ${e.name}`, argv, r);
    return r.stdout;
  }

  /** etcdctl in the switch namespace against the lab etcd, printed as typed. */
  async etcdctl(args: readonly string[]): Promise<string> {
    const etcd = this.etcd!;
    const text = await etcd.ctl(args);
    shown('sw', ['etcdctl', `--endpoints=${etcd.endpoint}`, ...args], text);
    return text;
  }

  async run(): Promise<void> {
    const t0 = Date.now();
    // ---------------------------------------------------------------- 1
    heading('A lab of three hosts, etcd, kube-apiserver, the network config');
    this.lab = await createLab(this.keep);
    const lab = this.lab;
    await this.record();
    out(`  Every "host" is a network namespace named ${lab.prefix}-<host>; its eth0 is a veth on the bridge br0`);
    out(`  in ${lab.switch.ns} (the underlay, ${formatCidr(lab)}). "a# cmd" below means:`);
    out(`  nsenter --net=${NETNS_DIR}/${lab.prefix}-a cmd`);
    out();
    out(`  ${'name'.padEnd(6)}${'namespace'.padEnd(22)}address`);
    out(`  ${'sw'.padEnd(6)}${lab.switch.ns.padEnd(22)}${lab.switch.ip} on br0 (etcd listens here)`);
    for (const h of lab.hosts) out(`  ${h.name.padEnd(6)}${h.ns.padEnd(22)}${h.ip} on eth0`);
    out();
    await this.show(lab.host('a'), ['ip', '-br', 'addr', 'show', 'dev', 'eth0']);
    await this.show(lab.host('a'), ['ip', 'route']);

    // etcd logs to its file (not through a pipe to this process), so a --keep'd etcd outlives us.
    const etcdLog = path.join(lab.dir, 'etcd', 'etcd.log');
    this.etcd = await startLabEtcd(lab, { extraArgs: ['--logger=zap', `--log-outputs=${etcdLog}`] });
    await this.record();
    out();
    out(`  etcd started in ${lab.switch.ns}: ${this.etcd.endpoint} (pid ${this.etcd.pid}, log ${etcdLog})`);
    await this.etcdctl(['put', `${ETCD_PREFIX}/config`, NETWORK_CONFIG]);
    await this.etcdctl(['get', `${ETCD_PREFIX}/config`]);
    // The apiserver starts now (it makes its CA and certificates meanwhile); it is used in step 6.
    this.apiserver = await this.startApiServer(lab, this.etcd);
    await this.record();

    // ---------------------------------------------------------------- 2
    heading('flanneld on every host');
    const etcd = this.etcd;
    for (const h of lab.hosts) {
      const p = startFlanneld(h, etcd, { args: ['--iface=eth0', '--ip-masq', `--docker-opts-file=${dockerOptsFile(h)}`], outputToFile: this.keep });
      this.flanneld.set(h.name, p);
      const argv = ['flanneld', `--etcd-endpoints=${etcd.endpoint}`, `--subnet-file=${subnetFileOf(h)}`, '--iface=eth0'];
      out(`  ${h.name}# ${cmdline(argv)} &`);
      out(`    pid ${p.pid}, log ${p.logFile}  (flanneld is ${path.relative(process.cwd(), FLANNELD) || FLANNELD})`);
    }
    await this.record();
    out();
    const started = Date.now();
    const envs = new Map<string, Record<string, string>>();
    await Promise.all(
      lab.hosts.map(async (h) => {
        const env = await waitFor(
          `subnet.env on ${h.name}`,
          async () => {
            const p = this.flanneld.get(h.name)!;
            if (!p.running) throw new DemoError(`flanneld on ${h.name} exited (${JSON.stringify(p.exitInfo)}); log: ${p.logFile}`);
            const e = await readEnvFile(subnetFileOf(h));
            return e?.FLANNEL_SUBNET ? e : undefined;
          },
          20_000,
        );
        envs.set(h.name, env);
        out(`  ${h.name}: subnet.env written after ${Date.now() - started} ms: FLANNEL_SUBNET=${env.FLANNEL_SUBNET}`);
      }),
    );
    // Every host has a route to each peer's subnet before traffic is sent.
    await Promise.all(
      lab.hosts.map((h) =>
        waitFor(
          `${h.name} to have routes to its ${lab.hosts.length - 1} peers`,
          async () => {
            const routes = JSON.parse((await h.ipCmd(['-j', 'route', 'show', 'dev', 'flannel.1'])) || '[]') as { dst: string }[];
            return lab.hosts.filter((o) => o !== h).every((o) => routes.some((r) => r.dst === netOf(envs.get(o.name)!.FLANNEL_SUBNET!)));
          },
          15_000,
        ),
      ),
    );
    out(`  every host has a route to each peer's subnet (${Date.now() - started} ms after start)`);

    // ---------------------------------------------------------------- 3
    heading('What flanneld programmed');
    for (const h of lab.hosts) {
      out();
      out(`  -- host ${h.name} (${h.ip}) --`);
      const file = subnetFileOf(h);
      shown(h.name, ['cat', file], await readFile(file, 'utf8'));
      if (h.name === 'a') await this.show(h, ['ip', '-d', 'link', 'show', 'flannel.1']);
      await this.show(h, ['ip', 'route']);
      await this.show(h, ['ip', 'neigh', 'show', 'dev', 'flannel.1']);
      await this.show(h, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']);
    }
    out();
    out('  -- the leases in etcd (key, then value) --');
    await this.etcdctl(['get', '--prefix', `${ETCD_PREFIX}/subnets`]);
    out();
    out('  -- what flanneld on a logged (msg and a few fields) --');
    out(indent(await flanneldLogSummary(this.flanneld.get('a')!.logFile, 14)));

    // ---------------------------------------------------------------- 4
    heading('Pods on every host, traffic across hosts');
    for (const h of lab.hosts) {
      const env = envs.get(h.name)!;
      const pod = await h.addPod('p1', { cidr: env.FLANNEL_SUBNET!, mtu: Number(env.FLANNEL_MTU) });
      this.pods.set(h.name, pod);
      out(`  ${pod.name.padEnd(5)} ${pod.ip.padEnd(10)} netns ${pod.ns}, eth0 (mtu ${env.FLANNEL_MTU}) on ${h.name}'s ${pod.bridge} ${env.FLANNEL_SUBNET}`);
    }
    await this.record();
    const [pa, pb, pc] = HOSTS.map((n) => this.pods.get(n)!) as [Pod, Pod, Pod];
    const [ha, hb] = [lab.host('a'), lab.host('b')];
    out();
    await this.show(pa, ['ip', 'route']);
    await this.show(ha, ['ip', 'route', 'get', pb.ip]);

    out();
    out(`  tcpdump on b: flannel.1 (the inner packets) and eth0 (the wire), while a/p1 talks to b/p1`);
    const caps = {
      inner: await capture(hb, 'flannel.1', 'icmp or tcp', { timeoutMs: 30_000 }),
      wire: await capture(hb, 'eth0', 'udp port 8472', { timeoutMs: 30_000 }),
      vxlan: await capture(hb, 'eth0', 'udp port 8472', { timeoutMs: 30_000, extraArgs: ['-T', 'vxlan'] }),
    };
    let captured: Record<keyof typeof caps, string[]>;
    try {
      out();
      await this.ping(pa, pb, 3);
      out();
      await this.tcp(pb, pa);
      // tcpdump prints a little after the packets pass: wait for the end of the TCP exchange (its
      // FIN) on flannel.1, then for as many encapsulated packets on the wire, before stopping them.
      await caps.inner.waitFor(/Flags \[F/, 3_000);
      const innerCount = caps.inner.lines().length;
      await caps.wire.waitFor((ls) => ls.filter((l) => l.includes(': OTV')).length >= innerCount, 3_000);
      await caps.vxlan.waitFor((ls) => ls.filter((l) => l.includes(': VXLAN')).length >= innerCount, 3_000);
    } finally {
      captured = { inner: await caps.inner.stop(), wire: await caps.wire.stop(), vxlan: await caps.vxlan.stop() };
    }
    out();
    printCapture('b', ['tcpdump', '-l', '-n', '-i', 'flannel.1', 'icmp or tcp'], captured.inner, 'inner packets: pod address to pod address');
    printCapture('b', ['tcpdump', '-l', '-n', '-i', 'eth0', 'udp port 8472'], captured.wire, 'on the wire: host to host, UDP 8472 (tcpdump names the header OTV; the VNI is the "instance")');
    printCapture('b', ['tcpdump', '-l', '-n', '-i', 'eth0', '-T', 'vxlan', 'udp port 8472'], captured.vxlan, 'the same, decoded as VXLAN: outer header, vni 1, then the inner packet');
    const innerText = captured.inner.join('\n');
    if (!innerText.includes(`${pa.ip} > ${pb.ip}: ICMP echo request`)) throw new DemoError(`tcpdump on b/flannel.1 did not see the ping ${pa.ip} > ${pb.ip}`);
    if (!new RegExp(`${esc(pa.ip)}\\.\\d+ > ${esc(pb.ip)}\\.\\d+: Flags \\[S\\]`).test(innerText)) throw new DemoError('tcpdump on b/flannel.1 did not see the TCP SYN');
    if (!new RegExp(`${esc(ha.ip)}\\.\\d+ > ${esc(hb.ip)}\\.8472: OTV.*instance 1`).test(captured.wire.join('\n'))) throw new DemoError('tcpdump on b/eth0 did not see VXLAN (UDP 8472, VNI 1) from a');
    if (!/VXLAN.*vni 1/.test(captured.vxlan.join('\n'))) throw new DemoError('tcpdump -T vxlan on b/eth0 did not decode VNI 1');

    out();
    out('  the other pairs:');
    await this.ping(pb, pc, 2);
    await this.ping(pc, pa, 2);
    await this.tcp(pa, pc);

    // ---------------------------------------------------------------- 4b
    heading('Docker on the overlay: dockerd per host with --bip from flanneld, containers across hosts');
    const daemons: Dockerd[] = [];
    try {
      await this.docker(lab, daemons);
      // ---------------------------------------------------------------- 6
      heading('The control plane: kube-apiserver, kube-controller-manager, kube-scheduler, a kubelet and kube-proxy per host');
      await this.controlPlane(lab, daemons);
      // ---------------------------------------------------------------- 7
      heading("The seed's walkthrough with kubectl: services and RCs, pods, a page, scale, rolling-update");
      await this.walkthrough(lab, daemons, envs);
      // ---------------------------------------------------------------- 7b
      heading("Cluster DNS: kube-dns as pods from the project image; the seed's kubectl exec ping and nslookup");
      await this.clusterDns(lab, daemons);
    } finally {
      // The kubelets go with the Docker daemons they drive, --keep or not.
      // In parallel: each may take a few seconds (a kubelet ends its pod workers first).
      const stopAll = (ps: [string, Proc | undefined][]): Promise<unknown> =>
        Promise.all(ps.map(([what, p]) => (p?.running ? p.stop(5_000).catch((e: unknown) => out(`  ${what}: stop failed: ${String(e)}`)) : undefined)));
      await stopAll([...this.kubelets].map(([h, p]) => [`kubelet on ${h}`, p]));
      if (this.kubelets.size) out(`  kubelets stopped on ${[...this.kubelets.keys()].join(', ')}`);
      await stopAll([...[...this.proxies].map(([h, p]): [string, Proc] => [`kube-proxy on ${h}`, p]), ['kube-scheduler', this.scheduler], ['kube-controller-manager', this.controllerManager]]);
      if (this.proxies.size) out('  kube-proxy, kube-scheduler and kube-controller-manager stopped');
      for (const d of daemons) await d.stop();
      if (daemons.length) out(`  dockerd stopped on ${daemons.map((d) => d.host.name).join(', ')}`);
      await this.record();
    }

    // ---------------------------------------------------------------- 5
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (this.keep) {
      heading('Kept running');
      await this.record();
      // Otherwise the lab's last-resort 'exit' handler deletes everything when this process exits.
      lab.detach();
      printKeepHelp(lab, etcd, this.flanneld, this.pods, this.apiserver, (a) => this.kubectlArgv(a));
      out();
      out(`demo OK in ${secs} s; the cluster is still running.`);
    } else {
      heading('Teardown');
      await this.cleanup();
      out(`  etcd stopped, every lab process ended, namespaces deleted: ${lab.namespaces.join(' ')}`);
      out(`  ${TMP_ROOT}/${lab.prefix} removed`);
      out();
      out(`demo OK in ${((Date.now() - t0) / 1000).toFixed(1)} s (traffic done at ${secs} s).`);
    }
  }

  /**
   * flanneld wrote Docker's options (as mk-docker-opts.sh did); each host's dockerd starts with them,
   * so docker0 carries the host's subnet and containers on different hosts reach each other by their
   * own addresses. The daemons go into `daemons` as they start (the caller stops them after step 7).
   */
  async docker(lab: Lab, daemons: Dockerd[]): Promise<void> {
    out('  docker0 takes over the subnet the pods of the last step used on cni0, so cni0 goes first:');
    for (const h of lab.hosts) {
      await this.show(h, ['ip', 'link', 'del', 'cni0']);
      await this.show(h, ['cat', dockerOptsFile(h)]);
      const d = await startDockerd(h, { optsFile: dockerOptsFile(h) });
      daemons.push(d);
      out(`  ${h.name}# dockerd ${d.networkArgs.join(' ')} --data-root ${path.join(d.dir, 'data')} -H unix://${d.socket} --storage-driver=vfs   (ready in ${d.timings.dockerdMs} ms)`);
    }
    const [da, db, dc] = daemons as [Dockerd, Dockerd, Dockerd];
    const web = await db.runContainer('web', ['sh', '-c', 'mkdir -p /w && echo "hello from a container on b" > /w/index.html && exec httpd -f -p 8080 -h /w']);
    const client = await da.runContainer('client', ['sleep', '600']);
    const third = await dc.runContainer('client', ['sleep', '600']);
    out();
    await this.show(lab.host('b'), ['ip', '-br', 'addr', 'show', 'docker0']);
    out(`  containers: a/client ${client.ip}, b/web ${web.ip}, c/client ${third.ip}`);
    for (const [d, from, to] of [
      [da, 'a/client', web.ip],
      [dc, 'c/client', client.ip],
    ] as const) {
      const r = await d.execIn('client', ['ping', '-c', '2', '-W', '3', to], { timeoutMs: 10_000 });
      shown(from, ['ping', '-c', '2', to], r.stdout);
      if (r.code !== 0) throw new DemoError(`${from} could not ping ${to}`);
    }
    const r = await da.execIn('client', ['timeout', '5', 'wget', '-q', '-O', '-', `http://${web.ip}:8080/`], { timeoutMs: 10_000 });
    shown('a/client', ['wget', '-q', '-O', '-', `http://${web.ip}:8080/`], r.stdout);
    if (!r.stdout.includes('hello from a container on b')) throw new DemoError(`a/client could not fetch from b/web at ${web.ip}`);
  }

  // ---------------------------------------------------------------- the control plane

  /**
   * kube-apiserver in the switch namespace, on the switch's underlay address, over the lab etcd; with a client
   * certificate for the kubelets' servers (kubectl exec/logs), signed by its CA, which is made first for it.
   */
  async startApiServer(lab: Lab, etcd: EtcdServer): Promise<Proc> {
    const dir = path.join(lab.dir, 'apiserver');
    const kubeletClient = await kubeletClientCredentials(path.join(dir, 'certs'));
    this.clientCaFile = kubeletClient.clientCaFile;
    const argv = [
      process.execPath,
      APISERVER,
      `--etcd-servers=${etcd.endpoint}`,
      `--bind-address=${lab.switch.ip}`,
      `--secure-port=${APISERVER_PORT}`,
      `--cert-dir=${path.join(dir, 'certs')}`,
      `--write-kubeconfig=${this.kubeconfig}`,
      ...kubeletClient.apiserverArgs,
      ...SECURE_APISERVER_ARGS,
    ];
    const logFile = path.join(dir, 'apiserver.log');
    out();
    out(`  sw# kube-apiserver ${cmdline(argv.slice(2))} &`);
    // As flanneld's under --keep: sh execs it with its output on the file, so it may outlive this process.
    const p = lab.switch.spawn(this.keep ? ['sh', '-c', 'mkdir -p "$(dirname "$0")" && exec "$@" >>"$0" 2>&1', logFile, ...argv] : argv, { logFile: this.keep ? path.join(lab.dir, 'apiserver-spawn.log') : logFile });
    out(`    pid ${p.pid}, log ${this.keep ? logFile : p.logFile}  (kube-apiserver is ${path.relative(process.cwd(), APISERVER) || APISERVER})`);
    return p;
  }

  /** Where the demo puts the kubectl-rolling_update launcher, first on kubectl's PATH. */
  get binDir(): string {
    return path.join(this.lab!.dir, 'bin');
  }

  get kubeconfig(): string {
    return path.join(this.lab!.dir, 'apiserver', 'admin.kubeconfig');
  }

  /** kubectl 1.20 (Debian's, unpacked by scripts/setup), else the newest versioned one of the machine. */
  readonly kubectlBin = ((): string | undefined => {
    const all = kubectlBinaries().filter((b) => b.present);
    return (all.find((b) => b.version === '1.20') ?? all.at(-1))?.path;
  })();

  /** The full kubectl command line: this demo's kubeconfig and a cache dir of its own, never ~/.kube. */
  kubectlArgv(args: readonly string[]): string[] {
    if (!this.kubectlBin) throw new DemoError('no kubectl: scripts/setup unpacks kubectl 1.20 into .cache/kubernetes-client');
    return [this.kubectlBin, `--kubeconfig=${this.kubeconfig}`, `--cache-dir=${path.join(this.lab!.dir, 'kubectl-cache')}`, ...args];
  }

  /** kubectl in the switch namespace; printed as `sw# kubectl <args>` when `print`. Throws when it fails. */
  async kubectl(args: readonly string[], print = true, timeoutMs = 20_000): Promise<string> {
    // PATH: kubectl runs `kubectl rolling-update` as the plugin kubectl-rolling_update it finds there.
    // kubectl refuses its own flags before a plugin's name, and hands the plugin every argument after it:
    // the plugin gets the kubeconfig from KUBECONFIG, as kubectl would.
    const plugin = args[0] === 'rolling-update';
    const env = { HOME: path.join(this.lab!.dir, 'kubectl-cache'), KUBECONFIG: plugin ? this.kubeconfig : '', PATH: `${this.binDir}:${process.env.PATH ?? ''}` };
    const argv = plugin ? [this.kubectlArgv([])[0]!, ...args] : this.kubectlArgv(args);
    const r = await this.lab!.switch.exec(argv, { timeoutMs, env });
    if (print) shown('sw', ['kubectl', ...args], r.stdout + (r.code === 0 ? '' : r.stderr));
    if (r.code !== 0 || r.timedOut) throw new LabError('kubectl', ['kubectl', ...args], r);
    return r.stdout;
  }

  /**
   * The apiserver's admin kubeconfig; a kubelet per host on its dockerd, on the API with its node's own kubeconfig
   * (it registers its Node and writes its pods' status through the apiserver); `kubectl get nodes`;
   * a pod per host made with `kubectl create`, run by the kubelets on docker0 with flannel's subnets;
   * `kubectl get pods -o wide -A`; and a fetch across hosts from a container to such a pod.
   */
  async controlPlane(lab: Lab, daemons: readonly Dockerd[]): Promise<void> {
    const ap = this.apiserver!;
    const base = `https://${lab.switch.ip}:${APISERVER_PORT}`;
    await waitFor(
      'kube-apiserver /readyz',
      async () => {
        if (!ap.running) throw new DemoError(`kube-apiserver exited (${JSON.stringify(ap.exitInfo)}); log: ${path.join(lab.dir, 'apiserver', 'apiserver.log')}`);
        if (!existsSync(this.kubeconfig)) return false;
        const r = await lab.switch.exec(['curl', '-sk', '--max-time', '2', `${base}/readyz`], { timeoutMs: 5_000 });
        return r.stdout.trim() === 'ok';
      },
      30_000,
      200,
    );
    out(`  kube-apiserver is ready at ${base}; it wrote the admin kubeconfig ${this.kubeconfig}`);
    out(`  (a client certificate CN=admin, O=system:masters). kubectl below is ${this.kubectlBin}`);
    out(`  with --kubeconfig=${this.kubeconfig} --cache-dir=${path.join(lab.dir, 'kubectl-cache')}.`);
    // Each kubelet has its node's own identity: under Node authorization it reads only what its pods name
    // and writes only its own Node and its pods' status (NodeRestriction).
    const apiDir = path.join(lab.dir, 'apiserver');
    // kubectl 1.18+ dropped rolling-update; the project ships it as a plugin, which kubectl runs from its PATH.
    await mkdir(this.binDir, { recursive: true });
    await writeFile(path.join(this.binDir, 'kubectl-rolling_update'), `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(ROLLING_UPDATE)} "$@"\n`, { mode: 0o755 });
    const nodeConfigs = new Map<string, string>();
    for (const d of daemons) nodeConfigs.set(d.host.name, await writeDaemonKubeconfig(path.join(apiDir, 'certs'), base, apiDir, 'kubelet', d.host.name));
    out(`  (authorization ${SECURE_APISERVER_ARGS.join(' ')}); each kubelet gets a kubeconfig of its own, a client`);
    out(`  certificate CN=system:node:<host>, O=system:nodes signed by the apiserver's CA: ${path.join(apiDir, 'kubelet-<host>.kubeconfig')}.`);
    out('  The kubelets serve HTTPS on 10250 (logs, exec) to clients with a certificate of that CA (--client-ca-file),');
    out('  asking the apiserver what each may do: the apiserver\'s own, kube-apiserver-kubelet-client, gets kubelet-api-admin.');
    await this.kubectl(KUBELET_CLIENT_BINDING);
    out();
    // The controller manager and the scheduler beside the apiserver, each with its own identity (RBAC's
    // system:kube-controller-manager and system:kube-scheduler roles); their health ports off (--secure-port=0).
    const certDir = path.join(apiDir, 'certs');
    for (const [daemon, bin] of [['kube-controller-manager', CONTROLLER_MANAGER], ['kube-scheduler', SCHEDULER]] as const) {
      const config = await writeDaemonKubeconfig(certDir, base, apiDir, daemon);
      // The node lifecycle controller looks every second (as the kubelets' short periods), not every 5 s.
      const argv = [process.execPath, bin, `--kubeconfig=${config}`, '--secure-port=0', ...(daemon === 'kube-controller-manager' ? ['--node-monitor-period=1s'] : [])];
      const p = lab.switch.spawn(argv, { logFile: path.join(apiDir, `${daemon}.log`) });
      if (daemon === 'kube-controller-manager') this.controllerManager = p;
      else this.scheduler = p;
      out(`  sw# ${daemon} ${cmdline(argv.slice(2))} &`);
      out(`    pid ${p.pid}, log ${p.logFile}`);
    }
    await this.record();
    for (const d of daemons) {
      const h = d.host;
      const argv = [
        process.execPath,
        KUBELET,
        `--kubeconfig=${nodeConfigs.get(h.name)!}`, // through the API with its node's identity, as a kubelet of a real cluster
        `--hostname-override=${h.name}`,
        `--node-ip=${h.ip}`,
        `--docker-endpoint=unix://${d.socket}`,
        `--subnet-file=${subnetFileOf(h)}`,
        `--root-dir=${path.join(h.dir, 'kubelet')}`,
        '--healthz-port=10248', // the host's own loopback: each lab host has its own
        `--client-ca-file=${this.clientCaFile}`,
        ...KUBELET_FLAGS,
      ];
      const p = h.spawn(argv, { logFile: path.join(h.dir, 'kubelet.log') });
      this.kubelets.set(h.name, p);
      out(`  ${h.name}# kubelet ${cmdline(argv.slice(2, 7))} … &`);
      out(`    pid ${p.pid}, log ${p.logFile}`);
    }
    const proxyConfig = await writeDaemonKubeconfig(certDir, base, apiDir, 'kube-proxy');
    for (const h of lab.hosts) {
      const args = ['--cluster-cidr=10.5.0.0/16'];
      const p = startProxy(h, this.etcd!, { tag: 'api', storeArgs: [`--kubeconfig=${proxyConfig}`], args });
      this.proxies.set(h.name, p);
      out(`  ${h.name}# kube-proxy --kubeconfig=${proxyConfig} --hostname-override=${h.name} ${args.join(' ')} &   (pid ${p.pid})`);
    }
    await this.record();
    const started = Date.now();
    const readyOf = async (): Promise<Map<string, string>> => {
      // A node is schedulable once Ready and rid of the not-ready taints (the kubelet registers with one, the node
      // lifecycle controller removes it): before that the scheduler would put every pod on the first node ready.
      const text = await this.kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}={.spec.taints[*].key}{"\\n"}{end}'], false);
      return new Map(text.split('\n').filter(Boolean).map((l) => { const [n = '', ready = '', taints = ''] = l.split('='); return [n, taints ? `tainted ${taints}` : ready]; }));
    };
    await waitFor(
      'every host a Ready node without taints in kubectl get nodes',
      async () => {
        for (const [h, p] of this.kubelets) if (!p.running) throw new DemoError(`kubelet on ${h} exited (${JSON.stringify(p.exitInfo)}); log: ${p.logFile}`);
        const ready = await readyOf();
        return lab.hosts.every((h) => ready.get(h.name) === 'True');
      },
      40_000,
      300,
    );
    out(`  every kubelet registered its node, all Ready (and untainted) ${Date.now() - started} ms after start`);
    out();
    const nodes = await this.kubectl(['get', 'nodes']);
    for (const h of lab.hosts) {
      if (!new RegExp(`^${h.name}\\s+Ready\\s`, 'm').test(nodes)) throw new DemoError(`kubectl get nodes does not list host ${h.name} as Ready`);
    }

    // Pods get their namespace's default ServiceAccount (the ServiceAccount admission), which the controller
    // manager's serviceaccount controller makes: none can be created before it exists.
    const saUp = Date.now();
    await waitFor('the default ServiceAccount in default (made by kube-controller-manager)', async () => {
      if (!this.controllerManager?.running) throw new DemoError(`kube-controller-manager exited (${JSON.stringify(this.controllerManager?.exitInfo)}); log: ${this.controllerManager?.logFile}`);
      return (await this.kubectl(['get', 'serviceaccount', 'default', '-o', 'name'], false).catch(() => '')).trim() === 'serviceaccount/default';
    }, 30_000, 300);
    out();
    out(`  kube-controller-manager made the default ServiceAccount of namespace default (${Date.now() - saUp} ms)`);
    await this.kubectl(['get', 'serviceaccounts']);
  }

  /**
   * Seed 000's walkthrough: its images made as it made them (a root file system tar, the lab tests' images,
   * `docker import`ed on every node), its two services and two RCs created with `kubectl create -f` as it
   * printed them, the pods placed by the scheduler, a page fetched from a web pod and through the service,
   * `kubectl scale` and `kubectl rolling-update` (the plugin kubectl-rolling_update).
   */
  async walkthrough(lab: Lab, daemons: readonly Dockerd[], envs: ReadonlyMap<string, Record<string, string>>): Promise<void> {
    const dir = path.join(lab.dir, 'seed');
    await this.seedImages(dir, daemons);
    out();
    const files: [string, string][] = [['db-service.yaml', DB_SERVICE], ['db-rc.yaml', DB_RC], ['ws-service.yaml', WEB_SERVICE], ['ws-rc.yaml', WEB_RC]];
    for (const [name, text] of files) await writeFile(path.join(dir, name), text);
    out(`  the seed's four files, as it prints them, in ${dir}:`);
    shown('sw', ['cat', 'ws-rc.yaml'], WEB_RC);
    for (const [name] of files) {
      const file = path.join(dir, name);
      // ws-service.yaml names spec.publicIPs, a field of the pre-v1 API: kubectl's schema check refuses it,
      // and --validate=false sends the file as written (the apiserver drops the unknown field).
      await this.kubectl(['create', '-f', file, ...(name === 'ws-service.yaml' ? ['--validate=false'] : [])]);
    }
    const created = Date.now();
    const web = await this.waitPods('the db and web pods Running', (ps) => count(ps, 'db') === 2 && count(ps, 'webserver') === 2, 60_000);
    out(`  the controller manager made 2 db and 2 web pods, the scheduler bound them, the kubelets started them: all`);
    out(`  Running ${Date.now() - created} ms after kubectl create`);
    out();
    const wide = await this.kubectl(['get', 'pods', '-o', 'wide']);
    for (const app of ['db', 'webserver']) {
      const nodes = web.filter((p) => p.app === app).map((p) => p.node);
      if (new Set(nodes).size !== nodes.length) throw new DemoError(`the scheduler put both ${app} pods on ${nodes[0]}: not spread`);
    }
    for (const p of web) {
      const subnet = envs.get(p.node)?.FLANNEL_SUBNET;
      if (!subnet || !contains(parseCidr(subnet), parseIp(p.ip))) throw new DemoError(`pod ${p.name} on ${p.node} has IP ${p.ip}, outside the node's flannel subnet ${subnet}`);
      if (!new RegExp(`^${p.name}\\s+1/1\\s+Running\\s.*\\s${esc(p.ip)}\\s+${p.node}\\s`, 'm').test(wide)) throw new DemoError(`kubectl get pods -o wide does not show ${p.name} Running at ${p.ip} on ${p.node}`);
    }
    out(`  each RC's pods on different nodes, each pod's IP in its node's flannel subnet`);
    out();
    const svcs = await this.kubectl(['get', 'services']);
    const clusterIp = (await this.kubectl(['get', 'service', 'webserve-service', '-o', 'jsonpath={.spec.clusterIP}'], false)).trim();
    if (!/^db-service\s/m.test(svcs) || !clusterIp) throw new DemoError('kubectl get services does not list db-service and webserve-service with a ClusterIP');
    await waitFor('the Endpoints of both services (written by kube-controller-manager)', async () => {
      const eps = await this.kubectl(['get', 'endpoints', 'db-service', 'webserve-service', '-o', 'jsonpath={range .items[*]}{.metadata.name}={range .subsets[*].addresses[*]}{.ip},{end}{"\\n"}{end}'], false);
      return eps.split('\n').filter((l) => /=(\d+\.){3}\d+,(\d+\.){3}\d+,$/.test(l)).length === 2;
    }, 20_000, 300);
    await this.kubectl(['get', 'endpoints']);

    // As the seed: a web pod's IP, a page from it, then its cgi-bin/action, which asks the db through db-service.
    const [w] = web.filter((p) => p.app === 'webserver');
    const from = clientFor(daemons, w!.node);
    out();
    out(`  from ${from.label} (a container on another host) to ${w!.name} on ${w!.node}:`);
    await this.fetch(from, `http://${w!.ip}/index.html`, 'The Web Server is Running');
    await this.fetch(from, `http://${w!.ip}/cgi-bin/action`, '<h2>Success</h2>');
    out(`  and through webserve-service's ClusterIP (kube-proxy on every host, on the API):`);
    await this.fetch(from, `http://${clusterIp}/index.html`, 'The Web Server is Running');

    // kubectl scale: the RC follows, 2 → 3 → 2.
    out();
    await this.kubectl(['scale', '--replicas=3', 'rc', 'webserver-controller']);
    await this.waitPods('3 web pods Running', (ps) => count(ps, 'webserver') === 3, 40_000);
    await this.kubectl(['get', 'pods', '-l', 'name=webserver', '-o', 'wide']);
    await this.kubectl(['scale', '--replicas=2', 'rc', 'webserver-controller']);
    await this.waitPods('2 web pods left', (ps) => count(ps, 'webserver') === 2, 30_000);
    await this.kubectl(['get', 'rc']);

    // kubectl rolling-update: kubectl finds the plugin kubectl-rolling_update on its PATH.
    out();
    out(`  kubectl rolling-update is the plugin ${path.join(this.binDir, 'kubectl-rolling_update')} (runs ${path.relative(process.cwd(), ROLLING_UPDATE) || ROLLING_UPDATE}):`);
    const t = Date.now();
    const ru = await this.kubectl(['rolling-update', 'webserver-controller', '--image=webwithdb:v2', '--update-period=1s', '--poll-interval=200ms'], true, 90_000);
    if (!/^Created webserver-controller-[0-9a-f]+$/m.test(ru) || !/^replicationcontroller "webserver-controller" rolling updated$/m.test(ru)) throw new DemoError('kubectl rolling-update did not print the seed\'s lines');
    out(`  rolled in ${Date.now() - t} ms, one pod at a time`);
    const after = await this.waitPods('2 web pods of webwithdb:v2 Running', (ps) => count(ps, 'webserver') === 2 && ps.filter((p) => p.app === 'webserver').every((p) => p.image === 'webwithdb:v2'), 30_000);
    await this.kubectl(['get', 'rc', '-o', 'wide']);
    await this.kubectl(['get', 'pods', '-l', 'name=webserver', '-o', 'wide']);
    const v2 = after.find((p) => p.app === 'webserver')!;
    await this.fetch(clientFor(daemons, v2.node), `http://${clusterIp}/index.html`, webBanner('v2'), 15_000);
  }

  /** Seed 000's images: a root file system tar made once (the lab tests' images), `docker import`ed on every node. */
  async seedImages(dir: string, daemons: readonly Dockerd[]): Promise<void> {
    const [first] = daemons as [Dockerd];
    out(`  the seed's images, made as it made them: a root file system (busybox here, with the seed's`);
    out(`  /usr/sbin/httpd and /usr/bin/mysqld_safe as small scripts) in a tar, imported on every node:`);
    const tars = await makeSeedImages(daemons, dir, ['v2']);
    for (const [image, tar] of tars) out(`  ${daemons.map((d) => d.host.name).join(',')}# docker import ${path.relative(dir, tar)} ${image}`);
    const imgs = await first.docker(['images', '--format', '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}']);
    shown(first.host.name, ['docker', 'images'], imgs.split('\n').filter((l) => /^(webwithdb|dbforweb)\t/.test(l)).join('\n'));
  }

  /**
   * The project's image imported on every node, `kubectl create -f dns/kube-dns.yaml` (kube-dns reaching the API
   * in-cluster with its service-account token), then busybox's own `nslookup webserve-service` from a pod on
   * another node, through kube-proxy's 10.254.0.10, printing the service's ClusterIP as the seed's `nslookup webapp`.
   */
  async clusterDns(lab: Lab, daemons: readonly Dockerd[]): Promise<void> {
    const img = await importProjectImage(daemons);
    const mib = (img.tar.bytes / 2 ** 20).toFixed(0);
    out(`  the project's image ${PROJECT_IMAGE}: busybox, node and its libraries, dist/ and the production node_modules in a`);
    out(`  root file system tar (${mib} MiB, ${img.tar.built ? `built in ${img.tar.ms} ms` : 'from .cache/images'}), docker import on ${daemons.map((d) => d.host.name).join(',')}: ${img.importMs.join(' / ')} ms`);
    out();
    await this.kubectl(['create', '-f', KUBE_DNS_MANIFEST]);
    const t0 = Date.now();
    const ready = '{range .items[*]}{.spec.nodeName}={.status.conditions[?(@.type=="Ready")].status}{end}';
    const node = await waitFor('kube-dns Ready', async () => {
      const [n, st] = (await this.kubectl(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-dns', '-o', `jsonpath=${ready}`], false)).trim().split('=');
      return st === 'True' ? n : undefined;
    }, 45_000, 500).catch((e: unknown) => {
      throw new DemoError(`${String(e)}: kubectl describe pods -n kube-system tells why`);
    });
    out(`  kube-dns Ready on ${node!} ${Date.now() - t0} ms after kubectl create, following the API in-cluster (its token, 10.254.0.1:443)`);
    await this.kubectl(['get', 'pods,services', '-n', 'kube-system', '-o', 'wide']);
    const dnsIp = (await this.kubectl(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-dns', '-o', 'jsonpath={.items[0].status.podIP}'], false)).trim();
    const other = daemons.find((d) => d.host.name !== node)!;
    const file = path.join(lab.dir, 'seed', 'busybox.yaml');
    await writeFile(file, ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: busybox', 'spec:', `  nodeName: ${other.host.name}`, '  terminationGracePeriodSeconds: 1', '  containers:', '  - name: busybox', `    image: ${BUSYBOX_IMAGE}`, '    command: ["sleep", "600"]', ''].join('\n'));
    await this.kubectl(['create', '-f', file]);
    await waitFor('the busybox pod running', async () => (await this.kubectl(['get', 'pod', 'busybox', '-o', 'jsonpath={.status.phase}'], false)).trim() === 'Running', 30_000, 300);
    const ip = (await this.kubectl(['get', 'service', 'webserve-service', '-o', 'jsonpath={.spec.clusterIP}'], false)).trim();
    out(`  kubectl exec: the apiserver opens the stream to the kubelet on ${other.host.name} (10250), which runs the command in the container`);
    await this.kubectl(['exec', 'busybox', '--', 'cat', '/etc/resolv.conf']);

    // The seed's debugging: a large ping to a pod on another node (kube-dns's) while tcpdump watches flannel.1.
    out();
    const host = lab.host(other.host.name);
    const filter = `icmp and host ${dnsIp}`;
    const cap = await capture(host, 'flannel.1', filter, { count: 24, timeoutMs: 20_000 });
    let captured: string[];
    try {
      await this.kubectl(['exec', 'busybox', '--', 'ping', '-c', '3', '-s', '1424', dnsIp]);
      await cap.waitFor((ls) => ls.filter((l) => l.includes('ICMP echo reply')).length >= 3, 3_000);
    } finally {
      captured = await cap.stop();
    }
    printCapture(host.name, ['tcpdump', '-l', '-n', '-c', '24', '-i', 'flannel.1', filter], captured, `busybox ${other.host.name} <-> kube-dns's pod on ${node!}, through the VXLAN device`);
    out('  (1424 data bytes and the ICMP and IP headers are more than the pods\' MTU: the kernel sends each in two');
    out('  fragments, the second shown as ip-proto-1; flannel.1 carries both, its VXLAN header outside the pod MTU)');
    if (captured.filter((l) => l.includes(`> ${dnsIp}: ICMP echo request`)).length < 3) throw new DemoError(`tcpdump on ${host.name}/flannel.1 did not see the 3 echo requests to ${dnsIp}`);

    // busybox's nslookup asks the whole search list and exits 1 for the names that are not there (NXDOMAIN).
    const lookup = ['exec', 'busybox', '--', 'nslookup', 'webserve-service'];
    let last = '';
    const ok = await waitFor('nslookup webserve-service', async () => {
      const r = await this.lab!.switch.exec(this.kubectlArgv(lookup), { timeoutMs: 15_000, env: { HOME: path.join(this.lab!.dir, 'kubectl-cache'), PATH: process.env.PATH ?? '' } });
      last = r.stdout + r.stderr;
      return r.stdout.includes(ip);
    }, 20_000, 500).catch(() => false);
    shown('sw', ['kubectl', ...lookup], last);
    if (!ok) throw new DemoError(`nslookup webserve-service from busybox on ${other.host.name} did not give its ClusterIP ${ip}`);
    out(`  webserve-service.default.svc.cluster.local is ${ip}, its ClusterIP, answered by kube-dns on ${node!} through 10.254.0.10`);
  }

  /** Polls the pods (bounded) until `ok`; the pods then, not being deleted. */
  async waitPods(what: string, ok: (ps: PodRow[]) => boolean, timeoutMs: number): Promise<PodRow[]> {
    let last: PodRow[] = [];
    return waitFor(what, async () => {
      const text = await this.kubectl(['get', 'pods', '-o', `jsonpath=${POD_ROWS}`], false);
      last = parsePodRows(text);
      return ok(last) ? last : undefined;
    }, timeoutMs, 300).catch((e: unknown) => {
      throw new DemoError(`${String(e)}; pods: ${last.map((p) => `${p.name} ${p.phase} ${p.node || '-'}`).join(', ') || 'none'}`);
    });
  }

  /** wget from a container, printed; retried (bounded) until the page holds `expect`. */
  async fetch(from: { d: Dockerd; label: string }, url: string, expect: string, timeoutMs = 10_000): Promise<void> {
    let r = { stdout: '', stderr: '' };
    const got = await waitFor(`${url} from ${from.label}`, async () => {
      r = await from.d.execIn('client', ['timeout', '5', 'wget', '-q', '-O', '-', url], { timeoutMs: 10_000 });
      return r.stdout.includes(expect);
    }, timeoutMs, 300).catch(() => false);
    shown(from.label, ['wget', '-q', '-O', '-', url], r.stdout || r.stderr);
    if (!got) throw new DemoError(`${from.label} could not fetch "${expect}" from ${url}`);
  }

  async ping(from: Pod, to: Pod, count: number): Promise<void> {
    const argv = ['busybox', 'ping', '-c', String(count), '-i', '0.2', '-w', '5', to.ip];
    const r = await ping(from, to.ip, { count, timeoutMs: 5_000, intervalS: 0.2 });
    shown(from.name, argv, r.output);
    if (r.received !== count) throw new DemoError(`ping ${from.name} -> ${to.name} (${to.ip}): ${r.received}/${r.transmitted} replies`);
  }

  /** One TCP exchange: a one-shot echo server in `server`, one line from `client`. */
  async tcp(server: Pod, client: Pod): Promise<void> {
    const echo = await startTcpEcho(server, { once: true, lifetimeMs: 15_000, label: `echo from ${server.name}` });
    try {
      const payload = `hello from ${client.name}`;
      out(`  ${server.name}# (a one-shot TCP echo server, node) listening on 0.0.0.0:${echo.port}`);
      const r = await tcpProbe(client, server.ip, echo.port, { payload, timeoutMs: 5_000 });
      out(`  ${client.name}# (TCP client) ${client.ip} -> ${server.ip}:${echo.port} sent "${payload}", got ${r.ok ? `"${r.reply}"` : `nothing: ${r.error}`}`);
      if (!r.ok) throw new DemoError(`TCP ${client.name} -> ${server.name}:${echo.port}: ${r.error}`);
    } finally {
      await echo.stop();
    }
  }
}

// ------------------------------------------------------------------ helpers

async function createLab(keep: boolean): Promise<Lab> {
  if (!keep) return Lab.create({ hosts: HOSTS });
  // A kept lab gets a prefix that encodes no PID, so another run's stale sweep leaves it alone.
  for (let i = 0; ; i++) {
    const letters = Array.from({ length: 4 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
    try {
      return await Lab.create({ hosts: HOSTS, prefix: `demo${letters}` });
    } catch (e) {
      if (i >= 4 || !(e instanceof RangeError) || !/already in use/.test(e.message)) throw e;
    }
  }
}

const esc = (s: string): string => s.replace(/\./g, '\\.');

interface PodRow {
  name: string;
  /** The pod's `name` label: db or webserver for the seed's pods. */
  app: string;
  phase: string;
  ip: string;
  node: string;
  image: string;
}
const POD_ROWS = '{range .items[*]}{.metadata.name}={.metadata.labels.name}={.status.phase}={.status.podIP}={.spec.nodeName}={.spec.containers[0].image}={.metadata.deletionTimestamp}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}';

/** The pods that run, are Ready and are not being deleted. */
function parsePodRows(text: string): PodRow[] {
  const rows: PodRow[] = [];
  for (const l of text.split('\n').filter(Boolean)) {
    const [name = '', app = '', phase = '', ip = '', node = '', image = '', deleting = '', ready = ''] = l.split('=');
    if (deleting || phase !== 'Running' || ready !== 'True' || !ip) continue;
    rows.push({ name, app, phase, ip, node, image });
  }
  return rows;
}
const count = (ps: readonly PodRow[], app: string): number => ps.filter((p) => p.app === app).length;

/** A client container on a host other than `node` (step 5 left one on a and one on c). */
function clientFor(daemons: readonly Dockerd[], node: string): { d: Dockerd; label: string } {
  const d = daemons.find((x) => x.host.name !== node && x.host.name !== 'b')!;
  return { d, label: `${d.host.name}/client` };
}

const formatCidr = (lab: Lab): string => `${lab.switch.ip.replace(/\.\d+$/, '.0')}/${lab.underlay.len}`;

function printCapture(label: string, argv: readonly string[], captured: readonly string[], what: string): void {
  out(`  ${label}# ${cmdline(argv)}        # ${what}`);
  out(indent(lines(captured.join('\n'), 12) || '(nothing captured)'));
  out();
}

async function flanneldLogSummary(file: string, max: number): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const rows: string[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      const r = JSON.parse(l) as Record<string, unknown>;
      const lvl = ({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[Number(r.level)] ?? String(r.level);
      const fields = Object.entries(r)
        .filter(([k]) => !['level', 'time', 'pid', 'hostname', 'msg', 'name', 'component'].includes(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      rows.push(`${lvl.padEnd(5)} ${String(r.msg)}${fields ? `  ${fields}` : ''}`);
    } catch {
      rows.push(l);
    }
  }
  return lines(rows.join('\n'), max) || '(no log lines)';
}

function printKeepHelp(
  lab: Lab,
  etcd: EtcdServer,
  flanneld: ReadonlyMap<string, Proc>,
  pods: ReadonlyMap<string, Pod>,
  apiserver: Proc | undefined,
  kubectlArgv: (args: readonly string[]) => string[],
): void {
  const ns = (n: string): string => `${NETNS_DIR}/${n}`;
  out('  A shell in a host or a pod (exit to leave):');
  for (const h of lab.hosts) out(`    nsenter --net=${ns(h.ns)} bash        # host ${h.name}, ${h.ip}`);
  for (const p of pods.values()) out(`    nsenter --net=${ns(p.ns)} bash     # pod ${p.name}, ${p.ip}`);
  out();
  out('  etcdctl against the lab etcd (reachable only from the lab namespaces):');
  out(`    nsenter --net=${ns(lab.switch.ns)} etcdctl --endpoints=${etcd.endpoint} get --prefix ${ETCD_PREFIX}/subnets`);
  out();
  if (apiserver?.running) {
    out('  kubectl against the lab apiserver, from the switch namespace (the kubelets and dockerd stopped after');
    out('  step 7: the Nodes keep the last status their kubelets wrote, and the pods are gone from Docker):');
    out(`    nsenter --net=${ns(lab.switch.ns)} ${cmdline(kubectlArgv(['get', 'nodes']))}`);
    out();
  }
  out('  Try, for instance:');
  const [pa, pb] = [pods.get('a')!, pods.get('b')!];
  out(`    nsenter --net=${ns(pa.ns)} busybox ping -c 3 ${pb.ip}`);
  out(`    nsenter --net=${ns(lab.host('b').ns)} tcpdump -n -i eth0 -T vxlan udp port 8472`);
  out();
  out('  Processes and logs:');
  out(`    etcd            pid ${etcd.pid}   ${path.join(lab.dir, 'etcd', 'etcd.log')}`);
  if (apiserver?.running) out(`    kube-apiserver  pid ${apiserver.pid}   ${path.join(lab.dir, 'apiserver', 'apiserver.log')}`);
  for (const [h, p] of flanneld) out(`    flanneld on ${h}   pid ${p.pid}   ${p.logFile}`);
  out();
  out('  Tear it all down later:');
  out(`    bash scripts/demo --down ${lab.prefix}`);
  out('  or by hand, the same thing:');
  out(`    kill ${[etcd.pid, ...(apiserver?.running ? [apiserver.pid] : []), ...[...flanneld.values()].map((p) => p.pid)].join(' ')}`);
  out(`    for ns in ${[...lab.namespaces].reverse().join(' ')}; do ip netns del $ns; done`);
  out(`    rm -rf ${lab.dir}`);
}

// ------------------------------------------------------------------ --down

/** Tears down a kept demo: only the PIDs and exact namespace names recorded in /tmp/<prefix>. */
async function down(prefix: string | undefined): Promise<number> {
  if (!prefix || !PREFIX_RE.test(prefix)) {
    out(`usage: scripts/demo --down <prefix>   (a lab prefix, ${PREFIX_RE})`);
    return 2;
  }
  const dir = path.join(TMP_ROOT, prefix);
  const file = path.join(dir, STATE_FILE);
  const st = await lstat(dir).catch(() => undefined);
  let rec: Recorded;
  try {
    if (!st?.isDirectory()) throw new Error('no such directory');
    rec = JSON.parse(await readFile(file, 'utf8')) as Recorded;
    if (rec.prefix !== prefix) throw new Error(`it records prefix ${rec.prefix}`);
  } catch (e) {
    out(`demo --down: nothing recorded for ${prefix} (${file}: ${(e as Error).message}); nothing done.`);
    out(`  (to look by hand: ip netns list | grep '^${prefix}-')`);
    return 1;
  }
  const names = rec.namespaces.filter((n) => typeof n === 'string' && n.startsWith(`${prefix}-`) && /^[a-z0-9-]+$/.test(n));
  for (const n of rec.namespaces) if (!names.includes(n)) out(`  skipping recorded namespace ${JSON.stringify(n)}: not ${prefix}-…`);

  // A recorded PID is only signalled while it still lives in one of the recorded namespaces
  // (so a PID reused by an unrelated process is left alone).
  const inodes = new Set<string>();
  for (const n of names) {
    const s = await stat(path.join(NETNS_DIR, n)).catch(() => undefined);
    if (s) inodes.add(`net:[${s.ino}]`);
  }
  const ours: { pid: number; what: string }[] = [];
  for (const p of rec.pids) {
    if (!Number.isInteger(p.pid) || p.pid <= 1 || p.pid === process.pid) continue;
    const net = await readlink(`/proc/${p.pid}/ns/net`).catch(() => undefined);
    if (net && inodes.has(net)) ours.push(p);
    else out(`  ${p.what} (pid ${p.pid}): ${net ? 'that PID is no longer in the lab; left alone' : 'already gone'}`);
  }
  for (const p of ours) {
    process.kill(p.pid, 'SIGTERM');
    out(`  SIGTERM ${p.what} (pid ${p.pid})`);
  }
  for (let i = 0; i < 50 && ours.some((p) => pidAlive(p.pid)); i++) await sleep(100);
  for (const p of ours) {
    if (pidAlive(p.pid)) {
      process.kill(p.pid, 'SIGKILL');
      out(`  SIGKILL ${p.what} (pid ${p.pid}): still running after 5 s`);
    }
  }
  let failed = 0;
  for (const n of [...names].reverse()) {
    if (!existsSync(path.join(NETNS_DIR, n))) continue;
    // Whatever still runs inside a lab namespace would keep it (and its links) alive.
    for (let round = 0; round < 20; round++) {
      const r = await runCommand(['ip', 'netns', 'pids', n], { timeoutMs: 3000 });
      const pids = r.stdout.split('\n').map(Number).filter((x) => Number.isInteger(x) && x > 1 && x !== process.pid);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      if (round === 0) out(`  killed ${pids.join(' ')} left in ${n}`);
      await sleep(50);
    }
    const r = await runCommand(['ip', 'netns', 'del', n], { timeoutMs: 5000 });
    if (r.code === 0) out(`  ip netns del ${n}`);
    else {
      failed++;
      out(`  ip netns del ${n} FAILED: ${r.stderr.trim()}`);
    }
  }
  if (failed === 0) {
    await rm(dir, { recursive: true, force: true });
    out(`  rm -rf ${dir}`);
    out(`demo --down ${prefix}: done.`);
    return 0;
  }
  out(`demo --down ${prefix}: ${failed} namespaces could not be deleted; ${dir} kept.`);
  return 1;
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args[0] === '--down') return down(args[1]);
  if (args.some((a) => a === '-h' || a === '--help') || args.some((a) => a !== '--keep')) {
    out('usage: scripts/demo [--keep]          a three-host flannel VXLAN demo in network namespaces, with kube-apiserver, kubelets and kubectl');
    out('       scripts/demo --down <prefix>   tear down a demo kept with --keep');
    return args.some((a) => a === '-h' || a === '--help') ? 0 : 2;
  }
  if (process.getuid?.() !== 0) {
    out('scripts/demo: must run as root (it creates network namespaces)');
    return 1;
  }
  const demo = new Demo(args.includes('--keep'));
  let exitCode: number | undefined;
  const finish = (code: number): never => {
    process.exit(exitCode ?? code);
  };
  const onSignal = (sig: NodeJS.Signals, num: number): void => {
    if (exitCode !== undefined) return; // cleanup already under way
    exitCode = 128 + num;
    muted = true;
    say(`\n${sig}: tearing down`);
    // Bounded: if cleanup hangs, exit anyway (the lab's 'exit' handler still deletes its namespaces).
    setTimeout(() => finish(exitCode!), 20_000).unref();
    void demo.cleanup().finally(() => {
      say(`torn down${demo.lab ? `: ${demo.lab.namespaces.join(' ')}` : ''}`);
      finish(exitCode!);
    });
  };
  process.on('SIGINT', () => onSignal('SIGINT', 2));
  process.on('SIGTERM', () => onSignal('SIGTERM', 15));
  process.on('SIGHUP', () => onSignal('SIGHUP', 1));
  const overall = setTimeout(() => {
    if (exitCode !== undefined) return;
    exitCode = 1;
    muted = true;
    say(`\nFAILED: the demo did not finish within ${OVERALL_LIMIT_MS / 1000} s; tearing down`);
    setTimeout(() => finish(1), 20_000).unref();
    void demo.cleanup().finally(() => finish(1));
  }, OVERALL_LIMIT_MS);
  overall.unref();

  try {
    await demo.run();
    clearTimeout(overall);
    return 0;
  } catch (e) {
    clearTimeout(overall);
    if (exitCode !== undefined) return new Promise<number>(() => undefined); // the signal handler exits
    exitCode = 1;
    out();
    out(`FAILED (step ${step}): ${e instanceof Error ? e.message : String(e)}`);
    for (const [h, p] of demo.flanneld) {
      out(`  last lines of flanneld on ${h} (${p.logFile}):`);
      out(indent(await flanneldLogSummary(p.logFile, 1_000).then((t) => t.split('\n').slice(-6).join('\n')), '      '));
    }
    out('tearing down');
    await demo.cleanup();
    return 1;
  }
}

process.exit(await main());
