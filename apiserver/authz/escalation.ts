// Escalation prevention (pkg/registry/rbac/validation): a user may create or update a role, or bind one,
// only with rules they hold themselves. A requested rule is broken down into single verb × group × resource ×
// name (or verb × URL) rules, and each must be covered by one of the user's rules. Pure.
import type { PolicyRule, Subject } from './rules.js';

const rule = (p: Partial<PolicyRule>): PolicyRule => ({ verbs: [], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: [], ...p });

/** BreakdownRule: one rule per verb × group × resource × name, and per verb × non-resource URL. */
export function breakdown(r: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const group of r.apiGroups)
    for (const resource of r.resources)
      for (const verb of r.verbs) {
        if (r.resourceNames.length === 0) out.push(rule({ verbs: [verb], apiGroups: [group], resources: [resource] }));
        for (const name of r.resourceNames) out.push(rule({ verbs: [verb], apiGroups: [group], resources: [resource], resourceNames: [name] }));
      }
  for (const url of r.nonResourceURLs) for (const verb of r.verbs) out.push(rule({ verbs: [verb], nonResourceURLs: [url] }));
  return out;
}

const hasAll = (set: readonly string[], want: readonly string[]): boolean => want.every((w) => set.includes(w));

function resourcesCovered(owner: readonly string[], want: readonly string[]): boolean {
  if (owner.includes('*') || hasAll(owner, want)) return true;
  return want.every((w) => {
    if (owner.includes(w)) return true;
    const slash = w.indexOf('/');
    return slash >= 0 && owner.includes(`*${w.slice(slash)}`);
  });
}

const urlCovered = (owner: string, want: string): boolean => owner === want || (owner.endsWith('*') && want.startsWith(owner.slice(0, -1)));

/** ruleCovers: whether the owner's rule grants everything of the (broken-down) requested rule. */
export function ruleCovers(owner: PolicyRule, want: PolicyRule): boolean {
  const verbs = owner.verbs.includes('*') || hasAll(owner.verbs, want.verbs);
  const groups = owner.apiGroups.includes('*') || hasAll(owner.apiGroups, want.apiGroups);
  const resources = resourcesCovered(owner.resources, want.resources);
  const urls = want.nonResourceURLs.every((u) => owner.nonResourceURLs.some((o) => urlCovered(o, u)));
  const names = want.resourceNames.length === 0 ? owner.resourceNames.length === 0 : owner.resourceNames.length === 0 || hasAll(owner.resourceNames, want.resourceNames);
  return verbs && groups && resources && names && urls;
}

/** Covers: the requested rules' pieces no owner rule covers, compacted (verbs of the same resource merged). */
export function uncoveredRules(owner: readonly PolicyRule[], requested: readonly PolicyRule[]): PolicyRule[] {
  const missing: PolicyRule[] = [];
  for (const piece of requested.flatMap(breakdown)) {
    if (owner.some((o) => ruleCovers(o, piece))) continue;
    const same = missing.find((m) => m.apiGroups.join() === piece.apiGroups.join() && m.resources.join() === piece.resources.join() && m.resourceNames.join() === piece.resourceNames.join() && m.nonResourceURLs.join() === piece.nonResourceURLs.join());
    if (same) {
      if (!same.verbs.includes(piece.verbs[0]!)) missing[missing.indexOf(same)] = { ...same, verbs: [...same.verbs, piece.verbs[0]!] };
    } else missing.push(piece);
  }
  return missing;
}

/** Go's %q of a []string: `["a" "b"]`. */
const goQuoted = (v: readonly string[]): string => `[${v.map((s) => JSON.stringify(s)).join(' ')}]`;

/** rbacv1helpers.CompactString: `{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}`. */
export function compactRule(r: PolicyRule): string {
  const parts: string[] = [];
  if (r.apiGroups.length) parts.push(`APIGroups:${goQuoted(r.apiGroups)}`);
  if (r.resources.length) parts.push(`Resources:${goQuoted(r.resources)}`);
  if (r.nonResourceURLs.length) parts.push(`NonResourceURLs:${goQuoted(r.nonResourceURLs)}`);
  if (r.resourceNames.length) parts.push(`ResourceNames:${goQuoted(r.resourceNames)}`);
  if (r.verbs.length) parts.push(`Verbs:${goQuoted(r.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/** ConfirmNoEscalation's error text. */
export function escalationMessage(user: Subject, missing: readonly PolicyRule[], resolutionErrors: readonly string[]): string {
  let msg = `user ${JSON.stringify(user.name)} (groups=${goQuoted(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${missing.map(compactRule).join('\n')}`;
  if (resolutionErrors.length) msg += `; resolution errors: [${resolutionErrors.join(' ')}]`;
  return msg;
}
