import { setTimeout as delay } from 'node:timers/promises';

/** Sleeps `ms`, or less if the signal aborts; resolves true when the full time passed. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
    return true;
  } catch {
    return false;
  }
}

/** Exponential backoff with full jitter on the upper half: min, 2·min, … capped at max. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly rnd: () => number = Math.random,
  ) {}

  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(base / 2 + (this.rnd() * base) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
