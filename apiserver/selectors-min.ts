// Label and field selectors as the apiserver parses them (k8s.io/apimachinery/pkg/labels, fields):
// the minimum this slice needs, until apiserver/selectors (a fuller library) replaces it.
//   labels: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a` (exists), `!a` (does not exist), comma-joined (AND).
//   fields: `f=v`, `f==v`, `f!=v`, comma-joined; which fields a kind supports is the caller's table.
import { badRequest } from './errors.js';

export type Requirement =
  | { readonly key: string; readonly op: 'eq' | 'neq'; readonly value: string }
  | { readonly key: string; readonly op: 'in' | 'notin'; readonly values: readonly string[] }
  | { readonly key: string; readonly op: 'exists' | 'notexists' };

export type LabelSelector = readonly Requirement[];

const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas outside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function checkKey(key: string, whole: string): string {
  if (!KEY.test(key) || key.length > 316) throw badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${whole}"`);
  return key;
}
function checkValue(v: string, whole: string): string {
  if (!VALUE.test(v) || v.length > 63) throw badRequest(`unable to parse requirement: invalid label value "${v}" in selector "${whole}"`);
  return v;
}

/** Parses a labelSelector query value; throws a 400 BadRequest ApiError as the apiserver answers. */
export function parseLabelSelector(s: string): LabelSelector {
  const t = s.trim();
  if (t === '') return [];
  const reqs: Requirement[] = [];
  for (const raw of splitTop(t)) {
    const part = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(part))) {
      const values = m[3]!.split(',').map((v) => checkValue(v.trim(), t));
      reqs.push({ key: checkKey(m[1]!, t), op: m[2] as 'in' | 'notin', values });
    } else if ((m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part))) {
      reqs.push({ key: checkKey(m[1]!, t), op: m[2] === '!=' ? 'neq' : 'eq', value: checkValue(m[3]!, t) });
    } else if ((m = /^!\s*(\S+)$/.exec(part))) {
      reqs.push({ key: checkKey(m[1]!, t), op: 'notexists' });
    } else if (/^\S+$/.test(part)) {
      reqs.push({ key: checkKey(part, t), op: 'exists' });
    } else {
      throw badRequest(`unable to parse requirement: found '${part}', expected: identifier in selector "${t}"`);
    }
  }
  return reqs;
}

export function labelsMatch(sel: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'eq':
        return has && v === r.value;
      case 'neq':
        return !has || v !== r.value;
      case 'in':
        return has && r.values.includes(v!);
      case 'notin':
        return !has || !r.values.includes(v!);
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
    return false;
  });
}

export interface FieldRequirement {
  readonly field: string;
  readonly op: 'eq' | 'neq';
  readonly value: string;
}

/**
 * Parses a fieldSelector against the fields a kind supports (`supported`); an unknown field is the
 * apiserver's 400: `"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"`.
 */
export function parseFieldSelector(s: string, supported: readonly string[]): FieldRequirement[] {
  const t = s.trim();
  if (t === '') return [];
  const out: FieldRequirement[] = [];
  for (const raw of t.split(',')) {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(raw);
    if (!m) throw badRequest(`invalid selector: '${t}'; can't understand '${raw}'`);
    const field = m[1]!;
    if (!supported.includes(field)) throw badRequest(`field label not supported: ${field}`);
    out.push({ field, op: m[2] === '!=' ? 'neq' : 'eq', value: m[3]! });
  }
  return out;
}

export function fieldsMatch(sel: readonly FieldRequirement[], fields: Readonly<Record<string, string>>): boolean {
  return sel.every((r) => ((fields[r.field] ?? '') === r.value) === (r.op === 'eq'));
}
