// Watching a key prefix without ever missing a change. etcd3's watcher already reconnects and
// resumes from its last revision; what it cannot recover from is a cancelled watch (compaction, or a
// revision etcd no longer has). Then we list the prefix again and hand the caller a `reset` with
// every key, to diff against what it knew, and watch on from the listing's revision.
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import { Backoff, sleep } from './backoff.js';
import { errorMessage, withTimeout } from '../core/index.js';
import type { Logger } from './log.js';
import { AsyncQueue } from './queue.js';

export type PrefixWatchBatch<K = IKeyValue> =
  | { readonly kind: 'events'; readonly events: readonly { readonly type: 'put' | 'delete'; readonly kv: K }[]; readonly revision: bigint }
  | { readonly kind: 'reset'; readonly kvs: readonly K[]; readonly revision: bigint };

export async function listPrefix(client: Etcd3, prefix: string): Promise<{ kvs: IKeyValue[]; revision: bigint }> {
  const res = await client.getAll().prefix(prefix).exec();
  return { kvs: res.kvs, revision: BigInt(res.header.revision) };
}

export async function* watchPrefix(client: Etcd3, prefix: string, fromRevision: bigint, signal: AbortSignal, log: Logger): AsyncIterable<PrefixWatchBatch> {
  const backoff = new Backoff(200, 10_000);
  let rev = fromRevision;
  while (!signal.aborted) {
    const queue = new AsyncQueue<PrefixWatchBatch | { kind: 'lost'; reason: string }>(signal);
    const watcher: Watcher = client.watch().prefix(prefix).startRevision(rev.toString()).watcher();
    let cancelledByServer = false;
    watcher.on('data', (res: IWatchResponse) => {
      if (res.events.length === 0) return;
      queue.push({
        kind: 'events',
        events: res.events.map((e) => ({ type: e.type === 'Delete' ? 'delete' : 'put', kv: e.kv })),
        revision: BigInt(res.header.revision),
      });
    });
    watcher.on('error', (err: unknown) => {
      cancelledByServer = true;
      queue.push({ kind: 'lost', reason: errorMessage(err) || 'watch cancelled by etcd' });
    });
    watcher.on('disconnected', (err: unknown) => log.warn({ prefix, err: errorMessage(err) }, 'watch disconnected; reconnecting'));
    watcher.on('connected', () => backoff.reset());
    try {
      for await (const item of queue) {
        if (item.kind === 'lost') {
          log.warn({ prefix, reason: item.reason, revision: rev.toString() }, 'watch lost; listing again');
          break;
        }
        if (item.kind === 'events') rev = item.revision + 1n;
        yield item;
      }
    } finally {
      // A watch etcd already cancelled is detached; cancelling it again would wait forever.
      if (!cancelledByServer) await withTimeout(watcher.cancel(), 5_000).catch(() => undefined);
    }
    while (!signal.aborted) {
      try {
        const { kvs, revision } = await listPrefix(client, prefix);
        rev = revision + 1n;
        yield { kind: 'reset', kvs, revision };
        break;
      } catch (e) {
        log.warn({ prefix, err: errorMessage(e) }, 'listing failed; retrying');
        await sleep(backoff.next(), signal);
      }
    }
  }
}
