import { describe, expect, it } from 'vitest';
import {
  FieldSelectorError,
  LabelSelectorError,
  checkFieldSelector,
  escapeFieldValue,
  formatFieldSelector,
  formatLabelSelector,
  labelSelectorAsSelector,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  selectorFromSet,
} from '../cluster/index.js';

const errorOf = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
};

describe('label selector parsing', () => {
  it('parses every operator into sorted requirements', () => {
    const reqs = parseLabelSelector('tier in (web, db,web), app=nginx,env==prod, x!=y, has, !gone, n notin (a), g>5, l<10');
    expect(reqs).toEqual([
      { key: 'app', operator: '=', values: ['nginx'] },
      { key: 'env', operator: '==', values: ['prod'] },
      { key: 'g', operator: 'gt', values: ['5'] },
      { key: 'gone', operator: '!', values: [] },
      { key: 'has', operator: 'exists', values: [] },
      { key: 'l', operator: 'lt', values: ['10'] },
      { key: 'n', operator: 'notin', values: ['a'] },
      { key: 'tier', operator: 'in', values: ['db', 'web'] },
      { key: 'x', operator: '!=', values: ['y'] },
    ]);
    expect(formatLabelSelector(reqs)).toBe('app=nginx,env==prod,g>5,!gone,has,l<10,n notin (a),tier in (db,web),x!=y');
  });

  it('treats the empty string as everything, and empty values as ""', () => {
    expect(parseLabelSelector('')).toEqual([]);
    expect(parseLabelSelector('   ')).toEqual([]);
    expect(parseLabelSelector('a=')).toEqual([{ key: 'a', operator: '=', values: [''] }]);
    expect(parseLabelSelector('a in ()')).toEqual([{ key: 'a', operator: 'in', values: [''] }]);
    expect(parseLabelSelector('a in (,x)')).toEqual([{ key: 'a', operator: 'in', values: ['', 'x'] }]);
  });

  it('reads the keywords as values where a value is expected', () => {
    expect(parseLabelSelector('a=in,b in (notin)')).toEqual([
      { key: 'a', operator: '=', values: ['in'] },
      { key: 'b', operator: 'in', values: ['notin'] },
    ]);
    expect(parseLabelSelector('example.com/app=x')).toEqual([{ key: 'example.com/app', operator: '=', values: ['x'] }]);
  });

  it.each([
    ['a in b', "unable to parse requirement: found 'b' expected: '('"],
    ['a in (b', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['a=b c', "found 'c', expected: ',' or 'end of string'"],
    ['a=b,', "found '', expected: identifier after ','"],
    [',a', "found ',', expected: !, identifier, or 'end of string'"],
    ['!a=b', "found '=', expected: ',' or 'end of string'"],
    ['a=(', "unable to parse requirement: found '(', expected: identifier"],
    ['a>x', "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"],
    [
      'a=-x',
      "unable to parse requirement: values[0][a]: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ],
    [
      '-a=x',
      "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ],
    [
      'Bad_Prefix/a',
      "unable to parse requirement: <nil>: Invalid value: \"Bad_Prefix/a\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ],
  ])('refuses %j as the real parser does', (sel, message) => {
    const e = errorOf(() => parseLabelSelector(sel));
    expect(e).toBeInstanceOf(LabelSelectorError);
    expect(e.message).toBe(message);
    expect((e as LabelSelectorError).selector).toBe(sel);
  });

  it('refuses a key over 63 characters', () => {
    expect(errorOf(() => parseLabelSelector(`${'k'.repeat(64)}=v`)).message).toContain('name part must be no more than 63 characters');
  });
});

describe('label selector matching', () => {
  const labels = { app: 'nginx', tier: 'web', n: '7' };
  it.each([
    ['app=nginx', true],
    ['app==nginx', true],
    ['app=other', false],
    ['app!=other', true],
    ['missing!=x', true],
    ['missing=', false],
    ['tier in (web,db)', true],
    ['tier notin (web)', false],
    ['missing notin (web)', true],
    ['missing in (web)', false],
    ['app', true],
    ['!app', false],
    ['!missing', true],
    ['n>6', true],
    ['n<7', false],
    ['app>1', false],
    ['missing<1', false],
    ['app=nginx,tier=db', false],
    ['', true],
  ])('%j → %s', (sel, want) => {
    expect(matchesLabels(parseLabelSelector(sel), labels)).toBe(want);
  });

  it('matches objects without labels as having none', () => {
    expect(matchesLabels(parseLabelSelector('!a'), undefined)).toBe(true);
    expect(matchesLabels(parseLabelSelector('a'), undefined)).toBe(false);
  });
});

describe('structured label selectors', () => {
  it('converts matchLabels and matchExpressions to the same requirements as the text form', () => {
    const structured = labelSelectorAsSelector({
      matchLabels: { app: 'db' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['b', 'a'] },
        { key: 'env', operator: 'NotIn', values: ['dev'] },
        { key: 'x', operator: 'Exists' },
        { key: 'y', operator: 'DoesNotExist' },
      ],
    });
    expect(structured).toEqual(parseLabelSelector('app=db,tier in (a,b),env notin (dev),x,!y'));
  });

  it('selects nothing for a nil selector and everything for an empty one', () => {
    expect(labelSelectorAsSelector(undefined)).toBeNull();
    expect(matchesLabels(labelSelectorAsSelector(null), { a: 'b' })).toBe(false);
    expect(matchesLabels(labelSelectorAsSelector({}), { a: 'b' })).toBe(true);
    expect(matchesLabels(selectorFromSet({}), {})).toBe(true);
    expect(matchesLabels(selectorFromSet({ app: 'db' }), { app: 'db', x: 'y' })).toBe(true);
    expect(matchesLabels(selectorFromSet({ app: 'db' }), { app: 'web' })).toBe(false);
  });

  it('refuses a bad operator and an In without values', () => {
    expect(errorOf(() => labelSelectorAsSelector({ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] })).message).toBe(
      '"Gt" is not a valid label selector operator',
    );
    expect(errorOf(() => labelSelectorAsSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] })).message).toBe(
      "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty",
    );
    expect(errorOf(() => labelSelectorAsSelector({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] })).message).toBe(
      'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist',
    );
  });
});

describe('field selectors', () => {
  const pod: Record<string, string> = { 'metadata.name': 'web', 'metadata.namespace': 'default', 'spec.nodeName': 'n1', 'status.phase': 'Running' };
  const get = (f: string): string | undefined => pod[f];

  it('parses =, == and != and sorts the terms', () => {
    expect(parseFieldSelector('spec.nodeName=n1,status.phase!=Failed,metadata.name==web')).toEqual([
      { field: 'metadata.name', operator: '==', value: 'web' },
      { field: 'spec.nodeName', operator: '=', value: 'n1' },
      { field: 'status.phase', operator: '!=', value: 'Failed' },
    ]);
    expect(parseFieldSelector('')).toEqual([]);
  });

  it('matches against a field-value function, a missing field reading as ""', () => {
    expect(matchesFields(parseFieldSelector('spec.nodeName=n1,status.phase!=Failed'), get)).toBe(true);
    expect(matchesFields(parseFieldSelector('spec.nodeName=n2'), get)).toBe(false);
    expect(matchesFields(parseFieldSelector('spec.nodeName!=n1'), get)).toBe(false);
    expect(matchesFields(parseFieldSelector('spec.hostname='), get)).toBe(true);
    expect(matchesFields([], get)).toBe(true);
  });

  it('round-trips escaped values', () => {
    const value = 'a,b=c\\d';
    const sel = `metadata.name=${escapeFieldValue(value)}`;
    expect(sel).toBe('metadata.name=a\\,b\\=c\\\\d');
    const reqs = parseFieldSelector(sel);
    expect(reqs).toEqual([{ field: 'metadata.name', operator: '=', value }]);
    expect(formatFieldSelector(reqs)).toBe(sel);
  });

  it.each([
    ['nodeName', "invalid selector: 'nodeName'; can't understand 'nodeName'"],
    ['a=b=c', 'invalid field selector: unescaped character in value: 61'],
    ['a=b\\x', 'invalid field selector: invalid escape sequence: \\x'],
    ['a=b\\', 'invalid field selector: invalid escape sequence: \\'],
  ])('refuses %j', (sel, message) => {
    const e = errorOf(() => parseFieldSelector(sel));
    expect(e).toBeInstanceOf(FieldSelectorError);
    expect(e.message).toBe(message);
  });

  it('refuses a field the kind does not support, naming it', () => {
    const supported = new Set(['metadata.name', 'metadata.namespace', 'spec.nodeName']);
    expect(() => checkFieldSelector(parseFieldSelector('spec.nodeName=n1'), supported)).not.toThrow();
    const e = errorOf(() => checkFieldSelector(parseFieldSelector('spec.nodeName=n1,spec.hostname=x'), supported, 'q'));
    expect(e).toBeInstanceOf(FieldSelectorError);
    expect(e.message).toBe('field label not supported: spec.hostname');
    expect((e as FieldSelectorError).field).toBe('spec.hostname');
    expect((e as FieldSelectorError).selector).toBe('q');
  });
});
