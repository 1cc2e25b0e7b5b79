// authorization.k8s.io/v1 SubjectAccessReview and SelfSubjectAccessReview: the attributes their spec asks
// about, checked the way the server checks its own requests; the answer is the review with its status. Pure
// apart from the authorizer it is given.
import { isObject } from '../../core/index.js';
import type { Attributes, PolicyRule, Subject } from './rules.js';

type Json = Record<string, unknown>;
const str = (o: unknown, k: string): string => (isObject(o) && typeof o[k] === 'string' ? o[k] : '');

/** A problem with a review's spec: the field and the message, as field.Invalid reports it. */
export interface ReviewProblem {
  readonly field: string;
  readonly detail: string;
}

/** The attributes a review's spec names, for `user`; or its problems (exactly one of resourceAttributes, nonResourceAttributes). */
export function reviewAttributes(spec: unknown, user: Subject): Attributes | ReviewProblem[] {
  const ra = isObject(spec) && isObject(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
  const nra = isObject(spec) && isObject(spec.nonResourceAttributes) ? spec.nonResourceAttributes : undefined;
  if ((ra === undefined) === (nra === undefined)) return [{ field: 'spec.resourceAttributes', detail: 'exactly one of nonResourceAttributes or resourceAttributes must be specified' }];
  if (nra) return { user, verb: str(nra, 'verb'), resourceRequest: false, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '', path: str(nra, 'path') };
  return {
    user,
    verb: str(ra, 'verb'),
    resourceRequest: true,
    apiGroup: str(ra, 'group'),
    apiVersion: str(ra, 'version'),
    resource: str(ra, 'resource'),
    subresource: str(ra, 'subresource'),
    namespace: str(ra, 'namespace'),
    name: str(ra, 'name'),
    path: '',
  };
}

/** The user a SubjectAccessReview asks about (spec.user, spec.groups, spec.uid); problems when it names none. */
export function reviewSubject(spec: unknown): Subject | ReviewProblem[] {
  const name = str(spec, 'user');
  const groups = isObject(spec) && Array.isArray(spec.groups) ? spec.groups.filter((g): g is string => typeof g === 'string') : [];
  if (name === '' && groups.length === 0) return [{ field: 'spec.user', detail: 'at least one of user or group must be specified' }];
  const uid = str(spec, 'uid');
  return { name, groups, ...(uid && { uid }) };
}

/** The review as answered: the spec kept (a SelfSubjectAccessReview's user is not echoed), the status set. */
export function reviewAnswer(kind: string, body: Json, decision: { decision: string; reason: string }): Json {
  const meta = isObject(body.metadata) ? body.metadata : {};
  return {
    kind,
    apiVersion: 'authorization.k8s.io/v1',
    metadata: { ...meta, creationTimestamp: null },
    spec: isObject(body.spec) ? body.spec : {},
    status: { allowed: decision.decision === 'allow', ...(decision.decision === 'deny' && { denied: true }), ...(decision.reason && { reason: decision.reason }) },
  };
}

/** A LocalSubjectAccessReview's own checks (ValidateLocalSubjectAccessReview), beside the SubjectAccessReview ones. */
export function localReviewProblems(body: Json, namespace: string): ReviewProblem[] {
  const out: ReviewProblem[] = [];
  const spec = isObject(body.spec) ? body.spec : {};
  if (isObject(spec.resourceAttributes) && str(spec.resourceAttributes, 'namespace') !== namespace) out.push({ field: 'spec.resourceAttributes.namespace', detail: 'must match metadata.namespace' });
  if (isObject(spec.nonResourceAttributes)) out.push({ field: 'spec.nonResourceAttributes', detail: 'disallowed on this kind of request' });
  return out;
}

/** SubjectRulesReviewStatus from the rules that apply: resource rules and non-resource rules apart, as RBAC's RulesFor lists them. */
export function rulesReviewStatus(rules: readonly PolicyRule[], errors: readonly string[], incomplete = false): Json {
  const resourceRules: Json[] = [];
  const nonResourceRules: Json[] = [];
  for (const r of rules) {
    if (r.nonResourceURLs.length) nonResourceRules.push({ verbs: [...r.verbs], nonResourceURLs: [...r.nonResourceURLs] });
    else resourceRules.push({ verbs: [...r.verbs], ...(r.apiGroups.length && { apiGroups: [...r.apiGroups] }), ...(r.resources.length && { resources: [...r.resources] }), ...(r.resourceNames.length && { resourceNames: [...r.resourceNames] }) });
  }
  const unique = [...new Set(errors)];
  return { resourceRules, nonResourceRules, incomplete, ...(unique.length && { evaluationError: unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]` }) };
}
