// Label and field selectors as Kubernetes parses and matches them (k8s.io/apimachinery labels and
// fields), shared by the apiserver (list/watch filtering, 400s for bad selectors) and every client
// (the kubelet's `spec.nodeName=` watch, controllers matching pods to their owners).
//
// The grammar and the error texts follow the real parser, so a user who types `kubectl get pods -l
// 'a in b'` against our apiserver reads what a real cluster would tell them ("unable to parse
// requirement: found 'b' expected: '('"). Requirements come out sorted by key, values sorted and
// deduplicated, as the real parser's do, so a formatted selector is canonical.

import { FlannelError } from '../core/index.js';

export type Operator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  /** Sorted, deduplicated; empty for `exists` and `!`. */
  readonly values: readonly string[];
}

/** An empty list selects everything; `null` (a nil LabelSelector in Go) selects nothing. */
export type LabelSelector = readonly Requirement[] | null;

export class LabelSelectorError extends FlannelError {
  readonly code = 'LabelSelectorInvalid';
  constructor(
    readonly selector: string,
    message: string,
  ) {
    super(message);
  }
}

export class FieldSelectorError extends FlannelError {
  readonly code = 'FieldSelectorInvalid';
  constructor(
    readonly selector: string,
    /** The field that is not supported, when that is the reason. */
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

// ---- validation of keys and values (k8s.io/apimachinery/pkg/util/validation) ----

const qualifiedNameFmt = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const qualifiedNameRe = new RegExp(`^${qualifiedNameFmt}$`);
const qualifiedNameErrMsg =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const labelValueFmt = `(${qualifiedNameFmt})?`;
const labelValueRe = new RegExp(`^${labelValueFmt}$`);
const labelValueErrMsg =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const dns1123LabelFmt = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const dns1123SubdomainRe = new RegExp(`^${dns1123SubdomainFmt}$`);
const dns1123SubdomainErrMsg =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join('or ')}regex used for validation is '${fmt}')`;
}

const maxLenError = (n: number): string => `must be no more than ${n} characters`;

/** IsDNS1123Subdomain: the messages, empty when valid. */
export function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push(maxLenError(253));
  if (!dns1123SubdomainRe.test(value)) errs.push(regexError(dns1123SubdomainErrMsg, dns1123SubdomainFmt, 'example.com'));
  return errs;
}

/** IsQualifiedName (a label or annotation key): the messages, empty when valid. */
export function qualifiedNameErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0]!;
  } else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...dns1123SubdomainErrors(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      `a qualified name ${regexError(qualifiedNameErrMsg, qualifiedNameFmt, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!qualifiedNameRe.test(name)) errs.push(`name part ${regexError(qualifiedNameErrMsg, qualifiedNameFmt, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}

/** IsValidLabelValue: the messages, empty when valid. */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(maxLenError(63));
  if (!labelValueRe.test(value)) errs.push(regexError(labelValueErrMsg, labelValueFmt, 'MyValue', 'my_value', '12345'));
  return errs;
}

// Go's field.Invalid(...).Error(): `<path>: Invalid value: <value>: <detail>`; a nil path prints as <nil>.
const goQuote = (s: string): string => JSON.stringify(s);
const invalid = (path: string, value: string, detail: string): string => `${path}: Invalid value: ${goQuote(value)}: ${detail}`;
const invalidList = (path: string, values: readonly string[], detail: string): string =>
  `${path}: Invalid value: []string{${values.map(goQuote).join(', ')}}: ${detail}`;

/**
 * labels.NewRequirement: checks the key, the number of values for the operator and each value,
 * and returns the requirement with its values sorted and deduplicated. Throws the aggregate of
 * every problem, as Go's ToAggregate prints it.
 */
export function newRequirement(key: string, operator: Operator, values: readonly string[], path = '', selector = ''): Requirement {
  const errs: string[] = [];
  const child = (c: string): string => (path === '' ? c : `${path}.${c}`);
  const keyErrs = qualifiedNameErrors(key);
  if (keyErrs.length > 0) errs.push(invalid(child('key'), key, keyErrs.join('; ')));
  const valuesPath = child('values');
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0) errs.push(invalidList(valuesPath, values, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1) errs.push(invalidList(valuesPath, values, 'exact-match compatibility requires one single value'));
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) errs.push(invalidList(valuesPath, values, 'values set must be empty for exists and does not exist'));
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1) errs.push(invalidList(valuesPath, values, "for 'Gt', 'Lt' operators, exactly one value is required"));
      values.forEach((v, i) => {
        if (!/^[+-]?\d+$/.test(v)) errs.push(invalid(`${valuesPath}[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      });
      break;
  }
  values.forEach((v, i) => {
    const vErrs = labelValueErrors(v);
    if (vErrs.length > 0) errs.push(invalid(`${valuesPath}[${i}][${key}]`, v, vErrs.join('; ')));
  });
  if (errs.length === 1) throw new LabelSelectorError(selector, errs[0]!);
  if (errs.length > 1) throw new LabelSelectorError(selector, `[${errs.join(', ')}]`);
  return { key, operator, values: [...new Set(values)].sort() };
}

// ---- the lexer and parser (k8s.io/apimachinery/pkg/labels/selector.go) ----

type Tok = 'id' | 'end' | '(' | ')' | ',' | '!' | '==' | '=' | '!=' | '>' | '<' | 'in' | 'notin' | 'error';
interface Item {
  tok: Tok;
  lit: string;
}

const specialSymbols = '=!(),><';
const symbolTokens: readonly [string, Tok][] = [
  ['!=', '!='],
  ['==', '=='],
  ['!', '!'],
  ['(', '('],
  [')', ')'],
  [',', ','],
  ['=', '='],
  ['>', '>'],
  ['<', '<'],
];
const isWhitespace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

function lex(input: string): Item[] {
  const items: Item[] = [];
  let i = 0;
  for (;;) {
    while (i < input.length && isWhitespace(input[i]!)) i++;
    if (i >= input.length) {
      items.push({ tok: 'end', lit: '' });
      return items;
    }
    const c = input[i]!;
    if (specialSymbols.includes(c)) {
      const hit = symbolTokens.find(([s]) => input.startsWith(s, i));
      if (hit === undefined) {
        items.push({ tok: 'error', lit: `error expected: keyword found '${c}'` });
        return items;
      }
      items.push({ tok: hit[1], lit: hit[0] });
      i += hit[0].length;
      continue;
    }
    let j = i;
    while (j < input.length && !isWhitespace(input[j]!) && !specialSymbols.includes(input[j]!)) j++;
    const word = input.slice(i, j);
    items.push({ tok: word === 'in' ? 'in' : word === 'notin' ? 'notin' : 'id', lit: word });
    i = j;
  }
}

const binaryOperators = 'in, notin, =, ==, !=, gt, lt';

class Parser {
  private pos = 0;
  constructor(
    private readonly items: Item[],
    private readonly selector: string,
  ) {}

  // In the Values context the keywords `in` and `notin` are plain identifiers (a value may be "in").
  private peek(values: boolean): Item {
    const it = this.items[Math.min(this.pos, this.items.length - 1)]!;
    return values && (it.tok === 'in' || it.tok === 'notin') ? { tok: 'id', lit: it.lit } : it;
  }
  private next(values: boolean): Item {
    const it = this.peek(values);
    if (this.pos < this.items.length - 1) this.pos++;
    return it;
  }
  private fail(message: string): never {
    throw new LabelSelectorError(this.selector, message);
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const { tok, lit } = this.peek(true);
      if (tok === 'end') return reqs;
      if (tok !== 'id' && tok !== '!') this.fail(`found '${lit}', expected: !, identifier, or 'end of string'`);
      try {
        reqs.push(this.requirement());
      } catch (e) {
        if (e instanceof LabelSelectorError) this.fail(`unable to parse requirement: ${e.message}`);
        throw e;
      }
      const after = this.next(true);
      if (after.tok === 'end') return reqs;
      if (after.tok !== ',') this.fail(`found '${after.lit}', expected: ',' or 'end of string'`);
      const t2 = this.peek(true);
      if (t2.tok !== 'id' && t2.tok !== '!') this.fail(`found '${t2.lit}', expected: identifier after ','`);
    }
  }

  private requirement(): Requirement {
    let negated = false;
    let it = this.next(true);
    if (it.tok === '!') {
      negated = true;
      it = this.next(true);
    }
    if (it.tok !== 'id') this.fail(`found '${it.lit}', expected: identifier`);
    const key = it.lit;
    const keyErrs = qualifiedNameErrors(key);
    if (keyErrs.length > 0) this.fail(invalid('<nil>', key, keyErrs.join('; ')));
    const la = this.peek(true).tok;
    if (negated || la === 'end' || la === ',') {
      // `!a` followed by an operator is caught by the caller: after a requirement comes ',' or the end.
      return newRequirement(key, negated ? '!' : 'exists', [], '', this.selector);
    }
    const op = this.operator();
    const values = op === 'in' || op === 'notin' ? this.setValues() : this.exactValue();
    return newRequirement(key, op, values, '', this.selector);
  }

  private operator(): Operator {
    const { tok, lit } = this.next(false);
    switch (tok) {
      case 'in':
      case 'notin':
      case '=':
      case '==':
      case '!=':
        return tok;
      case '>':
        return 'gt';
      case '<':
        return 'lt';
      default:
        return this.fail(`found '${lit}', expected: ${binaryOperators}`);
    }
  }

  private setValues(): string[] {
    const open = this.next(true);
    if (open.tok !== '(') this.fail(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.peek(true);
    if (tok === ')') {
      this.next(true);
      return [''];
    }
    if (tok !== 'id' && tok !== ',') this.fail(`found '${lit}', expected: ',', ')' or identifier`);
    const values = this.identifierList();
    if (this.next(true).tok !== ')') this.fail(`found '${lit}', expected: ')'`);
    return values;
  }

  private identifierList(): string[] {
    const s = new Set<string>();
    for (;;) {
      const { tok, lit } = this.next(true);
      if (tok === 'id') {
        s.add(lit);
        const t2 = this.peek(true);
        if (t2.tok === ',') continue;
        if (t2.tok === ')') return [...s];
        this.fail(`found '${t2.lit}', expected: ',' or ')'`);
      } else if (tok === ',') {
        // "(,", ",)" and ",," each stand for an empty value.
        if (s.size === 0) s.add('');
        const t2 = this.peek(true);
        if (t2.tok === ')') {
          s.add('');
          return [...s];
        }
        if (t2.tok === ',') {
          this.next(true);
          s.add('');
        }
      } else {
        this.fail(`found '${lit}', expected: ',', or identifier`);
      }
    }
  }

  private exactValue(): string[] {
    const la = this.peek(true).tok;
    if (la === 'end' || la === ',') return [''];
    const { tok, lit } = this.next(true);
    if (tok === 'id') return [lit];
    return this.fail(`found '${lit}', expected: identifier`);
  }
}

/** labels.Parse: the empty string (or only spaces) selects everything. */
export function parseLabelSelector(selector: string): Requirement[] {
  const reqs = new Parser(lex(selector), selector).parse();
  return reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** labels.SelectorFromSet: an equality requirement per entry (an RC's `spec.selector`). */
export function selectorFromSet(set: Readonly<Record<string, string>> | undefined): Requirement[] {
  return Object.keys(set ?? {})
    .sort()
    .map((k) => newRequirement(k, '=', [set![k]!]));
}

export interface LabelSelectorRequirementObject {
  key: string;
  operator: string;
  values?: string[];
}
export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirementObject[];
}

const structuredOps: Readonly<Record<string, Operator>> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' };

/**
 * metav1.LabelSelectorAsSelector: the structured form (a Deployment's `spec.selector`) as
 * requirements. `undefined`/`null` selects nothing; `{}` selects everything.
 */
export function labelSelectorAsSelector(ls: LabelSelectorObject | null | undefined): LabelSelector {
  if (ls === null || ls === undefined) return null;
  const reqs: Requirement[] = [];
  for (const k of Object.keys(ls.matchLabels ?? {})) reqs.push(newRequirement(k, '=', [ls.matchLabels![k]!]));
  for (const e of ls.matchExpressions ?? []) {
    const op = structuredOps[e.operator];
    if (op === undefined) throw new LabelSelectorError('', `${goQuote(e.operator)} is not a valid label selector operator`);
    reqs.push(newRequirement(e.key, op, e.values ?? []));
  }
  return reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function requirementMatches(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = has ? labels[r.key]! : '';
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return has && r.values.includes(v);
    case 'notin':
    case '!=':
      return !has || !r.values.includes(v);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || !/^[+-]?\d+$/.test(v)) return false;
      const lv = BigInt(v);
      const rv = BigInt(r.values[0]!);
      return r.operator === 'gt' ? lv > rv : lv < rv;
    }
  }
}

/** Every requirement holds. A `null` selector matches nothing, an empty one everything. */
export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (selector === null) return false;
  const ls = labels ?? {};
  return selector.every((r) => requirementMatches(r, ls));
}

/** The canonical text (Selector.String()): `a=b,c in (x,y),!d`. */
export function formatLabelSelector(selector: readonly Requirement[]): string {
  return selector
    .map((r) => {
      switch (r.operator) {
        case 'exists':
          return r.key;
        case '!':
          return `!${r.key}`;
        case 'in':
        case 'notin':
          return `${r.key} ${r.operator} (${r.values.join(',')})`;
        case 'gt':
          return `${r.key}>${r.values[0]}`;
        case 'lt':
          return `${r.key}<${r.values[0]}`;
        default:
          return `${r.key}${r.operator}${r.values[0]}`;
      }
    })
    .join(',');
}

// ---- field selectors (k8s.io/apimachinery/pkg/fields/selector.go) ----

export interface FieldRequirement {
  readonly field: string;
  readonly operator: '=' | '==' | '!=';
  readonly value: string;
}

/** Splits on commas not escaped by a backslash. */
function splitTerms(s: string): string[] {
  const terms: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** splitTerm: the first position where `!=`, `==` or `=` starts (in that order of preference). */
function splitTerm(term: string): [string, FieldRequirement['operator'], string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '='] as const) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

/** fields.UnescapeValue, with its error texts (a bare `=` prints as its code point, 61, as Go's %v of a rune). */
function unescapeValue(selector: string, v: string): string {
  let out = '';
  let inSlash = false;
  for (const c of v) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') {
        throw new FieldSelectorError(selector, undefined, `invalid field selector: invalid escape sequence: \\${c}`);
      }
      out += c;
      inSlash = false;
    } else if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=') {
      throw new FieldSelectorError(selector, undefined, `invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    } else out += c;
  }
  if (inSlash) throw new FieldSelectorError(selector, undefined, 'invalid field selector: invalid escape sequence: \\');
  return out;
}

/** fields.ParseSelector: `a=b,c!=d` (`==` too). The empty string selects everything. */
export function parseFieldSelector(selector: string): FieldRequirement[] {
  if (selector.length === 0) return [];
  const reqs: FieldRequirement[] = [];
  for (const term of splitTerms(selector).sort()) {
    if (term.length === 0) continue;
    const split = splitTerm(term);
    if (split === undefined) throw new FieldSelectorError(selector, undefined, `invalid selector: '${selector}'; can't understand '${term}'`);
    const [field, operator, value] = split;
    reqs.push({ field, operator, value: unescapeValue(selector, value) });
  }
  return reqs;
}

/**
 * Refuses a field the kind does not index, with the message the real registry's field label
 * conversion gives ("field label not supported: x"); the server answers it with a 400.
 */
export function checkFieldSelector(reqs: readonly FieldRequirement[], supported: ReadonlySet<string>, selector = ''): void {
  for (const r of reqs) {
    if (!supported.has(r.field)) throw new FieldSelectorError(selector, r.field, `field label not supported: ${r.field}`);
  }
}

/** A missing field reads as the empty string, as fields.Set.Get does. */
export function matchesFields(reqs: readonly FieldRequirement[], get: (field: string) => string | undefined): boolean {
  return reqs.every((r) => ((get(r.field) ?? '') === r.value) === (r.operator !== '!='));
}

/** fields.EscapeValue: for building a selector from an arbitrary value (a node name). */
export function escapeFieldValue(v: string): string {
  return v.replace(/[\\,=]/g, (c) => `\\${c}`);
}

export function formatFieldSelector(reqs: readonly FieldRequirement[]): string {
  return reqs.map((r) => `${r.field}${r.operator}${escapeFieldValue(r.value)}`).join(',');
}
