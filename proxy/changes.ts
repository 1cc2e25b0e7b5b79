// Whether someone else changed nf_tables since our last write, from the kernel's ruleset generation:
// each of our writes is wrapped (one at a time) by a read before and after it; a generation that moved
// between our writes, or since the last check, was another program's (an `nft delete table` by hand,
// `nft flush ruleset`, Docker, flanneld). The proxier then runs a full sync; while nothing moved its
// periodic wake-up costs one netlink round trip instead of a rewrite of the table. A change that lands
// during one of our own writes is taken for ours: the slow full resync is the backstop for that.

/** Where the generation comes from (nft/'s NftGeneration in the daemon; a fake in unit tests). */
export interface GenerationSource {
  read(): Promise<number>;
  /** Calls onChange after each ruleset change; returns the stop. */
  watch?(onChange: () => void): () => void;
}

export interface ForeignChanges {
  /** True (once) when nf_tables changed other than by our writes since the last call, or when that cannot be known. */
  takeForeign(): Promise<boolean>;
  /** A full sync rewrote the table: what changed before its write is mended (later changes still count). */
  healed(): void;
}

export class GenerationTracker {
  private known: number | undefined;
  private readonly subscribers = new Set<{ foreign: boolean }>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly gen: GenerationSource) {}

  /** Runs one of our writes, the only one at a time (so two of ours never look foreign to each other). */
  ownWrite<T>(write: () => Promise<T>): Promise<T> {
    const run = this.tail.then(async () => {
      await this.observe();
      try {
        return await write();
      } finally {
        this.known = await this.gen.read().catch(() => undefined);
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** A view for one proxier: each has its own flag, so the v4 and v6 tables both learn of a change. */
  subscribe(): ForeignChanges {
    const s = { foreign: true }; // nothing is known at first
    this.subscribers.add(s);
    return {
      takeForeign: async () => {
        await (this.tail = this.tail.then(() => this.observe()));
        const was = s.foreign;
        s.foreign = false;
        return was;
      },
      healed: () => {
        s.foreign = false;
      },
    };
  }

  watch(onChange: () => void): (() => void) | undefined {
    return this.gen.watch?.(onChange);
  }

  /** Reads the generation; one that moved since the last known (or cannot be read) marks every subscriber. */
  private async observe(): Promise<void> {
    let g: number | undefined;
    try {
      g = await this.gen.read();
    } catch {
      g = undefined;
    }
    if (g === undefined || this.known === undefined || g !== this.known) for (const s of this.subscribers) s.foreign = true;
    this.known = g;
  }
}
