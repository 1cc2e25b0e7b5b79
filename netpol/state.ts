// What the agent knows (pods, namespaces, policies) and what it last wrote, compiled incrementally: a pod
// change recompiles only the policies that select it or name it as a peer, a namespace change those that
// select namespaces by label or live in it, and a sync writes the difference of those policies' chains and
// sets and of the global part. Pure.
import { GlobalIndex } from './global.js';
import { type Dir, policyPart, selectionOf } from './layout.js';
import { type PodInfo, type Policy, policyHash } from './model.js';
import { type ClusterView, policyConcerns, resolvePolicy, usesNamespaceLabels } from './resolve.js';
import type { ElementChange } from '../nft/index.js';
import { type DiffStats, type Part, renderDiff, renderFull } from './ruleset.js';


export interface SyncPlan {
  readonly full: boolean;
  readonly script: string;
  /** Policies compiled anew for this plan. */
  readonly compiled: number;
  readonly stats: DiffStats;
  /** The script as element changes given as data, when it is nothing else (for netlink). */
  readonly elements?: readonly ElementChange[];
  /** The policies compiled for this plan, as they become "applied" once the script is in (undefined: removed). */
  readonly parts: ReadonlyMap<string, Part | undefined>;
  readonly global: Part;
}


export class PolicyState {
  private readonly pods = new Map<string, Map<string, PodInfo>>();
  private readonly namespaces = new Map<string, Readonly<Record<string, string>>>();
  private readonly policies = new Map<string, Policy>();
  private readonly compiled = new Map<string, Part>();
  private readonly global = new GlobalIndex();
  private readonly dirty = new Set<string>();
  private applied = new Map<string, Part>();
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
      const old = this.compiled.get(id);
      if (!pol) {
        this.compiled.delete(id);
        const [ns = '', name = ''] = id.split('/');
        if (old) this.global.update(policyHash(ns, name), undefined);
        continue;
      }
      const rp = resolvePolicy(pol, v);
      this.compiled.set(id, policyPart(rp));
      this.global.update(pol.hash, selectionOf(rp));
    }
    const g = this.global.flush();
    const stats: DiffStats = { elements: 0, chains: 0 };
    let script: string;
    let elements: ElementChange[] | undefined;
    if (full) {
      script = renderFull([this.global.part, ...this.compiled.values()]);
      stats.chains = this.global.part.chains.size + [...this.compiled.values()].reduce((n, c) => n + c.chains.size, 0);
    } else {
      const before = [g.before, ...touched.flatMap((id) => this.applied.get(id) ?? [])];
      const after = [g.after, ...touched.flatMap((id) => this.compiled.get(id) ?? [])];
      elements = [];
      script = renderDiff(before, after, stats, elements);
      if (!elements.length) elements = undefined;
    }
    const parts = new Map(touched.flatMap((id) => [[id, this.compiled.get(id)] as const]));
    // Changes that arrive while the script is written are the next plan's; a failed write makes that one full.
    for (const id of touched) this.dirty.delete(id);
    this.globalDirty = false;
    return { full, script, compiled: touched.length, stats, parts, global: this.global.part, ...(elements && { elements }) };
  }

  /** The plan's script is in the kernel. */
  commit(plan: SyncPlan): void {
    if (plan.full) this.applied = new Map(this.compiled);
    else for (const [id, p] of plan.parts) if (p) this.applied.set(id, p);
    else this.applied.delete(id);
  }

  /** The policies that select a pod of this node, per direction (for the log and tests). */
  isolated(d: Dir): number {
    return this.global.size(d);
  }
}
