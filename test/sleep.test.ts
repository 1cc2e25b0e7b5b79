// common's sleep on vitest's fake timers: it ends after the time asked for, or early (false) on abort,
// and leaves no listener on the signal behind.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sleep } from '../common/index.js';

describe('sleep', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves true once the full time has passed, not before', async () => {
    let result: boolean | undefined;
    void sleep(1_000).then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toBe(true);
  });

  it('resolves false at once when the signal aborts, and cancels its timer', async () => {
    const ac = new AbortController();
    let result: boolean | undefined;
    void sleep(60_000, ac.signal).then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(10);
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(result).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves false for a signal already aborted, and removes its listener after a full sleep', async () => {
    expect(await sleep(10, AbortSignal.abort())).toBe(false);
    const ac = new AbortController();
    const remove = vi.spyOn(ac.signal, 'removeEventListener');
    const p = sleep(10, ac.signal);
    await vi.advanceTimersByTimeAsync(10);
    expect(await p).toBe(true);
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function));
  });
});
