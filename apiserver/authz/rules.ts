// RBAC's PolicyRule and how a request matches one (k8s.io/kubernetes/pkg/apis/rbac/v1 evaluation_helpers.go):
// verbs × apiGroups × resources (`*`, `resource/subresource`, `*/subresource`) × resourceNames, or verbs ×
// nonResourceURLs (a trailing `*` is a prefix). Pure.
import { isObject } from '../../core/index.js';

export interface PolicyRule {
  readonly verbs: readonly string[];
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly resourceNames: readonly string[];
  readonly nonResourceURLs: readonly string[];
}

/** The subject of a request: a user and the groups it is in (the authenticator's UserInfo). */
export interface Subject {
  readonly name: string;
  readonly uid?: string;
  readonly groups: readonly string[];
}

/** authorizer.Attributes: what a request asks to do, as kube-apiserver's RequestInfo and authenticator build it. */
export interface Attributes {
  readonly user: Subject;
  readonly verb: string;
  readonly resourceRequest: boolean;
  readonly apiGroup: string;
  readonly apiVersion: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  /** The URL path, for a non-resource request. */
  readonly path: string;
  /** A list's or watch's fieldSelector terms (the Node authorizer lets a node list its own pods by one). */
  readonly fieldSelector?: readonly { readonly field: string; readonly operator: string; readonly value: string }[];
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

/** A rule from parsed JSON (absent lists are empty). */
export function ruleOf(v: unknown): PolicyRule {
  const o = isObject(v) ? v : {};
  return { verbs: strings(o.verbs), apiGroups: strings(o.apiGroups), resources: strings(o.resources), resourceNames: strings(o.resourceNames), nonResourceURLs: strings(o.nonResourceURLs) };
}

/** A rule as the API writes it: only the lists that are set. */
export function ruleJson(r: PolicyRule): Record<string, string[]> {
  const out: Record<string, string[]> = { verbs: [...r.verbs] };
  if (r.apiGroups.length || r.resources.length) out.apiGroups = [...r.apiGroups];
  if (r.resources.length) out.resources = [...r.resources];
  if (r.resourceNames.length) out.resourceNames = [...r.resourceNames];
  if (r.nonResourceURLs.length) out.nonResourceURLs = [...r.nonResourceURLs];
  return out;
}

export const verbMatches = (r: PolicyRule, verb: string): boolean => r.verbs.some((v) => v === '*' || v === verb);
export const apiGroupMatches = (r: PolicyRule, group: string): boolean => r.apiGroups.some((g) => g === '*' || g === group);

export function resourceMatches(r: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return r.resources.some((res) => {
    if (res === '*' || res === combined) return true;
    // `*/scale` matches the scale subresource of every resource.
    return subresource !== '' && res.startsWith('*/') && res.slice(2) === subresource;
  });
}

/** Every name when the rule lists none; else only the listed ones (so a list, without a name, never matches). */
export const resourceNameMatches = (r: PolicyRule, name: string): boolean => r.resourceNames.length === 0 || r.resourceNames.includes(name);

export function nonResourceURLMatches(r: PolicyRule, path: string): boolean {
  return r.nonResourceURLs.some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))));
}

/** RuleAllows: whether one rule allows the request. */
export function ruleAllows(a: Attributes, r: PolicyRule): boolean {
  if (a.resourceRequest) return verbMatches(r, a.verb) && apiGroupMatches(r, a.apiGroup) && resourceMatches(r, a.resource, a.subresource) && resourceNameMatches(r, a.name);
  return verbMatches(r, a.verb) && nonResourceURLMatches(r, a.path);
}
