// Field errors as kube-apiserver's k8s.io/apimachinery/pkg/util/validation/field builds and prints them,
// and the 422 Invalid Status that carries them (api/errors.NewInvalid): the message
// `Pod "x" is invalid: spec.containers[0].image: Required value`, and one details.causes entry per error.
import { FlannelError, isObject } from '../../core/index.js';
import type { FieldError, FieldErrorType } from './types.js';

export const required = (field: string, detail = ''): FieldError => ({ type: 'FieldValueRequired', field, detail });
export const invalid = (field: string, value: unknown, detail: string): FieldError => ({ type: 'FieldValueInvalid', field, value, detail });
export const forbidden = (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, detail });
export const duplicate = (field: string, value: unknown): FieldError => ({ type: 'FieldValueDuplicate', field, value, detail: '' });
export const tooLong = (field: string, maxLength: number): FieldError => ({
  type: 'FieldValueTooLong',
  field,
  value: '<value omitted>',
  detail: maxLength >= 0 ? `may not be more than ${maxLength} ${maxLength === 1 ? 'byte' : 'bytes'}` : 'value is too long',
});
/** A value of the wrong JSON type (a string where an integer goes). */
export const typeInvalid = (field: string, value: unknown, detail: string): FieldError => ({ type: 'FieldValueTypeInvalid', field, value, detail });
export const notSupported = (field: string, value: unknown, valid: readonly string[]): FieldError => ({
  type: 'FieldValueNotSupported',
  field,
  value,
  detail: valid.length ? `supported values: ${valid.map((v) => JSON.stringify(v)).join(', ')}` : '',
});
export const notFound = (field: string, value: unknown): FieldError => ({ type: 'FieldValueNotFound', field, value, detail: '' });
/** ValidateImmutableField's error. */
export const FIELD_IMMUTABLE = 'field is immutable';
export const immutable = (field: string, value: unknown): FieldError => invalid(field, value, FIELD_IMMUTABLE);

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTypeInvalid: 'Invalid value',
  FieldValueNotFound: 'Not found',
};

/** A value as Go's `%#v` shows the few shapes validation reports (string slices and maps); JSON otherwise. */
function goSyntax(v: unknown): string {
  if (isLabelSelector(v)) {
    const ml = isObject(v.matchLabels) ? goSyntax(v.matchLabels) : 'map[string]string(nil)';
    const me = Array.isArray(v.matchExpressions) && v.matchExpressions.length ? `[]v1.LabelSelectorRequirement{...}` : '[]v1.LabelSelectorRequirement(nil)';
    return `v1.LabelSelector{MatchLabels:${ml}, MatchExpressions:${me}}`;
  }
  if (Array.isArray(v) && v.every((e) => typeof e === 'string')) return `[]string{${v.map((e) => JSON.stringify(e)).join(', ')}}`;
  if (isObject(v) && Object.values(v).every((e) => typeof e === 'string')) {
    const keys = Object.keys(v).sort();
    return `map[string]string{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(v[k])}`).join(', ')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const isLabelSelector = (v: unknown): v is Record<string, unknown> =>
  isObject(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => k === 'matchLabels' || k === 'matchExpressions');

/** field.Error.ErrorBody(): the message without the field (`Required value`, `Invalid value: "X": ...`). */
export function errorBody(e: FieldError): string {
  let s: string;
  const shown = e.type !== 'FieldValueRequired' && e.type !== 'FieldValueForbidden' && e.type !== 'FieldValueTooLong' && 'value' in e;
  if (!shown) s = TYPE_TEXT[e.type];
  else {
    const v = e.value;
    if (v === null || v === undefined) s = `${TYPE_TEXT[e.type]}: null`;
    else if (typeof v === 'number' || typeof v === 'boolean') s = `${TYPE_TEXT[e.type]}: ${String(v)}`;
    else if (typeof v === 'string') s = `${TYPE_TEXT[e.type]}: ${JSON.stringify(v)}`;
    else s = `${TYPE_TEXT[e.type]}: ${goSyntax(v)}`;
  }
  return e.detail ? `${s}: ${e.detail}` : s;
}

/** field.Error.Error(): `spec.containers[0].image: Required value`. */
export const errorString = (e: FieldError): string => `${e.field}: ${errorBody(e)}`;

/** ErrorList.ToAggregate().Error(): one message alone, several in brackets, duplicates dropped. */
export function aggregateMessage(errors: readonly FieldError[]): string {
  const msgs = [...new Set(errors.map(errorString))];
  return msgs.length === 1 ? (msgs[0] ?? '') : `[${msgs.join(', ')}]`;
}

/** GroupKind.String(): `Pod`, `Deployment.apps`. */
export const qualifiedKind = (group: string, kind: string): string => (group ? `${kind}.${group}` : kind);

/** The message of the 422 Status: `Pod "x" is invalid: spec.containers[0].image: Required value`. */
export function invalidMessage(group: string, kind: string, name: string, errors: readonly FieldError[]): string {
  const head = `${qualifiedKind(group, kind)} ${JSON.stringify(name)} is invalid`;
  return errors.length ? `${head}: ${aggregateMessage(errors)}` : head;
}

export interface StatusCause {
  reason: FieldErrorType;
  message: string;
  field: string;
}

export interface InvalidStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: 'Invalid';
  details: { name: string; group?: string; kind: string; causes: StatusCause[] };
  code: 422;
}

/** The Status object kube-apiserver answers an invalid object with (HTTP 422). */
export function invalidStatus(group: string, kind: string, name: string, errors: readonly FieldError[]): InvalidStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: invalidMessage(group, kind, name, errors),
    reason: 'Invalid',
    details: {
      name,
      ...(group ? { group } : {}),
      kind,
      causes: errors.map((e) => ({ reason: e.type, message: errorBody(e), field: e.field })),
    },
    code: 422,
  };
}

/** An object refused by its kind's validation; `status` is the 422 body to send. */
export class InvalidKindObjectError extends FlannelError {
  readonly code = 'InvalidKindObject';
  readonly status: InvalidStatus;
  constructor(
    readonly group: string,
    readonly kind: string,
    readonly objectName: string,
    readonly errors: readonly FieldError[],
  ) {
    const status = invalidStatus(group, kind, objectName, errors);
    super(status.message);
    this.status = status;
  }
}
