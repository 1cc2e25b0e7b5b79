// The peers on the Kubernetes API: every Node flanneld annotated is a lease, keyed by the node's
// name; the Node watch turns into the registry's batches (a node that loses its annotations, or is
// deleted, is a delete; one that cannot be read is corrupt and skipped). The network config is the
// net-conf.json file kube-flannel mounts from its ConfigMap.
import { readFile } from 'node:fs/promises';
import { type ApiClient, ApiStatusError, InvalidObjectError, parseNodeObject } from '../../cluster/index.js';
import { errorMessage } from '../../core/index.js';
import { CorruptLeaseError, type Lease, type LeaseSnapshot, type NetworkConfig, parseNetworkConfig, type PeerRegistry, type RegistryEvent, type WatchBatch } from '../../ipam/index.js';
import { type AnnotationNames, NodeLeaseError, nodeToLease } from './annotations.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A Node object → its lease, undefined (not flanneld's), or the reason it cannot be one. */
export function leaseOfNodeObject(obj: unknown, a: AnnotationNames, cfg: NetworkConfig): { name: string; lease?: Lease; error?: CorruptLeaseError } {
  const meta = isObj(obj) && isObj(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  try {
    const lease = nodeToLease(parseNodeObject(obj), a, cfg);
    return { name, ...(lease && { lease }) };
  } catch (e) {
    if (!(e instanceof NodeLeaseError || e instanceof InvalidObjectError)) throw e;
    const reason = e instanceof NodeLeaseError ? e.reason : e.message;
    return { name, error: new CorruptLeaseError(name, JSON.stringify(meta.annotations ?? {}), reason) };
  }
}

/** A watch event's Node → the registry event for its key (the node's name). */
export function nodeEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: unknown, a: AnnotationNames, cfg: NetworkConfig): RegistryEvent {
  const got = leaseOfNodeObject(obj, a, cfg);
  if (type === 'DELETED') return { type: 'delete', key: got.name };
  if (got.error) return { type: 'corrupt', key: got.name, error: got.error };
  return got.lease ? { type: 'put', key: got.name, lease: got.lease } : { type: 'delete', key: got.name };
}

const revisionOf = (rv: unknown): bigint => (typeof rv === 'string' && /^\d+$/.test(rv) ? BigInt(rv) : 0n);

export class KubeNodeRegistry implements PeerRegistry {
  private cfg: NetworkConfig | undefined;
  /** The reason each unusable Node was last reported with: its heartbeats (a MODIFIED every few seconds) are not reported again. */
  private readonly corrupt = new Map<string, string>();

  constructor(
    private readonly client: ApiClient,
    private readonly names: AnnotationNames,
    readonly configSource: string,
  ) {}

  /** net-conf.json; undefined while the file does not exist (the ConfigMap not mounted yet). */
  async getNetworkConfig(): Promise<string | undefined> {
    let raw: string;
    try {
      raw = await readFile(this.configSource, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      this.cfg = parseNetworkConfig(raw);
    } catch {
      // the daemon parses it again and reports the field
    }
    return raw;
  }

  async explainMissingConfig(): Promise<{ lookedFor: string[]; write: string[] }> {
    return { lookedFor: [this.configSource], write: [`write the network config (net-conf.json) to ${this.configSource}, e.g. from the kube-flannel-cfg ConfigMap`] };
  }

  private config(): NetworkConfig {
    if (!this.cfg) throw new Error('the network config is not loaded yet');
    return this.cfg;
  }

  async listLeases(): Promise<LeaseSnapshot> {
    const cfg = this.config();
    const list = await this.client.request('GET', '/api/v1/nodes');
    if (!isObj(list) || !Array.isArray(list.items)) throw new ApiStatusError('GET', '/api/v1/nodes', 200, 'BadResponse', 'not a NodeList');
    const leases = new Map<string, Lease>();
    const corrupt: CorruptLeaseError[] = [];
    this.corrupt.clear();
    for (const item of list.items) {
      const got = leaseOfNodeObject(item, this.names, cfg);
      if (got.error) {
        corrupt.push(got.error);
        this.corrupt.set(got.name, got.error.reason);
      } else if (got.lease) leases.set(got.name, got.lease);
    }
    return { leases, corrupt, revision: revisionOf(isObj(list.metadata) ? list.metadata.resourceVersion : undefined) };
  }

  /** One watch of the Nodes from `fromRevision`; it ends when the server ends it (the daemon watches again). */
  async *watchLeases(fromRevision: bigint, signal: AbortSignal): AsyncIterable<WatchBatch> {
    const cfg = this.config();
    let rv = fromRevision > 0n ? fromRevision - 1n : 0n;
    try {
      for await (const evs of this.client.watch('/api/v1/nodes', { resourceVersion: rv.toString(), allowWatchBookmarks: 'true', timeoutSeconds: '300' }, signal)) {
        const events: RegistryEvent[] = [];
        for (const ev of evs) {
          const meta = isObj(ev.object.metadata) ? ev.object.metadata : {};
          if (ev.type === 'ERROR') {
            const code = typeof ev.object.code === 'number' ? ev.object.code : 0;
            if (code === 410) {
              yield { kind: 'reset', snapshot: await this.listLeases() };
              return;
            }
            throw new ApiStatusError('GET', '/api/v1/nodes?watch=true', code, typeof ev.object.reason === 'string' ? ev.object.reason : undefined, typeof ev.object.message === 'string' ? ev.object.message : 'watch error');
          }
          rv = revisionOf(meta.resourceVersion) || rv;
          if (ev.type === 'BOOKMARK') continue;
          const re = nodeEvent(ev.type, ev.object, this.names, cfg);
          if (re.type === 'corrupt') {
            if (this.corrupt.get(re.key) === re.error.reason) continue;
            this.corrupt.set(re.key, re.error.reason);
          } else this.corrupt.delete(re.key);
          events.push(re);
        }
        yield { kind: 'events', events, revision: rv };
      }
    } catch (e) {
      if (e instanceof ApiStatusError && e.status === 410) {
        yield { kind: 'reset', snapshot: await this.listLeases() };
        return;
      }
      throw new Error(`watching the Nodes: ${errorMessage(e)}`, { cause: e });
    }
  }
}
