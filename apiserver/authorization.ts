// The server's side of authorization: the RBAC policy read from storage (cached, dropped on every RBAC write
// through this server and at most a second old otherwise), the 403 of a denied request, escalation
// prevention on RBAC writes, and the answers of the access reviews.
import type { Logger } from '../common/index.js';
import type { UserInfo } from './auth.js';
import { attributesOf, type Authorizer, forbiddenStatus, localReviewProblems, type PolicySource, RbacPolicy, reviewAnswer, reviewAttributes, reviewSubject, ruleJson } from './authz/index.js';
import { ApiError, badRequest, invalid } from './errors.js';
import type { Strategy } from './kinds/index.js';
import type { Obj } from './object.js';
import type { RequestInfo } from './request.js';
import type { Storage } from './storage.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
const POLICY_TTL_MS = 1_000;

/** system:anonymous in system:unauthenticated: a request without credentials under --anonymous-auth. */
export const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

/**
 * The four RBAC kinds listed from storage into an RbacPolicy; concurrent callers share one read. Another
 * apiserver's writes are seen within POLICY_TTL_MS (a list per second at most, instead of a watch: the
 * policy is small and a cache that can only be stale for a second needs no resync logic).
 */
export class StoragePolicySource implements PolicySource {
  private cached: { at: number; policy: Promise<RbacPolicy> } | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly kinds: readonly Strategy[],
    private readonly log: Logger,
  ) {}

  invalidate(): void {
    this.cached = undefined;
  }

  policy(): Promise<RbacPolicy> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < POLICY_TTL_MS) return this.cached.policy;
    const policy = this.load();
    this.cached = { at: now, policy };
    policy.catch(() => {
      if (this.cached?.policy === policy) this.cached = undefined;
    });
    return policy;
  }

  private async load(): Promise<RbacPolicy> {
    const items = async (resource: string): Promise<Obj[]> => {
      const s = this.kinds.find((k) => k.def.group === RBAC_GROUP && k.def.resource === resource)!;
      return (await this.storage.list(s, undefined, { labels: [], fields: [] })).items;
    };
    const [roles, clusterRoles, roleBindings, clusterRoleBindings] = await Promise.all([items('roles'), items('clusterroles'), items('rolebindings'), items('clusterrolebindings')]);
    this.log.debug({ roles: roles.length, clusterRoles: clusterRoles.length, roleBindings: roleBindings.length, clusterRoleBindings: clusterRoleBindings.length }, 'rbac policy loaded');
    return new RbacPolicy({ roles, clusterRoles, roleBindings, clusterRoleBindings });
  }
}

/**
 * Writes the rules of every aggregated ClusterRole whose stored rules are stale (kube-controller-manager's
 * clusterrole-aggregation controller, run by the apiserver here: at start and after each ClusterRole write).
 * Several apiservers may run it at once: each write is a compare-and-set of the same result.
 */
export async function aggregateClusterRoles(source: StoragePolicySource, storage: Storage, kinds: readonly Strategy[], log: Logger): Promise<number> {
  source.invalidate();
  const stale = (await source.policy()).staleAggregations();
  const def = kinds.find((k) => k.def.group === RBAC_GROUP && k.def.resource === 'clusterroles')!;
  for (const { name, rules } of stale) {
    await storage.rewrite(def, undefined, name, (cur) => ({ ...cur, rules: rules.map(ruleJson) }));
    log.info({ clusterRole: name, rules: rules.length }, 'aggregated cluster role updated');
  }
  if (stale.length) source.invalidate();
  return stale.length;
}

/** WithAuthorization: the request's attributes asked of the authorizer; a 403 Forbidden Status unless allowed. */
export async function authorizeRequest(authz: Authorizer, user: UserInfo, info: RequestInfo, query: URLSearchParams, log: Logger): Promise<void> {
  const a = attributesOf(user, info, query);
  const d = await authz.authorize(a);
  if (d.decision === 'allow') return;
  log.info({ user: user.name, verb: a.verb, resource: a.resource, namespace: a.namespace, path: a.path }, 'request forbidden');
  const s = forbiddenStatus(a, d.reason);
  throw new ApiError(403, 'Forbidden', s.message, s.details);
}

/** Escalation prevention on a write of a Role, ClusterRole or binding (the others pass). */
export async function checkEscalation(authz: Authorizer | undefined, user: UserInfo, s: Strategy, namespace: string | undefined, obj: Obj): Promise<void> {
  if (!authz || s.def.group !== RBAC_GROUP) return;
  const refused = await authz.escalation(user, s.def.resource, namespace ?? '', obj);
  if (!refused) return;
  const name = typeof obj.metadata === 'object' && obj.metadata !== null && typeof (obj.metadata as Obj).name === 'string' ? ((obj.metadata as Obj).name as string) : '';
  if (refused.code === 404) throw new ApiError(404, 'NotFound', refused.message, {});
  throw new ApiError(403, 'Forbidden', `${s.def.resource}.${RBAC_GROUP} ${JSON.stringify(name)} is forbidden: ${refused.message}`, { name, group: RBAC_GROUP, kind: s.def.resource });
}

/**
 * An access review answered: SelfSubjectAccessReview (about the requester), SubjectAccessReview and
 * LocalSubjectAccessReview (about spec.user/groups; the local one in `namespace` only), SelfSubjectRulesReview
 * (the requester's rules in spec.namespace).
 */
export async function answerReview(authz: Authorizer, s: Strategy, requester: UserInfo, body: Obj, namespace?: string): Promise<Obj> {
  const kind = s.def.kind;
  if (kind === 'SelfSubjectRulesReview') {
    const spec = typeof body.spec === 'object' && body.spec !== null ? (body.spec as Obj) : {};
    const ns = typeof spec.namespace === 'string' ? spec.namespace : '';
    if (ns === '') throw badRequest('no namespace on request');
    return { kind, apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status: await authz.rulesReview(requester, ns) };
  }
  const problems = kind === 'LocalSubjectAccessReview' ? localReviewProblems(body, namespace ?? '') : [];
  const subject = kind === 'SelfSubjectAccessReview' ? requester : reviewSubject(body.spec);
  const attrs = Array.isArray(subject) ? subject : reviewAttributes(body.spec, subject);
  const all = [...(Array.isArray(attrs) ? attrs : []), ...problems];
  if (all.length || Array.isArray(attrs)) throw invalid(s.def.group, kind, '', all.map((p) => ({ type: 'FieldValueInvalid' as const, field: p.field, value: '', detail: p.detail })));
  if (kind === 'LocalSubjectAccessReview') {
    const meta = typeof body.metadata === 'object' && body.metadata !== null ? (body.metadata as Obj) : {};
    body = { ...body, metadata: { ...meta, namespace } };
  }
  return reviewAnswer(kind, body, await authz.authorize(attrs));
}
