// List-then-watch (common/prefix-cache.ts) against a scripted source: the first listing retried with
// back-off, events applied once per batch, a watch `reset` diffed against what was known, a failed
// watch followed by a new listing, corrupt values dropped, failures logged once per distinct error.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { followPrefix, PrefixCache, type PrefixBatch, type PrefixCorrupt, type PrefixSource } from '../common/index.js';

interface Item {
  readonly key: string;
  readonly v: number;
}
type Batch = PrefixBatch<Item, PrefixCorrupt>;
type Listing = { items: Item[]; corrupt: PrefixCorrupt[]; revision: bigint };

/** A source that plays a script: each list() takes the next listing (or throws it), each watch() the next batches. */
function scripted(lists: (Listing | Error)[], watches: ((signal: AbortSignal) => AsyncIterable<Batch>)[]) {
  const calls: string[] = [];
  const src: PrefixSource<Item, PrefixCorrupt> = {
    async list(prefix) {
      calls.push(`list ${prefix}`);
      const l = lists.shift();
      if (!l) throw new Error('script: no more listings');
      if (l instanceof Error) throw l;
      return l;
    },
    watch(prefix, from, signal) {
      calls.push(`watch ${prefix} ${from}`);
      const w = watches.shift();
      if (!w) throw new Error('script: no more watches');
      return w(signal);
    },
  };
  return { src, calls };
}

const untilAborted = (signal: AbortSignal): Promise<void> => new Promise((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));

function records() {
  const out: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void out.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, out };
}

describe('PrefixCache / followPrefix', () => {
  it('lists (retrying with back-off), follows batches, takes resets and relists after a failed watch', async () => {
    const ac = new AbortController();
    const slept: number[] = [];
    const changes: string[][] = [];
    const { src, calls } = scripted(
      [new Error('etcd down'), new Error('etcd down'), { items: [{ key: '/p/a', v: 1 }, { key: '/p/b', v: 1 }], corrupt: [{ key: '/p/x', reason: 'not JSON' }], revision: 5n }, { items: [{ key: '/p/d', v: 2 }], corrupt: [], revision: 9n }],
      [
        async function* () {
          yield { kind: 'events', revision: 6n, events: [{ type: 'put', item: { key: '/p/a', v: 2 } }, { type: 'delete', key: '/p/b' }, { type: 'delete', key: '/p/never' }] } satisfies Batch;
          yield { kind: 'events', revision: 7n, events: [{ type: 'corrupt', corrupt: { key: '/p/a', reason: 'not JSON' } }] } satisfies Batch;
          yield { kind: 'reset', items: [{ key: '/p/c', v: 1 }], corrupt: [], revision: 8n } satisfies Batch;
          throw new Error('watch broke');
        },
        async function* (signal) {
          await untilAborted(signal);
        },
      ],
    );
    const { log, out } = records();
    const cache = new PrefixCache<Item>(src, { prefix: '/p/', log, random: () => 1, sleep: async (ms) => {
        slept.push(ms);
        if (slept.length > 20) throw new Error(`runaway: ${calls.join(', ')}`);
        return true;
      } }, (changed) => {
      changes.push([...changed].sort());
      if (cache.items.has('/p/d')) ac.abort();
    });
    await cache.run(ac.signal);

    expect(calls).toEqual(['list /p/', 'list /p/', 'list /p/', 'watch /p/ 6', 'list /p/', 'watch /p/ 10']);
    expect(slept).toEqual([200, 400, 200]); // doubling; reset by the listing that worked
    expect(changes).toEqual([
      ['/p/a', '/p/b'], // first listing
      ['/p/a', '/p/b'], // one batch, one call; a delete of an unknown key is no change
      ['/p/a'], // corrupt: dropped
      ['/p/c'], // reset: old keys and new ones
      ['/p/c', '/p/d'], // the listing after the failed watch
    ]);
    expect([...cache.items.values()]).toEqual([{ key: '/p/d', v: 2 }]);
    expect(cache.synced).toBe(true);
    expect(out.map((r) => [r.msg, r.err ?? r.key ?? r.failures])).toEqual([
      ['cannot list or watch; retrying', 'etcd down'], // the second, identical failure is not logged
      ['skipping a corrupt object', '/p/x'],
      ['listing works again', 2],
      ['skipping a corrupt object', '/p/a'],
      ['cannot list or watch; retrying', 'watch broke'],
      ['listing works again', 1],
    ]);
  });

  it('logs a persisting failure every tenth time and when its error changes; resolves when the signal aborts', async () => {
    const ac = new AbortController();
    const errs = [...Array<Error>(12).fill(new Error('connection refused')), new Error('permission denied')];
    const total = errs.length;
    const { src } = scripted(errs, []);
    const { log, out } = records();
    let n = 0;
    await followPrefix(src, ac.signal, { prefix: '/q/', log, minMs: 10, maxMs: 40, random: () => 1, sleep: async () => {
          if (++n === total) ac.abort();
          if (n > 50) throw new Error('runaway');
          return true;
        } }, { reset: () => undefined, put: () => undefined, delete: () => undefined });
    expect(out.map((r) => [r.err, r.failures, r.retryInMs])).toEqual([
      ['connection refused', 1, 10],
      ['connection refused', 10, 40],
      ['permission denied', 13, 40],
    ]);
  });
});
