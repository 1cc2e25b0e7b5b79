// The kubelet in a lab: per host flanneld (vxlan) → dockerd (from flanneld's Docker options) → kubelet,
// all inside the host's network namespace; etcd in the switch namespace. The test process reaches
// etcd through a bridge: a node process in the switch namespace listens on a unix socket in the lab
// directory and connects to etcd there; the test process listens on 127.0.0.1 and pipes each
// connection into that socket. So the tests use a real etcd client (ObjectStore, watches) while every
// packet stays on loopback or inside the lab.
import { mkdir, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import path from 'node:path';
import { type Pod, ObjectStore, keys, parseJsonObject, parseNodeObject } from '../../cluster/index.js';
import { createEtcdClient } from '../../common/index.js';
import type { EtcdServer } from '../harness/index.js';
import { type Dockerd, startDockerd } from './docker.js';
import { FlannelLab, REPO, subnetFileOf, waitFor } from './flannel.js';
import type { Host, Lab, Proc } from './lab.js';

export const KUBELET = path.join(REPO, 'dist/kubelet/main.js');
export const NETWORK = '10.5.0.0/16';

/** Short periods so the lab tests run in seconds (every one is a flag of the kubelet). */
export const FAST_FLAGS = [
  '--sync-frequency=3s',
  '--pleg-relist-period=500ms',
  '--file-check-frequency=1s',
  '--node-status-update-frequency=1s',
  '--node-monitor-period=1s',
  '--node-monitor-grace-period=5s',
  '--crashloop-backoff-base=1s',
  '--crashloop-backoff-max=4s',
];

export interface KubeNode {
  readonly host: Host;
  readonly flanneld: Proc;
  readonly dockerd: Dockerd;
  kubelet: Proc;
  /** FLANNEL_SUBNET, e.g. 10.5.72.1/24 */
  readonly subnet: string;
  readonly rootDir: string;
  readonly manifests: string;
}

const BRIDGE_SCRIPT = `
const net = require('node:net'); const fs = require('node:fs');
const [sock, host, port] = process.argv.slice(1);
try { fs.unlinkSync(sock); } catch {}
net.createServer((c) => { const u = net.connect(Number(port), host); c.pipe(u); u.pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); }).listen(sock, () => console.log('listening'));
`;

const dockerOptsFile = (h: Host): string => path.join(h.dir, 'docker');

export interface KubeLabHooks {
  /** The kubelet's store flags (default: --etcd-endpoints of the lab's etcd), e.g. --kubeconfig. */
  readonly storeArgs?: (n: KubeNode) => string[];
  /** Runs once flanneld and dockerd are up on every host, before the kubelets start (e.g. an apiserver). */
  readonly beforeKubelets?: (kl: KubeLab) => Promise<void>;
  /** flanneld's network config (default: NETWORK over vxlan), e.g. with EnableIPv6 and IPv6Network. */
  readonly config?: string;
  /** Runs on every host before its flanneld starts (e.g. an IPv6 underlay address). */
  readonly prepare?: (h: Host) => Promise<void>;
  /** More dockerd flags from the host's subnet.env (mk-docker-opts.sh has none for IPv6: --ipv6, --fixed-cidr-v6). */
  readonly dockerArgs?: (env: Record<string, string>) => readonly string[];
  /** node's own flags for the kubelets (before the script), e.g. --cpu-prof. */
  readonly kubeletNodeArgs?: readonly string[];
}

export class KubeLab {
  readonly nodes = new Map<string, KubeNode>();
  store!: ObjectStore;
  private client: ReturnType<typeof createEtcdClient> | undefined;
  private bridge: Server | undefined;
  private kubeletSeq = 0;

  private constructor(
    /** etcd and flanneld (vxlan, --ip-masq, Docker options) per host. */
    readonly net: FlannelLab,
    private readonly kubeletArgs: readonly string[],
    private readonly o: KubeLabHooks = {},
  ) {}

  get lab(): Lab {
    return this.net.lab;
  }

  get etcd(): EtcdServer {
    return this.net.etcd;
  }

  /** Builds the lab; on failure everything started so far is stopped before the error is thrown. */
  static async start(o: { hosts: readonly string[]; kubeletArgs?: readonly string[]; backend?: string } & KubeLabHooks): Promise<KubeLab> {
    const net = await FlannelLab.start({
      hosts: o.hosts,
      config: o.config ?? JSON.stringify({ Network: NETWORK, Backend: { Type: o.backend ?? 'vxlan' } }),
      ...(o.prepare && { prepare: o.prepare }),
      flanneldArgs: (h) => ['--iface=eth0', '--ip-masq', `--docker-opts-file=${dockerOptsFile(h)}`],
      startFlanneld: false,
    });
    const kl = new KubeLab(net, o.kubeletArgs ?? FAST_FLAGS, o);
    try {
      await kl.build();
      return kl;
    } catch (e) {
      await kl.destroy();
      throw e;
    }
  }

  private async build(): Promise<void> {
    await this.openBridge();
    const optsFile = dockerOptsFile;
    await Promise.all(this.lab.hosts.map((h) => this.net.startFlanneld(h, { timeoutMs: 30_000 })));
    const docker = new Map<string, Dockerd>();
    // allSettled: a dockerd still starting when another fails must be recorded, or nobody stops it.
    const started = await Promise.allSettled(this.lab.hosts.map(async (h) => docker.set(h.name, await startDockerd(h, { optsFile: optsFile(h), ...(this.o.dockerArgs && { extraArgs: this.o.dockerArgs(this.net.env.get(h.name) ?? {}) }) }))));
    for (const h of this.lab.hosts) {
      const d = docker.get(h.name);
      if (!d) continue;
      const rootDir = path.join(h.dir, 'kubelet');
      const manifests = path.join(h.dir, 'manifests');
      await mkdir(manifests, { recursive: true });
      this.nodes.set(h.name, { host: h, flanneld: this.net.flanneld.get(h.name)!, dockerd: d, kubelet: undefined as unknown as Proc, subnet: this.net.subnet(h.name), rootDir, manifests });
    }
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    await this.o.beforeKubelets?.(this);
    for (const n of this.nodes.values()) n.kubelet = this.startKubelet(n);
    await waitFor('every node Ready', async () => (await Promise.all([...this.nodes.keys()].map((n) => this.nodeReady(n)))).every((r) => r === 'True'), 60_000, 250);
  }

  /** etcd as seen from the test process (see the file's comment). */
  private async openBridge(): Promise<void> {
    const sock = path.join(this.lab.dir, 'etcd.sock');
    const p = this.lab.switch.spawn([process.execPath, '-e', BRIDGE_SCRIPT, sock, this.etcd.host, String(this.etcd.clientPort)], { logFile: path.join(this.lab.dir, 'etcd-bridge.log') });
    await p.waitForOutput(/listening/, 10_000);
    const srv = createServer((c) => {
      const u = createConnection(sock);
      c.pipe(u);
      u.pipe(c);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve());
    });
    this.bridge = srv;
    const addr = srv.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    this.client = createEtcdClient({ endpoints: [`http://127.0.0.1:${port}`], callTimeoutMs: 10_000 });
    this.store = new ObjectStore(this.client);
  }

  node(name: string): KubeNode {
    const n = this.nodes.get(name);
    if (!n) throw new RangeError(`no node ${name}`);
    return n;
  }

  startKubelet(n: KubeNode, extra: readonly string[] = []): Proc {
    const argv = [
      process.execPath,
      ...(this.o.kubeletNodeArgs ?? []),
      KUBELET,
      ...(this.o.storeArgs ? this.o.storeArgs(n) : [`--etcd-endpoints=${this.etcd.endpoint}`]),
      `--hostname-override=${n.host.name}`,
      `--node-ip=${n.host.ip}`,
      `--docker-endpoint=unix://${n.dockerd.socket}`,
      `--subnet-file=${subnetFileOf(n.host)}`,
      `--root-dir=${n.rootDir}`,
      `--pod-manifest-path=${n.manifests}`,
      '--healthz-port=10248', // the host's own loopback: each lab host has its own
      ...this.kubeletArgs,
      ...extra,
    ];
    return n.host.spawn(argv, { logFile: path.join(n.host.dir, `kubelet-${++this.kubeletSeq}.log`) });
  }

  async restartKubelet(name: string, extra: readonly string[] = []): Promise<Proc> {
    const n = this.node(name);
    await n.kubelet.stop(10_000);
    n.kubelet = this.startKubelet(n, extra);
    return n.kubelet;
  }

  async nodeReady(name: string): Promise<string | undefined> {
    const s = await this.store.get(keys.node(name), parseNodeObject);
    return s && 'obj' in s ? s.obj.status?.conditions?.find((c) => c.type === 'Ready')?.status : undefined;
  }

  async putPod(pod: Pod): Promise<void> {
    await this.store.put(keys.pod(pod.metadata.namespace ?? 'default', pod.metadata.name), pod);
  }

  async getPod(ns: string, name: string): Promise<Pod | undefined> {
    // Not parsePodObject: the tests read invalid pods too (the kubelet reports them in their status).
    const s = await this.store.get(keys.pod(ns, name), parseJsonObject);
    return s && 'obj' in s ? (s.obj as unknown as Pod) : undefined;
  }

  /** Polls the pod until `pred` holds; returns the pod. */
  waitPod(name: string, what: string, pred: (p: Pod) => boolean, ms = 30_000, ns = 'default'): Promise<Pod> {
    return waitFor(`${ns}/${name}: ${what}`, async () => {
      const p = await this.getPod(ns, name);
      return p && pred(p) ? p : undefined;
    }, ms, 200);
  }

  /** Docker containers of a pod (by label), newest first: `id state name`. */
  async containers(node: string, pod: string, container?: string): Promise<{ id: string; state: string; name: string }[]> {
    const filters = ['--filter', `label=io.kubernetes.pod.name=${pod}`, ...(container ? ['--filter', `label=io.kubernetes.container.name=${container}`] : [])];
    const out = await this.node(node).dockerd.docker(['ps', '-a', '--no-trunc', ...filters, '--format', '{{.ID}} {{.State}} {{.Names}}']);
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [id = '', state = '', name = ''] = l.split(' ');
        return { id, state, name };
      });
  }

  /** `docker exec` in the running container `container` of pod `pod`. */
  async execIn(node: string, pod: string, container: string, argv: readonly string[], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const running = (await this.containers(node, pod, container)).find((c) => c.state === 'running');
    if (!running) throw new Error(`no running container ${container} of pod ${pod} on ${node}`);
    return this.node(node).dockerd.execIn(running.id, argv, { timeoutMs });
  }

  async writeManifest(node: string, file: string, text: string): Promise<string> {
    const p = path.join(this.node(node).manifests, file);
    const tmp = path.join(this.node(node).manifests, `.${file}.tmp`);
    await writeFile(tmp, text);
    const { rename } = await import('node:fs/promises');
    await rename(tmp, p);
    return p;
  }

  /** Stops kubelets, Docker (removing every container), flanneld, etcd, the bridge and the lab. Never throws. */
  async destroy(): Promise<void> {
    await Promise.allSettled([...this.nodes.values()].map((n) => n.kubelet?.stop(5_000)));
    await Promise.allSettled([...this.nodes.values()].map((n) => n.dockerd.stop()));
    try {
      this.client?.close();
    } catch {
      // closing anyway
    }
    this.bridge?.close();
    await this.net.destroy();
  }
}

/** A pod object with the defaults the tests use: busybox image, never pulled, a short grace. */
export function pod(name: string, node: string, spec: Partial<Pod['spec']> & { containers: Pod['spec']['containers'] }, meta: Partial<Pod['metadata']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ...meta },
    spec: { nodeName: node, terminationGracePeriodSeconds: 1, ...spec },
  };
}

export const ready = (p: Pod): boolean => p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
export const running = (p: Pod): boolean => p.status?.phase === 'Running' && !!p.status.podIP;
