// Pods (pkg/registry/core/pod/strategy.go): the pod defaults, ValidatePod/ValidatePodUpdate, the status a new
// pod starts with, and kubectl's table (printPod: READY, STATUS as kubectl computes it, RESTARTS, AGE; IP,
// NODE, NOMINATED NODE, READINESS GATES wide).
import { isObject } from '../../core/index.js';
import { deepEqual, ensure, list, meta, nameOf, obj, objs, str } from './access.js';
import { forbidden, invalid } from './field-errors.js';
import { humanDuration, since } from './humanize.js';
import { AGE_COLUMN, col, defineKind, NAME_COLUMN } from './meta.js';
import { nameIsDnsSubdomain } from './names.js';
import { defaultPodSpec, qosClass, validatePodSpec } from './podspec.js';
import type { FieldError, KubeObject, ResourceDef, TableCell } from './types.js';

export const podDef: ResourceDef = {
  group: '',
  version: 'v1',
  resource: 'pods',
  kind: 'Pod',
  singular: 'pod',
  namespaced: true,
  shortNames: ['po'],
  categories: ['all'],
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: ['status', 'binding', 'log', 'exec', 'attach', 'portforward'],
  storage: 'pods',
};

const UPDATABLE_POD_SPEC_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

/** ValidatePodUpdate's spec rules: only images, activeDeadlineSeconds (down), added tolerations, grace -1 → 1. */
function validatePodSpecUpdate(o: KubeObject, old: KubeObject, errs: FieldError[]): void {
  const spec = obj(o, 'spec') ?? {};
  const oldSpec = obj(old, 'spec') ?? {};
  const newAds = spec.activeDeadlineSeconds;
  const oldAds = oldSpec.activeDeadlineSeconds;
  if (typeof newAds === 'number') {
    if (newAds < 0 || newAds > 2147483647) {
      errs.push(invalid('spec.activeDeadlineSeconds', newAds, 'must be between 0 and 2147483647, inclusive'));
      return;
    }
    if (typeof oldAds === 'number' && oldAds < newAds) {
      errs.push(invalid('spec.activeDeadlineSeconds', newAds, 'must be less than or equal to previous value'));
      return;
    }
  } else if (typeof oldAds === 'number') {
    errs.push(invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
  }
  // The old spec with what may change taken from the new one: anything else that differs is forbidden.
  const munged: KubeObject = structuredClone(oldSpec);
  for (const key of ['containers', 'initContainers'] as const) {
    const nc = list(spec, key) ?? [];
    const oc = list(munged, key) ?? [];
    if (nc.length === oc.length)
      oc.forEach((c, i) => {
        const n = nc[i];
        if (isObject(c) && isObject(n) && n.image !== undefined) c.image = n.image;
      });
  }
  if (spec.activeDeadlineSeconds === undefined) delete munged.activeDeadlineSeconds;
  else munged.activeDeadlineSeconds = spec.activeDeadlineSeconds;
  const oldTol = list(oldSpec, 'tolerations') ?? [];
  const newTol = list(spec, 'tolerations') ?? [];
  const sameBut = (a: unknown, b: unknown): boolean => {
    if (!isObject(a) || !isObject(b)) return deepEqual(a, b);
    const { tolerationSeconds: _x, ...ra } = a;
    const { tolerationSeconds: _y, ...rb } = b;
    return deepEqual(ra, rb) && (a.effect === 'NoExecute' || deepEqual(a.tolerationSeconds, b.tolerationSeconds));
  };
  if (oldTol.some((t) => !newTol.some((n) => sameBut(t, n)))) errs.push(forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds'));
  if (spec.tolerations === undefined) delete munged.tolerations;
  else munged.tolerations = spec.tolerations;
  const oldGrace = oldSpec.terminationGracePeriodSeconds;
  if (typeof oldGrace === 'number' && oldGrace < 0 && spec.terminationGracePeriodSeconds === 1) munged.terminationGracePeriodSeconds = 1;
  if (!deepEqual(munged, spec)) {
    const keys = [...new Set([...Object.keys(munged), ...Object.keys(spec)])].filter((k) => !deepEqual(munged[k], spec[k])).sort();
    errs.push(forbidden('spec', `pod updates may not change fields other than ${UPDATABLE_POD_SPEC_FIELDS.join(',')}\n${keys.map((k) => `  spec.${k}: changed`).join('\n')}`));
  }
}

/** The STATUS kubectl prints for a pod, and its ready/total containers and restarts (printPod). */
export function podDisplayStatus(pod: KubeObject, nowMs: number): { ready: string; status: string; restarts: string } {
  const spec = obj(pod, 'spec') ?? {};
  const status = obj(pod, 'status') ?? {};
  const initSpecs = objs(spec, 'initContainers');
  const restartable = (name: string | undefined): boolean => initSpecs.some((c) => str(c, 'name') === name && c.restartPolicy === 'Always');
  let total = objs(spec, 'containers').length + initSpecs.filter((c) => c.restartPolicy === 'Always').length;
  let restarts = 0;
  let restartableRestarts = 0;
  let ready = 0;
  let lastRestart = 0;
  let lastRestartableRestart = 0;
  const phase = str(status, 'phase') ?? '';
  let reason = str(status, 'reason') || phase;
  for (const c of objs(status, 'conditions')) if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated';
  const finished = (cs: KubeObject): number => {
    const t = str(obj(obj(cs, 'lastState'), 'terminated'), 'finishedAt');
    return t ? Date.parse(t) || 0 : 0;
  };
  let initializing = false;
  const inits = objs(status, 'initContainerStatuses');
  for (let i = 0; i < inits.length; i++) {
    const c = inits[i] ?? {};
    const rc = typeof c.restartCount === 'number' ? c.restartCount : 0;
    restarts += rc;
    lastRestart = Math.max(lastRestart, finished(c));
    const isRestartable = restartable(str(c, 'name'));
    if (isRestartable) {
      restartableRestarts += rc;
      lastRestartableRestart = Math.max(lastRestartableRestart, finished(c));
    }
    const state = obj(c, 'state') ?? {};
    const term = obj(state, 'terminated');
    const wait = obj(state, 'waiting');
    if (term && term.exitCode === 0) continue;
    if (isRestartable && c.started === true) {
      if (c.ready === true) ready++;
      continue;
    }
    if (term) {
      const r = str(term, 'reason');
      if (r) reason = `Init:${r}`;
      else if (typeof term.signal === 'number' && term.signal !== 0) reason = `Init:Signal:${term.signal}`;
      else reason = `Init:ExitCode:${typeof term.exitCode === 'number' ? term.exitCode : 0}`;
    } else if (wait && str(wait, 'reason') && wait.reason !== 'PodInitializing') reason = `Init:${str(wait, 'reason') ?? ''}`;
    else reason = `Init:${i}/${initSpecs.length}`;
    initializing = true;
    break;
  }
  const initializedTrue = objs(status, 'conditions').some((c) => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initializedTrue) {
    restarts = restartableRestarts;
    lastRestart = lastRestartableRestart;
    let hasRunning = false;
    const cs = objs(status, 'containerStatuses');
    for (let i = cs.length - 1; i >= 0; i--) {
      const c = cs[i] ?? {};
      restarts += typeof c.restartCount === 'number' ? c.restartCount : 0;
      lastRestart = Math.max(lastRestart, finished(c));
      const state = obj(c, 'state') ?? {};
      const term = obj(state, 'terminated');
      const wait = obj(state, 'waiting');
      if (wait && str(wait, 'reason')) reason = str(wait, 'reason') ?? reason;
      else if (term && str(term, 'reason')) reason = str(term, 'reason') ?? reason;
      else if (term) reason = typeof term.signal === 'number' && term.signal !== 0 ? `Signal:${term.signal}` : `ExitCode:${typeof term.exitCode === 'number' ? term.exitCode : 0}`;
      else if (c.ready === true && obj(state, 'running')) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = objs(status, 'conditions').some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
    }
  }
  const deleting = str(meta(pod), 'deletionTimestamp');
  if (deleting && status.reason === 'NodeLost') reason = 'Unknown';
  else if (deleting && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';
  if (total < 0) total = 0;
  const restartsText = restarts !== 0 && lastRestart > 0 ? `${restarts} (${humanDuration(nowMs - lastRestart)} ago)` : String(restarts);
  return { ready: `${ready}/${total}`, status: reason, restarts: restartsText };
}

function podRow(pod: KubeObject, nowMs: number): TableCell[] {
  const s = podDisplayStatus(pod, nowMs);
  const spec = obj(pod, 'spec') ?? {};
  const status = obj(pod, 'status') ?? {};
  const ip = str(objs(status, 'podIPs')[0], 'ip') || str(status, 'podIP') || '<none>';
  const gates = objs(spec, 'readinessGates');
  let readinessGates = '<none>';
  if (gates.length) {
    const conds = objs(status, 'conditions');
    const trueCount = gates.filter((g) => conds.find((c) => c.type === g.conditionType)?.status === 'True').length;
    readinessGates = `${trueCount}/${gates.length}`;
  }
  return [
    nameOf(pod),
    s.ready,
    s.status,
    s.restarts,
    since(str(meta(pod), 'creationTimestamp'), nowMs),
    ip,
    str(spec, 'nodeName') || '<none>',
    str(status, 'nominatedNodeName') || '<none>',
    readinessGates,
  ];
}

export const podStrategy = defineKind({
  def: podDef,
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    defaultPodSpec(ensure(o, 'spec'));
  },
  validate(o, errs) {
    validatePodSpec(o.spec, 'spec', { isPod: true }, errs);
  },
  validateUpdate: validatePodSpecUpdate,
  initialStatus: (o) => ({ phase: 'Pending', qosClass: qosClass(o.spec) }),
  statusWritesLabels: true,
  columns: [
    NAME_COLUMN,
    col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'string', 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    AGE_COLUMN,
    col('IP', 'string', 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
    col('Node', 'string', 'NodeName indicates in which node this pod is scheduled.', 1),
    col('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.', 1),
    col('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness. More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates', 1),
  ],
  row: podRow,
  fields: {
    'spec.nodeName': (o) => str(o.spec, 'nodeName') ?? '',
    'spec.restartPolicy': (o) => str(o.spec, 'restartPolicy') ?? '',
    'spec.schedulerName': (o) => str(o.spec, 'schedulerName') ?? '',
    'spec.serviceAccountName': (o) => str(o.spec, 'serviceAccountName') ?? '',
    'spec.hostNetwork': (o) => String(obj(o, 'spec')?.hostNetwork === true),
    'status.phase': (o) => str(o.status, 'phase') ?? '',
    'status.podIP': (o) => str(objs(o.status, 'podIPs')[0], 'ip') ?? str(o.status, 'podIP') ?? '',
    'status.nominatedNodeName': (o) => str(o.status, 'nominatedNodeName') ?? '',
  },
});

/**
 * A Binding (`pods/<name>/binding`) applied to its pod: spec.nodeName set. Returns why it cannot be, as
 * kube-apiserver's Conflict message says it, or undefined once applied.
 */
export function bindPod(pod: KubeObject, nodeName: string): string | undefined {
  const spec = ensure(pod, 'spec');
  const current = str(spec, 'nodeName');
  if (current) return `pod ${nameOf(pod)} is already assigned to node "${current}"`;
  if (str(meta(pod), 'deletionTimestamp')) return `pod ${nameOf(pod)} is being deleted, cannot be assigned to a host`;
  spec.nodeName = nodeName;
  return undefined;
}
