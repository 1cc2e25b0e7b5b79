// SubnetRegistry on etcd v3, with flannel's key layout: `<prefix>/config` and
// `<prefix>/subnets/<key name>`. A lease key carries an etcd lease (the TTL); a key without one is
// a reservation and is never given a TTL here (flannel's v3 registry did, turning reservations
// into leases that expired).
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import { AsyncQueue, Backoff, errorMessage, FlannelError, sleep, type Logger, silentLogger } from '../common/index.js';
import { CorruptLeaseError, type Lease, leaseKeyName, parseLease, renderLeaseAttrs } from './lease.js';
import type { LeaseSnapshot, RegistryEvent, RenewResult, SubnetRegistry, WatchBatch } from './registry.js';

export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

export class RegistryError extends FlannelError {
  readonly code = 'REGISTRY';
  override readonly transient = true;
  constructor(
    readonly op: string,
    readonly key: string,
    cause: unknown,
  ) {
    super(`etcd ${op} ${key}: ${errorMessage(cause)}`, { cause });
  }
}

export class EtcdRegistry implements SubnetRegistry {
  readonly configKey: string;
  readonly subnetsPrefix: string;

  constructor(
    private readonly client: Etcd3,
    prefix: string = DEFAULT_ETCD_PREFIX,
    private readonly log: Logger = silentLogger,
  ) {
    const p = prefix.replace(/\/+$/, '');
    this.configKey = `${p}/config`;
    this.subnetsPrefix = `${p}/subnets/`;
  }

  keyOf(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): string {
    return this.subnetsPrefix + leaseKeyName(lease);
  }

  async getNetworkConfig(): Promise<string | undefined> {
    try {
      return (await this.client.get(this.configKey).string()) ?? undefined;
    } catch (e) {
      throw new RegistryError('get', this.configKey, e);
    }
  }

  async listLeases(): Promise<LeaseSnapshot> {
    let res;
    try {
      res = await this.client.getAll().prefix(this.subnetsPrefix).exec();
    } catch (e) {
      throw new RegistryError('list', this.subnetsPrefix, e);
    }
    const leases = new Map<string, Lease>();
    const corrupt: CorruptLeaseError[] = [];
    for (const kv of res.kvs) {
      const ev = this.toEvent(kv);
      if (ev.type === 'put') leases.set(ev.key, ev.lease);
      else if (ev.type === 'corrupt') corrupt.push(ev.error);
    }
    return { leases, corrupt, revision: BigInt(res.header.revision) };
  }

  async createLease(lease: Lease, ttlSec: number): Promise<{ created: true; expiration: Date } | { created: false }> {
    const key = this.keyOf(lease);
    try {
      const id = lease.reservation ? undefined : await this.grant(ttlSec);
      const put = this.client.put(key).value(renderLeaseAttrs(lease.attrs));
      const res = await this.client
        .if(key, 'Version', '==', 0)
        .then(id === undefined ? put : put.lease(id))
        .commit();
      if (!res.succeeded) {
        if (id !== undefined) await this.revoke(id);
        return { created: false };
      }
      return { created: true, expiration: new Date(Date.now() + ttlSec * 1000) };
    } catch (e) {
      throw new RegistryError('create', key, e);
    }
  }

  async updateLease(lease: Lease, ttlSec: number): Promise<Date | undefined> {
    const key = this.keyOf(lease);
    try {
      const before = await this.client.get(key).exec();
      const oldId = before.kvs[0]?.lease;
      const value = renderLeaseAttrs(lease.attrs);
      if (lease.reservation) {
        await this.client.put(key).value(value);
        return undefined;
      }
      const id = await this.grant(ttlSec);
      await this.client.put(key).value(value).lease(id);
      if (oldId && oldId !== '0') await this.revoke(oldId);
      return new Date(Date.now() + ttlSec * 1000);
    } catch (e) {
      throw new RegistryError('update', key, e);
    }
  }

  async renewLease(lease: Lease): Promise<RenewResult> {
    const key = this.keyOf(lease);
    try {
      const kv = (await this.client.get(key).exec()).kvs[0];
      if (!kv) return { kind: 'missing' };
      if (kv.lease === '0') return { kind: 'reservation' };
      const ttl = await this.keepAliveOnce(kv.lease);
      return ttl > 0 ? { kind: 'renewed', expiration: new Date(Date.now() + ttl * 1000) } : { kind: 'missing' };
    } catch (e) {
      throw new RegistryError('renew', key, e);
    }
  }

  async deleteLease(lease: Lease): Promise<void> {
    const key = this.keyOf(lease);
    try {
      await this.client.delete().key(key).exec();
    } catch (e) {
      throw new RegistryError('delete', key, e);
    }
  }

  /**
   * etcd3's watcher already reconnects and resumes from its last revision; what it cannot recover
   * from is a cancelled watch (compaction, or a revision etcd no longer has). Then we list again and
   * hand the caller a `reset` snapshot to diff against what it knew.
   */
  async *watchLeases(fromRevision: bigint, signal: AbortSignal): AsyncIterable<WatchBatch> {
    const backoff = new Backoff(200, 10_000);
    let rev = fromRevision;
    while (!signal.aborted) {
      const queue = new AsyncQueue<WatchBatch | { kind: 'lost'; reason: string }>(signal);
      const watcher: Watcher = this.client.watch().prefix(this.subnetsPrefix).startRevision(rev.toString()).watcher();
      watcher.on('data', (res: IWatchResponse) => {
        if (res.events.length === 0) return;
        const events = res.events.map((e): RegistryEvent => {
          const key = e.kv.key.toString();
          return e.type === 'Delete' ? { type: 'delete', key: this.nameOf(key) } : this.toEvent(e.kv);
        });
        queue.push({ kind: 'events', events, revision: BigInt(res.header.revision) });
      });
      let cancelledByServer = false;
      watcher.on('error', (err: unknown) => {
        cancelledByServer = true;
        queue.push({ kind: 'lost', reason: errorMessage(err) || 'watch cancelled by etcd' });
      });
      watcher.on('disconnected', (err: unknown) => this.log.warn({ err: errorMessage(err) }, 'lease watch disconnected; reconnecting'));
      watcher.on('connected', () => backoff.reset());
      try {
        for await (const item of queue) {
          if (item.kind === 'lost') {
            this.log.warn({ reason: item.reason, revision: rev.toString() }, 'lease watch lost; listing leases again');
            break;
          }
          if (item.kind === 'events') rev = item.revision + 1n;
          yield item;
        }
      } finally {
        // A watch etcd already cancelled is detached; cancelling it again would wait forever.
        if (!cancelledByServer) await withTimeout(watcher.cancel(), 5_000).catch(() => undefined);
      }
      // Re-list until etcd answers, then resume watching right after the listing's revision.
      while (!signal.aborted) {
        try {
          const snapshot = await this.listLeases();
          rev = snapshot.revision + 1n;
          yield { kind: 'reset', snapshot };
          break;
        } catch (e) {
          this.log.warn({ err: errorMessage(e) }, 'listing leases failed; retrying');
          await sleep(backoff.next(), signal);
        }
      }
    }
  }

  private nameOf(key: string): string {
    return key.startsWith(this.subnetsPrefix) ? key.slice(this.subnetsPrefix.length) : key;
  }

  private toEvent(kv: IKeyValue): RegistryEvent {
    const key = kv.key.toString();
    const name = this.nameOf(key);
    try {
      return { type: 'put', key: name, lease: parseLease(key, kv.value.toString(), kv.lease === '0') };
    } catch (e) {
      if (e instanceof CorruptLeaseError) return { type: 'corrupt', key: name, error: e };
      throw e;
    }
  }

  private async grant(ttlSec: number): Promise<string> {
    const res = await this.client.leaseClient.leaseGrant({ TTL: ttlSec, ID: 0 });
    if (res.error) throw new Error(`lease grant: ${res.error}`);
    return res.ID;
  }

  private async revoke(id: string): Promise<void> {
    try {
      await this.client.leaseClient.leaseRevoke({ ID: id });
    } catch {
      // An unrevoked lease with no key simply expires.
    }
  }

  private async keepAliveOnce(id: string): Promise<number> {
    const stream = await this.client.leaseClient.leaseKeepAlive();
    try {
      return await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('keepalive timed out')), 10_000);
        stream.on('data', (res: { TTL: string }) => {
          clearTimeout(timer);
          resolve(Number(res.TTL));
        });
        stream.on('error', (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        });
        stream.write({ ID: id });
      });
    } finally {
      stream.end();
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
}
