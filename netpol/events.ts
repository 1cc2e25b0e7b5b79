// A Warning event on a policy the agent cannot program in full, as the event recorder writes one (a core/v1
// Event named `<policy>.<hex nanoseconds>`, the agent and its node as the source). Best effort: a failure
// is logged, never stops a sync. The Event's shape is pure; posting it is the only I/O.
import type { ApiClient } from '../cluster/index.js';
import { errorMessage, type Logger } from '../common/index.js';
import type { Policy } from './model.js';

type Obj = Record<string, unknown>;

export const COMPONENT = 'netpol-agent';
export const REASON = 'PolicyNotProgrammed';

export function policyEvent(raw: Obj, pol: Policy, node: string, nowMs: number, random = Math.random): Obj {
  const meta = (typeof raw.metadata === 'object' && raw.metadata !== null ? raw.metadata : {}) as Obj;
  const s = (k: string): string => (typeof meta[k] === 'string' ? (meta[k] as string) : '');
  const now = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${pol.name}.${(BigInt(Math.floor(nowMs)) * 1_000_000n + BigInt(Math.floor(random() * 1e6))).toString(16)}`, namespace: pol.namespace },
    involvedObject: { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', namespace: pol.namespace, name: pol.name, uid: s('uid'), resourceVersion: s('resourceVersion') },
    reason: REASON,
    message: `${pol.problems.join('; ')}; on node ${node} these parts allow nothing`.slice(0, 1024),
    source: { component: COMPONENT, host: node },
    reportingComponent: COMPONENT,
    reportingInstance: node,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    type: 'Warning',
  };
}

export async function postPolicyEvent(client: ApiClient, log: Logger, raw: Obj, pol: Policy, node: string): Promise<void> {
  try {
    await client.request('POST', `/api/v1/namespaces/${encodeURIComponent(pol.namespace)}/events`, { body: policyEvent(raw, pol, node, Date.now()), attempts: 2 });
  } catch (e) {
    log.warn({ policy: `${pol.namespace}/${pol.name}`, err: errorMessage(e) }, 'cannot record an event');
  }
}
