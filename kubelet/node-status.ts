// The Node object in /registry/minions/<node>: registration, then a heartbeat every
// --node-status-update-frequency (Ready with lastHeartbeatTime, podCIDR from flannel's subnet.env,
// capacity from /proc, addresses, nodeInfo), always written with a compare-and-swap update that keeps
// fields other writers own (labels they added, unknown fields).
//
// Who reports a node whose kubelet stopped: on the API, kube-controller-manager's node lifecycle
// controller. On etcd there is no controller manager, so every kubelet also acts as the node lifecycle
// controller for its peers. Every --node-monitor-period it lists the nodes
// and, for a peer whose Ready heartbeat is older than --node-monitor-grace-period, sets Ready to
// Unknown (reason NodeStatusUnknown: what `kubectl get nodes` shows as NotReady) with a CAS update.
// The update function re-checks staleness on the value it is about to replace, so several kubelets
// marking the same peer converge on one write, and a peer that just heartbeated is never overwritten
// (its write changed the revision; the retry sees the fresh heartbeat and gives up). The cost is one
// listing of the nodes per kubelet per period; the grace period must exceed the clock skew between
// nodes. A node lease (an etcd key with a TTL) was the alternative, but the Node object would then
// need a reader to turn a vanished lease into a condition anyway, which is the same monitor. On the API
// the monitor is off: a kubelet's credentials (Node authorization) may read and write only its own Node,
// and marking peers is kube-controller-manager's node lifecycle controller's job there.
import { readFile } from 'node:fs/promises';
import { arch, cpus, hostname, platform, release } from 'node:os';
import type { Node, NodeCondition } from '../cluster/index.js';
import { keys, parseNodeObject } from '../cluster/index.js';
import { type Logger, errorMessage, sleep } from '../common/index.js';
import type { ClusterStore } from './sources.js';
import { rfc3339 } from './status.js';

export const KUBELET_VERSION = 'v0.1.0-flannel-ts';

export interface NodeFacts {
  readonly name: string;
  readonly ip: string | undefined;
  readonly podCIDR: string | undefined;
  readonly capacity: Readonly<Record<string, string>>;
  readonly nodeInfo: Readonly<Record<string, string>>;
  /** The kubelet server's port (status.daemonEndpoints.kubeletEndpoint.Port). */
  readonly kubeletPort?: number;
}

export interface Readiness {
  readonly ready: boolean;
  readonly reason: string;
  readonly message: string;
}

/** The node as this kubelet reports it, merged over what is stored (labels and unknown fields kept). */
export function buildNode(prev: Node | undefined, f: NodeFacts, r: Readiness, now: string): Node {
  const old = prev?.status?.conditions?.find((c) => c.type === 'Ready');
  const status = r.ready ? 'True' : 'False';
  const ready: NodeCondition = {
    type: 'Ready',
    status,
    reason: r.reason,
    message: r.message,
    lastHeartbeatTime: now,
    lastTransitionTime: old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : now,
  };
  const others = (prev?.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
  return {
    ...prev,
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      ...prev?.metadata,
      name: f.name,
      labels: { ...prev?.metadata.labels, 'kubernetes.io/hostname': f.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': f.nodeInfo.architecture ?? 'amd64' },
      creationTimestamp: prev?.metadata.creationTimestamp ?? now,
    },
    spec: { ...prev?.spec, ...(f.podCIDR ? { podCIDR: f.podCIDR, podCIDRs: [f.podCIDR] } : {}) },
    status: {
      ...prev?.status,
      capacity: { ...f.capacity },
      allocatable: { ...f.capacity },
      conditions: [ready, ...others],
      addresses: [...(f.ip ? [{ type: 'InternalIP', address: f.ip }] : []), { type: 'Hostname', address: f.name }],
      nodeInfo: { ...f.nodeInfo },
      ...(f.kubeletPort !== undefined && { daemonEndpoints: { kubeletEndpoint: { Port: f.kubeletPort } } }),
    },
  };
}

/** The node with Ready set to Unknown when its heartbeat is older than graceMs; undefined when fresh or already marked. */
export function markStale(node: Node, nowMs: number, graceMs: number, now: string): Node | undefined {
  const conds = node.status?.conditions ?? [];
  const ready = conds.find((c) => c.type === 'Ready');
  if (!ready || ready.status === 'Unknown') return undefined;
  const beat = Date.parse(ready.lastHeartbeatTime ?? '');
  if (Number.isFinite(beat) && nowMs - beat <= graceMs) return undefined;
  const marked: NodeCondition = {
    ...ready,
    status: 'Unknown',
    reason: 'NodeStatusUnknown',
    message: 'Kubelet stopped posting node status.',
    lastTransitionTime: now,
  };
  return { ...node, status: { ...node.status, conditions: conds.map((c) => (c.type === 'Ready' ? marked : c)) } };
}

/** cpu (cores), memory (Ki, as Kubernetes writes it) and pods, from /proc. */
export async function readCapacity(maxPods: number): Promise<Record<string, string>> {
  let memKi = 0;
  try {
    const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(await readFile('/proc/meminfo', 'utf8'));
    memKi = m ? Number(m[1]) : 0;
  } catch {
    // not Linux: leave 0
  }
  let cpu = cpus().length;
  try {
    const n = (await readFile('/proc/cpuinfo', 'utf8')).split('\n').filter((l) => /^processor\s*:/.test(l)).length;
    if (n > 0) cpu = n;
  } catch {
    // keep os.cpus()
  }
  return { cpu: String(cpu), memory: `${memKi}Ki`, pods: String(maxPods), 'ephemeral-storage': '0' };
}

/** flannel's subnet for this node (FLANNEL_SUBNET's network), or undefined when the file is not there (yet). */
export async function machineInfo(dockerVersion: string | undefined): Promise<Record<string, string>> {
  const read = async (p: string): Promise<string> => (await readFile(p, 'utf8').catch(() => '')).trim();
  const osRelease = await read('/etc/os-release');
  return {
    machineID: await read('/etc/machine-id'),
    bootID: await read('/proc/sys/kernel/random/boot_id'),
    kernelVersion: release(),
    osImage: /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? platform(),
    operatingSystem: platform(),
    architecture: arch() === 'x64' ? 'amd64' : arch(),
    containerRuntimeVersion: dockerVersion ? `docker://${dockerVersion}` : '',
    kubeletVersion: KUBELET_VERSION,
    hostname: hostname(),
  };
}

export interface NodeStatusOptions {
  readonly name: string;
  readonly store: ClusterStore;
  readonly log: Logger;
  readonly updateMs: number;
  readonly monitorPeriodMs: number;
  readonly monitorGraceMs: number;
  /** Off on the API (see the file's comment). */
  readonly monitorPeers?: boolean;
  /** Gathers what changes between heartbeats (podCIDR, runtime health). */
  facts(): Promise<NodeFacts>;
  readiness(): Promise<Readiness>;
  readonly now?: () => number;
}

export class NodeStatusManager {
  private readonly log: Logger;
  private readonly now: () => number;
  /** Set after the first successful write. */
  registered = false;

  constructor(private readonly o: NodeStatusOptions) {
    this.log = o.log.child({ component: 'node-status' });
    this.now = o.now ?? Date.now;
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.heartbeats(signal), ...(this.o.monitorPeers === false ? [] : [this.monitor(signal)])]);
  }

  /** One heartbeat: the node written with a CAS update. */
  async update(): Promise<void> {
    const [facts, r] = await Promise.all([this.o.facts(), this.o.readiness()]);
    const now = rfc3339(this.now());
    await this.o.store.update(keys.node(this.o.name), parseNodeObject, (cur) => buildNode(cur, facts, r, now));
    if (!this.registered) this.log.info({ podCIDR: facts.podCIDR, ip: facts.ip, ready: r.ready }, 'node registered');
    this.registered = true;
  }

  private async heartbeats(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.update();
        if (failures) this.log.info({ failures }, 'node status written again');
        failures = 0;
      } catch (e) {
        if (failures++ % 10 === 0) this.log.warn({ err: errorMessage(e) }, 'node status update failed');
      }
      await sleep(failures ? Math.min(this.o.updateMs, 1000) : this.o.updateMs, signal);
    }
  }

  /** Marks peers whose heartbeat is older than the grace period (see the file's comment). */
  async markStalePeers(): Promise<string[]> {
    const { items } = await this.o.store.list(keys.nodes(), parseNodeObject);
    const marked: string[] = [];
    for (const it of items) {
      const name = it.obj.metadata?.name;
      if (!name || name === this.o.name) continue;
      const nowMs = this.now();
      if (!markStale(it.obj, nowMs, this.o.monitorGraceMs, rfc3339(nowMs))) continue;
      const res = await this.o.store.update(it.key, parseNodeObject, (cur) => (cur ? markStale(cur, this.now(), this.o.monitorGraceMs, rfc3339(this.now())) : undefined));
      if (res) {
        marked.push(name);
        this.log.warn({ peer: name, graceMs: this.o.monitorGraceMs }, 'node stopped posting status; marked NotReady');
      }
    }
    return marked;
  }

  private async monitor(signal: AbortSignal): Promise<void> {
    while (await sleep(this.o.monitorPeriodMs, signal)) {
      try {
        await this.markStalePeers();
      } catch (e) {
        this.log.debug({ err: errorMessage(e) }, 'node monitor pass failed');
      }
    }
  }
}

/** How long the node's capacity and machine info are reused between reads (cadvisor's machine info is read once). */
export const MACHINE_FACTS_MS = 5 * 60_000;

/**
 * A value read again only after `periodMs`, or at once when its key changes (e.g. the runtime's
 * version after Docker was upgraded). Callers at the same time share one read; a failed read is not
 * kept.
 */
export class SlowRefresh<K, V> {
  private held: { key: K; at: number; value: Promise<V> } | undefined;

  constructor(
    private readonly periodMs: number,
    private readonly read: (key: K) => Promise<V>,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: K): Promise<V> {
    const h = this.held;
    if (h && h.key === key && this.now() - h.at < this.periodMs) return h.value;
    const value = this.read(key);
    const held = { key, at: this.now(), value };
    this.held = held;
    value.catch(() => {
      if (this.held === held) this.held = undefined;
    });
    return value;
  }
}
