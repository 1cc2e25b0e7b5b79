// flanneld's peer loop against a registry and a backend of our own: the peers of the first listing
// reach the kernel before the watch opens (opening it may load gRPC, blocking the process; a lab
// lost pings to a peer listed at start while it did), and the watch starts at the listing's revision.
import { describe, expect, it } from 'vitest';
import type { Lease, LeaseSnapshot, PeerRegistry, SubnetLeaser, WatchBatch } from '../ipam/index.js';
import { LeaseWatcher, parseLease } from '../ipam/index.js';
import type { Network } from '../backend/index.js';
import { silentLogger } from '../common/index.js';
import { watchPeers } from '../flanneld/daemon.js';
import { PeerSync } from '../flanneld/peer-sync.js';

const peer = parseLease('/coreos.com/network/subnets/10.5.7.0-24', JSON.stringify({ PublicIP: '192.0.2.7', BackendType: 'alloc' }), false);

describe('watchPeers', () => {
  it('programs the listed peers before it opens the watch, from the revision after the listing', async () => {
    const ac = new AbortController();
    const reconciled: number[] = [];
    const network = {
      reconcile: async (peers: readonly Lease[]) => {
        await new Promise((r) => setImmediate(r)); // a kernel round trip
        reconciled.push(peers.length);
      },
    } as unknown as Network;
    const seenAtWatch: { reconciled: number[]; from: bigint }[] = [];
    const snap: LeaseSnapshot = { leases: new Map([['10.5.7.0-24', peer]]), corrupt: [], revision: 41n };
    const registry: PeerRegistry = {
      getNetworkConfig: () => Promise.resolve(undefined),
      listLeases: () => Promise.resolve(snap),
      watchLeases: async function* (from: bigint): AsyncIterable<WatchBatch> {
        seenAtWatch.push({ reconciled: [...reconciled], from });
        ac.abort();
      },
    };
    const mgr = { markLost: () => undefined } as unknown as SubnetLeaser;
    const watcher = new LeaseWatcher('10.5.1.0-24', silentLogger);
    const sync = new PeerSync(network, () => watcher.current(), silentLogger, 60_000);
    const d = { registry, log: silentLogger } as unknown as Parameters<typeof watchPeers>[0]['d'];
    await watchPeers({ d, log: silentLogger }, watcher, mgr, sync, ac.signal);
    expect(seenAtWatch).toEqual([{ reconciled: [1], from: 42n }]);
  });

  it('starts from the lease manager\'s listing when it hands one over: no second listing, and our key missing from it is no loss', async () => {
    const ac = new AbortController();
    const reconciled: number[] = [];
    const network = { reconcile: async (peers: readonly Lease[]) => void reconciled.push(peers.length) } as unknown as Network;
    let listed = 0;
    const froms: bigint[] = [];
    const registry: PeerRegistry = {
      getNetworkConfig: () => Promise.resolve(undefined),
      listLeases: () => {
        listed++;
        return Promise.resolve({ leases: new Map(), corrupt: [], revision: 99n });
      },
      watchLeases: async function* (from: bigint): AsyncIterable<WatchBatch> {
        froms.push(from);
        ac.abort();
      },
    };
    let lost = 0;
    let handed: LeaseSnapshot | undefined = { leases: new Map([['10.5.7.0-24', peer]]), corrupt: [], revision: 41n };
    const mgr = {
      markLost: () => void lost++,
      takeListing: () => {
        const h = handed;
        handed = undefined;
        return h;
      },
    } as unknown as SubnetLeaser;
    const watcher = new LeaseWatcher('10.5.1.0-24', silentLogger);
    const sync = new PeerSync(network, () => watcher.current(), silentLogger, 60_000);
    const d = { registry, log: silentLogger } as unknown as Parameters<typeof watchPeers>[0]['d'];
    await watchPeers({ d, log: silentLogger }, watcher, mgr, sync, ac.signal);
    expect({ listed, lost, froms, reconciled }).toEqual({ listed: 0, lost: 0, froms: [42n], reconciled: [1] });
  });
});
