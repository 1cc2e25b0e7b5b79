// Authorization: the modes of --authorization-mode (AlwaysAllow, AlwaysDeny, Node, RBAC) asked in order after
// the system:masters group (which kube-apiserver always lets through), request attributes, the 403 message,
// RBAC's rules and bootstrap policy, escalation prevention and access reviews. Pure: RBAC reads the policy
// from a source the server gives, Node its graph of pods.
import { FlannelError } from '../../core/index.js';
import { isObject } from '../../core/index.js';
import { escalationMessage, uncoveredRules } from './escalation.js';
import { type Decision, RbacPolicy } from './rbac.js';
import { type Attributes, ruleOf, type Subject } from './rules.js';

export { attributesOf, forbiddenMessage, forbiddenStatus, type ParsedRequest } from './attributes.js';
export { AGGREGATE_TO, bootstrapClusterRoleBindings, bootstrapClusterRoles, bootstrapRoleBindings, bootstrapRoles, nodeRules, reconcileClusterRole, reconcileClusterRoleBinding } from './bootstrap.js';
export { NODE_LEASE_NAMESPACE, nodeAuthorize, nodeIdentity, NODES_GROUP, type NodeRelations } from './node.js';
export { NodeGraph, type NodeObjectType, type PodEvent, podReferences, type PodReferences } from './node-graph.js';
export { breakdown, compactRule, escalationMessage, ruleCovers, uncoveredRules } from './escalation.js';
export { appliesTo, type Decision, rbacAuthorize, type RbacObjects, RbacPolicy } from './rbac.js';
export { localReviewProblems, reviewAnswer, reviewAttributes, type ReviewProblem, reviewSubject, rulesReviewStatus } from './review.js';
import { rulesReviewStatus } from './review.js';
export { type Attributes, nonResourceURLMatches, type PolicyRule, resourceMatches, ruleAllows, ruleJson, ruleOf, type Subject } from './rules.js';

import { rbacAuthorize } from './rbac.js';
import { nodeRules } from './bootstrap.js';
import { nodeAuthorize, type NodeRelations } from './node.js';

export const AUTHORIZATION_MODES = ['AlwaysAllow', 'AlwaysDeny', 'Node', 'RBAC'] as const;
export type AuthorizationMode = (typeof AUTHORIZATION_MODES)[number];

export class AuthorizationModeError extends FlannelError {
  readonly code = 'AUTHORIZATION_MODE';
  constructor(
    readonly mode: string,
    message: string,
  ) {
    super(message);
  }
}

/** --authorization-mode: a comma list of known modes, each once (kube-apiserver's messages). */
export function parseAuthorizationModes(value: string): AuthorizationMode[] {
  const modes = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (modes.length === 0) throw new AuthorizationModeError('', 'at least one authorization-mode must be passed');
  const out: AuthorizationMode[] = [];
  for (const m of modes) {
    if (m === 'ABAC' || m === 'Webhook') throw new AuthorizationModeError(m, `authorization-mode ${JSON.stringify(m)} is not supported by this apiserver yet (supported: ${AUTHORIZATION_MODES.join(', ')})`);
    if (!(AUTHORIZATION_MODES as readonly string[]).includes(m)) throw new AuthorizationModeError(m, `authorization-mode ${JSON.stringify(m)} is not a valid mode`);
    if (out.includes(m as AuthorizationMode)) throw new AuthorizationModeError(m, `${JSON.stringify(m)} is specified more than once in authorization-mode`);
    out.push(m as AuthorizationMode);
  }
  return out;
}

/** Where RBAC reads Roles, ClusterRoles and their bindings (the server's cache of them). */
export interface PolicySource {
  policy(): Promise<RbacPolicy>;
}

export const PRIVILEGED_GROUP = 'system:masters';
const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** The union of the modes, in order: the first that allows or denies decides; none deciding is a denial. */
export class Authorizer {
  constructor(
    readonly modes: readonly AuthorizationMode[],
    private readonly source?: PolicySource,
    private readonly nodeGraph?: NodeRelations,
  ) {
    if (modes.includes('RBAC') && !source) throw new AuthorizationModeError('RBAC', 'the RBAC authorizer needs a policy source');
    if (modes.includes('Node') && !nodeGraph) throw new AuthorizationModeError('Node', 'the Node authorizer needs a graph of the pods');
  }

  /** False for AlwaysAllow alone: requests then go unchecked, as before there was authorization. */
  get enforcing(): boolean {
    return !(this.modes.length === 1 && this.modes[0] === 'AlwaysAllow');
  }

  async authorize(a: Attributes): Promise<Decision> {
    if (a.user.groups.includes(PRIVILEGED_GROUP)) return { decision: 'allow', reason: '' };
    const reasons: string[] = [];
    for (const m of this.modes) {
      let d: Decision;
      if (m === 'AlwaysAllow') d = { decision: 'allow', reason: '' };
      else if (m === 'AlwaysDeny') d = { decision: 'noOpinion', reason: 'Everything is forbidden.' };
      else if (m === 'Node') d = nodeAuthorize(this.nodeGraph!, nodeRules(), a);
      else d = rbacAuthorize(await this.source!.policy(), a);
      if (d.decision !== 'noOpinion') return d;
      if (d.reason) reasons.push(d.reason);
    }
    return { decision: 'noOpinion', reason: reasons.join('\n') };
  }

  /**
   * SelfSubjectRulesReview's status: the rules of every mode that can list them (the union's RulesFor):
   * everything under AlwaysAllow, nothing under AlwaysDeny, RBAC's bindings; RBAC's errors as evaluationError.
   */
  async rulesReview(user: Subject, namespace: string): Promise<Record<string, unknown>> {
    const rules = [];
    const errors: string[] = [];
    for (const m of this.modes) {
      if (m === 'AlwaysAllow') rules.push(ruleOf({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }), ruleOf({ verbs: ['*'], nonResourceURLs: ['*'] }));
      else if (m === 'RBAC') {
        const r = await this.rulesFor(user, namespace);
        rules.push(...r.rules);
        errors.push(...r.errors);
      }
    }
    return rulesReviewStatus(rules, errors);
  }

  /** The RBAC rules that apply to a user in a namespace (none without RBAC). */
  async rulesFor(user: Subject, namespace: string): Promise<{ rules: ReturnType<RbacPolicy['rulesFor']>['rules']; errors: string[] }> {
    if (!this.source) return { rules: [], errors: [] };
    return (await this.source.policy()).rulesFor(user, namespace);
  }

  /**
   * Escalation prevention for a Role/ClusterRole (create or update) or a RoleBinding/ClusterRoleBinding: undefined
   * when allowed (system:masters, `escalate` on the role or `bind` on the referenced role, or every rule held);
   * else the HTTP code and the message of the refusal (404 when a binding's role does not exist).
   */
  async escalation(user: Subject, resource: string, namespace: string, obj: Record<string, unknown>): Promise<{ code: 403 | 404; message: string } | undefined> {
    if (user.groups.includes(PRIVILEGED_GROUP)) return undefined;
    const ns = resource === 'roles' || resource === 'rolebindings' ? namespace : '';
    const name = isObject(obj.metadata) && typeof obj.metadata.name === 'string' ? obj.metadata.name : '';
    const ask = (verb: string, res: string, n: string): Promise<Decision> =>
      this.authorize({ user, verb, resourceRequest: true, apiGroup: RBAC_GROUP, apiVersion: '', resource: res, subresource: '', namespace: ns, name: n, path: '' });
    let requested;
    if (resource === 'roles' || resource === 'clusterroles') {
      if ((await ask('escalate', resource, name)).decision === 'allow') return undefined;
      if (resource === 'clusterroles' && isObject(obj.aggregationRule)) return { code: 403, message: 'must have cluster-admin privileges to use the aggregationRule' };
      requested = (Array.isArray(obj.rules) ? obj.rules : []).map(ruleOf);
    } else {
      const ref = isObject(obj.roleRef) ? obj.roleRef : {};
      const refName = typeof ref.name === 'string' ? ref.name : '';
      const refKind = ref.kind === 'ClusterRole' ? 'clusterroles' : 'roles';
      if ((await ask('bind', refKind, refName)).decision === 'allow') return undefined;
      const policy = this.source ? await this.source.policy() : new RbacPolicy({ roles: [], clusterRoles: [], roleBindings: [], clusterRoleBindings: [] });
      const rules = refKind === 'clusterroles' ? policy.clusterRoleRules(refName) : policy.roleRules(ns, refName);
      if (rules === undefined) return { code: 404, message: `${refKind}.${RBAC_GROUP} ${JSON.stringify(refName)} not found` };
      requested = rules;
    }
    const owner = await this.rulesFor(user, ns);
    const missing = uncoveredRules(owner.rules, requested);
    return missing.length === 0 ? undefined : { code: 403, message: escalationMessage(user, missing, owner.errors) };
  }
}
