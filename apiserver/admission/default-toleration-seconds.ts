// DefaultTolerationSeconds: a pod that does not tolerate the node-lifecycle NoExecute taints
// (`node.kubernetes.io/not-ready`, `node.kubernetes.io/unreachable`) gets a toleration of each for a
// bounded time (--default-not-ready-toleration-seconds, --default-unreachable-toleration-seconds), so
// it is evicted that long after its node goes away, not at once and not never.
import { isObject } from '../../core/index.js';
import type { Obj } from '../object.js';
import type { AdmissionPlugin } from './types.js';

export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';

export interface DefaultTolerationSecondsOptions {
  readonly notReadySeconds: number;
  readonly unreachableSeconds: number;
}

/** Whether a toleration covers the NoExecute taint `key` (an empty key or effect matches any). */
function tolerates(t: unknown, key: string): boolean {
  if (!isObject(t)) return false;
  const k = typeof t.key === 'string' ? t.key : '';
  const effect = typeof t.effect === 'string' ? t.effect : '';
  return (k === key || k === '') && (effect === 'NoExecute' || effect === '');
}

/** Adds the two tolerations a pod spec lacks; the spec is changed in place. */
export function addDefaultTolerations(pod: Obj, o: DefaultTolerationSecondsOptions): void {
  if (!isObject(pod.spec)) pod.spec = {};
  const spec = pod.spec as Obj;
  const have: unknown[] = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  const add: Obj[] = [];
  if (!have.some((t) => tolerates(t, NOT_READY_TAINT))) add.push({ key: NOT_READY_TAINT, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: o.notReadySeconds });
  if (!have.some((t) => tolerates(t, UNREACHABLE_TAINT))) add.push({ key: UNREACHABLE_TAINT, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: o.unreachableSeconds });
  if (add.length) spec.tolerations = [...have, ...add];
}

export function defaultTolerationSeconds(o: DefaultTolerationSecondsOptions): AdmissionPlugin {
  return {
    name: 'DefaultTolerationSeconds',
    operations: ['CREATE', 'UPDATE'],
    admit(a) {
      if (a.resource.group !== '' || a.resource.resource !== 'pods' || a.subresource !== '' || !a.object) return;
      addDefaultTolerations(a.object, o);
    },
  };
}
