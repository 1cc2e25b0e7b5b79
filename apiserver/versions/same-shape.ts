// The old versions whose objects have the current version's fields: only apiVersion and, for the beta
// controllers, a few defaults differ (Kubernetes 1.15's extensions/v1beta1 and batch/v1beta1).
import { cronJobStrategy, daemonSetStrategy, networkPolicyStrategy, replicaSetStrategy } from '../kinds/index.js';
import { isObj, metaOf, type Obj } from '../object.js';
import type { VersionView } from './types.js';
import { annotationsOf, defineView, dropAnnotation, ensure, selectorFromTemplate, setDefault } from './view.js';

/** Where an apps/v1 DaemonSet keeps extensions/v1beta1's spec.templateGeneration. */
export const TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';

// SetDefaults_NetworkPolicy of extensions/v1beta1 defaults what networking.k8s.io/v1's does (TCP ports, the
// policy types from the rules present), and the store applies the latter after conversion.
export const extensionsV1beta1NetworkPolicy: VersionView = defineView(networkPolicyStrategy, { group: 'extensions', version: 'v1beta1', deprecated: [9, 16] });

// batch/v1beta1's CronJob defaults are batch/v1's (Allow, not suspended, 3 and 1 jobs of history).
export const batchV1beta1CronJob: VersionView = defineView(cronJobStrategy, { group: 'batch', version: 'v1beta1', deprecated: [21, 25] });

export const extensionsV1beta1ReplicaSet: VersionView = defineView(replicaSetStrategy, {
  group: 'extensions',
  version: 'v1beta1',
  deprecated: [9, 16],
  defaults(o) {
    selectorFromTemplate(o);
    setDefault(ensure(o, 'spec'), 'replicas', 1);
  },
});

export const extensionsV1beta1DaemonSet: VersionView = defineView(daemonSetStrategy, {
  group: 'extensions',
  version: 'v1beta1',
  deprecated: [9, 16],
  defaults(o) {
    selectorFromTemplate(o);
    const spec = ensure(o, 'spec');
    const us = ensure(spec, 'updateStrategy');
    // extensions/v1beta1 replaced a DaemonSet's pods only when they were deleted, unless told otherwise.
    if (us.type === undefined || us.type === null || us.type === '') us.type = 'OnDelete';
    if (us.type === 'RollingUpdate') setDefault(ensure(us, 'rollingUpdate'), 'maxUnavailable', 1);
    setDefault(spec, 'revisionHistoryLimit', 10);
  },
  toCurrent(o) {
    const spec = isObj(o.spec) ? o.spec : undefined;
    const gen = spec?.templateGeneration;
    if (typeof gen === 'number') annotationsOf(o)[TEMPLATE_GENERATION_ANNOTATION] = String(Math.trunc(gen));
    if (spec) delete spec.templateGeneration;
  },
  fromCurrent(o: Obj) {
    const ann = metaOf(o).annotations;
    const v = isObj(ann) ? ann[TEMPLATE_GENERATION_ANNOTATION] : undefined;
    if (typeof v !== 'string' || !/^-?\d+$/.test(v)) return;
    ensure(o, 'spec').templateGeneration = Number(v);
    dropAnnotation(o, TEMPLATE_GENERATION_ANNOTATION);
  },
});
