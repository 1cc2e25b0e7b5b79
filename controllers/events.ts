// Events posted straight to the API by the controllers (core/v1 Event on the involved object, named
// `<object>.<unique hex>`, the component as source), best effort: a failure is logged, never fails a sync.
import { type ApiClient, eventObject, type EventRecorder, type Involved } from '../cluster/index.js';
import { errorMessage, type Logger } from '../common/index.js';

export { eventObject, involvedOf, type EventRecorder, type Involved } from '../cluster/index.js';

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
