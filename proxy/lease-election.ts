// The endpoints maintainer's election on the Kubernetes API: a coordination.k8s.io/v1 Lease
// (kube-system/kube-proxy-endpoints, the key the etcd election uses), taken over as client-go's
// leaderelection does: the holder renews renewTime every ttl/3; a follower that has seen the same
// record for longer than leaseDurationSeconds (by its own clock, so clocks need not agree) takes it
// over with an update at the record's resourceVersion, which a competitor's write turns into a 409. A
// leader that cannot renew for 2/3 of the TTL stops leading; on shutdown it clears the holder so
// another node takes over at once. The API has no transaction that ties a write to the Lease, so
// unlike etcd's fence, the writes are guarded only by the leader's own view (as client-go's are).
import { type ClusterStore, ConflictError, object, opt, parserOf, str, num } from '../cluster/index.js';
import { Backoff, errorMessage, type Logger, sleep } from '../common/index.js';
import { proxyKeys } from './keys.js';
import type { FencedWriter } from './election.js';

interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

const parseLease = parserOf(object({ spec: opt(object({ holderIdentity: opt(str), leaseDurationSeconds: opt(num), renewTime: opt(str), leaseTransitions: opt(num) })) })) as (v: unknown) => LeaseObject;

/** Pure: metav1.MicroTime (RFC 3339 with microseconds). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/(\.\d{3})Z$/, '$1000Z');
}

export interface LeaseElectionOptions {
  readonly identity: string;
  readonly ttlSec: number;
  readonly log: Logger;
  readonly now?: () => number;
}

export class LeaseElection {
  private leader = false;
  private observed: { record: string; at: number } | undefined;
  private readonly key = proxyKeys.leader();
  private readonly now: () => number;

  constructor(
    private readonly store: ClusterStore,
    private readonly o: LeaseElectionOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Campaigns until `signal` aborts; `lead` runs while this node leads and must return when its signal aborts. */
  async run(signal: AbortSignal, lead: (leaderSignal: AbortSignal, writer: FencedWriter) => Promise<void>): Promise<void> {
    const { log, ttlSec } = this.o;
    const retryMs = Math.max(200, (ttlSec * 1000) / 3);
    const backoff = new Backoff(500, 10_000);
    let following: string | undefined;
    while (!signal.aborted) {
      let won: boolean;
      try {
        won = await this.tryAcquireOrRenew();
        backoff.reset();
      } catch (e) {
        log.warn({ lease: this.key, err: errorMessage(e) }, 'election failed; retrying');
        await sleep(backoff.next(), signal);
        continue;
      }
      if (!won) {
        const holder = this.observedHolder();
        if (holder !== following) log.info({ lease: this.key, holder }, 'following leader');
        following = holder;
        await sleep(retryMs, signal);
        continue;
      }
      following = undefined;
      await this.leadWhileRenewing(signal, lead);
      if (signal.aborted) await this.release().catch((e: unknown) => log.warn({ lease: this.key, err: errorMessage(e) }, 'cannot release the lease'));
    }
  }

  private async leadWhileRenewing(signal: AbortSignal, lead: (leaderSignal: AbortSignal, writer: FencedWriter) => Promise<void>): Promise<void> {
    const { log, ttlSec, identity } = this.o;
    const lost = new AbortController();
    const leaderSignal = AbortSignal.any([signal, lost.signal]);
    const renewMs = Math.max(200, (ttlSec * 1000) / 3);
    const deadlineMs = (ttlSec * 1000 * 2) / 3;
    let renewed = this.now();
    const renewing = (async () => {
      while (await sleep(renewMs, leaderSignal)) {
        try {
          if (await this.tryAcquireOrRenew()) renewed = this.now();
          else lost.abort();
        } catch (e) {
          log.warn({ lease: this.key, err: errorMessage(e) }, 'lease renewal failed');
          if (this.now() - renewed > deadlineMs) lost.abort();
        }
      }
    })();
    const writer: FencedWriter = {
      write: async (key, value) => {
        if (leaderSignal.aborted) throw new Error('no longer the leader');
        if (value === undefined) await this.store.delete(key);
        else await this.store.put(key, value);
      },
    };
    this.leader = true;
    log.info({ lease: this.key, identity }, 'became leader');
    try {
      await lead(leaderSignal, writer);
    } finally {
      lost.abort();
      await renewing;
      this.leader = false;
      log.info({ lease: this.key, identity, reason: signal.aborted ? 'shutdown' : 'lease lost' }, 'stopped leading');
    }
  }

  private observedHolder(): string | undefined {
    return this.observed ? (JSON.parse(this.observed.record) as { holderIdentity?: string }).holderIdentity : undefined;
  }

  /** One round: true when this node holds the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { identity, ttlSec } = this.o;
    const now = this.now();
    const [namespace, name] = this.key.split('/').slice(-2) as [string, string];
    const fresh: LeaseObject = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace },
      spec: { holderIdentity: identity, leaseDurationSeconds: ttlSec, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
    };
    let won = false;
    try {
      await this.store.update(
        this.key,
        parseLease,
        (cur) => {
          won = false;
          if (!cur) {
            won = true;
            return fresh;
          }
          const spec = cur.spec ?? {};
          const record = JSON.stringify({ holderIdentity: spec.holderIdentity, renewTime: spec.renewTime });
          if (this.observed?.record !== record) this.observed = { record, at: now };
          if (spec.holderIdentity === identity) {
            won = true;
            return { ...cur, spec: { ...spec, leaseDurationSeconds: ttlSec, renewTime: microTime(now) } };
          }
          const expired = !spec.holderIdentity || now - this.observed.at > (spec.leaseDurationSeconds ?? ttlSec) * 1000;
          if (!expired) return undefined;
          won = true;
          return { ...cur, spec: { ...fresh.spec, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } };
        },
        1,
      );
    } catch (e) {
      if (e instanceof ConflictError) return false; // someone else wrote it first
      throw e;
    }
    return won;
  }

  /** Gives the lease up (holder cleared), so a follower takes over without waiting out the TTL. */
  private async release(): Promise<void> {
    const now = this.now();
    await this.store.update(this.key, parseLease, (cur) => (cur?.spec?.holderIdentity === this.o.identity ? { ...cur, spec: { ...cur.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now) } } : undefined), 1);
  }
}
