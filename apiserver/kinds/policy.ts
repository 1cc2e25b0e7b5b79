// The namespace policy kinds the admission plugins read: LimitRange (LimitRanger) and ResourceQuota
// (ResourceQuota). Defaults, validation and tables as pkg/apis/core and pkg/printers do them.
import { isObject } from '../../core/index.js';
import { ensure, meta, nameOf, obj, objs, str, strs } from './access.js';
import { forbidden, invalid, notSupported, required, typeInvalid } from './field-errors.js';
import { age, AGE_COLUMN, col, defineKind, NAME_COLUMN, resourceDef } from './meta.js';
import { isQualifiedName, nameIsDnsSubdomain } from './names.js';
import { cmp, formatQuantity, parseQuantity, type Quantity, resourceList } from './quantity.js';
import type { FieldError, KubeObject, TableColumn } from './types.js';

const QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** A ResourceList field: qualified resource names, well-formed non-negative quantities. */
function validateResourceList(v: unknown, path: string, errs: FieldError[]): void {
  if (v === undefined || v === null) return;
  if (!isObject(v)) {
    errs.push(typeInvalid(path, v, 'must be an object of quantities'));
    return;
  }
  for (const [k, q] of Object.entries(v)) {
    for (const m of isQualifiedName(k)) errs.push(invalid(`${path}[${k}]`, k, m));
    const parsed = parseQuantity(q);
    if (!parsed) errs.push(typeInvalid(`${path}[${k}]`, q, QUANTITY_ERROR));
    else if (parsed.nano < 0n) errs.push(invalid(`${path}[${k}]`, q, 'must be greater than or equal to 0'));
  }
}

// --- limitranges ------------------------------------------------------------------------------------------

export const LIMIT_TYPES = ['Container', 'Pod', 'PersistentVolumeClaim'];

/** SetDefaults_LimitRangeItem: a Container item's default limit from max, its default request from default, else min. */
function defaultLimitRange(o: KubeObject): void {
  for (const item of objs(obj(o, 'spec'), 'limits')) {
    if (item.type !== 'Container') continue;
    const def = ensure(item, 'default');
    const defReq = ensure(item, 'defaultRequest');
    for (const [k, v] of Object.entries(obj(item, 'max') ?? {})) if (def[k] === undefined) def[k] = v;
    for (const [k, v] of Object.entries(def)) if (defReq[k] === undefined) defReq[k] = v;
    for (const [k, v] of Object.entries(obj(item, 'min') ?? {})) if (defReq[k] === undefined) defReq[k] = v;
  }
}

function validateLimitRange(o: KubeObject, errs: FieldError[]): void {
  const spec = obj(o, 'spec');
  const limits = spec?.limits;
  if (limits !== undefined && limits !== null && !Array.isArray(limits)) {
    errs.push(typeInvalid('spec.limits', limits, 'must be a list'));
    return;
  }
  objs(spec, 'limits').forEach((item, i) => {
    const p = `spec.limits[${i}]`;
    const type = str(item, 'type');
    if (!type) errs.push(required(`${p}.type`));
    else if (!LIMIT_TYPES.includes(type)) errs.push(notSupported(`${p}.type`, type, LIMIT_TYPES));
    for (const f of ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio']) validateResourceList(item[f], `${p}.${f}`, errs);
    if (type === 'Pod') {
      if (Object.keys(obj(item, 'default') ?? {}).length) errs.push(forbidden(`${p}.default`, "may not be specified when `type` is 'Pod'"));
      if (Object.keys(obj(item, 'defaultRequest') ?? {}).length) errs.push(forbidden(`${p}.defaultRequest`, "may not be specified when `type` is 'Pod'"));
    }
    const max = resourceList(item.max);
    const min = resourceList(item.min);
    const def = resourceList(item.default);
    const defReq = resourceList(item.defaultRequest);
    const text = (q: Quantity): string => formatQuantity(q);
    for (const [k, lo] of min) {
      const hi = max.get(k);
      if (hi && cmp(lo, hi) > 0) errs.push(invalid(`${p}.min[${k}]`, text(lo), `min value ${text(lo)} is greater than max value ${text(hi)}`));
    }
    const bounded = (m: Map<string, Quantity>, field: string, what: string): void => {
      for (const [k, v] of m) {
        const hi = max.get(k);
        const lo = min.get(k);
        if (hi && cmp(v, hi) > 0) errs.push(invalid(`${p}.${field}[${k}]`, text(v), `${what} value ${text(v)} is greater than max value ${text(hi)}`));
        if (lo && cmp(lo, v) > 0) errs.push(invalid(`${p}.${field}[${k}]`, text(v), `min value ${text(lo)} is greater than ${what} value ${text(v)}`));
      }
    };
    bounded(def, 'default', 'default');
    bounded(defReq, 'defaultRequest', 'default request');
    for (const [k, v] of defReq) {
      const d = def.get(k);
      if (d && cmp(v, d) > 0) errs.push(invalid(`${p}.defaultRequest[${k}]`, text(v), `default request value ${text(v)} is greater than default limit value ${text(d)}`));
    }
    for (const [k, r] of resourceList(item.maxLimitRequestRatio)) {
      if (r.nano < 1_000_000_000n) errs.push(invalid(`${p}.maxLimitRequestRatio[${k}]`, text(r), `ratio ${text(r)} is less than 1`));
    }
  });
}

const CREATED_AT: TableColumn = { ...col('Created At', 'date', AGE_COLUMN.description), type: 'date' };
const createdAt = (o: KubeObject): string => {
  const t = Date.parse(str(meta(o), 'creationTimestamp') ?? '');
  return Number.isNaN(t) ? '' : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
};

export const limitRangeStrategy = defineKind({
  def: resourceDef({ group: '', resource: 'limitranges', kind: 'LimitRange', storage: 'limitranges', shortNames: ['limits'] }),
  nameCheck: nameIsDnsSubdomain,
  defaults: defaultLimitRange,
  validate: validateLimitRange,
  columns: [NAME_COLUMN, CREATED_AT],
  row: (o) => [nameOf(o), createdAt(o)],
});

// --- resourcequotas ---------------------------------------------------------------------------------------

export const QUOTA_SCOPES = ['BestEffort', 'CrossNamespacePodAffinity', 'NotBestEffort', 'NotTerminating', 'PriorityClass', 'Terminating'];

function validateQuota(o: KubeObject, errs: FieldError[]): void {
  const spec = obj(o, 'spec');
  validateResourceList(spec?.hard, 'spec.hard', errs);
  strs(spec, 'scopes').forEach((s, i) => {
    if (!QUOTA_SCOPES.includes(s)) errs.push(notSupported(`spec.scopes[${i}]`, s, QUOTA_SCOPES));
  });
  const status = obj(o, 'status');
  validateResourceList(status?.hard, 'status.hard', errs);
  validateResourceList(status?.used, 'status.used', errs);
}

/** The Request or Limit cell: `pods: 1/2, requests.cpu: 500m/1`, resources sorted, limits.* in the Limit one. */
export function quotaColumns(o: KubeObject): { request: string; limit: string } {
  const status = obj(o, 'status');
  const hard = obj(status, 'hard') ?? {};
  const used = obj(status, 'used') ?? {};
  const request: string[] = [];
  const limit: string[] = [];
  const show = (v: unknown): string => {
    const q = parseQuantity(v);
    return q ? formatQuantity(q) : '0';
  };
  for (const k of Object.keys(hard).sort()) {
    const cell = `${k}: ${show(used[k])}/${show(hard[k])}`;
    const pieces = k.split('.');
    (pieces.length > 1 && pieces[0] === 'limits' ? limit : request).push(cell);
  }
  return { request: request.join(', '), limit: limit.join(', ') };
}

export const resourceQuotaStrategy = defineKind({
  def: resourceDef({ group: '', resource: 'resourcequotas', kind: 'ResourceQuota', storage: 'resourcequotas', shortNames: ['quota'], subresources: ['status'] }),
  nameCheck: nameIsDnsSubdomain,
  validate: validateQuota,
  // PrepareForCreate clears the status (the quota plugin then fills it in, as the quota controller would).
  initialStatus: () => ({}),
  columns: [
    NAME_COLUMN,
    AGE_COLUMN,
    col('Request', 'string', 'Request represents a minimum amount of cpu/memory that a container may consume.'),
    col('Limit', 'string', 'Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.'),
  ],
  row: (o, now) => {
    const c = quotaColumns(o);
    return [nameOf(o), age(o, now), c.request, c.limit];
  },
});
