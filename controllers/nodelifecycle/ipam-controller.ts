// Node IPAM (--allocate-node-cidrs): every node without spec.podCIDR gets the next free block of
// --cluster-cidr (spec.podCIDR and spec.podCIDRs). The blocks in use are read from the nodes before
// anything is handed out, so a restarted or newly elected controller never gives one out twice; a
// deleted node's block is free again.
import { keys, type Node } from '../../cluster/index.js';
import type { Logger } from '../../common/index.js';
import { WorkQueue } from '../queue.js';
import { type Cache, cacheOf, parseNode, type ControllerDeps, isStatus, recordEvent, runWorkers, waitSynced } from '../runtime.js';
import { CidrAllocator } from './ipam.js';

export interface NodeIpamOptions {
  readonly clusterCidr: string;
  readonly maskSize: number;
}

const ALL = 'nodes';

export class NodeIpamController {
  private readonly nodes: Cache<Node>;
  private readonly queue = new WorkQueue();
  private readonly alloc: CidrAllocator;
  /** node → the block it holds, as last seen */
  private readonly held = new Map<string, string>();
  private readonly log: Logger;

  constructor(
    private readonly d: ControllerDeps,
    o: NodeIpamOptions,
  ) {
    this.log = d.log.child({ controller: 'nodeipam' });
    this.alloc = new CidrAllocator(o.clusterCidr, o.maskSize);
    this.nodes = cacheOf(d.store, keys.nodes(), parseNode, this.log, () => this.queue.add(ALL));
  }

  async run(signal: AbortSignal): Promise<void> {
    const following = this.nodes.run(signal);
    if (await waitSynced([this.nodes], signal)) this.queue.add(ALL);
    await Promise.all([following, runWorkers(this.queue, 1, () => this.sync(signal), this.log, signal)]);
  }

  async sync(signal: AbortSignal): Promise<void> {
    const nodes = [...this.nodes.items.values()].map((s) => ({ node: s.obj }));
    const names = new Set(nodes.map((n) => n.node.metadata.name ?? ''));
    for (const [name, cidr] of [...this.held]) {
      if (names.has(name)) continue;
      this.alloc.release(cidr);
      this.held.delete(name);
    }
    // Every block in use first: a node being given one never takes another's.
    for (const { node } of nodes) {
      const cidr = node.spec?.podCIDR;
      if (cidr && this.alloc.occupy(cidr)) this.held.set(node.metadata.name ?? '', cidr);
    }
    let failed: unknown;
    for (const { node } of nodes) {
      const name = node.metadata.name ?? '';
      if (node.spec?.podCIDR || this.held.has(name)) continue;
      const cidr = this.alloc.allocate();
      if (!cidr) {
        void recordEvent(this.d.client, this.log, 'cidrAllocator', { kind: 'Node', apiVersion: 'v1', name, uid: node.metadata.uid ?? name }, 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`, signal);
        this.log.warn({ node: name }, 'no pod CIDR left in the cluster CIDR');
        continue;
      }
      try {
        await this.d.client.request('PATCH', `/api/v1/nodes/${encodeURIComponent(name)}`, { body: { spec: { podCIDR: cidr, podCIDRs: [cidr] } }, attempts: 1, signal });
        this.held.set(name, cidr);
        this.log.info({ node: name, podCIDR: cidr }, 'pod CIDR allocated');
      } catch (e) {
        this.alloc.release(cidr);
        // The apiserver refuses a second podCIDR (set once), so a race cannot give a node two.
        if (!isStatus(e, 404)) failed = e;
      }
    }
    if (failed) throw failed;
  }
}
