// SubnetRegistry on etcd v3, with flannel's key layout: `<prefix>/config` and
// `<prefix>/subnets/<key name>`. A lease key carries an etcd lease (the TTL); a key without one is
// a reservation and is never given a TTL here (flannel's v3 registry did, turning reservations
// into leases that expired).
import type { Etcd3, IKeyValue } from 'etcd3';
import { EtcdError, type KvPair, type Logger, type PrefixWatchBatch, silentLogger, type V2Lookup, watchPrefix } from '../common/index.js';
import { type EtcdKv, grpcKv } from './etcd-kv.js';
import { CorruptLeaseError, type Lease, leaseKeyName, parseLease, renderLeaseAttrs } from './lease.js';
import type { LeaseSnapshot, MissingConfig, RegistryEvent, RenewResult, SubnetRegistry, WatchBatch } from './registry.js';

export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

/** Reads a key of etcd's v2 store (common/etcd-v2.ts), to explain a config written with `etcdctl set`. */
export type V2KeyReader = (key: string) => Promise<V2Lookup>;

/** A prefix watch, over gRPC (watchPrefix) or etcd's JSON gateway (watchPrefixViaGateway). */
export type PrefixWatch = (prefix: string, fromRevision: bigint, signal: AbortSignal, log: Logger) => AsyncIterable<PrefixWatchBatch<KvPair | IKeyValue>>;

/**
 * The registry's calls over `calls` (etcd's JSON gateway, say) and its watch through `watch`, which
 * may be the gateway's too, or build an etcd3 client on the first watch: nothing before it waits for gRPC to load.
 */
export interface LazyEtcd {
  readonly calls: EtcdKv;
  readonly watch: PrefixWatch;
}

export class EtcdRegistry implements SubnetRegistry {
  readonly configKey: string;
  readonly subnetsPrefix: string;
  /** `etcdctl put coreos.com/network/config …` (the v3 spelling of the old `etcdctl set`) writes this. */
  readonly slashlessConfigKey: string;
  private warnedSlashless = false;
  private readonly kv: EtcdKv;
  private readonly watch: PrefixWatch;

  constructor(
    client: Etcd3 | LazyEtcd,
    prefix: string = DEFAULT_ETCD_PREFIX,
    private readonly log: Logger = silentLogger,
    private readonly readV2?: V2KeyReader,
  ) {
    const p = prefix.replace(/\/+$/, '');
    this.configKey = `${p}/config`;
    this.slashlessConfigKey = this.configKey.replace(/^\/+/, '');
    this.subnetsPrefix = `${p}/subnets/`;
    if ('calls' in client) {
      this.kv = client.calls;
      this.watch = client.watch;
    } else {
      this.kv = grpcKv(client);
      this.watch = (prefix, from, signal, log) => watchPrefix(client, prefix, from, signal, log);
    }
  }

  keyOf(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): string {
    return this.subnetsPrefix + leaseKeyName(lease);
  }

  /** The config at `<prefix>/config`, else at the same key without its leading slash (with a warning). */
  async getNetworkConfig(): Promise<string | undefined> {
    const exact = await this.getKey(this.configKey);
    if (exact !== undefined || this.slashlessConfigKey === this.configKey) return exact;
    const slashless = await this.getKey(this.slashlessConfigKey);
    if (slashless !== undefined && !this.warnedSlashless) {
      this.warnedSlashless = true;
      this.log.warn(
        { key: this.slashlessConfigKey, expected: this.configKey, fix: `etcdctl put ${this.configKey} "$(etcdctl get --print-value-only ${this.slashlessConfigKey})"` },
        'using the network config from a key without the leading slash; write it to the expected key',
      );
    }
    return slashless;
  }

  async explainMissingConfig(): Promise<MissingConfig> {
    const lookedFor = [`${this.configKey} (etcd v3)`, ...(this.slashlessConfigKey !== this.configKey ? [`${this.slashlessConfigKey} (etcd v3)`] : []), `${this.configKey} (etcd v2 store)`];
    const v2 = this.readV2 ? await this.readV2(this.configKey) : ({ kind: 'unavailable', reason: 'not asked' } as const);
    return {
      lookedFor,
      ...(v2.kind === 'found' && { note: `found in etcd's v2 store (written by "ETCDCTL_API=2 etcdctl set"), which flanneld does not read: write it with the command below` }),
      write: [`etcdctl put ${this.configKey} '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}'`, 'flanneld config set FILE'],
    };
  }

  private async getKey(key: string): Promise<string | undefined> {
    try {
      return (await this.kv.get(key))?.value;
    } catch (e) {
      throw new EtcdError('get', key, e);
    }
  }

  /** Writes the config document (already checked by the caller). */
  async putNetworkConfig(raw: string): Promise<void> {
    try {
      await this.kv.put(this.configKey, raw);
    } catch (e) {
      throw new EtcdError('put', this.configKey, e);
    }
  }

  async listLeases(): Promise<LeaseSnapshot> {
    try {
      const { kvs, revision } = await this.kv.list(this.subnetsPrefix);
      return this.snapshotOf(kvs, revision);
    } catch (e) {
      throw new EtcdError('list', this.subnetsPrefix, e);
    }
  }

  private snapshotOf(kvs: readonly (KvPair | IKeyValue)[], revision: bigint): LeaseSnapshot {
    const leases = new Map<string, Lease>();
    const corrupt: CorruptLeaseError[] = [];
    for (const kv of kvs) {
      const ev = this.toEvent(kv);
      if (ev.type === 'put') leases.set(ev.key, ev.lease);
      else if (ev.type === 'corrupt') corrupt.push(ev.error);
    }
    return { leases, corrupt, revision };
  }

  async createLease(lease: Lease, ttlSec: number): Promise<{ created: true; expiration: Date } | { created: false }> {
    const key = this.keyOf(lease);
    try {
      const id = lease.reservation ? undefined : await this.grant(ttlSec);
      const created = await this.kv.createIfAbsent(key, renderLeaseAttrs(lease.attrs), id);
      if (!created) {
        if (id !== undefined) await this.revoke(id);
        return { created: false };
      }
      return { created: true, expiration: new Date(Date.now() + ttlSec * 1000) };
    } catch (e) {
      throw new EtcdError('create', key, e);
    }
  }

  async updateLease(lease: Lease, ttlSec: number): Promise<Date | undefined> {
    const key = this.keyOf(lease);
    try {
      const oldId = (await this.kv.get(key))?.lease;
      const value = renderLeaseAttrs(lease.attrs);
      if (lease.reservation) {
        await this.kv.put(key, value);
        return undefined;
      }
      const id = await this.grant(ttlSec);
      await this.kv.put(key, value, id);
      if (oldId && oldId !== '0') await this.revoke(oldId);
      return new Date(Date.now() + ttlSec * 1000);
    } catch (e) {
      throw new EtcdError('update', key, e);
    }
  }

  async renewLease(lease: Lease): Promise<RenewResult> {
    const key = this.keyOf(lease);
    try {
      const kv = await this.kv.get(key);
      if (!kv) return { kind: 'missing' };
      if (kv.lease === '0') return { kind: 'reservation' };
      const ttl = await this.kv.keepAliveOnce(kv.lease);
      return ttl > 0 ? { kind: 'renewed', expiration: new Date(Date.now() + ttl * 1000) } : { kind: 'missing' };
    } catch (e) {
      throw new EtcdError('renew', key, e);
    }
  }

  async deleteLease(lease: Lease): Promise<void> {
    const key = this.keyOf(lease);
    try {
      await this.kv.delete(key);
    } catch (e) {
      throw new EtcdError('delete', key, e);
    }
  }

  /** Lease events from `fromRevision` on; a lost watch becomes a `reset` snapshot (see watchPrefix). */
  async *watchLeases(fromRevision: bigint, signal: AbortSignal): AsyncIterable<WatchBatch> {
    for await (const b of this.watch(this.subnetsPrefix, fromRevision, signal, this.log)) {
      if (b.kind === 'events') {
        yield {
          kind: 'events',
          events: b.events.map((e): RegistryEvent => (e.type === 'delete' ? { type: 'delete', key: this.nameOf(e.kv.key.toString()) } : this.toEvent(e.kv))),
          revision: b.revision,
        };
      } else {
        yield { kind: 'reset', snapshot: this.snapshotOf(b.kvs, b.revision) };
      }
    }
  }

  private nameOf(key: string): string {
    return key.startsWith(this.subnetsPrefix) ? key.slice(this.subnetsPrefix.length) : key;
  }

  private toEvent(kv: KvPair | IKeyValue): RegistryEvent {
    const key = kv.key.toString();
    const name = this.nameOf(key);
    try {
      return { type: 'put', key: name, lease: parseLease(key, kv.value.toString(), kv.lease === '0') };
    } catch (e) {
      if (e instanceof CorruptLeaseError) return { type: 'corrupt', key: name, error: e };
      throw e;
    }
  }

  private grant(ttlSec: number): Promise<string> {
    return this.kv.grant(ttlSec);
  }

  private async revoke(id: string): Promise<void> {
    try {
      await this.kv.revoke(id);
    } catch {
      // An unrevoked lease with no key simply expires.
    }
  }
}
