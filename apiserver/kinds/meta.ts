// What every kind shares: ObjectMeta validation (ValidateObjectMeta / ValidateObjectMetaUpdate), the generic
// parts of BeforeCreate/BeforeUpdate, and defineKind, which turns a kind's few specific pieces (defaults,
// spec validation, table, fields) into a full Strategy, the way a strategy.go plugs into the generic store.
import { isObject } from '../../core/index.js';
import { clone, deepEqual, meta, list, nameOf, namespaceOf, num, obj, str, strMap } from './access.js';
import { forbidden, immutable, invalid, required, tooLong, typeInvalid } from './field-errors.js';
import { isQualifiedName, isValidLabelValue, nameIsDnsLabel, type NameCheck } from './names.js';
import { since } from './humanize.js';
import type { FieldError, KubeObject, ResourceDef, ScaleAccess, Strategy, TableCell, TableColumn } from './types.js';

/** ValidateLabels: keys are qualified names, values label values. */
const CRUD_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** A ResourceDef with the usual values filled in: v1, namespaced, the eight CRUD verbs, the kind lowercased as singular, no short names, categories or subresources. */
export function resourceDef(d: Pick<ResourceDef, 'group' | 'resource' | 'kind' | 'storage'> & Partial<ResourceDef>): ResourceDef {
  return { version: 'v1', singular: d.kind.toLowerCase(), namespaced: true, shortNames: [], categories: [], verbs: [...CRUD_VERBS], subresources: [], ...d };
}

export function validateLabels(labels: unknown, path: string, errs: FieldError[]): void {
  if (labels === undefined || labels === null) return;
  if (!isObject(labels)) {
    errs.push(typeInvalid(path, labels, 'must be an object of strings'));
    return;
  }
  for (const [k, v] of Object.entries(labels)) {
    for (const m of isQualifiedName(k)) errs.push(invalid(path, k, m));
    if (typeof v !== 'string') errs.push(typeInvalid(`${path}[${k}]`, v, 'must be a string'));
    else for (const m of isValidLabelValue(v)) errs.push(invalid(path, v, m));
  }
}

const TOTAL_ANNOTATION_SIZE = 256 * 1024;
/** ValidateAnnotations: qualified-name keys (compared in lower case), 256 KiB in all. */
export function validateAnnotations(annotations: unknown, path: string, errs: FieldError[]): void {
  if (annotations === undefined || annotations === null) return;
  if (!isObject(annotations)) {
    errs.push(typeInvalid(path, annotations, 'must be an object of strings'));
    return;
  }
  let size = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(invalid(path, k, m));
    if (typeof v !== 'string') errs.push(typeInvalid(`${path}[${k}]`, v, 'must be a string'));
    else size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (size > TOTAL_ANNOTATION_SIZE) errs.push(tooLong(path, TOTAL_ANNOTATION_SIZE));
}

const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

/** ValidateObjectMeta, at `metadata`. */
export function validateObjectMeta(o: KubeObject, namespaced: boolean, nameCheck: NameCheck, errs: FieldError[]): void {
  const m = o.metadata;
  if (!isObject(m)) {
    if (m !== undefined) errs.push(typeInvalid('metadata', m, 'must be an object'));
    errs.push(required('metadata.name', 'name or generateName is required'));
    if (namespaced) errs.push(required('metadata.namespace'));
    return;
  }
  const generateName = str(m, 'generateName');
  if (generateName) for (const msg of nameCheck(generateName, true)) errs.push(invalid('metadata.generateName', generateName, msg));
  const name = m.name;
  if (name !== undefined && name !== null && typeof name !== 'string') errs.push(typeInvalid('metadata.name', name, 'must be a string'));
  else if (!name) errs.push(required('metadata.name', 'name or generateName is required'));
  else for (const msg of nameCheck(name, false)) errs.push(invalid('metadata.name', name, msg));
  const ns = str(m, 'namespace') ?? '';
  if (namespaced) {
    if (!ns) errs.push(required('metadata.namespace'));
    else for (const msg of nameIsDnsLabel(ns, false)) errs.push(invalid('metadata.namespace', ns, msg));
  } else if (ns) errs.push(forbidden('metadata.namespace', 'not allowed on this type'));
  const generation = num(m, 'generation');
  if (generation !== undefined && generation < 0) errs.push(invalid('metadata.generation', generation, 'must be greater than or equal to 0'));
  validateLabels(m.labels, 'metadata.labels', errs);
  validateAnnotations(m.annotations, 'metadata.annotations', errs);
  (list(m, 'ownerReferences') ?? []).forEach((ref, i) => {
    const p = `metadata.ownerReferences[${i}]`;
    const apiVersion = str(ref, 'apiVersion') ?? '';
    const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
    if (!version) errs.push(invalid(`${p}.apiVersion`, version, 'version must not be empty'));
    if (!str(ref, 'kind')) errs.push(invalid(`${p}.kind`, str(ref, 'kind') ?? '', 'kind must not be empty'));
    if (!str(ref, 'name')) errs.push(invalid(`${p}.name`, str(ref, 'name') ?? '', 'name must not be empty'));
    if (!str(ref, 'uid')) errs.push(invalid(`${p}.uid`, str(ref, 'uid') ?? '', 'uid must not be empty'));
  });
  const controllers = (list(m, 'ownerReferences') ?? []).filter((r) => isObject(r) && r.controller === true);
  if (controllers.length > 1) {
    const names = controllers.map((r) => `{${str(r, 'kind') ?? ''} ${str(r, 'name') ?? ''}}`);
    errs.push(invalid('metadata.ownerReferences', m.ownerReferences, `Only one reference can have Controller set to true. Found "true" in references for ${names.join(' and ')}`));
  }
  for (const f of list(m, 'finalizers') ?? []) {
    if (typeof f !== 'string') {
      errs.push(typeInvalid('metadata.finalizers', f, 'must be a string'));
      continue;
    }
    const msgs = isQualifiedName(f);
    for (const msg of msgs) errs.push(invalid('metadata.finalizers', f, msg));
    if (!msgs.length && !f.includes('/') && !STANDARD_FINALIZERS.has(f))
      errs.push(invalid('metadata.finalizers', f, 'name is neither a standard finalizer name nor is it fully qualified'));
  }
}

/** ValidateObjectMetaUpdate: name, namespace, uid and creationTimestamp may not change. */
export function validateObjectMetaUpdate(o: KubeObject, old: KubeObject, errs: FieldError[]): void {
  const m = meta(o);
  const om = meta(old);
  for (const key of ['name', 'namespace', 'uid', 'creationTimestamp']) {
    const v = m[key] ?? '';
    const ov = om[key] ?? '';
    if (key === 'uid' && v === '') continue; // BeforeUpdate fills an absent uid from the old object
    if (key === 'creationTimestamp') continue; // BeforeUpdate resets it to the old one
    if (!deepEqual(v, ov)) errs.push(immutable(`metadata.${key}`, v));
  }
}

export const NAMESPACE_MISMATCH = 'the namespace of the provided object does not match the namespace sent on the request';

/**
 * EnsureObjectNamespaceMatchesRequestNamespace: an object without a namespace takes the request's; a
 * cluster-scoped kind's object loses any it carries. Returns the 400 BadRequest message when they differ.
 */
export function matchRequestNamespace(def: ResourceDef, o: KubeObject, requestNamespace: string): string | undefined {
  const want = def.namespaced ? requestNamespace : '';
  if (!isObject(o.metadata)) o.metadata = {};
  const m = meta(o);
  const have = str(m, 'namespace') ?? '';
  if (have === want) return undefined;
  if (have === '') m.namespace = want;
  else if (want === '') delete m.namespace;
  else return NAMESPACE_MISMATCH;
  return undefined;
}

/** The metadata part of BeforeCreate: no deletion fields on a new object. */
export function prepareMetaForCreate(o: KubeObject): void {
  const m = obj(o, 'metadata');
  if (!m) return;
  delete m.deletionTimestamp;
  delete m.deletionGracePeriodSeconds;
}

/** The metadata part of BeforeUpdate: generation, uid, creationTimestamp and deletion fields come from old. */
export function prepareMetaForUpdate(o: KubeObject, old: KubeObject): void {
  if (!isObject(o.metadata)) o.metadata = {};
  const m = meta(o);
  const om = meta(old);
  if (om.generation !== undefined) m.generation = om.generation;
  else delete m.generation;
  if (!str(m, 'uid') && om.uid !== undefined) m.uid = om.uid;
  if (om.creationTimestamp !== undefined) m.creationTimestamp = om.creationTimestamp;
  if (om.deletionTimestamp !== undefined) m.deletionTimestamp = om.deletionTimestamp;
  else delete m.deletionTimestamp;
  if (om.deletionGracePeriodSeconds !== undefined) m.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
  else delete m.deletionGracePeriodSeconds;
}

export const NAME_COLUMN: TableColumn = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  priority: 0,
};
export const AGE_COLUMN: TableColumn = {
  name: 'Age',
  type: 'string',
  format: '',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
  priority: 0,
};
/** A column other than Name and Age. */
export const col = (name: string, type: TableColumn['type'], description: string, priority = 0): TableColumn => ({ name, type, format: '', description, priority });

export const age = (o: KubeObject, nowMs: number): string => since(str(meta(o), 'creationTimestamp'), nowMs);

/** What a kind brings to defineKind; everything else is generic. */
export interface KindSpec {
  def: ResourceDef;
  nameCheck: NameCheck;
  defaults?(o: KubeObject): void;
  /** The kind's own checks (metadata is checked already). */
  validate?(o: KubeObject, errs: FieldError[]): void;
  /** The kind's own update checks (validate of the new object and the metadata rules run already). */
  validateUpdate?(o: KubeObject, old: KubeObject, errs: FieldError[]): void;
  /** The kind has a status the main resource may not write; its value on create. Absent: no status. */
  initialStatus?(o: KubeObject): unknown;
  /** Node: the status the creator sends is kept (the kubelet registers its node with status). */
  keepStatusOnCreate?: boolean;
  /** metadata.generation is tracked, bumped when `spec` changes. */
  generation?: boolean;
  /** pods/status and nodes/status may change labels and annotations (the kubelet writes them). */
  statusWritesLabels?: boolean;
  /** deployments/status may change annotations (deploymentStatusStrategy resets only spec and labels: the controller writes the revision there). */
  statusWritesAnnotations?: boolean;
  /** Extra create preparation (a Job's generated selector), after the generic one. */
  prepareForCreate?(o: KubeObject): void;
  /** Extra update preparation, after the generic one. */
  prepareForUpdate?(o: KubeObject, old: KubeObject): void;
  columns: TableColumn[];
  row(o: KubeObject, nowMs: number): TableCell[];
  /** Selectable fields beyond metadata.name (and metadata.namespace for namespaced kinds). */
  fields?: Record<string, (o: KubeObject) => string>;
  scale?: ScaleAccess;
}

/** The Strategy for a kind, from its specific pieces. */
export function defineKind(k: KindSpec): Strategy {
  const validate = (o: KubeObject): FieldError[] => {
    const errs: FieldError[] = [];
    validateObjectMeta(o, k.def.namespaced, k.nameCheck, errs);
    k.validate?.(o, errs);
    return errs;
  };
  const fields: Record<string, (o: KubeObject) => string> = {
    'metadata.name': nameOf,
    ...(k.def.namespaced ? { 'metadata.namespace': namespaceOf } : {}),
    ...k.fields,
  };
  const hasStatus = k.initialStatus !== undefined;
  const strategy: Strategy = {
    def: k.def,
    defaults: (o) => k.defaults?.(o),
    validate,
    validateUpdate(o, old) {
      const errs: FieldError[] = [];
      validateObjectMetaUpdate(o, old, errs);
      errs.push(...validate(o));
      k.validateUpdate?.(o, old, errs);
      return errs;
    },
    prepareForCreate(o) {
      prepareMetaForCreate(o);
      if (k.initialStatus && !(k.keepStatusOnCreate && isObject(o.status))) o.status = k.initialStatus(o);
      if (k.generation && isObject(o.metadata)) o.metadata.generation = 1;
      k.prepareForCreate?.(o);
    },
    prepareForUpdate(o, old) {
      prepareMetaForUpdate(o, old);
      if (hasStatus) {
        if (old.status === undefined) delete o.status;
        else o.status = clone(old.status);
      }
      if (k.generation) {
        const g = num(meta(old), 'generation') ?? 0;
        meta(o).generation = deepEqual(o.spec, old.spec) ? g : g + 1;
      }
      k.prepareForUpdate?.(o, old);
    },
    prepareForStatusUpdate(o, old) {
      const status = o.status;
      const m = meta(o);
      for (const key of Object.keys(o)) if (key !== 'metadata' && key !== 'status') delete o[key];
      for (const [key, v] of Object.entries(old)) if (key !== 'metadata' && key !== 'status') o[key] = clone(v);
      if (status === undefined) delete o.status;
      const om = meta(old);
      // ResetObjectMetaForStatus: a status write cannot touch these (pods and nodes keep labels/annotations changes).
      const reset = ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'finalizers', 'ownerReferences'];
      if (!k.statusWritesLabels) reset.push('labels', ...(k.statusWritesAnnotations ? [] : ['annotations']));
      const nm: KubeObject = { ...m };
      for (const key of reset) {
        if (om[key] === undefined) delete nm[key];
        else nm[key] = clone(om[key]);
      }
      o.metadata = nm;
    },
    tableColumns: k.columns,
    tableRow: (o, nowMs) => k.row(o, nowMs),
    fieldValue: (o, field) => fields[field]?.(o),
    selectableFields: Object.keys(fields),
    ...(k.scale ? { scale: k.scale } : {}),
  };
  return strategy;
}

/** Labels of the object, for kinds whose checks read them. */
export const labelsOf = (o: KubeObject): Record<string, string> => strMap(meta(o), 'labels');
