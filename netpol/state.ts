// What the agent knows (pods, namespaces, policies) and what it last wrote, compiled incrementally: a pod
// change recompiles only the policies that select it or name it as a peer, a namespace change those that
// select namespaces by label or live in it, and a sync writes the difference of those policies' chains and
// sets and of the global part. Pure.
import { type Dir, globalPart, policyPart, type Selection, selectionOf } from './layout.js';
import type { PodInfo, Policy } from './model.js';
import { type ClusterView, policyConcerns, resolvePolicy, usesNamespaceLabels } from './resolve.js';
import { type DiffStats, emptyPart, type Part, renderDiff, renderFull } from './ruleset.js';

export interface SyncPlan {
  readonly full: boolean;
  readonly script: string;
  /** Policies compiled anew for this plan. */
  readonly compiled: number;
  readonly stats: DiffStats;
  /** What becomes "applied" once the script is in. */
  readonly parts: ReadonlyMap<string, Part>;
  readonly global: Part;
}

interface Compiled {
  readonly part: Part;
  readonly sel: Selection;
}

export class PolicyState {
  private readonly pods = new Map<string, Map<string, PodInfo>>();
  private readonly namespaces = new Map<string, Readonly<Record<string, string>>>();
  private readonly policies = new Map<string, Policy>();
  private readonly compiled = new Map<string, Compiled>();
  private readonly dirty = new Set<string>();
  private applied = new Map<string, Part>();
  private appliedGlobal: Part = emptyPart();
  private globalDirty = true;

  constructor(readonly node: string) {}

  get view(): ClusterView {
    return { node: this.node, pods: this.pods, namespaces: this.namespaces };
  }

  get hasChanges(): boolean {
    return this.dirty.size > 0 || this.globalDirty;
  }

  get policyCount(): number {
    return this.policies.size;
  }

  get podCount(): number {
    let n = 0;
    for (const m of this.pods.values()) n += m.size;
    return n;
  }

  policy(id: string): Policy | undefined {
    return this.policies.get(id);
  }

  /** `ns/name` of the pod; undefined removes it. */
  setPod(ns: string, name: string, pod: PodInfo | undefined): void {
    const old = this.pods.get(ns)?.get(name);
    if (old === pod) return;
    if (pod) {
      let m = this.pods.get(ns);
      if (!m) this.pods.set(ns, (m = new Map()));
      m.set(name, pod);
    } else {
      this.pods.get(ns)?.delete(name);
      if (this.pods.get(ns)?.size === 0) this.pods.delete(ns);
    }
    const v = this.view;
    for (const [id, pol] of this.policies) {
      if (this.dirty.has(id)) continue;
      if ((old && policyConcerns(pol, old, v, this.node)) || (pod && policyConcerns(pol, pod, v, this.node))) this.dirty.add(id);
    }
  }

  setNamespace(name: string, labels: Readonly<Record<string, string>> | undefined): void {
    if (labels) this.namespaces.set(name, labels);
    else this.namespaces.delete(name);
    for (const [id, pol] of this.policies) if (pol.namespace === name || usesNamespaceLabels(pol)) this.dirty.add(id);
  }

  setPolicy(id: string, pol: Policy | undefined): void {
    if (pol) this.policies.set(id, pol);
    else this.policies.delete(id);
    this.dirty.add(id);
  }

  /** A complete listing of one kind: what is not in it is gone. */
  resetPods(all: Iterable<[string, string, PodInfo]>): void {
    this.pods.clear();
    for (const [ns, name, p] of all) {
      let m = this.pods.get(ns);
      if (!m) this.pods.set(ns, (m = new Map()));
      m.set(name, p);
    }
    this.markAll();
  }

  resetNamespaces(all: Iterable<[string, Readonly<Record<string, string>>]>): void {
    this.namespaces.clear();
    for (const [n, l] of all) this.namespaces.set(n, l);
    this.markAll();
  }

  resetPolicies(all: Iterable<[string, Policy]>): void {
    for (const id of this.policies.keys()) this.dirty.add(id);
    this.policies.clear();
    for (const [id, p] of all) this.policies.set(id, p);
    this.markAll();
  }

  private markAll(): void {
    for (const id of this.policies.keys()) this.dirty.add(id);
    for (const id of this.compiled.keys()) this.dirty.add(id);
    this.globalDirty = true;
  }

  /** The script for the next sync: everything (`full`), or what changed since the last applied plan. */
  plan(full: boolean): SyncPlan {
    const v = this.view;
    const touched = [...this.dirty];
    for (const id of touched) {
      const pol = this.policies.get(id);
      if (!pol) {
        this.compiled.delete(id);
        continue;
      }
      const rp = resolvePolicy(pol, v);
      this.compiled.set(id, { part: policyPart(rp), sel: selectionOf(rp) });
    }
    const global = globalPart([...this.compiled.values()].map((c) => c.sel));
    const stats: DiffStats = { elements: 0, chains: 0 };
    let script: string;
    if (full) {
      script = renderFull([global, ...[...this.compiled.values()].map((c) => c.part)]);
      stats.chains = global.chains.size + [...this.compiled.values()].reduce((n, c) => n + c.part.chains.size, 0);
    } else {
      const before = [this.appliedGlobal, ...touched.flatMap((id) => this.applied.get(id) ?? [])];
      const after = [global, ...touched.flatMap((id) => this.compiled.get(id)?.part ?? [])];
      script = renderDiff(before, after, stats);
    }
    const parts = new Map<string, Part>();
    for (const [id, c] of this.compiled) parts.set(id, c.part);
    // Changes that arrive while the script is written are the next plan's; a failed write makes that one full.
    for (const id of touched) this.dirty.delete(id);
    this.globalDirty = false;
    return { full, script, compiled: touched.length, stats, parts, global };
  }

  /** The plan's script is in the kernel. */
  commit(plan: SyncPlan): void {
    this.applied = new Map(plan.parts);
    this.appliedGlobal = plan.global;
  }

  /** The policies that select a pod of this node, per direction (for the log and tests). */
  isolated(d: Dir): number {
    return this.appliedGlobal.sets.get(d === 'ingress' ? 'ingress-pods' : 'egress-pods')?.elements.size ?? 0;
  }
}
