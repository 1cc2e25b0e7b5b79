// apps/v1beta1 and extensions/v1beta1 Deployments over the stored apps/v1 ones (Kubernetes 1.15's
// defaults and conversions). The only field apps/v1 lacks is the deprecated `spec.rollbackTo`, which is kept
// in an annotation of the stored object, as kube-apiserver kept it.
import { deploymentStrategy } from '../kinds/index.js';
import { isObj, metaOf, type Obj } from '../object.js';
import type { VersionView } from './types.js';
import { annotationsOf, defineView, dropAnnotation, ensure, selectorFromTemplate, setDefault } from './view.js';

/** Where an apps/v1 object keeps a beta version's spec.rollbackTo.revision. */
export const ROLLBACK_TO_ANNOTATION = 'deprecated.deployment.rollback.to';

const MAX_INT32 = 2147483647;

interface BetaDefaults {
  readonly maxUnavailable: number | string;
  readonly maxSurge: number | string;
  readonly revisionHistoryLimit: number;
  readonly progressDeadlineSeconds: number;
  /** extensions/v1beta1 also fills in a rollingUpdate given with another strategy type (validation then refuses it). */
  readonly rollingUpdateWhenGiven: boolean;
}

function betaDefaults(d: BetaDefaults): (o: Obj) => void {
  return (o) => {
    selectorFromTemplate(o);
    const spec = ensure(o, 'spec');
    setDefault(spec, 'replicas', 1);
    const strategy = ensure(spec, 'strategy');
    if (strategy.type === undefined || strategy.type === null || strategy.type === '') strategy.type = 'RollingUpdate';
    if (strategy.type === 'RollingUpdate' || (d.rollingUpdateWhenGiven && isObj(strategy.rollingUpdate))) {
      const ru = ensure(strategy, 'rollingUpdate');
      setDefault(ru, 'maxUnavailable', d.maxUnavailable);
      setDefault(ru, 'maxSurge', d.maxSurge);
    }
    setDefault(spec, 'revisionHistoryLimit', d.revisionHistoryLimit);
    setDefault(spec, 'progressDeadlineSeconds', d.progressDeadlineSeconds);
  };
}

/** spec.rollbackTo → the annotation (a revision that is not an integer is kept as given: validation of the beta versions took any int64). */
function rollbackToAnnotation(o: Obj): void {
  const spec = isObj(o.spec) ? o.spec : undefined;
  if (!spec || !isObj(spec.rollbackTo)) {
    if (spec) delete spec.rollbackTo;
    return;
  }
  const rev = spec.rollbackTo.revision;
  annotationsOf(o)[ROLLBACK_TO_ANNOTATION] = String(typeof rev === 'number' ? Math.trunc(rev) : 0);
  delete spec.rollbackTo;
}

/** The annotation → spec.rollbackTo (removed from the old version's metadata, as the conversion does). */
function annotationToRollbackTo(o: Obj): void {
  const ann = metaOf(o).annotations;
  const v = isObj(ann) ? ann[ROLLBACK_TO_ANNOTATION] : undefined;
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) return;
  ensure(o, 'spec').rollbackTo = { revision: Number(v) };
  dropAnnotation(o, ROLLBACK_TO_ANNOTATION);
}

/** apps/v1beta1: 25% / 25%, two old ReplicaSets kept, a ten-minute progress deadline. */
export const appsV1beta1Deployment: VersionView = defineView(deploymentStrategy, {
  group: 'apps',
  version: 'v1beta1',
  deprecated: [9, 16],
  defaults: betaDefaults({ maxUnavailable: '25%', maxSurge: '25%', revisionHistoryLimit: 2, progressDeadlineSeconds: 600, rollingUpdateWhenGiven: false }),
  toCurrent: rollbackToAnnotation,
  fromCurrent: annotationToRollbackTo,
});

/** extensions/v1beta1: one pod over and under, every old ReplicaSet kept, no progress deadline (MaxInt32 for both). */
export const extensionsV1beta1Deployment: VersionView = defineView(deploymentStrategy, {
  group: 'extensions',
  version: 'v1beta1',
  deprecated: [9, 16],
  defaults: betaDefaults({ maxUnavailable: 1, maxSurge: 1, revisionHistoryLimit: MAX_INT32, progressDeadlineSeconds: MAX_INT32, rollingUpdateWhenGiven: true }),
  toCurrent: rollbackToAnnotation,
  fromCurrent: annotationToRollbackTo,
});
