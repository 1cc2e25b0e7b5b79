// This node's lease on the Kubernetes API, as flannel's kube subnet manager takes it: the subnet is
// the Node's spec.podCIDR (given by the controller manager's node IPAM; waited for, bounded), and
// taking it means writing the backend's attributes into the Node's annotations. Nothing expires: the
// lease is only taken again when the peer watch sees our Node lose its annotations or go.
import { type ApiClient, ApiStatusError, parseNodeObject } from '../../cluster/index.js';
import { Backoff, errorMessage, type Logger, sleep } from '../../common/index.js';
import { type AcquiredLease, describeLease, type LeaseAttrs, type NetworkConfig, type SubnetLeaser } from '../../ipam/index.js';
import { type AnnotationNames, leaseSubnets, NodeLeaseError, type NodeView, networkUpPatch, ownAnnotations } from './annotations.js';

export interface KubeLeaserOptions {
  readonly client: ApiClient;
  readonly nodeName: string;
  readonly names: AnnotationNames;
  readonly log: Logger;
  /** Set NetworkUnavailable=False on the Node once the network is up (flannel's --set-node-network-unavailable). */
  readonly setNetworkUnavailable: boolean;
  /** How long one acquire waits for the Node and its podCIDR before it fails (the daemon retries). */
  readonly waitMs?: number;
  readonly pollMs?: number;
}

export class KubeLeaser implements SubnetLeaser {
  private lost = new AbortController();
  private readonly path: string;

  constructor(private readonly o: KubeLeaserOptions) {
    this.path = `/api/v1/nodes/${encodeURIComponent(o.nodeName)}`;
  }

  markLost(): void {
    this.lost.abort();
  }

  async acquire(cfg: NetworkConfig, attrs: LeaseAttrs, signal?: AbortSignal): Promise<AcquiredLease> {
    const { log, nodeName } = this.o;
    const waitMs = this.o.waitMs ?? 60_000;
    const deadline = Date.now() + waitMs;
    let said = false;
    for (let i = 0; ; i++) {
      const node = await this.getNode(signal);
      const subnets = node && leaseSubnets(node, cfg);
      if (node && subnets) {
        const patch = ownAnnotations(node, this.o.names, attrs, cfg);
        // Through nodes/status, as flannel: its ClusterRole may patch the status, not the Node.
        if (patch) await this.o.client.request('PATCH', `${this.path}/status`, { body: { metadata: { annotations: patch } }, ...(signal && { signal }) });
        const lease = { ...subnets, attrs, reservation: false };
        log.info({ node: nodeName, subnet: describeLease(lease), annotated: patch ? Object.keys(patch) : [] }, 'the subnet is the node\'s podCIDR');
        return { lease, key: nodeName, expiration: undefined, attempts: i + 1 };
      }
      const why = node ? 'has no spec.podCIDR yet (the controller manager gives one with --allocate-node-cidrs)' : 'does not exist yet (the kubelet registers it)';
      if (Date.now() >= deadline) throw new NodeLeaseError(nodeName, `${why}; waited ${Math.round(waitMs / 1000)} s`);
      if (!said) log.info({ node: nodeName, waitMs }, `waiting for the node: it ${why}`);
      said = true;
      if (!(await sleep(this.o.pollMs ?? 1_000, signal))) throw new Error('stopped while waiting for the node');
    }
  }

  private async getNode(signal: AbortSignal | undefined): Promise<NodeView | undefined> {
    try {
      return parseNodeObject(await this.o.client.request('GET', this.path, signal ? { signal } : {}));
    } catch (e) {
      if (e instanceof ApiStatusError && e.status === 404) return undefined;
      throw e;
    }
  }

  async keepAlive(cfg: NetworkConfig, held: AcquiredLease, signal: AbortSignal, onChange: (l: AcquiredLease, applied: AcquiredLease) => Promise<void> | void): Promise<void> {
    let applied = held;
    while (!signal.aborted) {
      const either = AbortSignal.any([signal, this.lost.signal]);
      await new Promise<void>((r) => (either.aborted ? r() : either.addEventListener('abort', () => r(), { once: true })));
      if (signal.aborted) return;
      this.lost = new AbortController();
      this.o.log.warn({ node: this.o.nodeName, subnet: describeLease(applied.lease) }, 'our Node lost its flannel annotations or was deleted; annotating it again');
      const backoff = new Backoff(1_000, 30_000);
      for (let attempt = 1; !signal.aborted; attempt++) {
        try {
          const next = await this.acquire(cfg, applied.lease.attrs, signal);
          await onChange(next, applied);
          applied = next;
          break;
        } catch (e) {
          if (signal.aborted) return;
          const delay = backoff.next();
          this.o.log.error({ node: this.o.nodeName, err: errorMessage(e), attempt, retryInMs: delay }, 'taking the node\'s subnet again failed');
          await sleep(delay, signal);
        }
      }
    }
  }

  /** NetworkUnavailable=False (FlannelIsUp) on our Node; a bounded number of tries, never throws. */
  async networkUp(_held: AcquiredLease, signal: AbortSignal): Promise<void> {
    if (!this.o.setNetworkUnavailable) return;
    const backoff = new Backoff(500, 10_000);
    for (let attempt = 1; attempt <= 8 && !signal.aborted; attempt++) {
      try {
        await this.o.client.request('PATCH', `${this.path}/status`, { body: networkUpPatch(new Date()), contentType: 'application/strategic-merge-patch+json', signal });
        this.o.log.info({ node: this.o.nodeName }, 'set the node condition NetworkUnavailable=False (FlannelIsUp)');
        return;
      } catch (e) {
        if (signal.aborted) return;
        const delay = backoff.next();
        this.o.log.warn({ node: this.o.nodeName, err: errorMessage(e), attempt, retryInMs: delay }, 'setting the node condition NetworkUnavailable failed');
        await sleep(delay, signal);
      }
    }
  }
}
