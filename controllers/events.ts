// An event on an object, as Kubernetes' event recorder writes one (core/v1 Event, the involved object's
// reference, the component as source). Best effort: a failure is logged, never thrown.
import { type ApiClient } from '../cluster/index.js';
import { errorMessage, type Logger } from '../common/index.js';

export interface Involved {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion?: string;
}

/** Pure: the Event object (named `<object>.<hex nanoseconds>`, as the recorder names them). */
export function eventObject(o: Involved, type: 'Normal' | 'Warning', reason: string, message: string, component: string, nowMs: number, random = Math.random): Record<string, unknown> {
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

export async function recordEvent(client: ApiClient, log: Logger, o: Involved, type: 'Normal' | 'Warning', reason: string, message: string, component: string, signal?: AbortSignal): Promise<void> {
  try {
    await client.request('POST', `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/events`, { body: eventObject(o, type, reason, message, component, Date.now()), attempts: 2, ...(signal && { signal }) });
  } catch (e) {
    log.warn({ kind: o.kind, name: o.name, reason, err: errorMessage(e) }, 'cannot record an event');
  }
}
