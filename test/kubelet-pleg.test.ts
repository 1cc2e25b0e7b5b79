import { describe, expect, it } from 'vitest';
import { silentLogger } from '../common/index.js';
import { Pleg } from '../kubelet/pleg.js';
import type { RuntimePodSummary } from '../kubelet/runtime.js';

/** A runtime whose listing the test sets, and whose event stream the test drives. */
class FakeRuntime {
  lists = 0;
  pods = new Map<string, RuntimePodSummary>();
  private push: ((v: IteratorResult<unknown>) => void) | undefined;
  private fail: ((e: Error) => void) | undefined;
  connected = 0;

  listPods(): Promise<Map<string, RuntimePodSummary>> {
    this.lists++;
    return Promise.resolve(new Map(this.pods));
  }

  containerChanges(signal: AbortSignal, onConnected: () => void): AsyncIterable<unknown> {
    this.connected++;
    onConnected();
    return {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          new Promise<IteratorResult<unknown>>((resolve, reject) => {
            this.push = resolve;
            this.fail = reject;
            signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), { once: true });
          }),
      }),
    };
  }

  event(): void {
    this.push?.({ done: false, value: {} });
  }

  breakStream(): void {
    this.fail?.(new Error('docker went away'));
  }
}

const pod = (id: string, state: string): RuntimePodSummary => ({ uid: 'u1', name: 'p', namespace: 'default', graceSec: 1, containers: [{ id, name: 'c', state }], sandboxes: [] }) as unknown as RuntimePodSummary;
const until = async (what: string, ok: () => boolean, ms = 2_000): Promise<void> => {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out: ${what}`);
};

describe('the PLEG on Docker events', () => {
  it('relists on an event instead of every period while the stream is up, and polls again when it breaks', async () => {
    const rt = new FakeRuntime();
    const changed: string[] = [];
    const pleg = new Pleg({ runtime: rt, log: silentLogger, periodMs: 50, onPodChanged: (uid) => changed.push(uid) });
    const ac = new AbortController();
    const running = pleg.run(ac.signal);
    try {
      await until('first relists', () => rt.lists >= 1 && rt.connected === 1);
      await new Promise((r) => setTimeout(r, 300));
      // Events are followed: no relist every 50 ms (a couple at most around the connection).
      const quiet = rt.lists;
      expect(quiet).toBeLessThanOrEqual(3);
      rt.pods.set('u1', pod('c1', 'running'));
      rt.event();
      await until('the change reported', () => changed.includes('u1'));
      expect(rt.lists).toBe(quiet + 1);
      // The stream breaks: a relist at once, then polling at the period again until it is back.
      rt.breakStream();
      const broken = rt.lists;
      await until('polling again', () => rt.lists >= broken + 3);
      await until('reconnected', () => rt.connected === 2, 3_000);
    } finally {
      ac.abort();
      await running;
    }
  });
});
