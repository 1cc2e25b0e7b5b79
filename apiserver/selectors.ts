// A list's or watch's labelSelector and fieldSelector, parsed and matched by cluster/labels (the one
// selector implementation, shared with the kubelet and kube-proxy); a selector that does not parse,
// or names a field the kind does not index, is the real apiserver's 400 BadRequest.
import { checkFieldSelector, type FieldRequirement, FieldSelectorError, LabelSelectorError, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, type Requirement } from '../cluster/index.js';
import { badRequest } from './errors.js';

export interface Selectors {
  readonly labels: readonly Requirement[];
  readonly fields: readonly FieldRequirement[];
}

/** The query's selectors; `supported` is the kind's field-selectable fields. Throws a 400 ApiError. */
export function parseSelectors(labelSelector: string, fieldSelector: string, supported: readonly string[]): Selectors {
  try {
    const fields = parseFieldSelector(fieldSelector);
    checkFieldSelector(fields, new Set(supported), fieldSelector);
    return { labels: parseLabelSelector(labelSelector), fields };
  } catch (e) {
    if (e instanceof LabelSelectorError || e instanceof FieldSelectorError) throw badRequest(e.message);
    throw e;
  }
}

/** Whether an object with these labels and (indexed) fields is selected. */
export function selectorsMatch(sel: Selectors, labels: Readonly<Record<string, string>> | undefined, fields: Readonly<Record<string, string>>): boolean {
  return matchesLabels(sel.labels, labels) && matchesFields(sel.fields, (f) => fields[f]);
}
