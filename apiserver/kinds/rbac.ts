// rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding (pkg/apis/rbac/validation,
// pkg/printers) and authorization.k8s.io/v1 SelfSubjectAccessReview, SubjectAccessReview (create only, not
// stored: the server answers them from its authorizer).
import { isObject } from '../../core/index.js';
import { deepEqual, ensure, list, meta, nameOf, obj, objs, setDefaultStr, str } from './access.js';
import { invalid, notSupported, required } from './field-errors.js';
import { age, AGE_COLUMN, col, defineKind, NAME_COLUMN, resourceDef } from './meta.js';
import { isDns1123Subdomain, type NameCheck } from './names.js';
import type { FieldError, KubeObject, TableColumn } from './types.js';

const RBAC = 'rbac.authorization.k8s.io';

/** ValidateRBACName (path.IsValidPathSegmentName): any name that is one path segment. */
export const nameIsPathSegment: NameCheck = (name, prefix) => {
  if (!prefix && (name === '.' || name === '..')) return [`may not be '${name}'`];
  const out: string[] = [];
  if (name.includes('/')) out.push(`may not contain '/'`);
  if (name.includes('%')) out.push(`may not contain '%'`);
  return out;
};

/** ValidatePolicyRule, at `rules[i]`. */
function validateRule(rule: unknown, namespaced: boolean, path: string, errs: FieldError[]): void {
  const verbs = list(rule, 'verbs') ?? [];
  const groups = list(rule, 'apiGroups') ?? [];
  const resources = list(rule, 'resources') ?? [];
  const urls = list(rule, 'nonResourceURLs') ?? [];
  if (verbs.length === 0) errs.push(required(`${path}.verbs`, 'verbs must contain at least one value'));
  if (urls.length > 0) {
    if (namespaced) errs.push(invalid(`${path}.nonResourceURLs`, urls, 'namespaced rules cannot apply to non-resource URLs'));
    if (groups.length > 0 || resources.length > 0) errs.push(invalid(`${path}.nonResourceURLs`, urls, 'rules cannot apply to both regular resources and non-resource URLs'));
    return;
  }
  if (groups.length === 0) errs.push(required(`${path}.apiGroups`, 'resource rules must supply at least one api group'));
  if (resources.length === 0) errs.push(required(`${path}.resources`, 'resource rules must supply at least one resource'));
}

const validateRules = (o: KubeObject, namespaced: boolean, errs: FieldError[]): void =>
  (list(o, 'rules') ?? []).forEach((r, i) => validateRule(r, namespaced, `rules[${i}]`, errs));

const CREATED_AT: TableColumn = { ...col('Created At', 'date', AGE_COLUMN.description), type: 'date' };
const createdAt = (o: KubeObject): string => {
  const t = Date.parse(str(meta(o), 'creationTimestamp') ?? '');
  return Number.isNaN(t) ? '' : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
};

export const roleStrategy = defineKind({
  def: resourceDef({ group: RBAC, resource: 'roles', kind: 'Role', storage: 'roles' }),
  nameCheck: nameIsPathSegment,
  validate: (o, errs) => validateRules(o, true, errs),
  columns: [NAME_COLUMN, CREATED_AT],
  row: (o) => [nameOf(o), createdAt(o)],
});

export const clusterRoleStrategy = defineKind({
  def: resourceDef({ group: RBAC, resource: 'clusterroles', kind: 'ClusterRole', storage: 'clusterroles', namespaced: false }),
  nameCheck: nameIsPathSegment,
  validate(o, errs) {
    validateRules(o, false, errs);
    const agg = o.aggregationRule;
    if (agg !== undefined && agg !== null) {
      const sels = list(agg, 'clusterRoleSelectors') ?? [];
      if (sels.length === 0) errs.push(required('aggregationRule.clusterRoleSelectors', 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
      sels.forEach((s, i) => {
        if (!isObject(s)) errs.push(invalid(`aggregationRule.clusterRoleSelectors[${i}]`, s, 'must be a label selector'));
      });
    }
  },
  columns: [NAME_COLUMN, CREATED_AT],
  row: (o) => [nameOf(o), createdAt(o)],
});

/** SetDefaults_RoleBinding and SetDefaults_Subject: roleRef.apiGroup, and a User/Group subject's apiGroup. */
function defaultBinding(o: KubeObject): void {
  if (isObject(o.roleRef)) setDefaultStr(o.roleRef, 'apiGroup', RBAC);
  for (const s of objs(o, 'subjects')) {
    if (s.apiGroup === undefined || s.apiGroup === '') {
      if (s.kind === 'User' || s.kind === 'Group') s.apiGroup = RBAC;
      else if (s.kind === 'ServiceAccount') s.apiGroup = '';
    }
  }
}

/** ValidateRoleBinding / ValidateClusterRoleBinding: the roleRef and each subject. */
function validateBinding(o: KubeObject, namespaced: boolean, errs: FieldError[]): void {
  const ref = obj(o, 'roleRef');
  if (!ref) errs.push(required('roleRef.name'));
  else {
    const group = str(ref, 'apiGroup') ?? '';
    if (group !== RBAC) errs.push(notSupported('roleRef.apiGroup', group, [RBAC]));
    const kind = str(ref, 'kind') ?? '';
    const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
    if (!kinds.includes(kind)) errs.push(notSupported('roleRef.kind', kind, kinds));
    const name = str(ref, 'name') ?? '';
    if (!name) errs.push(required('roleRef.name'));
    else for (const m of nameIsPathSegment(name, false)) errs.push(invalid('roleRef.name', name, m));
  }
  (list(o, 'subjects') ?? []).forEach((s, i) => {
    const p = `subjects[${i}]`;
    const name = str(s, 'name') ?? '';
    const group = str(s, 'apiGroup') ?? '';
    if (!name) errs.push(required(`${p}.name`));
    switch (str(s, 'kind') ?? '') {
      case 'ServiceAccount':
        if (name) for (const m of isDns1123Subdomain(name)) errs.push(invalid(`${p}.name`, name, m));
        if (group !== '') errs.push(notSupported(`${p}.apiGroup`, group, ['']));
        if (!namespaced && !str(s, 'namespace')) errs.push(required(`${p}.namespace`));
        break;
      case 'User':
      case 'Group':
        if (group !== RBAC) errs.push(notSupported(`${p}.apiGroup`, group, [RBAC]));
        break;
      default:
        errs.push(notSupported(`${p}.kind`, str(s, 'kind') ?? '', ['ServiceAccount', 'User', 'Group']));
    }
  });
}

const roleRefImmutable = (o: KubeObject, old: KubeObject, errs: FieldError[]): void => {
  if (!deepEqual(o.roleRef, old.roleRef)) errs.push(invalid('roleRef', o.roleRef, 'cannot change roleRef'));
};

/** rbac.SubjectsStrings: users, groups and `namespace/name` service accounts. */
function subjectsStrings(o: KubeObject): [string, string, string] {
  const users: string[] = [];
  const groups: string[] = [];
  const sas: string[] = [];
  for (const s of objs(o, 'subjects')) {
    const name = str(s, 'name') ?? '';
    if (s.kind === 'User') users.push(name);
    else if (s.kind === 'Group') groups.push(name);
    else if (s.kind === 'ServiceAccount') sas.push(`${str(s, 'namespace') ?? ''}/${name}`);
  }
  return [users.join(', '), groups.join(', '), sas.join(', ')];
}

const BINDING_COLUMNS: TableColumn[] = [
  NAME_COLUMN,
  col('Role', 'string', 'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.'),
  AGE_COLUMN,
  col('Users', 'string', 'Users in the roleBinding', 1),
  col('Groups', 'string', 'Groups in the roleBinding', 1),
  col('ServiceAccounts', 'string', 'ServiceAccounts in the roleBinding', 1),
];
const bindingRow = (o: KubeObject, now: number): (string | number)[] => {
  const ref = obj(o, 'roleRef');
  return [nameOf(o), `${str(ref, 'kind') ?? ''}/${str(ref, 'name') ?? ''}`, age(o, now), ...subjectsStrings(o)];
};

export const roleBindingStrategy = defineKind({
  def: resourceDef({ group: RBAC, resource: 'rolebindings', kind: 'RoleBinding', storage: 'rolebindings' }),
  nameCheck: nameIsPathSegment,
  defaults: defaultBinding,
  validate: (o, errs) => validateBinding(o, true, errs),
  validateUpdate: roleRefImmutable,
  columns: BINDING_COLUMNS,
  row: bindingRow,
});

export const clusterRoleBindingStrategy = defineKind({
  def: resourceDef({ group: RBAC, resource: 'clusterrolebindings', kind: 'ClusterRoleBinding', storage: 'clusterrolebindings', namespaced: false }),
  nameCheck: nameIsPathSegment,
  defaults: defaultBinding,
  validate: (o, errs) => validateBinding(o, false, errs),
  validateUpdate: roleRefImmutable,
  columns: BINDING_COLUMNS,
  row: bindingRow,
});

/** The access reviews: created only, answered by the server's authorizer, never stored (storage ''). */
const review = (resource: string, kind: string, namespaced = false) =>
  defineKind({
    def: resourceDef({ group: 'authorization.k8s.io', resource, kind, storage: '', namespaced, verbs: ['create'] }),
    nameCheck: nameIsPathSegment,
    defaults: (o) => void ensure(o, 'spec'),
    columns: [NAME_COLUMN],
    row: (o) => [nameOf(o)],
  });
export const selfSubjectAccessReviewStrategy = review('selfsubjectaccessreviews', 'SelfSubjectAccessReview');
export const subjectAccessReviewStrategy = review('subjectaccessreviews', 'SubjectAccessReview');
export const localSubjectAccessReviewStrategy = review('localsubjectaccessreviews', 'LocalSubjectAccessReview', true);
export const selfSubjectRulesReviewStrategy = review('selfsubjectrulesreviews', 'SelfSubjectRulesReview');
