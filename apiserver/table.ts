// meta.k8s.io/v1 Table, as kubectl asks for it (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`):
// column definitions, and one row of cells per object, with the object (or its metadata) alongside.
import { nameOf, objAt, type Obj } from './object.js';

export interface TableColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly format: string;
  readonly description: string;
  readonly priority: number;
}

export const column = (name: string, type: TableColumn['type'], description: string, priority = 0, format = ''): TableColumn => ({ name, type, format, description, priority });

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Go's duration.HumanDuration, which the apiserver prints in AGE columns. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const d = Math.floor(hours / 24) % 365;
    return d === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${d}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

/** The AGE of an object from its creationTimestamp; `<unknown>` without one, as kubectl prints. */
export function age(obj: Obj, now: number): string {
  const c = objAt(obj, 'metadata').creationTimestamp;
  const ts = typeof c === 'string' ? Date.parse(c) : NaN;
  return Number.isNaN(ts) ? '<unknown>' : humanDuration(now - ts);
}

/** What the row carries besides its cells: the whole object, its metadata (PartialObjectMetadata), or nothing. */
export function rowObject(obj: Obj, include: IncludeObject): Obj | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: objAt(obj, 'metadata') };
}

export interface TableDef {
  readonly columns: readonly TableColumn[];
  readonly cells: (obj: Obj, now: number) => unknown[];
}

export function buildTable(def: TableDef, objs: readonly Obj[], meta: Obj, include: IncludeObject, now: number, withColumns = true): Obj {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: meta,
    ...(withColumns && { columnDefinitions: def.columns }),
    rows: objs.map((o) => {
      const object = rowObject(o, include);
      return { cells: def.cells(o, now), ...(object && { object }) };
    }),
  };
}

/** The table of a kind without columns of its own: NAME and AGE. */
export const GENERIC_TABLE: TableDef = {
  columns: [column('Name', 'string', 'Name must be unique within a namespace.', 0, 'name'), column('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.')],
  cells: (o, now) => [nameOf(o), age(o, now)],
};
