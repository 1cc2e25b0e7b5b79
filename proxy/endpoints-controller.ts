// The endpoints maintainer: runs on the elected proxy only, so every node programs the same
// endpoints. It follows services, pods and endpoints, recomputes the Endpoints of every service a
// change may affect (a pod event touches the services whose selector matches its old or new labels),
// and writes the ones that differ, each write fenced by the leadership (election.ts, lease-election.ts). Services without a
// selector keep whatever Endpoints someone wrote for them; Endpoints of deleted services go away.
import { type ClusterStore, type Corrupt, keys, namespacedName, type Endpoints, parseEndpointsObject, parsePodObject, parseServiceObject, type Pod, type Service } from '../cluster/index.js';
import { errorMessage, type Logger, mapLimit, SyncRunner } from '../common/index.js';
import type { FencedWriter } from './election.js';
import { computeEndpoints, type PodRef, sameEndpoints, selectorMatches, selectorOf } from './endpoints.js';
import { follow } from './watch.js';

export interface EndpointsControllerOptions {
  readonly log: Logger;
  /** Least time between two write rounds (changes within it are coalesced). */
  readonly minIntervalMs: number;
  /** Every service is recomputed at least this often. */
  readonly resyncMs: number;
  readonly concurrency?: number;
  /** A service went away or changed: reservation keys may need releasing. */
  readonly onServiceChange?: () => void;
}

const pairs = (labels: Readonly<Record<string, string>> | undefined): string[] => Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`);

export class EndpointsController {
  private readonly services = new Map<string, Service>();
  private readonly servicesByNs = new Map<string, Set<string>>();
  private readonly pods = new Map<string, PodRef>();
  /** namespace → `label=value` → pod keys */
  private readonly podIndex = new Map<string, Map<string, Set<string>>>();
  private readonly current = new Map<string, Endpoints>();
  private readonly dirty = new Set<string>();
  private readonly synced = { services: false, pods: false, endpoints: false };
  private lastFull = 0;
  private runner!: SyncRunner;

  constructor(
    private readonly store: ClusterStore,
    private readonly o: EndpointsControllerOptions,
  ) {}

  async run(signal: AbortSignal, fence: FencedWriter): Promise<void> {
    const log = this.o.log;
    this.runner = new SyncRunner({ name: 'endpoints', fn: () => this.flush(fence), minMs: this.o.minIntervalMs, maxMs: this.o.resyncMs, retryMs: 1_000, log });
    const svcPrefix = keys.services();
    const podPrefix = keys.pods();
    const epPrefix = keys.allEndpoints();
    await Promise.all([
      this.runner.run(signal),
      follow(this.store, svcPrefix, parseServiceObject, signal, log, {
        reset: (items) => {
          const seen = new Set<string>();
          for (const it of items) {
            const n = namespacedName(svcPrefix, it.key);
            if (!n) continue;
            seen.add(n.join('/'));
            this.setService(n.join('/'), it.obj);
          }
          for (const name of [...this.services.keys()]) if (!seen.has(name)) this.setService(name, undefined);
          this.ready('services');
        },
        put: (it) => {
          const n = namespacedName(svcPrefix, it.key);
          if (n) this.setService(n.join('/'), it.obj);
        },
        delete: (key) => {
          const n = namespacedName(svcPrefix, key);
          if (n) this.setService(n.join('/'), undefined);
        },
        // A corrupt object counts as absent, as in a listing (where it is left out).
        corrupt: (c) => {
          const n = this.corrupt(c, svcPrefix);
          if (n) this.setService(n.join('/'), undefined);
        },
      }),
      follow(this.store, podPrefix, parsePodObject, signal, log, {
        reset: (items) => {
          const seen = new Set<string>();
          for (const it of items) {
            const n = namespacedName(podPrefix, it.key);
            if (!n) continue;
            seen.add(n.join('/'));
            this.setPod(n[0], n[1], it.obj);
          }
          for (const k of [...this.pods.keys()]) if (!seen.has(k)) this.setPod(...(k.split('/') as [string, string]), undefined);
          this.ready('pods');
        },
        put: (it) => {
          const n = namespacedName(podPrefix, it.key);
          if (n) this.setPod(n[0], n[1], it.obj);
        },
        delete: (key) => {
          const n = namespacedName(podPrefix, key);
          if (n) this.setPod(n[0], n[1], undefined);
        },
        corrupt: (c) => {
          const n = this.corrupt(c, podPrefix);
          if (n) this.setPod(n[0], n[1], undefined);
        },
      }),
      follow(this.store, epPrefix, parseEndpointsObject, signal, log, {
        reset: (items) => {
          const seen = new Set<string>();
          for (const it of items) {
            const n = namespacedName(epPrefix, it.key);
            if (!n) continue;
            seen.add(n.join('/'));
            this.setCurrent(n.join('/'), it.obj);
          }
          for (const k of [...this.current.keys()]) if (!seen.has(k)) this.setCurrent(k, undefined);
          this.ready('endpoints');
        },
        put: (it) => {
          const n = namespacedName(epPrefix, it.key);
          if (n) this.setCurrent(n.join('/'), it.obj);
        },
        delete: (key) => {
          const n = namespacedName(epPrefix, key);
          if (n) this.setCurrent(n.join('/'), undefined);
        },
        // Rewritten by the next flush when its service has a selector.
        corrupt: (c) => {
          const n = this.corrupt(c, epPrefix);
          if (n) this.setCurrent(n.join('/'), undefined);
        },
      }),
    ]);
  }

  private corrupt(c: Corrupt, prefix: string): [string, string] | undefined {
    this.o.log.warn({ key: c.key, path: c.path, reason: c.reason }, 'object ignored');
    return namespacedName(prefix, c.key);
  }

  private ready(what: keyof EndpointsController['synced']): void {
    if (this.synced[what]) return;
    this.synced[what] = true;
    if (this.synced.services && this.synced.pods && this.synced.endpoints) {
      this.markAll();
      this.runner.request();
    }
  }

  private markDirty(name: string): void {
    this.dirty.add(name);
    this.runner?.request();
  }

  private markAll(): void {
    for (const n of this.services.keys()) this.dirty.add(n);
    for (const n of this.current.keys()) this.dirty.add(n);
  }

  private setService(name: string, svc: Service | undefined): void {
    const ns = name.slice(0, name.indexOf('/'));
    const old = this.services.get(name);
    if (svc) {
      this.services.set(name, svc);
      let s = this.servicesByNs.get(ns);
      if (!s) this.servicesByNs.set(ns, (s = new Set()));
      s.add(name);
    } else {
      this.services.delete(name);
      this.servicesByNs.get(ns)?.delete(name);
    }
    if (!svc || old?.spec?.clusterIP !== svc.spec?.clusterIP || JSON.stringify(old?.spec?.ports) !== JSON.stringify(svc.spec?.ports)) this.o.onServiceChange?.();
    this.markDirty(name);
  }

  private setPod(ns: string, name: string, pod: Pod | undefined): void {
    const key = `${ns}/${name}`;
    const old = this.pods.get(key);
    const idx = this.podIndex.get(ns) ?? new Map<string, Set<string>>();
    this.podIndex.set(ns, idx);
    for (const p of pairs(old?.pod.metadata?.labels)) idx.get(p)?.delete(key);
    if (pod) {
      this.pods.set(key, { namespace: ns, name, pod });
      for (const p of pairs(pod.metadata?.labels)) {
        let s = idx.get(p);
        if (!s) idx.set(p, (s = new Set()));
        s.add(key);
      }
    } else {
      this.pods.delete(key);
    }
    for (const svc of this.servicesByNs.get(ns) ?? []) {
      const sel = selectorOf(this.services.get(svc)!);
      if (sel && (selectorMatches(sel, old?.pod.metadata?.labels) || selectorMatches(sel, pod?.metadata?.labels))) this.markDirty(svc);
    }
  }

  private setCurrent(name: string, ep: Endpoints | undefined): void {
    if (ep) this.current.set(name, ep);
    else this.current.delete(name);
    if (this.synced.services && this.synced.pods && this.synced.endpoints) this.markDirty(name);
  }

  /** The pods that may match a selector: the smallest posting list among its label pairs. */
  private candidates(ns: string, sel: Readonly<Record<string, string>>): PodRef[] {
    const idx = this.podIndex.get(ns);
    if (!idx) return [];
    let best: Set<string> | undefined;
    for (const p of pairs(sel)) {
      const s = idx.get(p);
      if (!s) return [];
      if (!best || s.size < best.size) best = s;
    }
    return [...(best ?? [])].map((k) => this.pods.get(k)!).filter(Boolean);
  }

  private async flush(fence: FencedWriter): Promise<void> {
    if (!(this.synced.services && this.synced.pods && this.synced.endpoints)) return;
    if (Date.now() - this.lastFull >= this.o.resyncMs) {
      this.markAll();
      this.lastFull = Date.now();
    }
    const names = [...this.dirty];
    this.dirty.clear();
    let written = 0;
    let deleted = 0;
    const failed = await mapLimit(names, this.o.concurrency ?? 16, async (name) => {
      const [ns, n] = name.split('/') as [string, string];
      const svc = this.services.get(name);
      const cur = this.current.get(name);
      if (!svc) {
        if (!cur) return;
        await this.write(fence, keys.endpoints(ns, n), undefined);
        this.current.delete(name);
        deleted++;
        return;
      }
      const sel = selectorOf(svc);
      if (!sel) return; // endpoints of a selector-less service are someone else's
      const want = computeEndpoints(ns, n, svc, this.candidates(ns, sel));
      if (cur && sameEndpoints(cur, want)) return;
      await this.write(fence, keys.endpoints(ns, n), want);
      this.current.set(name, want);
      written++;
    });
    if (written || deleted) this.o.log.info({ written, deleted, checked: names.length }, 'endpoints updated');
    if (failed.length) {
      for (const f of failed) this.dirty.add(f.item);
      throw new Error(`${failed.length} endpoints writes failed, e.g. ${failed[0]!.item}: ${errorMessage(failed[0]!.err)}`);
    }
  }

  private async write(fence: FencedWriter, key: string, ep: Endpoints | undefined): Promise<void> {
    await fence.write(key, ep);
  }
}
