// kube-proxy's change tracker, reduced to what the proxy needs: the latest value of each object
// (already translated into the proxy's model) and the set of keys whose value differs from the one
// seen at the last drain. An object that changes and changes back within one sync drops out, so a
// sync is requested only for a real change.

export class ChangeTracker<V> {
  private readonly current = new Map<string, { readonly value: V; readonly fp: string }>();
  /** Key → its fingerprint at the last drain (undefined: absent then). */
  private readonly pending = new Map<string, string | undefined>();

  constructor(private readonly fingerprint: (v: V) => string = (v) => JSON.stringify(v)) {}

  /** Records the new value (undefined: deleted); true when the key now differs from the last drain. */
  update(key: string, value: V | undefined): boolean {
    const before = this.current.get(key);
    if (!this.pending.has(key)) this.pending.set(key, before?.fp);
    const fp = value === undefined ? undefined : this.fingerprint(value);
    if (value === undefined) this.current.delete(key);
    else this.current.set(key, { value, fp: fp! });
    if (this.pending.get(key) === fp) {
      this.pending.delete(key);
      return false;
    }
    return true;
  }

  /** A full listing (after a lost watch): every key not in it is deleted. True if anything changed. */
  reset(all: ReadonlyMap<string, V>): boolean {
    let changed = false;
    for (const key of [...this.current.keys()]) if (!all.has(key)) changed = this.update(key, undefined) || changed;
    for (const [key, v] of all) changed = this.update(key, v) || changed;
    return changed;
  }

  get(key: string): V | undefined {
    return this.current.get(key)?.value;
  }

  keys(): IterableIterator<string> {
    return this.current.keys();
  }

  get size(): number {
    return this.current.size;
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** The keys changed since the last drain; clears them. */
  drain(): Set<string> {
    const keys = new Set(this.pending.keys());
    this.pending.clear();
    return keys;
  }
}
