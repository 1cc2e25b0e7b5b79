// watchPrefix (etcd-watch.ts) over etcd's JSON gateway instead of etcd3's gRPC watcher, so a daemon
// whose other calls go through the gateway never loads gRPC: the same batches, the same guarantees.
// A stream that ends or fails is opened again from the revision after the last one seen; a watch
// etcd cancels (compaction) becomes a `reset` with a fresh listing.
import { Backoff, sleep } from './backoff.js';
import { errorMessage } from '../core/index.js';
import { type EtcdGateway, type KvPair, kvPairOf, NoGatewayError } from './etcd-gateway.js';
import type { PrefixWatchBatch } from './etcd-watch.js';
import type { Logger } from './log.js';

export async function* watchPrefixViaGateway(gw: EtcdGateway, prefix: string, fromRevision: bigint, signal: AbortSignal, log: Logger): AsyncIterable<PrefixWatchBatch<KvPair>> {
  const backoff = new Backoff(200, 10_000);
  let rev = fromRevision;
  while (!signal.aborted) {
    let lost: string | undefined;
    try {
      for await (const res of await gw.openWatch(prefix, rev, signal)) {
        if (res.canceled) {
          lost = res.cancel_reason || (res.compact_revision ? `compacted at revision ${res.compact_revision}` : 'watch cancelled by etcd');
          break;
        }
        if (res.created) backoff.reset();
        const events = res.events ?? [];
        if (events.length === 0) continue;
        const revision = BigInt(res.header?.revision ?? '0');
        rev = revision + 1n;
        yield { kind: 'events', events: events.map((e) => ({ type: e.type === 'DELETE' ? 'delete' : 'put', kv: kvPairOf(e.kv) })), revision };
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof NoGatewayError) throw e; // for the caller to watch another way
      log.warn({ prefix, err: errorMessage(e) }, 'watch disconnected; reconnecting');
      await sleep(backoff.next(), signal);
      continue;
    }
    if (signal.aborted) return;
    if (lost === undefined) continue; // the stream ended cleanly: open it again from `rev`
    log.warn({ prefix, reason: lost, revision: rev.toString() }, 'watch lost; listing again');
    while (!signal.aborted) {
      try {
        const { kvs, revision } = await gw.list(prefix);
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
