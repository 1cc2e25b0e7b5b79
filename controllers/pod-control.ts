// Kubernetes' RealPodControl for the Job and DaemonSet controllers: create a pod (POST, generateName)
// or delete one (its uid as precondition), each with the event the owner's `kubectl describe` shows:
// SuccessfulCreate `Created pod: <name>`, FailedCreate `Error creating: <why>`, SuccessfulDelete
// `Deleted pod: <name>`, FailedDelete `Error deleting: <why>`; and the owned pods seen from the pods cache.
import { type ApiClient, ApiStatusError, isStatus } from '../cluster/index.js';
import { errorMessage, type Logger } from '../common/index.js';
import type { ObjCache } from './controller.js';
import type { EventRecorder, Involved } from './events.js';
import type { WorkQueue } from './queue.js';
import { controllerRefOf, type Expectations, type PodView } from './replication/index.js';

type Obj = Record<string, unknown>;
const enc = encodeURIComponent;

export const whyOf = (e: unknown): string => (e instanceof ApiStatusError ? e.statusMessage : errorMessage(e));

export class PodControl {
  constructor(
    private readonly client: ApiClient,
    private readonly recorder: EventRecorder,
    private readonly log: Logger,
    private readonly signal?: AbortSignal,
  ) {}

  private get sig(): { signal?: AbortSignal } {
    return this.signal ? { signal: this.signal } : {};
  }

  /** The created pod's name; throws (after a FailedCreate event) when the API refuses it. */
  async create(owner: Involved, pod: Obj): Promise<string> {
    try {
      const made = (await this.client.request('POST', `/api/v1/namespaces/${enc(owner.namespace)}/pods`, { body: pod, attempts: 1, ...this.sig })) as Obj;
      const name = String((made.metadata as Obj | undefined)?.name ?? '');
      this.log.info({ kind: owner.kind, owner: owner.name, pod: name }, 'created pod');
      void this.recorder.event(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${name}`);
      return name;
    } catch (e) {
      void this.recorder.event(owner, 'Warning', 'FailedCreate', `Error creating: ${whyOf(e)}`);
      throw e;
    }
  }

  /** Deletes the pod (gone already, or another pod under its name now: nothing to do). */
  async delete(owner: Involved, p: { readonly namespace: string; readonly name: string; readonly uid: string }): Promise<void> {
    try {
      await this.client.request('DELETE', `/api/v1/namespaces/${enc(p.namespace)}/pods/${enc(p.name)}`, { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: p.uid } }, attempts: 1, ...this.sig });
      this.log.info({ kind: owner.kind, owner: owner.name, pod: p.name }, 'deleted pod');
      void this.recorder.event(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.name}`);
    } catch (e) {
      if (isStatus(e, 404) || isStatus(e, 409)) return;
      void this.recorder.event(owner, 'Warning', 'FailedDelete', `Error deleting: ${whyOf(e)}`);
      throw e;
    }
  }
}

/**
 * PUT …/status at the cached version. A conflict throws: the sync is retried once the cache has the
 * newer object, and decides again from it (a decision made on a stale object is never forced through).
 */
export async function writeStatus(client: ApiClient, objectPath: string, cached: Obj, status: Obj, signal?: AbortSignal): Promise<void> {
  await client.request('PUT', `${objectPath}/status`, { body: { ...cached, status }, attempts: 1, ...(signal && { signal }) });
}

/**
 * The pods a controller of `kind` owns (their controller reference), kept in `seen` from the pods cache's
 * changes: each creation and deletion is told to the expectations, and the owners before and after are
 * queued (a pod that changed owner wakes both).
 */
export function observeOwnedPods<P extends PodView>(changed: ReadonlySet<string>, pods: ObjCache, seen: Map<string, P>, parse: (o: Obj) => P | undefined, kind: string, expectations: Expectations, queue: WorkQueue): void {
  const ownerOf = (p: P | undefined): string | undefined => {
    const r = p && controllerRefOf(p);
    return r && r.kind === kind ? `${p.namespace}/${r.name}` : undefined;
  };
  for (const k of changed) {
    const old = seen.get(k);
    const s = pods.items.get(k);
    const parsed = s ? parse(s.obj) : undefined;
    const cur = parsed && controllerRefOf(parsed)?.kind === kind ? parsed : undefined;
    if (cur) seen.set(k, cur);
    else seen.delete(k);
    const o = ownerOf(old);
    const c = ownerOf(cur);
    if (cur && c && (!old || old.uid !== cur.uid) && !cur.deleting) expectations.creationObserved(c);
    if (old && o && (!cur || cur.uid !== old.uid || (cur.deleting && !old.deleting))) expectations.deletionObserved(o, old.uid);
    if (o) queue.add(o);
    if (c && c !== o) queue.add(c);
  }
}
export { isStatus } from '../cluster/index.js';
