// Admission, as kube-apiserver's k8s.io/apiserver/pkg/admission: after a write is decoded and defaulted,
// the mutating plugins may change the object, then the kind's validation runs, then the validating
// plugins may refuse it. Every plugin sees the same attributes (who, what, which object, the stored one).
import type { UserInfo } from '../auth.js';
import type { Obj } from '../object.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionResource {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** Plural: `pods`. */
  readonly resource: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export interface AdmissionAttributes {
  readonly operation: Operation;
  readonly resource: AdmissionResource;
  /** '' for the main resource; `status`, `binding`, `token`, `eviction`, ... */
  readonly subresource: string;
  /** '' for cluster-scoped objects. */
  readonly namespace: string;
  /** '' on a create with generateName (the name is not made yet when the plugins run). */
  readonly name: string;
  readonly user: UserInfo;
  readonly dryRun: boolean;
  /** The new object (absent on DELETE). Mutating plugins change it in place. */
  readonly object: Obj | undefined;
  /** The stored object (UPDATE and DELETE). */
  readonly oldObject: Obj | undefined;
}

export interface AdmissionPlugin {
  /** kube-apiserver's name for it: `NamespaceLifecycle`, `ServiceAccount`, `NodeRestriction`. */
  readonly name: string;
  readonly operations: readonly Operation[];
  /** Mutating: may change `a.object`; throws an ApiError to refuse. */
  admit?(a: AdmissionAttributes): Promise<void> | void;
  /** Validating: sees the final object; throws an ApiError to refuse. */
  validate?(a: AdmissionAttributes): Promise<void> | void;
}

/** What the storage calls on a write: the mutating phase before the kind's validation, the validating after. */
export interface WriteAdmission {
  mutate(object: Obj | undefined, oldObject: Obj | undefined): Promise<void>;
  validate(object: Obj | undefined, oldObject: Obj | undefined): Promise<void>;
}
