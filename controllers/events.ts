// Events as Kubernetes' recorder writes them (core/v1 Event on the involved object, named
// `<object>.<unique hex>`, the component as source), best effort: a failure is logged, never fails a sync.
import type { ApiClient } from '../cluster/index.js';
import { errorMessage, type Logger } from '../common/index.js';

type Obj = Record<string, unknown>;

export interface Involved {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion?: string;
}

export interface EventRecorder {
  event(o: Involved, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** Pure: the Event object (named `<object>.<hex nanoseconds>`, as the recorder names them). */
export function eventObject(o: Involved, type: 'Normal' | 'Warning', reason: string, message: string, component: string, nowMs: number, random = Math.random): Obj {
  const now = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${o.name}.${(BigInt(Math.floor(nowMs)) * 1_000_000n + BigInt(Math.floor(random() * 1e6))).toString(16)}`, namespace: o.namespace },
    involvedObject: { kind: o.kind, namespace: o.namespace, name: o.name, uid: o.uid, apiVersion: o.apiVersion, resourceVersion: o.resourceVersion ?? '' },
    reason,
    message,
    source: { component },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    type,
  };
}

/** Pure: the involved object of an API object. */
export function involvedOf(apiVersion: string, kind: string, o: Obj): Involved {
  const m = (typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {}) as Obj;
  const s = (k: string): string => (typeof m[k] === 'string' ? (m[k] as string) : '');
  return { apiVersion, kind, namespace: s('namespace') || 'default', name: s('name'), uid: s('uid'), resourceVersion: s('resourceVersion') };
}

export async function recordEvent(client: ApiClient, log: Logger, o: Involved, type: 'Normal' | 'Warning', reason: string, message: string, component: string, signal?: AbortSignal, nowMs = Date.now()): Promise<void> {
  try {
    await client.request('POST', `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/events`, { body: eventObject(o, type, reason, message, component, nowMs), attempts: 2, ...(signal && { signal }) });
  } catch (e) {
    log.warn({ kind: o.kind, name: o.name, reason, err: errorMessage(e) }, 'cannot record an event');
  }
}

export function eventRecorder(client: ApiClient, component: string, log: Logger, now: () => number = Date.now, signal?: AbortSignal): EventRecorder {
  return { event: (o, type, reason, message) => recordEvent(client, log, o, type, reason, message, component, signal, now()) };
}
