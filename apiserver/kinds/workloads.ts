// The kinds that own pods through a template: replicationcontrollers (v1), apps/v1 deployments, replicasets,
// daemonsets, batch/v1 jobs and cronjobs. Stored, defaulted, validated and printed here; their controllers
// come later. Defaults as SetDefaults_* of each group's v1, validation as pkg/apis/{core,apps,batch}/validation.
import { isObject } from '../../core/index.js';
import { ensure, list, meta, nameOf, num, obj, objs, setDefault, setDefaultStr, str, strMap } from './access.js';
import { forbidden, immutable, invalid, notSupported, required, typeInvalid } from './field-errors.js';
import { containerCells, formatLabels, formatLabelSelector, labelSelectorString, since, humanDuration } from './humanize.js';
import { age, AGE_COLUMN, col, defineKind, NAME_COLUMN, resourceDef, validateAnnotations, validateLabels } from './meta.js';
import { isQualifiedName, nameIsDnsSubdomain } from './names.js';
import { defaultPodSpec, validatePodSpec } from './podspec.js';
import type { FieldError, KubeObject, ResourceDef, ScaleAccess, TableCell, TableColumn } from './types.js';

const def = (group: string, resource: string, kind: string, storage: string, shortNames: string[], subresources: string[]): ResourceDef =>
  resourceDef({ group, resource, kind, storage, shortNames, subresources, categories: ['all'] });

/** Whether a metav1.LabelSelector selects `labels` (an invalid operator selects nothing). */
export function labelSelectorMatches(sel: unknown, labels: Record<string, string>): boolean {
  if (!isObject(sel)) return false;
  for (const [k, v] of Object.entries(strMap(sel, 'matchLabels'))) if (labels[k] !== v) return false;
  for (const e of objs(sel, 'matchExpressions')) {
    const key = str(e, 'key') ?? '';
    const values = (list(e, 'values') ?? []).filter((v): v is string => typeof v === 'string');
    const present = Object.hasOwn(labels, key);
    switch (e.operator) {
      case 'In':
        if (!present || !values.includes(labels[key] ?? '')) return false;
        break;
      case 'NotIn':
        if (present && values.includes(labels[key] ?? '')) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** ValidateLabelSelector at `path`. */
function validateLabelSelector(sel: KubeObject, path: string, errs: FieldError[]): void {
  validateLabels(sel.matchLabels, `${path}.matchLabels`, errs);
  (list(sel, 'matchExpressions') ?? []).forEach((e, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    const op = str(e, 'operator') ?? '';
    const values = list(e, 'values') ?? [];
    if (op === 'In' || op === 'NotIn') {
      if (!values.length) errs.push(required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (op === 'Exists' || op === 'DoesNotExist') {
      if (values.length) errs.push(forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else errs.push(invalid(`${p}.operator`, op, 'not a valid selector operator'));
    const key = str(e, 'key') ?? '';
    for (const m of isQualifiedName(key)) errs.push(invalid(`${p}.key`, key, m));
  });
}

/** A pod template at `spec.template` (metadata labels/annotations and its pod spec). */
function validateTemplate(tpl: unknown, path: string, restartPolicies: readonly string[], errs: FieldError[]): void {
  if (!isObject(tpl)) {
    errs.push(required(path));
    return;
  }
  const m = obj(tpl, 'metadata') ?? {};
  validateLabels(m.labels, `${path}.metadata.labels`, errs);
  validateAnnotations(m.annotations, `${path}.metadata.annotations`, errs);
  validatePodSpec(tpl.spec, `${path}.spec`, { restartPolicies }, errs);
}

const nonNegative = (o: unknown, key: string, path: string, errs: FieldError[]): void => {
  const v = isObject(o) ? o[key] : undefined;
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isInteger(v)) errs.push(typeInvalid(path, v, 'must be an integer'));
  else if (v < 0) errs.push(invalid(path, v, 'must be greater than or equal to 0'));
};

const templateLabels = (spec: unknown): Record<string, string> => strMap(obj(obj(spec, 'template'), 'metadata'), 'labels');
function defaultTemplate(spec: KubeObject): void {
  const tpl = obj(spec, 'template');
  if (tpl) defaultPodSpec(ensure(tpl, 'spec'));
}

/** The apps/v1 rule: a selector, not empty, that selects the template's labels. */
function validateAppsSelector(spec: KubeObject, what: string, errs: FieldError[]): void {
  const sel = obj(spec, 'selector');
  if (!sel) {
    errs.push(required('spec.selector'));
    return;
  }
  validateLabelSelector(sel, 'spec.selector', errs);
  if (Object.keys(obj(sel, 'matchLabels') ?? {}).length + (list(sel, 'matchExpressions') ?? []).length === 0)
    errs.push(invalid('spec.selector', sel, `empty selector is invalid for ${what}`));
  else if (isObject(spec.template) && !labelSelectorMatches(sel, templateLabels(spec)))
    errs.push(invalid('spec.template.metadata.labels', templateLabels(spec), '`selector` does not match template `labels`'));
}

function validateReplicaTemplate(spec: KubeObject, kindName: string, errs: FieldError[]): void {
  validateTemplate(spec.template, 'spec.template', ['Always'], errs);
  if (obj(obj(spec, 'template'), 'spec')?.activeDeadlineSeconds !== undefined)
    errs.push(forbidden('spec.template.spec.activeDeadlineSeconds', `activeDeadlineSeconds in ${kindName} is not Supported`));
}

const selectorImmutable = (o: KubeObject, old: KubeObject, errs: FieldError[]): void => {
  const sel = obj(o, 'spec')?.selector;
  const oldSel = obj(old, 'spec')?.selector;
  if (JSON.stringify(sortKeys(sel)) !== JSON.stringify(sortKeys(oldSel))) errs.push(immutable('spec.selector', sel ?? null));
};
const sortKeys = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(sortKeys) : isObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v;

const CONTAINERS_COLUMNS: TableColumn[] = [
  col('Containers', 'string', 'Names of each container in the template.', 1),
  col('Images', 'string', 'Images referenced by each container in the template.', 1),
];
const wideCells = (podSpec: unknown, selector: string): TableCell[] => [...containerCells(podSpec), selector];
const tplSpec = (o: KubeObject): unknown => obj(obj(o.spec, 'template'), 'spec');
const int = (o: unknown, key: string): number => num(o, key) ?? 0;

const replicasScale = (selector: (o: KubeObject) => string): ScaleAccess => ({
  read: (o) => ({ specReplicas: int(o.spec, 'replicas'), statusReplicas: int(o.status, 'replicas'), selector: selector(o) }),
  write: (o, replicas) => {
    ensure(o, 'spec').replicas = replicas;
  },
});

// --- replicationcontrollers ---------------------------------------------------------------------------

export const replicationControllerStrategy = defineKind({
  def: { ...def('', 'replicationcontrollers', 'ReplicationController', 'controllers', ['rc'], ['scale', 'status']) },
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    const spec = ensure(o, 'spec');
    const labels = templateLabels(spec);
    // SetDefaults_ReplicationController: selector and labels from the template's labels when absent.
    if (Object.keys(labels).length) {
      if (!Object.keys(strMap(spec, 'selector')).length) spec.selector = { ...labels };
      const m = ensure(o, 'metadata');
      if (!Object.keys(strMap(m, 'labels')).length) m.labels = { ...labels };
    }
    setDefault(spec, 'replicas', 1);
    defaultTemplate(spec);
  },
  validate(o, errs) {
    const spec = obj(o, 'spec') ?? {};
    nonNegative(spec, 'minReadySeconds', 'spec.minReadySeconds', errs);
    const selector = strMap(spec, 'selector');
    if (!Object.keys(selector).length) errs.push(required('spec.selector'));
    else validateLabels(spec.selector, 'spec.selector', errs);
    nonNegative(spec, 'replicas', 'spec.replicas', errs);
    if (!isObject(spec.template)) {
      errs.push(required('spec.template'));
      return;
    }
    const labels = templateLabels(spec);
    if (Object.keys(selector).length && !Object.entries(selector).every(([k, v]) => labels[k] === v))
      errs.push(invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
    validateTemplate(spec.template, 'spec.template', ['Always'], errs);
    const ads = obj(obj(spec, 'template'), 'spec')?.activeDeadlineSeconds;
    if (ads !== undefined) errs.push(invalid('spec.template.spec.activeDeadlineSeconds', ads, 'activeDeadlineSeconds in ReplicationController is not Supported'));
  },
  initialStatus: () => ({ replicas: 0 }),
  generation: true,
  columns: [
    NAME_COLUMN,
    col('Desired', 'integer', 'Replicas is the number of desired replicas.'),
    col('Current', 'integer', 'Replicas is the most recently observed number of replicas.'),
    col('Ready', 'integer', 'The number of ready replicas for this replication controller.'),
    AGE_COLUMN,
    ...CONTAINERS_COLUMNS,
    col('Selector', 'string', 'Selector is a label query over pods that should match the Replicas count.', 1),
  ],
  row: (o, now) => [nameOf(o), int(o.spec, 'replicas'), int(o.status, 'replicas'), int(o.status, 'readyReplicas'), age(o, now), ...wideCells(tplSpec(o), formatLabels(strMap(o.spec, 'selector')))],
  fields: { 'status.replicas': (o) => String(int(o.status, 'replicas')) },
  scale: replicasScale((o) => {
    const s = formatLabels(strMap(o.spec, 'selector'));
    return s === '<none>' ? '' : s;
  }),
});

// --- replicasets and deployments ----------------------------------------------------------------------

const replicaSetColumns = (): TableColumn[] => [
  NAME_COLUMN,
  col('Desired', 'integer', 'Replicas is the number of desired pods.'),
  col('Current', 'integer', 'Replicas is the most recently observed number of replicas.'),
  col('Ready', 'integer', 'The number of ready replicas for this replica set.'),
  AGE_COLUMN,
  ...CONTAINERS_COLUMNS,
  col('Selector', 'string', 'Selector is a label query over pods that should match the replica count.', 1),
];

export const replicaSetStrategy = defineKind({
  def: def('apps', 'replicasets', 'ReplicaSet', 'replicasets', ['rs'], ['scale', 'status']),
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    const spec = ensure(o, 'spec');
    setDefault(spec, 'replicas', 1);
    defaultTemplate(spec);
  },
  validate(o, errs) {
    const spec = obj(o, 'spec') ?? {};
    nonNegative(spec, 'replicas', 'spec.replicas', errs);
    nonNegative(spec, 'minReadySeconds', 'spec.minReadySeconds', errs);
    validateAppsSelector(spec, 'deployment', errs);
    validateReplicaTemplate(spec, 'ReplicaSet', errs);
  },
  validateUpdate: selectorImmutable,
  initialStatus: () => ({ replicas: 0 }),
  generation: true,
  columns: replicaSetColumns(),
  row: (o, now) => [nameOf(o), int(o.spec, 'replicas'), int(o.status, 'replicas'), int(o.status, 'readyReplicas'), age(o, now), ...wideCells(tplSpec(o), formatLabelSelector(obj(o.spec, 'selector')))],
  fields: { 'status.replicas': (o) => String(int(o.status, 'replicas')) },
  scale: replicasScale((o) => labelSelectorString(obj(o.spec, 'selector')) ?? ''),
});

const intOrPercent = (v: unknown, path: string, errs: FieldError[]): void => {
  if (v === undefined || v === null) return;
  if (typeof v === 'number') {
    if (v < 0) errs.push(invalid(path, v, 'must be greater than or equal to 0'));
  } else if (typeof v === 'string') {
    const m = /^(\d+)%$/.exec(v);
    if (!m) errs.push(invalid(path, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
    else if (Number(m[1]) > 100 && path.endsWith('maxUnavailable')) errs.push(invalid(path, v, 'must not be greater than 100%'));
  } else errs.push(typeInvalid(path, v, 'must be an integer or a percentage'));
};

export const deploymentStrategy = defineKind({
  def: def('apps', 'deployments', 'Deployment', 'deployments', ['deploy'], ['scale', 'status']),
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    const spec = ensure(o, 'spec');
    setDefault(spec, 'replicas', 1);
    const strategy = ensure(spec, 'strategy');
    setDefaultStr(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = ensure(strategy, 'rollingUpdate');
      setDefault(ru, 'maxUnavailable', '25%');
      setDefault(ru, 'maxSurge', '25%');
    }
    setDefault(spec, 'revisionHistoryLimit', 10);
    setDefault(spec, 'progressDeadlineSeconds', 600);
    defaultTemplate(spec);
  },
  validate(o, errs) {
    const spec = obj(o, 'spec') ?? {};
    nonNegative(spec, 'replicas', 'spec.replicas', errs);
    validateAppsSelector(spec, 'deployment', errs);
    validateReplicaTemplate(spec, 'ReplicaSet', errs);
    const strategy = obj(spec, 'strategy') ?? {};
    const type = strategy.type;
    if (type !== 'Recreate' && type !== 'RollingUpdate') errs.push(notSupported('spec.strategy.type', type ?? '', ['Recreate', 'RollingUpdate']));
    if (type === 'Recreate' && strategy.rollingUpdate !== undefined) errs.push(forbidden('spec.strategy.rollingUpdate', 'may not be specified when strategy `type` is \'Recreate\''));
    const ru = obj(strategy, 'rollingUpdate');
    if (type === 'RollingUpdate' && ru) {
      intOrPercent(ru.maxUnavailable, 'spec.strategy.rollingUpdate.maxUnavailable', errs);
      intOrPercent(ru.maxSurge, 'spec.strategy.rollingUpdate.maxSurge', errs);
      const zero = (v: unknown): boolean => v === 0 || v === '0%';
      if (zero(ru.maxUnavailable) && zero(ru.maxSurge)) errs.push(invalid('spec.strategy.rollingUpdate.maxUnavailable', ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
    }
    nonNegative(spec, 'minReadySeconds', 'spec.minReadySeconds', errs);
    nonNegative(spec, 'revisionHistoryLimit', 'spec.revisionHistoryLimit', errs);
    nonNegative(spec, 'progressDeadlineSeconds', 'spec.progressDeadlineSeconds', errs);
    const pds = num(spec, 'progressDeadlineSeconds');
    if (pds !== undefined && pds <= int(spec, 'minReadySeconds')) errs.push(invalid('spec.progressDeadlineSeconds', pds, 'must be greater than minReadySeconds'));
  },
  validateUpdate: selectorImmutable,
  initialStatus: () => ({}),
  generation: true,
  statusWritesAnnotations: true,
  columns: [
    NAME_COLUMN,
    col('Ready', 'string', 'Number of the pod with ready state'),
    col('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
    col('Available', 'string', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
    AGE_COLUMN,
    ...CONTAINERS_COLUMNS,
    col('Selector', 'string', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', 1),
  ],
  row: (o, now) => [
    nameOf(o),
    `${int(o.status, 'readyReplicas')}/${int(o.spec, 'replicas')}`,
    int(o.status, 'updatedReplicas'),
    int(o.status, 'availableReplicas'),
    age(o, now),
    ...wideCells(tplSpec(o), labelSelectorString(obj(o.spec, 'selector')) ?? '<invalid>'),
  ],
  scale: replicasScale((o) => labelSelectorString(obj(o.spec, 'selector')) ?? ''),
});

// --- daemonsets ---------------------------------------------------------------------------------------

export const daemonSetStrategy = defineKind({
  def: def('apps', 'daemonsets', 'DaemonSet', 'daemonsets', ['ds'], ['status']),
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    const spec = ensure(o, 'spec');
    const us = ensure(spec, 'updateStrategy');
    setDefaultStr(us, 'type', 'RollingUpdate');
    if (us.type === 'RollingUpdate') {
      const ru = ensure(us, 'rollingUpdate');
      setDefault(ru, 'maxUnavailable', 1);
      setDefault(ru, 'maxSurge', 0);
    }
    setDefault(spec, 'revisionHistoryLimit', 10);
    defaultTemplate(spec);
  },
  validate(o, errs) {
    const spec = obj(o, 'spec') ?? {};
    validateAppsSelector(spec, 'daemonset', errs);
    validateTemplate(spec.template, 'spec.template', ['Always'], errs);
    const type = obj(spec, 'updateStrategy')?.type;
    if (type !== 'OnDelete' && type !== 'RollingUpdate') errs.push(notSupported('spec.updateStrategy.type', type ?? '', ['OnDelete', 'RollingUpdate']));
    nonNegative(spec, 'minReadySeconds', 'spec.minReadySeconds', errs);
    nonNegative(spec, 'revisionHistoryLimit', 'spec.revisionHistoryLimit', errs);
  },
  validateUpdate: selectorImmutable,
  initialStatus: () => ({ currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 }),
  generation: true,
  columns: [
    NAME_COLUMN,
    col('Desired', 'integer', 'The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).'),
    col('Current', 'integer', 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.'),
    col('Ready', 'integer', 'numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.'),
    col('Up-to-date', 'integer', 'The total number of nodes that are running updated daemon pod'),
    col('Available', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
    col('Node Selector', 'string', 'NodeSelector is a selector which must be true for the pod to fit on a node.'),
    AGE_COLUMN,
    ...CONTAINERS_COLUMNS,
    col('Selector', 'string', 'A label query over pods that are managed by the daemon set.', 1),
  ],
  row: (o, now) => [
    nameOf(o),
    int(o.status, 'desiredNumberScheduled'),
    int(o.status, 'currentNumberScheduled'),
    int(o.status, 'numberReady'),
    int(o.status, 'updatedNumberScheduled'),
    int(o.status, 'numberAvailable'),
    formatLabels(strMap(tplSpec(o), 'nodeSelector')),
    age(o, now),
    ...wideCells(tplSpec(o), formatLabelSelector(obj(o.spec, 'selector'))),
  ],
});

// --- jobs and cronjobs --------------------------------------------------------------------------------

export const JOB_LABELS = {
  legacyJobName: 'job-name',
  jobName: 'batch.kubernetes.io/job-name',
  legacyControllerUid: 'controller-uid',
  controllerUid: 'batch.kubernetes.io/controller-uid',
} as const;

function defaultJobSpec(spec: KubeObject): void {
  if (spec.completions === undefined && spec.parallelism === undefined) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  setDefault(spec, 'parallelism', 1);
  setDefault(spec, 'backoffLimit', spec.backoffLimitPerIndex !== undefined ? 2147483647 : 6);
  setDefaultStr(spec, 'completionMode', 'NonIndexed');
  setDefault(spec, 'suspend', false);
  setDefaultStr(spec, 'podReplacementPolicy', spec.podFailurePolicy !== undefined ? 'Failed' : 'TerminatingOrFailed');
  defaultTemplate(spec);
}

function validateJobSpec(spec: unknown, path: string, errs: FieldError[], requireSelector: boolean): void {
  if (!isObject(spec)) {
    errs.push(required(`${path}.template`));
    return;
  }
  for (const f of ['parallelism', 'completions', 'activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished']) nonNegative(spec, f, `${path}.${f}`, errs);
  const ads = num(spec, 'activeDeadlineSeconds');
  if (ads === 0) errs.push(invalid(`${path}.activeDeadlineSeconds`, 0, 'must be greater than 0'));
  const mode = spec.completionMode;
  if (mode !== undefined && mode !== 'NonIndexed' && mode !== 'Indexed') errs.push(notSupported(`${path}.completionMode`, mode, ['NonIndexed', 'Indexed']));
  if (mode === 'Indexed' && spec.completions === undefined) errs.push(required(`${path}.completions`, 'when completion mode is Indexed'));
  const sel = obj(spec, 'selector');
  if (!sel) {
    if (requireSelector) errs.push(required(`${path}.selector`));
  } else {
    validateLabelSelector(sel, `${path}.selector`, errs);
    const labels = strMap(obj(obj(spec, 'template'), 'metadata'), 'labels');
    if (isObject(spec.template) && !labelSelectorMatches(sel, labels))
      errs.push(invalid(`${path}.template.metadata.labels`, labels, '`selector` does not match template `labels`'));
  }
  validateTemplate(spec.template, `${path}.template`, ['OnFailure', 'Never'], errs);
}

function jobStatusText(o: KubeObject): string {
  const conds = objs(o.status, 'conditions');
  const has = (t: string): boolean => conds.some((c) => c.type === t && c.status === 'True');
  if (has('Complete')) return 'Complete';
  if (has('Failed')) return 'Failed';
  if (str(meta(o), 'deletionTimestamp')) return 'Terminating';
  if (has('Suspended')) return 'Suspended';
  if (has('FailureTarget')) return 'FailureTarget';
  if (has('SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  return 'Running';
}

export const jobStrategy = defineKind({
  def: def('batch', 'jobs', 'Job', 'jobs', [], ['status']),
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    const spec = ensure(o, 'spec');
    defaultJobSpec(spec);
    const labels = templateLabels(spec);
    const m = ensure(o, 'metadata');
    if (Object.keys(labels).length && !Object.keys(strMap(m, 'labels')).length) m.labels = { ...labels };
  },
  validate(o, errs) {
    const spec = obj(o, 'spec');
    validateJobSpec(spec, 'spec', errs, true);
    if (spec && spec.manualSelector !== true) {
      // The generated selector's labels must be the job's own.
      const labels = templateLabels(spec);
      const uid = str(meta(o), 'uid');
      const want = strMap(obj(spec, 'selector'), 'matchLabels')[JOB_LABELS.controllerUid];
      if (uid && want !== undefined && want !== uid) errs.push(invalid('spec.selector', obj(spec, 'selector'), '`selector` not auto-generated'));
      if (uid && labels[JOB_LABELS.controllerUid] !== undefined && labels[JOB_LABELS.controllerUid] !== uid)
        errs.push(invalid(`spec.template.metadata.labels[${JOB_LABELS.controllerUid}]`, labels[JOB_LABELS.controllerUid], `must be '${uid}'`));
    }
  },
  validateUpdate(o, old, errs) {
    selectorImmutable(o, old, errs);
    const spec = obj(o, 'spec') ?? {};
    const oldSpec = obj(old, 'spec') ?? {};
    if (JSON.stringify(sortKeys(spec.template)) !== JSON.stringify(sortKeys(oldSpec.template))) errs.push(immutable('spec.template', spec.template ?? null));
    if (spec.completionMode !== oldSpec.completionMode) errs.push(immutable('spec.completionMode', spec.completionMode ?? null));
    if (spec.completions !== oldSpec.completions && spec.completionMode !== 'Indexed') errs.push(immutable('spec.completions', spec.completions ?? null));
  },
  initialStatus: () => ({}),
  generation: true,
  prepareForCreate(o) {
    const spec = ensure(o, 'spec');
    if (spec.manualSelector === true) return;
    // generateSelector: the pods carry the job's name and uid; the selector is the uid.
    const tpl = ensure(spec, 'template');
    const labels = ensure(ensure(tpl, 'metadata'), 'labels');
    const m = meta(o);
    for (const k of [JOB_LABELS.legacyJobName, JOB_LABELS.jobName]) setDefault(labels, k, str(m, 'name') ?? '');
    for (const k of [JOB_LABELS.legacyControllerUid, JOB_LABELS.controllerUid]) setDefault(labels, k, str(m, 'uid') ?? '');
    const ml = ensure(ensure(spec, 'selector'), 'matchLabels');
    setDefault(ml, JOB_LABELS.controllerUid, str(m, 'uid') ?? '');
    // Kubernetes defaults objects again as it reads them from etcd, so a Job is seen with the template's
    // (generated) labels as its own when it has none: do that once here, so the stored object is that one.
    if (!Object.keys(strMap(m, 'labels')).length) m.labels = { ...labels };
  },
  columns: [
    NAME_COLUMN,
    col('Status', 'string', 'Status of the job.'),
    col('Completions', 'string', 'The number of pods which reached phase Succeeded.'),
    col('Duration', 'string', 'Time required to complete the job.'),
    AGE_COLUMN,
    ...CONTAINERS_COLUMNS,
    col('Selector', 'string', 'A label query over pods that should match the pod count.', 1),
  ],
  row(o, now) {
    const spec = obj(o, 'spec') ?? {};
    const succeeded = int(o.status, 'succeeded');
    const completions = num(spec, 'completions');
    const parallelism = num(spec, 'parallelism') ?? 0;
    const comp = completions !== undefined ? `${succeeded}/${completions}` : parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
    const start = str(o.status, 'startTime');
    const end = str(o.status, 'completionTime');
    const duration = !start ? '' : !end ? since(start, now) : humanDuration(Date.parse(end) - Date.parse(start));
    return [nameOf(o), jobStatusText(o), comp, duration, age(o, now), ...wideCells(tplSpec(o), formatLabelSelector(obj(spec, 'selector')))];
  },
  fields: { 'status.successful': (o) => String(int(o.status, 'succeeded')) },
});

const CRON_FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];
const DESCRIPTORS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** Why robfig/cron's ParseStandard (which Kubernetes uses) refuses a schedule, or undefined. */
export function cronScheduleError(schedule: string): string | undefined {
  const s = schedule.trim();
  if (s.startsWith('@')) {
    if (DESCRIPTORS.has(s)) return undefined;
    if (s.startsWith('@every ')) return /^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))*$/.test(s.slice(7).trim()) ? undefined : `failed to parse duration ${s}`;
    return `unrecognized descriptor: ${s}`;
  }
  const fields = s.split(/\s+/).filter((f) => f);
  if (fields.length !== 5) return `expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`;
  for (let i = 0; i < 5; i++) {
    const spec = CRON_FIELDS[i];
    const field = fields[i] ?? '';
    if (!spec) continue;
    const value = (t: string): number | string => {
      const n = spec.names?.indexOf(t.toLowerCase()) ?? -1;
      if (n >= 0) return n + spec.min;
      if (!/^\d+$/.test(t)) return `failed to parse int from ${t}: strconv.Atoi: parsing ${JSON.stringify(t)}: invalid syntax`;
      return Number(t);
    };
    for (const part of field.split(',')) {
      const [range = '', step, extra] = part.split('/');
      if (extra !== undefined) return `too many slashes: ${part}`;
      let lo = spec.min;
      let hi = spec.max;
      if (range !== '*' && range !== '?') {
        const [a = '', b, more] = range.split('-');
        if (more !== undefined) return `too many hyphens: ${part}`;
        const va = value(a);
        if (typeof va === 'string') return va;
        lo = va;
        if (b !== undefined) {
          const vb = value(b);
          if (typeof vb === 'string') return vb;
          hi = vb;
        } else hi = step !== undefined ? spec.max : lo;
      }
      if (step !== undefined) {
        const vs = value(step);
        if (typeof vs === 'string') return vs;
        if (vs === 0) return `step of range should be a positive number: ${part}`;
      }
      if (lo < spec.min) return `beginning of range (${lo}) below minimum (${spec.min}): ${part}`;
      if (hi > spec.max) return `end of range (${hi}) above maximum (${spec.max}): ${part}`;
      if (lo > hi) return `beginning of range (${lo}) beyond end of range (${hi}): ${part}`;
    }
  }
  return undefined;
}

export const cronJobStrategy = defineKind({
  def: def('batch', 'cronjobs', 'CronJob', 'cronjobs', ['cj'], ['status']),
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    const spec = ensure(o, 'spec');
    setDefaultStr(spec, 'concurrencyPolicy', 'Allow');
    setDefault(spec, 'suspend', false);
    setDefault(spec, 'successfulJobsHistoryLimit', 3);
    setDefault(spec, 'failedJobsHistoryLimit', 1);
    const jobSpec = obj(obj(spec, 'jobTemplate'), 'spec');
    if (jobSpec) defaultTemplate(jobSpec);
  },
  validate(o, errs) {
    const name = nameOf(o);
    if (name.length > 52) errs.push(invalid('metadata.name', name, 'must be no more than 52 characters'));
    const spec = obj(o, 'spec') ?? {};
    const schedule = spec.schedule;
    if (typeof schedule !== 'string' || !schedule) errs.push(required('spec.schedule'));
    else if (/^\s*(CRON_)?TZ=/.test(schedule)) errs.push(invalid('spec.schedule', schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
    else {
      const err = cronScheduleError(schedule);
      if (err) errs.push(invalid('spec.schedule', schedule, err));
    }
    const cp = spec.concurrencyPolicy;
    if (cp !== 'Allow' && cp !== 'Forbid' && cp !== 'Replace') errs.push(notSupported('spec.concurrencyPolicy', cp ?? '', ['Allow', 'Forbid', 'Replace']));
    for (const f of ['startingDeadlineSeconds', 'successfulJobsHistoryLimit', 'failedJobsHistoryLimit']) nonNegative(spec, f, `spec.${f}`, errs);
    const jt = obj(spec, 'jobTemplate');
    if (!jt) errs.push(required('spec.jobTemplate'));
    else validateJobSpec(jt.spec, 'spec.jobTemplate.spec', errs, false);
  },
  initialStatus: () => ({}),
  generation: true,
  columns: [
    NAME_COLUMN,
    col('Schedule', 'string', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
    col('Timezone', 'string', 'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.'),
    col('Suspend', 'boolean', 'This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.'),
    col('Active', 'integer', 'A list of pointers to currently running jobs.'),
    col('Last Schedule', 'string', 'Information when was the last time the job was successfully scheduled.'),
    AGE_COLUMN,
    ...CONTAINERS_COLUMNS,
    col('Selector', 'string', 'A label query over pods that should match the pod count.', 1),
  ],
  row(o, now) {
    const spec = obj(o, 'spec') ?? {};
    const suspend = spec.suspend;
    const last = str(o.status, 'lastScheduleTime');
    const jobSpec = obj(obj(spec, 'jobTemplate'), 'spec');
    return [
      nameOf(o),
      str(spec, 'schedule') ?? '',
      str(spec, 'timeZone') ?? '<none>',
      typeof suspend === 'boolean' ? (suspend ? 'True' : 'False') : '<unset>',
      (list(o.status, 'active') ?? []).length,
      last ? since(last, now) : '<none>',
      age(o, now),
      ...wideCells(obj(obj(jobSpec, 'template'), 'spec'), formatLabelSelector(obj(jobSpec, 'selector'))),
    ];
  },
});
