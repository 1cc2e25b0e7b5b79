// client-go's rate-limited work queue, as the controllers use it: a key is queued at most once; a key
// being worked on and queued again is handed out again only after its worker is done (never to two
// workers at once); a failed key comes back after a per-key exponential delay (5 ms doubling to
// 1000 s, ItemExponentialFailureRateLimiter) until it is forgotten. Written here: a few dozen lines,
// and no npm queue has the dirty/processing rule the controllers rely on.
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1_000_000,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.closed || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.waiters.shift()?.();
  }

  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(key);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** The delay the next failure of `key` waits. */
  backoffOf(key: string): number {
    const n = this.failures.get(key) ?? 0;
    return Math.min(this.maxMs, this.baseMs * 2 ** n);
  }

  addRateLimited(key: string): void {
    const ms = this.backoffOf(key);
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    this.addAfter(key, ms);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key, or undefined once the queue is shut down. */
  async get(): Promise<string | undefined> {
    // Bounded: each pass either returns or waits for an add or the shutdown.
    while (!this.closed) {
      const key = this.queue.shift();
      if (key !== undefined) {
        this.dirty.delete(key);
        this.processing.add(key);
        return key;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return undefined;
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.waiters.shift()?.();
    }
  }

  shutDown(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const w = this.waiters;
    this.waiters = [];
    w.forEach((r) => r());
  }
}
