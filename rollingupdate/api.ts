// The requests the rolling update makes, over the project's ApiClient: ReplicationControllers, their
// scale subresource, and pods. Thin: what to ask is decided elsewhere. Updates on a conflict re-read
// and re-apply (client-go's RetryOnConflict with its default back-off: 5 tries, about 10 ms apart).
import { ApiStatusError, type ApiClient } from '../cluster/index.js';
import { sleep } from '../common/index.js';
import { nameOf, objAt, type Obj } from './steps.js';

const CONFLICT_TRIES = 5;

const isNotFound = (e: unknown): boolean => e instanceof ApiStatusError && e.status === 404;
const isConflict = (e: unknown): boolean => e instanceof ApiStatusError && e.status === 409;

export class RcApi {
  constructor(
    private readonly client: ApiClient,
    readonly namespace: string,
  ) {}

  private rcs(name?: string): string {
    const base = `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/replicationcontrollers`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  private pods(name?: string): string {
    const base = `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  async get(name: string): Promise<Obj> {
    return (await this.client.request('GET', this.rcs(name))) as Obj;
  }

  /** The controller, or undefined when there is none by that name. */
  async find(name: string): Promise<Obj | undefined> {
    try {
      return await this.get(name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list(): Promise<Obj[]> {
    const l = (await this.client.request('GET', this.rcs())) as Obj;
    return Array.isArray(l.items) ? (l.items as Obj[]) : [];
  }

  async create(rc: Obj): Promise<Obj> {
    return (await this.client.request('POST', this.rcs(), { body: { apiVersion: 'v1', kind: 'ReplicationController', ...rc } })) as Obj;
  }

  async put(rc: Obj): Promise<Obj> {
    return (await this.client.request('PUT', this.rcs(nameOf(rc)), { body: rc })) as Obj;
  }

  /** `orphan`: the pods stay (kubectl's rename deletes the hashed controller so). */
  async delete(name: string, propagationPolicy?: 'Orphan' | 'Background'): Promise<void> {
    await this.client.request('DELETE', this.rcs(name), { body: { apiVersion: 'v1', kind: 'DeleteOptions', ...(propagationPolicy && { propagationPolicy }) } });
  }

  /** updateRcWithRetries: apply, write, and on a conflict read again and re-apply. */
  async update(rc: Obj, apply: (rc: Obj) => void): Promise<Obj> {
    let cur = structuredClone(rc);
    for (let i = 1; ; i++) {
      apply(cur);
      try {
        return await this.put(cur);
      } catch (e) {
        if (!isConflict(e) || i >= CONFLICT_TRIES) throw e;
        await sleep(10);
        cur = await this.get(nameOf(rc));
      }
    }
  }

  /** The Scale's spec.replicas set through `…/scale` (GET then PUT, again on a conflict). */
  async scale(name: string, replicas: number): Promise<void> {
    const path = `${this.rcs(name)}/scale`;
    for (let i = 1; ; i++) {
      const s = (await this.client.request('GET', path)) as Obj;
      s.spec = { ...objAt(s, 'spec'), replicas };
      try {
        await this.client.request('PUT', path, { body: s });
        return;
      } catch (e) {
        if (!isConflict(e) || i >= CONFLICT_TRIES) throw e;
        await sleep(10);
      }
    }
  }

  async getScale(name: string): Promise<Obj> {
    return (await this.client.request('GET', `${this.rcs(name)}/scale`)) as Obj;
  }

  async listPods(selector: Readonly<Record<string, string>>): Promise<Obj[]> {
    const labelSelector = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const l = (await this.client.request('GET', this.pods(), { query: { labelSelector } })) as Obj;
    return Array.isArray(l.items) ? (l.items as Obj[]) : [];
  }

  /** updatePodWithRetries. */
  async updatePod(pod: Obj, apply: (pod: Obj) => void): Promise<Obj> {
    let cur = structuredClone(pod);
    for (let i = 1; ; i++) {
      apply(cur);
      try {
        return (await this.client.request('PUT', this.pods(nameOf(cur)), { body: cur })) as Obj;
      } catch (e) {
        if (!isConflict(e) || i >= CONFLICT_TRIES) throw e;
        await sleep(10);
        cur = (await this.client.request('GET', this.pods(nameOf(pod)))) as Obj;
      }
    }
  }

  async deletePod(name: string): Promise<void> {
    try {
      await this.client.request('DELETE', this.pods(name));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** A merge patch of a pod (ownerReferences at its resourceVersion). */
  async patchPod(name: string, patch: Obj): Promise<void> {
    await this.client.request('PATCH', this.pods(name), { body: patch });
  }
}
