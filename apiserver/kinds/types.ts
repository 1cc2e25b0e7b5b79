// The data of the per-kind strategies: what a kind is (its ResourceDef, as discovery lists it and as etcd
// stores it), what is wrong with an object (FieldError, as kube-apiserver's field.Error), and what a kind
// adds to the generic store (its Strategy, as a strategy.go in kubernetes/pkg/registry). Objects are the
// JSON the client sent, parsed: a strategy reads them through the checked accessors in access.ts and keeps
// every field it does not know.

/** An API object as parsed from JSON: unknown fields are kept as they are. */
export type KubeObject = Record<string, unknown>;

export interface ResourceDef {
  /** '' for the core group. */
  group: string;
  version: string;
  /** Plural, lower case: the path segment (`pods`). */
  resource: string;
  kind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  /** Subresources served beside the main resource (`status`, `scale`, `binding`, `log`, ...). */
  subresources: string[];
  /** The key segment under the etcd prefix (/registry): `minions`, `services/specs`, `deployments`. */
  storage: string;
}

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTypeInvalid'
  /** Added beside the brief's list: a reference to something absent (a volumeMount naming no volume). */
  | 'FieldValueNotFound';

export interface FieldError {
  type: FieldErrorType;
  /** The path of the field, as Kubernetes prints it: `spec.containers[0].image`, `metadata.labels`. */
  field: string;
  /** The offending value; absent when the message does not show one (Required, Forbidden, TooLong). */
  value?: unknown;
  detail: string;
}

export interface TableColumn {
  /** As the server names it (`Name`, `Cluster-IP`, `Nominated Node`); kubectl prints it upper-cased. */
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  /** `name` for the column kubectl treats as the object's name, else ''. */
  format: string;
  description: string;
  /** 0: always shown; 1: shown with `-o wide`. */
  priority: number;
}

export type TableCell = string | number | boolean;

/** The autoscaling/v1 Scale view of a kind with replicas (`.../scale`). */
export interface ScaleAccess {
  /** spec.replicas, status.replicas and the label selector in its string form (`app=db,tier in (a,b)`). */
  read(obj: KubeObject): { specReplicas: number; statusReplicas: number; selector: string };
  /** Sets spec.replicas (the caller validates the Scale first). */
  write(obj: KubeObject, replicas: number): void;
}

export interface Strategy {
  readonly def: ResourceDef;
  /** Fills in what Kubernetes defaults when it decodes the kind (create and update bodies alike). Mutates. */
  defaults(obj: KubeObject): void;
  /** Every problem with a new object, name and metadata included. Empty when it is valid. */
  validate(obj: KubeObject): FieldError[];
  /** validate(obj) plus what may not change from `old` (immutable fields). */
  validateUpdate(obj: KubeObject, old: KubeObject): FieldError[];
  /**
   * Before create: status cleared (or set to its initial value) where Kubernetes does, generation 1 where the
   * kind has one, deletionTimestamp dropped. The caller has set uid and creationTimestamp already.
   */
  prepareForCreate(obj: KubeObject): void;
  /** Before an update of the main resource: status kept from old, generation bumped when spec changed. */
  prepareForUpdate(obj: KubeObject, old: KubeObject): void;
  /** Before an update of `.../status`: only status (and, for pods and nodes, labels/annotations) is taken. */
  prepareForStatusUpdate(obj: KubeObject, old: KubeObject): void;
  readonly tableColumns: readonly TableColumn[];
  /** The cells of the object's row, one per column, wide columns included (kubectl hides them). */
  tableRow(obj: KubeObject, nowMs: number): TableCell[];
  /** The value of a selectable field (`metadata.name`, `spec.nodeName`); undefined when the kind has no such field. */
  fieldValue(obj: KubeObject, field: string): string | undefined;
  /** The selectable fields, in the order Kubernetes lists them. */
  readonly selectableFields: readonly string[];
  /** Present for kinds with a `scale` subresource. */
  readonly scale?: ScaleAccess;
}
