// An older group version of a kind that is stored in its current one, as kube-apiserver serves
// `extensions/v1beta1` Deployments over the apps/v1 objects in etcd: the same keys, the same watch cache,
// a body decoded in the old version (with that version's defaults) and converted before the current
// kind's strategy sees it, and every answer converted back. Pure data and functions.
import type { ResourceDef } from '../kinds/index.js';
import type { Obj } from '../object.js';

export interface VersionView {
  /** The old group version as discovery lists it: the current kind's resource, under another group/version. */
  readonly def: ResourceDef;
  /**
   * The Warning every request in this version gets, as kube-apiserver words it for a deprecated version
   * (`extensions/v1beta1 Ingress is deprecated in v1.14+, unavailable in v1.22+; use networking.k8s.io/v1 Ingress`).
   */
  readonly deprecation: string;
  /** The current kind whose stored objects this version shows: its group and resource. */
  readonly current: { readonly group: string; readonly version: string; readonly resource: string };
  /** The old version's defaults, on a body in that version, before conversion (SetDefaults_* of that version). Mutates. */
  defaults(o: Obj): void;
  /** An object of the old version as the current one (apiVersion included); the argument is not changed. */
  toCurrent(o: Obj): Obj;
  /** An object of the current version as the old one (apiVersion included); the argument is not changed. */
  fromCurrent(o: Obj): Obj;
}
