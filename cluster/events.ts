// Events as Kubernetes' recorder writes them (core/v1 Event on the involved object, named
// `<object>.<unique hex>`, the component and host as source), shared by every daemon. The store
// recorder correlates as client-go's EventCorrelator does: the same event again (same object, field,
// type, reason and message) within ten minutes raises the first one's count and lastTimestamp instead
// of writing a new object, so a crash-looping container's BackOff is one event, not one per retry.
// Best effort: a failure is logged, never thrown at the caller.
import { errorMessage, isObject, type Logger } from '../common/index.js';
import { type ApiClient, isStatus } from './api-client.js';
import { keys } from './keys.js';
import { parseJsonObject } from './parse.js';
import type { ClusterStore } from './store.js';

type Obj = Record<string, unknown>;
export type EventType = 'Normal' | 'Warning';

export interface Involved {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion?: string;
  /** The part of the object the event is about (`spec.containers{web}`). */
  readonly fieldPath?: string;
}

export interface EventSource {
  readonly component: string;
  readonly host?: string;
}

export interface EventRecorder {
  event(o: Involved, type: EventType, reason: string, message: string): Promise<void>;
}

const metaTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Pure: the Event object (named `<object>.<hex nanoseconds>`, as the recorder names them). */
export function eventObject(o: Involved, type: EventType, reason: string, message: string, source: string | EventSource, nowMs: number, random = Math.random): Obj {
  const now = metaTime(nowMs);
  const src: EventSource = typeof source === 'string' ? { component: source } : source;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${o.name}.${(BigInt(Math.floor(nowMs)) * 1_000_000n + BigInt(Math.floor(random() * 1e6))).toString(16)}`, namespace: o.namespace },
    involvedObject: { kind: o.kind, namespace: o.namespace, name: o.name, uid: o.uid, apiVersion: o.apiVersion, resourceVersion: o.resourceVersion ?? '', ...(o.fieldPath && { fieldPath: o.fieldPath }) },
    reason,
    message,
    source: { component: src.component, ...(src.host && { host: src.host }) },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    type,
    reportingComponent: src.component,
    reportingInstance: src.host ?? '',
  };
}

/** Pure: the involved object of an API object. */
export function involvedOf(apiVersion: string, kind: string, o: Obj, fieldPath?: string): Involved {
  const m = (typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {}) as Obj;
  const s = (k: string): string => (typeof m[k] === 'string' ? (m[k] as string) : '');
  return { apiVersion, kind, namespace: s('namespace') || 'default', name: s('name'), uid: s('uid'), resourceVersion: s('resourceVersion'), ...(fieldPath && { fieldPath }) };
}

const SIMILAR_WINDOW_MS = 10 * 60_000;
/** Correlation entries kept (client-go keeps an LRU of 4096). */
const MAX_REMEMBERED = 4096;

/** Where events are written: the API (POST, then a merge PATCH of the count) or etcd. */
export interface EventSink {
  create(namespace: string, ev: Obj): Promise<void>;
  /** The event counted once more; false when it is gone. */
  recount(namespace: string, name: string, count: number, lastTimestamp: string): Promise<boolean>;
}

/** Over the API, as the kubelet writes them: a node may create and patch events, not read them. */
export function apiEventSink(client: ApiClient): EventSink {
  const path = (ns: string): string => `/api/v1/namespaces/${encodeURIComponent(ns)}/events`;
  return {
    create: async (ns, ev) => {
      await client.request('POST', path(ns), { body: ev, attempts: 2 });
    },
    recount: async (ns, name, count, lastTimestamp) => {
      try {
        await client.request('PATCH', `${path(ns)}/${encodeURIComponent(name)}`, { body: { count, lastTimestamp }, attempts: 2 });
        return true;
      } catch (e) {
        if (isStatus(e, 404)) return false;
        throw e;
      }
    },
  };
}

/** Straight into etcd under /registry/events (a kubelet on etcd). */
export function storeEventSink(store: ClusterStore): EventSink {
  return {
    create: async (ns, ev) => {
      await store.create(keys.event(ns, (ev.metadata as { name: string }).name), ev);
    },
    recount: async (ns, name, count, lastTimestamp) =>
      (await store.update(keys.event(ns, name), parseJsonObject, (cur) => (cur && isObject(cur) ? { ...cur, count, lastTimestamp } : undefined))) !== undefined,
  };
}

interface Remembered {
  readonly namespace: string;
  readonly name: string;
  count: number;
  lastMs: number;
}

/** Writes events to a sink, correlating repeats into counts. */
export class CorrelatingEventRecorder implements EventRecorder {
  private readonly seen = new Map<string, Remembered>();

  constructor(
    private readonly sink: EventSink,
    private readonly source: EventSource,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async event(o: Involved, type: EventType, reason: string, message: string): Promise<void> {
    const id = [o.namespace, o.uid, o.fieldPath ?? '', type, reason, message].join('\0');
    const nowMs = this.now();
    try {
      const prev = this.seen.get(id);
      if (prev && nowMs - prev.lastMs < SIMILAR_WINDOW_MS && (await this.sink.recount(prev.namespace, prev.name, prev.count + 1, metaTime(nowMs)))) {
        prev.count++;
        prev.lastMs = nowMs;
        this.remember(id, prev);
        return;
      }
      const ev = eventObject(o, type, reason, message, this.source, nowMs);
      await this.sink.create(o.namespace, ev);
      this.remember(id, { namespace: o.namespace, name: (ev.metadata as { name: string }).name, count: 1, lastMs: nowMs });
    } catch (e) {
      this.log.warn({ kind: o.kind, name: o.name, namespace: o.namespace, reason, err: errorMessage(e) }, 'cannot record an event');
    }
  }

  private remember(id: string, r: Remembered): void {
    this.seen.delete(id);
    this.seen.set(id, r);
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value!);
  }
}
