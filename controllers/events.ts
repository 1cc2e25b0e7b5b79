// Events as Kubernetes' recorder writes them (core/v1 Event on the involved object, named
// `<object>.<unique hex>`), best effort: a failure is logged, never fails a sync. Shared by the Job,
// CronJob and DaemonSet controllers.
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

/** Pure: the involved object of an API object. */
export function involvedOf(apiVersion: string, kind: string, o: Obj): Involved {
  const m = (typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {}) as Obj;
  const s = (k: string): string => (typeof m[k] === 'string' ? (m[k] as string) : '');
  return { apiVersion, kind, namespace: s('namespace') || 'default', name: s('name'), uid: s('uid'), resourceVersion: s('resourceVersion') };
}

export function eventRecorder(client: ApiClient, component: string, log: Logger, now: () => number = Date.now, signal?: AbortSignal): EventRecorder {
  return {
    async event(o, type, reason, message) {
      const at = new Date(now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const unique = (BigInt(now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16);
      const body = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${o.name}.${unique}`, namespace: o.namespace },
        involvedObject: { ...o },
        reason,
        message,
        source: { component },
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
        type,
      };
      try {
        await client.request('POST', `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/events`, { body, attempts: 2, ...(signal && { signal }) });
      } catch (e) {
        log.warn({ kind: o.kind, name: o.name, reason, err: errorMessage(e) }, 'cannot record an event');
      }
    },
  };
}
