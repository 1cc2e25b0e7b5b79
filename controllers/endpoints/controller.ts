// The endpoints controller: follows services, pods and endpoints; a change queues the services it may
// concern (a pod: the services of its namespace whose selector matches its old or new labels; an
// Endpoints: its own service, so a hand edit or a deletion is undone), and workers write each one's
// Endpoints as logic.ts computes them, only when they differ. Services without a selector keep whatever
// Endpoints someone wrote for them; the Endpoints of a deleted service go with it.
import { type Endpoints, keys, namespacedName, parseEndpointsObject, parsePodObject, parseServiceObject, type Pod, type Service } from '../../cluster/index.js';
import type { Logger } from '../../common/index.js';
import { WorkQueue } from '../queue.js';
import { type Cache, cacheOf, type ControllerDeps, isStatus, runWorkers, waitSynced } from '../runtime.js';
import { desiredEndpoints, endpointsChanged, type PodRef, selectorMatches, selectorOf, TriggerTimeTracker } from './logic.js';

const enc = encodeURIComponent;

export interface EndpointsControllerOptions {
  readonly workers: number;
}

export class EndpointsController {
  private readonly queue = new WorkQueue();
  private readonly services: Cache<Service>;
  private readonly pods: Cache<Pod>;
  private readonly endpoints: Cache<Endpoints>;
  /** The labels each pod had when last seen, to queue the services it left. */
  private readonly podLabels = new Map<string, Record<string, string> | undefined>();
  private readonly triggers = new TriggerTimeTracker();
  private readonly log: Logger;

  constructor(
    private readonly d: ControllerDeps,
    private readonly o: EndpointsControllerOptions,
  ) {
    this.log = d.log.child({ controller: 'endpoint' });
    this.services = cacheOf(d.store, keys.services(), parseServiceObject, this.log, (ks) => ks.forEach((k) => this.enqueue(keys.services(), k)));
    this.endpoints = cacheOf(d.store, keys.allEndpoints(), parseEndpointsObject, this.log, (ks) => ks.forEach((k) => this.enqueue(keys.allEndpoints(), k)));
    this.pods = cacheOf(d.store, keys.pods(), parsePodObject, this.log, (ks) => ks.forEach((k) => this.podChanged(k)));
  }

  async run(signal: AbortSignal): Promise<void> {
    const caches = [this.services, this.pods, this.endpoints];
    const following = caches.map((c) => c.run(signal));
    if (await waitSynced(caches, signal)) {
      this.log.info({ services: this.services.items.size }, 'caches synced');
      for (const k of this.services.items.keys()) this.enqueue(keys.services(), k);
      for (const k of this.endpoints.items.keys()) this.enqueue(keys.allEndpoints(), k);
    }
    await Promise.all([...following, runWorkers(this.queue, this.o.workers, (k) => this.sync(k, signal), this.log, signal)]);
  }

  private enqueue(prefix: string, key: string): void {
    const n = namespacedName(prefix, key);
    if (n) this.queue.add(n.join('/'));
  }

  private podChanged(key: string): void {
    const n = namespacedName(keys.pods(), key);
    if (!n) return;
    const old = this.podLabels.get(key);
    const cur = this.pods.items.get(key)?.obj;
    if (cur) this.podLabels.set(key, cur.metadata?.labels);
    else this.podLabels.delete(key);
    const prefix = keys.services(n[0]);
    for (const [k, s] of this.services.items) {
      if (!k.startsWith(prefix)) continue;
      const sel = selectorOf(s.obj);
      if (sel && (selectorMatches(sel, old) || selectorMatches(sel, cur?.metadata?.labels))) this.queue.add(`${n[0]}/${s.obj.metadata?.name ?? k.slice(prefix.length)}`);
    }
  }

  private podsOf(ns: string): PodRef[] {
    const prefix = keys.pods(ns);
    const out: PodRef[] = [];
    for (const [k, s] of this.pods.items) if (k.startsWith(prefix)) out.push({ namespace: ns, name: k.slice(prefix.length), pod: s.obj });
    return out;
  }

  async sync(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const svc = this.services.items.get(keys.service(ns, name))?.obj;
    const cur = this.endpoints.items.get(keys.endpoints(ns, name));
    const path = `/api/v1/namespaces/${enc(ns)}/endpoints`;
    if (!svc) {
      this.triggers.forget(key);
      if (!cur) return;
      try {
        await this.d.client.request('DELETE', `${path}/${enc(name)}`, { attempts: 1, signal });
        this.log.info({ service: key }, 'endpoints deleted with their service');
      } catch (e) {
        if (!isStatus(e, 404)) throw e;
      }
      return;
    }
    const sel = selectorOf(svc);
    if (!sel) return; // the Endpoints of a selector-less service are someone else's
    const pods = this.podsOf(ns).filter((p) => selectorMatches(sel, p.pod.metadata?.labels));
    const trigger = this.triggers.compute(key, svc, pods);
    const want = desiredEndpoints(ns, name, svc, pods, cur?.obj, trigger);
    if (!endpointsChanged(cur?.obj, want)) return;
    try {
      if (cur) await this.d.client.request('PUT', `${path}/${enc(name)}`, { body: { ...want, metadata: { ...want.metadata, resourceVersion: cur.modRevision } }, attempts: 1, signal });
      else await this.d.client.request('POST', path, { body: want, attempts: 1, signal });
    } catch (e) {
      // The next try starts from the trigger times again: nothing was written.
      this.triggers.forget(key);
      // A conflict or a create that raced: the caches catch up and the key is retried.
      throw e;
    }
    const n = (want.subsets ?? []).reduce((a, s) => a + (s.addresses?.length ?? 0), 0);
    this.log.info({ service: key, ready: n, notReady: (want.subsets ?? []).reduce((a, s) => a + (s.notReadyAddresses?.length ?? 0), 0) }, 'endpoints updated');
  }
}
