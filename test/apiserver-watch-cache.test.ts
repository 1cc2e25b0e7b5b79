// The watch cache's pure parts on fake events: the window's replay-then-live hand-over (nothing missed,
// nothing twice), its bound and lower bound, subscribers' revisions, and the namespace index that
// NamespaceLifecycle reads.
import { describe, expect, it } from 'vitest';
import { NamespaceIndex } from '../apiserver/namespace-cache.js';
import { WatchWindow } from '../apiserver/watch-window.js';

interface Ev {
  readonly rev: bigint;
  readonly id: string;
}
const ev = (rev: number, id = `e${rev}`): Ev => ({ rev: BigInt(rev), id });

function collector(): { got: Ev[]; ended: unknown[]; sub: { onEvent: (e: Ev) => void; onEnd: (r: unknown) => void } } {
  const got: Ev[] = [];
  const ended: unknown[] = [];
  return { got, ended, sub: { onEvent: (e) => got.push(e), onEnd: (r) => ended.push(r) } };
}

describe('WatchWindow', () => {
  it('serves a subscriber from a revision inside the window: held events after it, then live ones, each once', () => {
    const w = new WatchWindow<Ev>(10, 100n);
    for (const r of [101, 102, 103]) w.push(ev(r));
    const c = collector();
    expect(w.subscribe(101n, c.sub)).toBeTypeOf('function');
    expect(c.got.map((e) => e.rev)).toEqual([102n, 103n]);
    w.push(ev(104));
    w.push(ev(105));
    expect(c.got.map((e) => e.rev)).toEqual([102n, 103n, 104n, 105n]);
  });

  it('from the start revision, or from the newest, gets only what comes after it', () => {
    const w = new WatchWindow<Ev>(10, 100n);
    const fromStart = collector();
    w.subscribe(100n, fromStart.sub);
    w.push(ev(101));
    const fromNewest = collector();
    w.subscribe(101n, fromNewest.sub);
    w.push(ev(102));
    expect(fromStart.got.map((e) => e.rev)).toEqual([101n, 102n]);
    expect(fromNewest.got.map((e) => e.rev)).toEqual([102n]);
  });

  it('a subscriber from a revision not reached yet gets nothing until events pass it', () => {
    const w = new WatchWindow<Ev>(10, 100n);
    w.push(ev(101));
    const c = collector();
    w.subscribe(150n, c.sub);
    for (const r of [120, 150, 151]) w.push(ev(r));
    expect(c.got.map((e) => e.rev)).toEqual([151n]);
  });

  it('is bounded: the oldest events leave and the lower bound moves to the last one gone', () => {
    const w = new WatchWindow<Ev>(3, 100n);
    for (let r = 101; r <= 105; r++) w.push(ev(r));
    expect(w.size).toBe(3);
    expect(w.events().map((e) => e.rev)).toEqual([103n, 104n, 105n]);
    expect(w.lowerBound).toBe(102n);
    // From before the window: refused, nothing delivered (the caller reads etcd).
    const old = collector();
    expect(w.subscribe(101n, old.sub)).toBeUndefined();
    expect(old.got).toEqual([]);
    expect(w.subscribers).toBe(0);
    // From exactly the lower bound: everything held.
    const edge = collector();
    w.subscribe(102n, edge.sub);
    expect(edge.got.map((e) => e.rev)).toEqual([103n, 104n, 105n]);
  });

  it('keeps the events of one revision together (a transaction over two keys)', () => {
    const w = new WatchWindow<Ev>(2, 10n);
    w.push(ev(11, 'a'));
    w.push(ev(11, 'b'));
    w.push(ev(12, 'c'));
    // 11/a left: a client from 10 could miss it, one from 11 misses nothing.
    expect(w.lowerBound).toBe(11n);
    expect(w.subscribe(10n, collector().sub)).toBeUndefined();
    const c = collector();
    w.subscribe(11n, c.sub);
    expect(c.got.map((e) => e.id)).toEqual(['c']);
    const all = collector();
    const w2 = new WatchWindow<Ev>(5, 10n);
    w2.push(ev(11, 'a'));
    w2.push(ev(11, 'b'));
    w2.subscribe(10n, all.sub);
    expect(all.got.map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('fans one event out to every subscriber, and an unsubscribed one hears no more', () => {
    const w = new WatchWindow<Ev>(100, 0n);
    const cs = Array.from({ length: 100 }, () => collector());
    const unsubs = cs.map((c) => w.subscribe(0n, c.sub)!);
    w.push(ev(1));
    unsubs[7]!();
    w.push(ev(2));
    expect(cs.filter((c) => c.got.length === 2)).toHaveLength(99);
    expect(cs[7]!.got.map((e) => e.rev)).toEqual([1n]);
    expect(w.subscribers).toBe(99);
  });

  it('drops a subscriber whose handler throws, telling it why, and serves the others', () => {
    const w = new WatchWindow<Ev>(10, 0n);
    const ended: unknown[] = [];
    w.subscribe(0n, {
      onEvent: () => {
        throw new Error('socket gone');
      },
      onEnd: (r) => ended.push(r),
    });
    const ok = collector();
    w.subscribe(0n, ok.sub);
    w.push(ev(1));
    w.push(ev(2));
    expect(ended).toHaveLength(1);
    expect(ok.got).toHaveLength(2);
    expect(w.subscribers).toBe(1);
  });

  it('close ends every subscriber once and refuses new ones', () => {
    const w = new WatchWindow<Ev>(10, 0n);
    const a = collector();
    w.subscribe(0n, a.sub);
    const why = new Error('compacted');
    w.close(why);
    w.close(new Error('again'));
    w.push(ev(1));
    expect(a.ended).toEqual([why]);
    expect(a.got).toEqual([]);
    expect(w.subscribe(0n, collector().sub)).toBeUndefined();
  });

  it('refuses an event older than the newest and a capacity that is not positive', () => {
    const w = new WatchWindow<Ev>(10, 5n);
    w.push(ev(7));
    expect(() => w.push(ev(6))).toThrow(RangeError);
    expect(() => new WatchWindow<Ev>(0, 0n)).toThrow(RangeError);
  });

  it('hands over from replay to live with no gap and no duplicate, whatever the window size', () => {
    for (const cap of [1, 2, 5, 50]) {
      const w = new WatchWindow<Ev>(cap, 0n);
      const subs: { from: bigint; c: ReturnType<typeof collector> }[] = [];
      for (let r = 1; r <= 60; r++) {
        w.push(ev(r));
        // A new subscriber at every step, from each revision the window can still serve.
        for (let from = Number(w.lowerBound); from <= r; from += 7) {
          const c = collector();
          if (w.subscribe(BigInt(from), c.sub)) subs.push({ from: BigInt(from), c });
        }
      }
      for (const { from, c } of subs) {
        const want = Array.from({ length: 60 - Number(from) }, (_, i) => from + BigInt(i) + 1n);
        expect(c.got.map((e) => e.rev)).toEqual(want);
      }
    }
  });
});

describe('NamespaceIndex', () => {
  const ns = (name: string, deleting = false) => ({ metadata: { name, ...(deleting && { deletionTimestamp: '2025-01-01T00:00:00Z' }) } });

  it('answers nothing until its initial list is synced, then active, terminating or unknown', () => {
    const idx = new NamespaceIndex();
    idx.apply({ type: 'ADDED', object: ns('a') });
    idx.apply({ type: 'ADDED', object: ns('b', true) });
    expect(idx.lookup('a')).toBeUndefined();
    idx.markSynced();
    expect(idx.synced).toBe(true);
    expect(idx.lookup('a')).toBe('active');
    expect(idx.lookup('b')).toBe('terminating');
    expect(idx.lookup('c')).toBeUndefined();
  });

  it('follows the watch: marked for deletion, deleted, created again', () => {
    const idx = new NamespaceIndex();
    idx.markSynced();
    idx.apply({ type: 'ADDED', object: ns('a') });
    expect(idx.lookup('a')).toBe('active');
    idx.apply({ type: 'MODIFIED', object: ns('a', true) });
    expect(idx.lookup('a')).toBe('terminating');
    idx.apply({ type: 'DELETED', object: ns('a', true) });
    expect(idx.lookup('a')).toBeUndefined();
    idx.apply({ type: 'ADDED', object: ns('a') });
    expect(idx.lookup('a')).toBe('active');
    idx.apply({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } });
    expect(idx.size).toBe(1);
  });

  it('ignores a state older than the one it holds (a watch event behind this apiserver\'s own write)', () => {
    const idx = new NamespaceIndex();
    idx.markSynced();
    const at = (rv: string, deleting = false) => ({ metadata: { ...ns('a', deleting).metadata, resourceVersion: rv } });
    idx.apply({ type: 'MODIFIED', object: at('20', true) }); // this apiserver marked it Terminating
    idx.apply({ type: 'ADDED', object: at('10') }); // the watch brings the create, then the mark
    expect(idx.lookup('a')).toBe('terminating');
    idx.apply({ type: 'MODIFIED', object: at('20', true) });
    idx.apply({ type: 'DELETED', object: at('30', true) });
    expect(idx.lookup('a')).toBeUndefined();
    idx.apply({ type: 'ADDED', object: at('40') });
    expect(idx.lookup('a')).toBe('active');
  });

  it('a reset (the watch restarted) forgets until the new list is synced, and keeps nothing stale', () => {
    const idx = new NamespaceIndex();
    idx.apply({ type: 'ADDED', object: ns('old') });
    idx.markSynced();
    idx.reset();
    expect(idx.synced).toBe(false);
    expect(idx.lookup('old')).toBeUndefined();
    idx.apply({ type: 'ADDED', object: ns('new') });
    idx.markSynced();
    expect(idx.lookup('new')).toBe('active');
    expect(idx.lookup('old')).toBeUndefined();
  });
});
