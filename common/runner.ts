// One writer for kernel state: requests coalesce, runs are at least `minMs` apart, a run happens at
// least every `maxMs` (the periodic full resync), and a failed run is retried after `retryMs`
// (kube-proxy's BoundedFrequencyRunner, with AbortSignal for its lifetime).
import { sleep } from './backoff.js';
import { errorMessage } from '../core/index.js';
import type { Logger } from './log.js';

export interface SyncRunnerOptions {
  readonly name: string;
  readonly fn: () => Promise<void>;
  readonly minMs: number;
  readonly maxMs: number;
  readonly retryMs: number;
  readonly log: Logger;
}

export class SyncRunner {
  private pending = false;
  private wake: AbortController = new AbortController();

  constructor(private readonly o: SyncRunnerOptions) {}

  /** Asks for a run as soon as the minimum interval allows; never blocks. */
  request(): void {
    this.pending = true;
    this.wake.abort();
  }

  async run(signal: AbortSignal): Promise<void> {
    let lastEnd = 0;
    let nextDue = 0; // run at once on start
    while (!signal.aborted) {
      const now = Date.now();
      const due = this.pending ? Math.max(lastEnd + this.o.minMs, now) : nextDue;
      if (due > now) {
        await sleep(due - now, AbortSignal.any([signal, this.wake.signal]));
        if (this.wake.signal.aborted) this.wake = new AbortController();
        continue;
      }
      this.pending = false;
      try {
        await this.o.fn();
        nextDue = Date.now() + this.o.maxMs;
      } catch (e) {
        this.o.log.error({ runner: this.o.name, err: errorMessage(e) }, 'sync failed; retrying');
        nextDue = Date.now() + this.o.retryMs;
      }
      lastEnd = Date.now();
    }
  }
}
