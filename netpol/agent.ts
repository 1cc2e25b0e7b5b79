// The agent's one writer: watch handlers only feed the state and ask the runner for a sync; a sync writes
// one transaction (`nft -f`; an element-only change as one netlink batch when the nft port takes data,
// through nft when that fails). Nothing is written before the three initial listings (pods, namespaces,
// policies) are in, so a restart never programs half a view (the rules of the last run stay in the kernel
// until then). A failed sync makes the next one full; a full sync also runs every --sync-period.
import { errorMessage, type Logger, SyncRunner } from '../common/index.js';
import type { ElementPort } from '../nft/index.js';
import type { NftPort } from '../proxy/index.js';
import { namespaceLabels, parsePod, parsePolicy, type Policy } from './model.js';
import { FAMILY, TABLE } from './ruleset.js';
import { PolicyState } from './state.js';

type Obj = Record<string, unknown>;

export interface AgentOptions {
  readonly nodeName: string;
  readonly minSyncMs: number;
  readonly syncPeriodMs: number;
  readonly retryMs?: number;
}

export interface AgentDeps {
  /** With `runElements`, element-only changes are given as data too (netlink: no ruleset fetched by nft). */
  readonly nft: NftPort & Partial<ElementPort>;
  readonly log: Logger;
  /** Told of a policy's problems when they change (the server posts an event). */
  readonly onProblems?: (raw: Obj, pol: Policy) => void;
}

export interface SyncRecord {
  readonly at: number;
  readonly full: boolean;
  readonly ms: number;
  readonly compiled: number;
  readonly elementsChanged: number;
}

export type Kind = 'pods' | 'namespaces' | 'policies';

export class Agent {
  readonly state: PolicyState;
  private readonly runner: SyncRunner;
  private readonly synced = { pods: false, namespaces: false, policies: false };
  private needFull = true;
  private lastFull = 0;
  private readonly problems = new Map<string, string>();
  lastSync: SyncRecord | undefined;
  syncs = 0;

  constructor(
    private readonly o: AgentOptions,
    private readonly d: AgentDeps,
  ) {
    this.state = new PolicyState(o.nodeName);
    this.runner = new SyncRunner({ name: 'netpol', fn: () => this.sync(), minMs: o.minSyncMs, maxMs: o.syncPeriodMs, retryMs: o.retryMs ?? 1_000, log: d.log });
  }

  run(signal: AbortSignal): Promise<void> {
    return this.runner.run(signal);
  }

  // ---------------------------------------------------------------- inputs (never touch the kernel)

  updatePod(ns: string, name: string, raw: Obj | undefined): void {
    this.state.setPod(ns, name, raw ? parsePod(raw) : undefined);
    this.runner.request();
  }

  resetPods(all: Iterable<[string, string, Obj]>): void {
    this.state.resetPods([...all].flatMap(([ns, n, raw]) => {
      const p = parsePod(raw);
      return p ? [[ns, n, p] as [string, string, typeof p]] : [];
    }));
    this.setSynced('pods');
  }

  updateNamespace(name: string, raw: Obj | undefined): void {
    this.state.setNamespace(name, raw ? namespaceLabels(raw) : undefined);
    this.runner.request();
  }

  resetNamespaces(all: Iterable<[string, Obj]>): void {
    this.state.resetNamespaces([...all].map(([n, raw]) => [n, namespaceLabels(raw)] as [string, Record<string, string>]));
    this.setSynced('namespaces');
  }

  updatePolicy(id: string, raw: Obj | undefined): void {
    this.state.setPolicy(id, raw ? this.parse(id, raw) : undefined);
    if (!raw) this.problems.delete(id);
    this.runner.request();
  }

  resetPolicies(all: Iterable<[string, Obj]>): void {
    const list = [...all];
    const ids = new Set(list.map(([id]) => id));
    for (const id of this.problems.keys()) if (!ids.has(id)) this.problems.delete(id);
    this.state.resetPolicies(list.map(([id, raw]) => [id, this.parse(id, raw)]));
    this.setSynced('policies');
  }

  private parse(id: string, raw: Obj): Policy {
    const pol = parsePolicy(raw);
    const text = pol.problems.join('; ');
    if (text !== (this.problems.get(id) ?? '')) {
      if (text) {
        this.problems.set(id, text);
        this.d.log.warn({ policy: id, problems: pol.problems }, 'policy not programmed in full: the parts named allow nothing');
        this.d.onProblems?.(raw, pol);
      } else this.problems.delete(id);
    }
    return pol;
  }

  private setSynced(k: Kind): void {
    this.synced[k] = true;
    this.runner.request();
  }

  get initialized(): boolean {
    return this.synced.pods && this.synced.namespaces && this.synced.policies;
  }

  requestFullSync(): void {
    this.needFull = true;
    this.runner.request();
  }

  // ---------------------------------------------------------------- the writer

  async sync(): Promise<void> {
    if (!this.initialized) return;
    const t0 = performance.now();
    const full = this.needFull || Date.now() - this.lastFull >= this.o.syncPeriodMs;
    if (!full && !this.state.hasChanges) return;
    const plan = this.state.plan(full);
    let via: 'netlink' | 'nft' = 'nft';
    try {
      if (plan.elements && this.d.nft.runElements) via = await this.d.nft.runElements(plan.elements, plan.script);
      else await this.d.nft.run(plan.script);
    } catch (e) {
      this.needFull = true;
      const err = e as { line?: number; context?: string[]; stderr?: string };
      this.d.log.error({ full, line: err.line, context: err.context, err: (err.stderr ?? errorMessage(e)).slice(0, 2000) }, 'nft transaction failed; next sync is full');
      throw e;
    }
    this.state.commit(plan);
    this.needFull = false;
    if (full) {
      this.lastFull = Date.now();
      this.d.nft.prepareElements?.();
    }
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    this.lastSync = { at: Date.now(), full, ms, compiled: plan.compiled, elementsChanged: plan.stats.elements };
    this.syncs++;
    this.d.log.info(
      { full, policies: this.state.policyCount, pods: this.state.podCount, isolatedIngress: this.state.isolated('ingress'), isolatedEgress: this.state.isolated('egress'), compiled: plan.compiled, changedElements: plan.stats.elements, via, ms },
      'rules synced',
    );
  }
}

/** Removes the agent's table (`--cleanup`). */
export const cleanupScript = (): string => `add table ${FAMILY} ${TABLE}\ndelete table ${FAMILY} ${TABLE}\n`;
