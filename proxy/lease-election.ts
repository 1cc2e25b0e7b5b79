// The endpoints maintainer's election on the Kubernetes API: a coordination.k8s.io/v1 Lease
// (kube-system/kube-proxy-endpoints, the key the etcd election uses), taken over as client-go's
// leaderelection does: the holder renews renewTime every ttl/3; a follower that has seen the same
// record for longer than leaseDurationSeconds (by its own clock, so clocks need not agree) takes it
// over with an update at the record's resourceVersion, which a competitor's write turns into a 409. A
// leader that cannot renew for 2/3 of the TTL stops leading; on shutdown it clears the holder so
// another node takes over at once. The API has no transaction that ties a write to the Lease, so
// unlike etcd's fence, the writes are guarded only by the leader's own view (as client-go's are).
// An apiserver that serves no Leases yet (404 on the create) gets the record in a ConfigMap's
// annotation instead, as client-go's older configmaps lock kept it.
import { ApiStatusError, type ClusterStore, ConflictError, keys, parseJsonObject } from '../cluster/index.js';
import { Backoff, errorMessage, type Logger, sleep } from '../common/index.js';
import { proxyKeys } from './keys.js';
import type { FencedWriter } from './election.js';

/** What the lock holds, whichever object carries it. */
interface LeaderRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Obj = Record<string, unknown>;

/** Where the record lives: a Lease's spec, or (an apiserver without leases) a ConfigMap's annotation, as client-go's configmaps lock keeps it. */
interface Lock {
  readonly kind: string;
  readonly key: string;
  read(o: Obj): LeaderRecord;
  write(cur: Obj | undefined, rec: LeaderRecord): Obj;
}

const NAMESPACE = 'kube-system';
const NAME = 'kube-proxy-endpoints';
const ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const LEASE_LOCK: Lock = {
  kind: 'Lease',
  key: proxyKeys.leader(),
  read: (o) => (isObj(o.spec) ? (o.spec as LeaderRecord) : {}),
  write: (cur, rec) => ({ ...(cur ?? { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: NAME, namespace: NAMESPACE } }), spec: rec }),
};

const CONFIGMAP_LOCK: Lock = {
  kind: 'ConfigMap',
  key: keys.configMap(NAMESPACE, NAME),
  read: (o) => {
    const a = isObj(o.metadata) && isObj(o.metadata.annotations) ? o.metadata.annotations[ANNOTATION] : undefined;
    if (typeof a !== 'string') return {};
    try {
      const r = JSON.parse(a) as LeaderRecord & { leaderTransitions?: number };
      return { ...r, leaseTransitions: r.leaderTransitions };
    } catch {
      return {}; // unreadable: free to take
    }
  },
  write: (cur, rec) => {
    const base = cur ?? { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: NAME, namespace: NAMESPACE } };
    const meta = isObj(base.metadata) ? base.metadata : {};
    const { leaseTransitions, ...rest } = rec;
    const value = JSON.stringify({ ...rest, leaderTransitions: leaseTransitions ?? 0 });
    return { ...base, metadata: { ...meta, annotations: { ...(isObj(meta.annotations) ? meta.annotations : {}), [ANNOTATION]: value } } };
  },
};

/** Pure: metav1.MicroTime (RFC 3339 with microseconds). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/(\.\d{3})Z$/, '$1000Z');
}

export interface LeaseElectionOptions {
  readonly identity: string;
  readonly ttlSec: number;
  readonly log: Logger;
  readonly now?: () => number;
  /** The Lease (default kube-system/kube-proxy-endpoints, the proxy's); another lock has no ConfigMap fallback key of the proxy's. */
  readonly lease?: { readonly namespace: string; readonly name: string };
  /** A leader that has not renewed for this long stops leading (default 2/3 of the TTL). */
  readonly renewDeadlineMs?: number;
  /** Between a follower's tries and a leader's renewals (default 1/3 of the TTL). */
  readonly retryPeriodMs?: number;
}

/** The Lease lock of another component (kube-system/kube-scheduler...). */
function leaseLock(namespace: string, name: string): Lock {
  return {
    kind: 'Lease',
    key: `/registry/leases/${namespace}/${name}`,
    read: (o) => (isObj(o.spec) ? (o.spec as LeaderRecord) : {}),
    write: (cur, rec) => ({ ...(cur ?? { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace } }), spec: rec }),
  };
}

export class LeaseElection {
  private leader = false;
  private observed: { record: string; at: number } | undefined;
  private lock: Lock = LEASE_LOCK;
  private readonly now: () => number;

  constructor(
    private readonly store: ClusterStore,
    private readonly o: LeaseElectionOptions,
  ) {
    this.now = o.now ?? Date.now;
    if (o.lease) this.lock = leaseLock(o.lease.namespace, o.lease.name);
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Campaigns until `signal` aborts; `lead` runs while this node leads and must return when its signal aborts. */
  async run(signal: AbortSignal, lead: (leaderSignal: AbortSignal, writer: FencedWriter) => Promise<void>): Promise<void> {
    const { log, ttlSec } = this.o;
    const retryMs = this.o.retryPeriodMs ?? Math.max(200, (ttlSec * 1000) / 3);
    const backoff = new Backoff(500, 10_000);
    let following: string | undefined;
    while (!signal.aborted) {
      let won: boolean;
      try {
        won = await this.tryAcquireOrRenew();
        backoff.reset();
      } catch (e) {
        log.warn({ lock: this.lock.key, err: errorMessage(e) }, 'election failed; retrying');
        await sleep(backoff.next(), signal);
        continue;
      }
      if (!won) {
        const holder = this.observedHolder();
        if (holder !== following) log.info({ lock: this.lock.key, holder }, 'following leader');
        following = holder;
        await sleep(retryMs, signal);
        continue;
      }
      following = undefined;
      await this.leadWhileRenewing(signal, lead);
      if (signal.aborted) await this.release().catch((e: unknown) => log.warn({ lock: this.lock.key, err: errorMessage(e) }, 'cannot release the lease'));
    }
  }

  private async leadWhileRenewing(signal: AbortSignal, lead: (leaderSignal: AbortSignal, writer: FencedWriter) => Promise<void>): Promise<void> {
    const { log, ttlSec, identity } = this.o;
    const lost = new AbortController();
    const leaderSignal = AbortSignal.any([signal, lost.signal]);
    const renewMs = this.o.retryPeriodMs ?? Math.max(200, (ttlSec * 1000) / 3);
    const deadlineMs = this.o.renewDeadlineMs ?? (ttlSec * 1000 * 2) / 3;
    let renewed = this.now();
    const renewing = (async () => {
      while (await sleep(renewMs, leaderSignal)) {
        try {
          if (await this.tryAcquireOrRenew()) renewed = this.now();
          else lost.abort();
        } catch (e) {
          log.warn({ lock: this.lock.key, err: errorMessage(e) }, 'lease renewal failed');
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
    log.info({ lock: this.lock.key, identity }, 'became leader');
    try {
      await lead(leaderSignal, writer);
    } finally {
      lost.abort();
      await renewing;
      this.leader = false;
      log.info({ lock: this.lock.key, identity, reason: signal.aborted ? 'shutdown' : 'lease lost' }, 'stopped leading');
    }
  }

  private observedHolder(): string | undefined {
    return this.observed ? (JSON.parse(this.observed.record) as { holderIdentity?: string }).holderIdentity : undefined;
  }

  /** One round: true when this node holds the lock afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    try {
      return await this.round();
    } catch (e) {
      // Only an apiserver that does not serve Leases answers a create in kube-system with 404.
      if (this.lock === LEASE_LOCK && e instanceof ApiStatusError && e.status === 404) {
        this.o.log.info({ lock: CONFIGMAP_LOCK.key }, 'the API serves no Leases; electing on a ConfigMap');
        this.lock = CONFIGMAP_LOCK;
        return await this.round();
      }
      throw e;
    }
  }

  private async round(): Promise<boolean> {
    const { identity, ttlSec } = this.o;
    const now = this.now();
    const lock = this.lock;
    const fresh: LeaderRecord = { holderIdentity: identity, leaseDurationSeconds: ttlSec, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
    let won = false;
    try {
      await this.store.update(
        lock.key,
        parseJsonObject,
        (cur) => {
          won = false;
          if (!cur) {
            won = true;
            return lock.write(undefined, fresh);
          }
          const rec = lock.read(cur);
          const record = JSON.stringify({ holderIdentity: rec.holderIdentity, renewTime: rec.renewTime });
          if (this.observed?.record !== record) this.observed = { record, at: now };
          if (rec.holderIdentity === identity) {
            won = true;
            return lock.write(cur, { ...rec, leaseDurationSeconds: ttlSec, renewTime: microTime(now) });
          }
          const expired = !rec.holderIdentity || now - this.observed.at > (rec.leaseDurationSeconds ?? ttlSec) * 1000;
          if (!expired) return undefined;
          won = true;
          return lock.write(cur, { ...fresh, leaseTransitions: (rec.leaseTransitions ?? 0) + 1 });
        },
        1,
      );
    } catch (e) {
      if (e instanceof ConflictError) return false; // someone else wrote it first
      throw e;
    }
    return won;
  }

  /** Gives the lock up (holder cleared), so a follower takes over without waiting out the TTL. */
  private async release(): Promise<void> {
    const now = this.now();
    const lock = this.lock;
    await this.store.update(
      lock.key,
      parseJsonObject,
      (cur) => {
        if (!cur) return undefined;
        const rec = lock.read(cur);
        return rec.holderIdentity === this.o.identity ? lock.write(cur, { ...rec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now) }) : undefined;
      },
      1,
    );
  }
}
