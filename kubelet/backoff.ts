// Crash-loop back-off per container (Kubernetes' flowcontrol.Backoff as the kubelet uses it):
// the first restart after a container exits is immediate; each later exit waits `base`, doubling up to
// `max`, counted from when the container finished. A container that ran for longer than `reset`
// (10 min by default) since the last back-off starts again from `base`. Times are injected, so tests
// run the schedule in milliseconds.

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  /** An entry older than this (finish time − last update) is forgotten: default 2 × max = 10 min. */
  readonly resetMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 10_000, maxMs: 300_000, resetMs: 600_000 };

interface Entry {
  delayMs: number;
  lastUpdate: number;
}

export class CrashLoopBackoff {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly policy: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * How long a container that finished at `finishedAt` (ms) must still wait before it is restarted;
   * 0 when it may start now (the attempt is then recorded and the next delay doubles).
   */
  check(key: string, finishedAt: number): number {
    const e = this.entries.get(key);
    if (e && !this.expired(e, finishedAt)) {
      const left = finishedAt + e.delayMs - this.now();
      if (left > 0) return left;
    }
    this.next(key, finishedAt);
    return 0;
  }

  private next(key: string, finishedAt: number): void {
    const e = this.entries.get(key);
    if (!e || this.expired(e, finishedAt)) this.entries.set(key, { delayMs: this.policy.baseMs, lastUpdate: this.now() });
    else this.entries.set(key, { delayMs: Math.min(e.delayMs * 2, this.policy.maxMs), lastUpdate: this.now() });
  }

  private expired(e: Entry, eventTime: number): boolean {
    return eventTime - e.lastUpdate > this.policy.resetMs;
  }

  /** The delay the next back-off would use (for status messages); undefined without an entry. */
  current(key: string): number | undefined {
    return this.entries.get(key)?.delayMs;
  }

  /** Forgets every entry of a pod (keys start with `<uid>/`). */
  forgetPod(uid: string): void {
    for (const k of [...this.entries.keys()]) if (k.startsWith(`${uid}/`)) this.entries.delete(k);
  }

  /** Drops entries not touched for longer than the reset window (bounded memory). */
  gc(): void {
    const t = this.now();
    for (const [k, e] of this.entries) if (t - e.lastUpdate > this.policy.resetMs + this.policy.maxMs) this.entries.delete(k);
  }
}

export const backoffKey = (uid: string, container: string): string => `${uid}/${container}`;
