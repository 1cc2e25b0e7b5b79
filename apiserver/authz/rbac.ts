// The RBAC authorizer (plugin/pkg/auth/authorizer/rbac): the rules that apply to a user in a namespace are
// those of every ClusterRoleBinding naming it, and of every RoleBinding in that namespace naming it (a
// RoleBinding to a ClusterRole grants that role's rules in the binding's namespace only). A ClusterRole with an
// aggregationRule has the rules of every ClusterRole its selectors match, as the aggregation controller would
// write them. Pure: the caller gives a snapshot of the four kinds.
import { labelSelectorMatches } from '../kinds/index.js';
import { isObject } from '../../core/index.js';
import { type Attributes, type PolicyRule, ruleAllows, ruleOf, type Subject } from './rules.js';

type Json = Record<string, unknown>;

/** The stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings, as parsed JSON. */
export interface RbacObjects {
  readonly roles: readonly Json[];
  readonly clusterRoles: readonly Json[];
  readonly roleBindings: readonly Json[];
  readonly clusterRoleBindings: readonly Json[];
}

const meta = (o: Json): Json => (isObject(o.metadata) ? o.metadata : {});
const str = (o: unknown, k: string): string => (isObject(o) && typeof o[k] === 'string' ? o[k] : '');
const objList = (o: unknown, k: string): Json[] => (isObject(o) && Array.isArray(o[k]) ? o[k].filter(isObject) : []);
const labels = (o: Json): Record<string, string> => {
  const l = meta(o).labels;
  const out: Record<string, string> = {};
  if (isObject(l)) for (const [k, v] of Object.entries(l)) if (typeof v === 'string') out[k] = v;
  return out;
};

/** A binding's reference, for the messages. */
interface Grant {
  readonly binding: string;
  readonly rules: readonly PolicyRule[];
}

/** The four kinds, indexed by what the authorizer looks up. */
export class RbacPolicy {
  private readonly clusterRoles = new Map<string, Json>();
  private readonly roles = new Map<string, Json>();
  private readonly roleBindings = new Map<string, Json[]>();
  private readonly clusterRoleBindings: readonly Json[];
  private readonly aggregated = new Map<string, PolicyRule[]>();

  constructor(objects: RbacObjects) {
    for (const r of objects.clusterRoles) this.clusterRoles.set(str(meta(r), 'name'), r);
    for (const r of objects.roles) this.roles.set(`${str(meta(r), 'namespace')}/${str(meta(r), 'name')}`, r);
    for (const b of objects.roleBindings) {
      const ns = str(meta(b), 'namespace');
      this.roleBindings.set(ns, [...(this.roleBindings.get(ns) ?? []), b]);
    }
    this.clusterRoleBindings = objects.clusterRoleBindings;
  }

  /**
   * A ClusterRole's rules: its own; or, with an aggregationRule, the union of the rules of the ClusterRoles its
   * selectors match (its own are replaced, as the aggregation controller writes them), sorted by name.
   */
  clusterRoleRules(name: string, seen: Set<string> = new Set()): PolicyRule[] | undefined {
    const role = this.clusterRoles.get(name);
    if (!role) return undefined;
    const cached = this.aggregated.get(name);
    if (cached) return cached;
    const selectors = objList(role.aggregationRule, 'clusterRoleSelectors');
    if (selectors.length === 0) return objList(role, 'rules').map(ruleOf);
    seen.add(name);
    const rules: PolicyRule[] = [];
    for (const [other, o] of [...this.clusterRoles].sort(([a], [b]) => a.localeCompare(b))) {
      if (seen.has(other) || !selectors.some((s) => labelSelectorMatches(s, labels(o)))) continue;
      for (const r of this.clusterRoleRules(other, seen) ?? []) if (!rules.some((x) => sameRule(x, r))) rules.push(r);
    }
    this.aggregated.set(name, rules);
    return rules;
  }

  /**
   * The aggregated ClusterRoles whose stored rules differ from what their selectors pick now, with the rules to
   * write (what kube-controller-manager's clusterrole-aggregation controller does).
   */
  staleAggregations(): { name: string; rules: PolicyRule[] }[] {
    const out: { name: string; rules: PolicyRule[] }[] = [];
    for (const [name, role] of this.clusterRoles) {
      if (objList(role.aggregationRule, 'clusterRoleSelectors').length === 0) continue;
      const want = this.clusterRoleRules(name) ?? [];
      const have = objList(role, 'rules').map(ruleOf);
      if (have.length !== want.length || have.some((r, i) => !sameRule(r, want[i]!))) out.push({ name, rules: want });
    }
    return out;
  }

  /** A Role's rules, or undefined when there is no such Role. */
  roleRules(namespace: string, name: string): PolicyRule[] | undefined {
    const role = this.roles.get(`${namespace}/${name}`);
    return role ? objList(role, 'rules').map(ruleOf) : undefined;
  }

  /** The rules a binding's roleRef grants, or the error RBAC reports when the role is missing. */
  private refRules(binding: Json, namespace: string): PolicyRule[] | string {
    const ref = isObject(binding.roleRef) ? binding.roleRef : {};
    const name = str(ref, 'name');
    if (str(ref, 'kind') === 'ClusterRole') return this.clusterRoleRules(name) ?? `clusterrole.rbac.authorization.k8s.io ${JSON.stringify(name)} not found`;
    const role = this.roles.get(`${namespace}/${name}`);
    return role ? objList(role, 'rules').map(ruleOf) : `role.rbac.authorization.k8s.io ${JSON.stringify(name)} not found`;
  }

  /** Visits the grants that apply to the user in the namespace ('' = cluster scope), ClusterRoleBindings first; stops when the visitor says so. */
  visit(user: Subject, namespace: string, visitor: (g: Grant) => boolean, errors: string[] = []): void {
    for (const b of this.clusterRoleBindings) {
      const subject = objList(b, 'subjects').find((s) => appliesTo(s, user, ''));
      if (!subject) continue;
      const rules = this.refRules(b, '');
      if (typeof rules === 'string') errors.push(rules);
      else if (visitor({ binding: grantText('ClusterRoleBinding', b, subject, ''), rules })) return;
    }
    if (namespace === '') return;
    for (const b of this.roleBindings.get(namespace) ?? []) {
      const subject = objList(b, 'subjects').find((s) => appliesTo(s, user, namespace));
      if (!subject) continue;
      const rules = this.refRules(b, namespace);
      if (typeof rules === 'string') errors.push(rules);
      else if (visitor({ binding: grantText('RoleBinding', b, subject, namespace), rules })) return;
    }
  }

  /** Every rule that applies to the user in the namespace (RulesFor), and the errors met on the way. */
  rulesFor(user: Subject, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    this.visit(user, namespace, (g) => (rules.push(...g.rules), false), errors);
    return { rules, errors };
  }
}

function grantText(kind: string, b: Json, subject: Json, namespace: string): string {
  const ref = isObject(b.roleRef) ? b.roleRef : {};
  const name = namespace ? `${namespace}/${str(meta(b), 'name')}` : str(meta(b), 'name');
  const refName = str(ref, 'kind') === 'Role' ? `${namespace}/${str(ref, 'name')}` : str(ref, 'name');
  const sub = str(subject, 'kind') === 'ServiceAccount' ? `${str(subject, 'namespace') || namespace}/${str(subject, 'name')}` : str(subject, 'name');
  return `${kind} ${JSON.stringify(name)} of ${str(ref, 'kind')} ${JSON.stringify(refName)} to ${str(subject, 'kind')} ${JSON.stringify(sub)}`;
}

const sameRule = (a: PolicyRule, b: PolicyRule): boolean => JSON.stringify(a) === JSON.stringify(b);

/** appliesToUser: a User subject by name, a Group by membership, a ServiceAccount by its username (its namespace defaulting to the binding's). */
export function appliesTo(subject: Json, user: Subject, bindingNamespace: string): boolean {
  const name = str(subject, 'name');
  switch (str(subject, 'kind')) {
    case 'User':
      return user.name === name;
    case 'Group':
      return user.groups.includes(name);
    case 'ServiceAccount': {
      const ns = str(subject, 'namespace') || bindingNamespace;
      return ns !== '' && user.name === `system:serviceaccount:${ns}:${name}`;
    }
    default:
      return false;
  }
}

export type Decision = { readonly decision: 'allow' | 'deny' | 'noOpinion'; readonly reason: string };

/** RBACAuthorizer.Authorize: allow when a rule that applies allows it; else no opinion, with the errors met as the reason. */
export function rbacAuthorize(policy: RbacPolicy, a: Attributes): Decision {
  let allowedBy: string | undefined;
  const errors: string[] = [];
  policy.visit(
    a.user,
    a.namespace,
    (g) => {
      if (!g.rules.some((r) => ruleAllows(a, r))) return false;
      allowedBy = g.binding;
      return true;
    },
    errors,
  );
  if (allowedBy !== undefined) return { decision: 'allow', reason: `RBAC: allowed by ${allowedBy}` };
  const unique = [...new Set(errors)];
  return { decision: 'noOpinion', reason: unique.length === 0 ? '' : `RBAC: ${unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`}` };
}
