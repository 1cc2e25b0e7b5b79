// One maintainer for the cluster-wide work (Endpoints, range cleanup): an election on one etcd key,
// created only if absent and attached to an etcd lease the winner keeps alive. The winner leads until
// its lease is lost (etcd unreachable for a TTL, or revoked), the key is deleted, or it shuts down
// (it then revokes the lease, so another node takes over at once instead of after the TTL).
// Every write the leader makes carries a fence (the key still belongs to its lease), so a leader that
// lost its lease without noticing yet cannot overwrite its successor's work.
import type { Etcd3, Lease, Watcher } from 'etcd3';
import { decodeObject, object, type ObjectStore, opt, parserOf, str } from '../cluster/index.js';
import { Backoff, errorMessage, type Logger, sleep, withTimeout } from '../common/index.js';
import { microTime } from './lease-election.js';

export interface LeaderFence {
  readonly key: string;
  readonly leaseId: string;
}

/** How the elected maintainer writes: only while it leads (a value of undefined deletes the key). */
export interface FencedWriter {
  write(key: string, value: unknown): Promise<void>;
}

/** The etcd fence as a writer: each write is one transaction on the election key still being ours. */
export function etcdFencedWriter(store: ObjectStore, fence: LeaderFence): FencedWriter {
  return {
    write: async (key, value) => {
      const ok = await store.txn([{ key: fence.key, leaseId: fence.leaseId }], [value === undefined ? { delete: key } : { put: key, value }]);
      if (!ok) throw new Error('no longer the leader');
    },
  };
}

export interface ElectionOptions {
  readonly key: string;
  readonly identity: string;
  readonly ttlSec: number;
  readonly log: Logger;
}

export class LeaderElection {
  private leader = false;
  constructor(
    private readonly client: Etcd3,
    private readonly o: ElectionOptions,
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  /** Campaigns until `signal` aborts; `lead` runs while this node leads and must return when its signal aborts. */
  async run(signal: AbortSignal, lead: (leaderSignal: AbortSignal, fence: LeaderFence) => Promise<void>): Promise<void> {
    const log = this.o.log;
    const backoff = new Backoff(500, 10_000);
    while (!signal.aborted) {
      try {
        await this.waitUntilFree(signal);
        if (signal.aborted) break;
        await this.campaign(signal, lead);
        backoff.reset();
      } catch (e) {
        log.warn({ key: this.o.key, err: errorMessage(e) }, 'election failed; retrying');
        await sleep(backoff.next(), signal);
      }
    }
  }

  private async campaign(signal: AbortSignal, lead: (leaderSignal: AbortSignal, fence: LeaderFence) => Promise<void>): Promise<void> {
    const { key, identity, ttlSec, log } = this.o;
    const lease: Lease = this.client.lease(ttlSec);
    const lost = new AbortController();
    lease.on('lost', (err) => {
      log.warn({ key, err: errorMessage(err) }, 'leader lease lost');
      lost.abort();
    });
    let revoke = true;
    try {
      const leaseId = await lease.grant();
      const value = JSON.stringify(electionLease(key, identity, ttlSec, leaseId, Date.now()));
      const won = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(value).lease(leaseId)).commit();
      if (!won.succeeded) return; // someone was faster: follow again
      const gone = new AbortController();
      const watcher = await this.watchKey(() => gone.abort());
      const leaderSignal = AbortSignal.any([signal, lost.signal, gone.signal]);
      this.leader = true;
      log.info({ key, identity, leaseId }, 'became leader');
      try {
        await lead(leaderSignal, { key, leaseId });
      } finally {
        this.leader = false;
        await watcher.cancel().catch(() => undefined);
        log.info({ key, identity, reason: signal.aborted ? 'shutdown' : lost.signal.aborted ? 'lease lost' : 'key gone' }, 'stopped leading');
      }
      revoke = !lost.signal.aborted;
    } finally {
      if (revoke) await withTimeout(lease.revoke(), 3_000).catch(() => undefined);
      else lease.release();
    }
  }

  /** Resolves once the key is absent (a watch for a prompt reaction, a periodic read as the backstop). */
  private async waitUntilFree(signal: AbortSignal): Promise<void> {
    const pollMs = Math.max(500, (this.o.ttlSec * 1000) / 2);
    let logged = false;
    for (let i = 0; !signal.aborted && i < Number.MAX_SAFE_INTEGER; i++) {
      const freed = new AbortController();
      const watcher = await this.watchKey(() => freed.abort());
      try {
        const cur = await this.client.get(this.o.key).string();
        if (cur === null) return;
        if (!logged) {
          this.o.log.info({ key: this.o.key, holder: holderOf(cur) }, 'following leader');
          logged = true;
        }
        await sleep(pollMs, AbortSignal.any([signal, freed.signal]));
      } finally {
        await watcher.cancel().catch(() => undefined);
      }
    }
  }

  private async watchKey(onDelete: () => void): Promise<Watcher> {
    const w = await this.client.watch().key(this.o.key).create();
    w.on('delete', onDelete);
    w.on('error', () => undefined);
    return w;
  }
}

/** The annotation that names the etcd lease the election key is bound to (the fence of the leader's writes). */
export const ETCD_LEASE_ANNOTATION = 'flannel-ts.io/etcd-lease-id';

/**
 * Pure: the election key's value, a coordination.k8s.io/v1 Lease, because the key (/registry/leases/<ns>/<name>)
 * is where an apiserver keeps Leases: `kubectl get lease -n kube-system` shows the holder.
 */
export function electionLease(key: string, identity: string, ttlSec: number, leaseId: string, nowMs: number): Record<string, unknown> {
  const [namespace, name] = key.split('/').slice(-2);
  return {
    kind: 'Lease',
    apiVersion: 'coordination.k8s.io/v1',
    metadata: { name, namespace, annotations: { [ETCD_LEASE_ANNOTATION]: leaseId } },
    spec: { holderIdentity: identity, leaseDurationSeconds: ttlSec, acquireTime: microTime(nowMs), renewTime: microTime(nowMs) },
  };
}

const parseHolder = parserOf(object({ spec: opt(object({ holderIdentity: opt(str) })) }));

/** The holder named in the election key (only logged: undefined when the value is not ours to read). */
export function holderOf(raw: string): string | undefined {
  const d = decodeObject('', raw, '', parseHolder);
  return 'obj' in d ? d.obj.spec?.holderIdentity : undefined;
}
