// The global part (base chains, the per-pod verdict maps, the chains of policy sets, @self) kept up to date
// incrementally: a policy's new selection touches only the pods that entered or left it, and `flush` returns
// just those entries (and the policy-set chains that appeared or went) as two small parts for renderDiff,
// so one pod's change costs the same with 5,000 isolated pods as with 5. Always equal to
// globalPart(selections) (the unit tests check it). Pure.
import { baseChain, comboChain, comboName, type Dir, MAP, MAP_DECL, type Selection, SELF_DECL } from './layout.js';
import type { ChainSpec, Part, SetSpec } from './ruleset.js';

const DIRS: readonly Dir[] = ['egress', 'ingress'];

export class GlobalIndex {
  private readonly selections = new Map<string, Selection>();
  private readonly byPod: Record<Dir, Map<string, Set<string>>> = { ingress: new Map(), egress: new Map() };
  private readonly comboRefs = new Map<string, number>();
  private readonly dirty: Record<Dir, Set<string>> = { ingress: new Set(), egress: new Set() };
  private readonly chains = new Map<string, ChainSpec>(DIRS.map((d) => [d, baseChain(d)]));
  private readonly maps: Record<Dir, Map<string, string>> = { ingress: new Map(), egress: new Map() };
  private readonly self = new Map<string, string>();
  /** The whole global part as it is now (its maps are live: read, never keep). */
  readonly part: Part = {
    chains: this.chains,
    sets: new Map<string, SetSpec>([
      [MAP.egress, { kind: 'map', decl: MAP_DECL, elements: this.maps.egress }],
      [MAP.ingress, { kind: 'map', decl: MAP_DECL, elements: this.maps.ingress }],
      [MAP.self, { kind: 'set', decl: SELF_DECL, elements: this.self }],
    ]),
  };

  /** The policy's selection now (undefined: the policy is gone). */
  update(hash: string, sel: Selection | undefined): void {
    const old = this.selections.get(hash);
    if (sel) this.selections.set(hash, sel);
    else this.selections.delete(hash);
    for (const d of DIRS) {
      const before = new Set(old?.[d] ?? []);
      const after = new Set(sel?.[d] ?? []);
      for (const ip of before) {
        if (after.has(ip)) continue;
        const s = this.byPod[d].get(ip);
        s?.delete(hash);
        if (s?.size === 0) this.byPod[d].delete(ip);
        this.dirty[d].add(ip);
      }
      for (const ip of after) {
        if (before.has(ip)) continue;
        let s = this.byPod[d].get(ip);
        if (!s) this.byPod[d].set(ip, (s = new Set()));
        s.add(hash);
        this.dirty[d].add(ip);
      }
    }
  }

  size(d: Dir): number {
    return this.maps[d].size;
  }

  /** Applies the pending changes to `part`; returns what they were, as before/after parts of the same sets. */
  flush(): { before: Part; after: Part } {
    type Mutable = { chains: Map<string, ChainSpec>; sets: Map<string, { kind: 'set' | 'map'; decl: string; elements: Map<string, string> }> };
    const mk = (): Mutable => ({
      chains: new Map(),
      sets: new Map([
        [MAP.egress, { kind: 'map', decl: MAP_DECL, elements: new Map() }],
        [MAP.ingress, { kind: 'map', decl: MAP_DECL, elements: new Map() }],
        [MAP.self, { kind: 'set', decl: SELF_DECL, elements: new Map() }],
      ]),
    });
    const before = mk();
    const after = mk();
    const combos = new Map<string, { spec: ChainSpec; existed: boolean }>();
    const ref = (name: string, spec: () => ChainSpec, delta: number): void => {
      if (!combos.has(name)) combos.set(name, { spec: this.chains.get(name) ?? spec(), existed: (this.comboRefs.get(name) ?? 0) > 0 });
      this.comboRefs.set(name, (this.comboRefs.get(name) ?? 0) + delta);
    };
    const selfTouched = new Set<string>();
    for (const d of DIRS) {
      for (const ip of this.dirty[d]) {
        const old = this.maps[d].get(ip);
        const hs = this.byPod[d].get(ip);
        const sorted = hs ? [...hs].sort() : [];
        const name = sorted.length ? comboName(d, sorted) : undefined;
        const next = name ? `goto ${name}` : undefined;
        if (old === next) continue;
        if (old) {
          before.sets.get(MAP[d])!.elements.set(ip, old);
          ref(old.slice(5), () => ({ rules: [] }), -1);
          this.maps[d].delete(ip);
        }
        if (next && name) {
          after.sets.get(MAP[d])!.elements.set(ip, next);
          ref(name, () => comboChain(d, sorted), +1);
          this.maps[d].set(ip, next);
        }
        selfTouched.add(ip);
      }
      this.dirty[d].clear();
    }
    for (const [name, c] of combos) {
      const now = (this.comboRefs.get(name) ?? 0) > 0;
      if (!now) this.comboRefs.delete(name);
      if (c.existed && !now) {
        before.chains.set(name, c.spec);
        this.chains.delete(name);
      } else if (!c.existed && now) {
        after.chains.set(name, c.spec);
        this.chains.set(name, c.spec);
      }
    }
    for (const ip of selfTouched) {
      const key = `${ip} . ${ip}`;
      const was = this.self.has(key);
      const is = this.maps.ingress.has(ip) || this.maps.egress.has(ip);
      if (was && !is) (before.sets.get(MAP.self)!.elements.set(key, ''), this.self.delete(key));
      if (!was && is) (after.sets.get(MAP.self)!.elements.set(key, ''), this.self.set(key, ''));
    }
    return { before, after };
  }
}
