// meta.k8s.io/v1 Table, as kubectl asks for it (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`):
// column definitions, and one row of cells per object, with the object (or its metadata) alongside.
import { since, type Strategy } from './kinds/index.js';
import { nameOf, objAt, type Obj } from './object.js';

// kubectl's AGE format lives with the per-kind tables; the generic tables print it the same way.
export { humanDuration } from './kinds/index.js';

export interface TableColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly format: string;
  readonly description: string;
  readonly priority: number;
}

export const column = (name: string, type: TableColumn['type'], description: string, priority = 0, format = ''): TableColumn => ({ name, type, format, description, priority });

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** The AGE of an object from its creationTimestamp; `<unknown>` without one, as kubectl prints. */
export function age(obj: Obj, now: number): string {
  const c = objAt(obj, 'metadata').creationTimestamp;
  return since(typeof c === 'string' ? c : undefined, now);
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

/** A kind's table, from its strategy's columns and rows. */
export const strategyTable = (s: Strategy): TableDef => ({ columns: s.tableColumns, cells: (o, now) => s.tableRow(o, now) });
