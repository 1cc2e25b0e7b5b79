// The admission chain: which plugins run (--enable-admission-plugins, --disable-admission-plugins, over
// kube-apiserver's default set) and in kube-apiserver's fixed order, whatever order the flags give.
import { FlannelError } from '../../core/index.js';
import type { Obj } from '../object.js';
import type { AdmissionAttributes, AdmissionPlugin, Operation, WriteAdmission } from './types.js';

export class AdmissionConfigError extends FlannelError {
  readonly code = 'ADMISSION_CONFIG';
}

/** The plugins this apiserver has, in the order kube-apiserver runs them (its AllOrderedPlugins). */
export const ORDERED_PLUGINS = ['NamespaceLifecycle', 'LimitRanger', 'ServiceAccount', 'NodeRestriction', 'DefaultTolerationSeconds', 'ResourceQuota'] as const;
export type PluginName = (typeof ORDERED_PLUGINS)[number];

/** On unless disabled, as kube-apiserver's DefaultOffAdmissionPlugins leaves them (NodeRestriction is off by default). */
export const DEFAULT_ON: readonly PluginName[] = ['NamespaceLifecycle', 'LimitRanger', 'ServiceAccount', 'DefaultTolerationSeconds', 'ResourceQuota'];

/** kube-apiserver's other plugins: named in a flag, they are accepted with a warning (this apiserver has no such checks). */
const NOT_HERE = new Set([
  'AlwaysAdmit', 'AlwaysDeny', 'AlwaysPullImages', 'CertificateApproval', 'CertificateSigning', 'CertificateSubjectRestriction', 'ClusterTrustBundleAttest',
  'DefaultIngressClass', 'DefaultStorageClass', 'DenyServiceExternalIPs', 'EventRateLimit', 'ExtendedResourceToleration', 'ImagePolicyWebhook',
  'LimitPodHardAntiAffinityTopology', 'MutatingAdmissionWebhook', 'NamespaceAutoProvision', 'NamespaceExists', 'OwnerReferencesPermissionEnforcement',
  'PersistentVolumeClaimResize', 'PersistentVolumeLabel', 'PodNodeSelector', 'PodSecurity', 'PodTolerationRestriction', 'Priority', 'RuntimeClass',
  'StorageObjectInUseProtection', 'TaintNodesByCondition', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionWebhook',
]);

const isOurs = (n: string): n is PluginName => (ORDERED_PLUGINS as readonly string[]).includes(n);

export interface EnabledPlugins {
  readonly names: readonly PluginName[];
  /** kube-apiserver's plugins named in the flags that this apiserver does not have. */
  readonly ignored: readonly string[];
}

const splitList = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/** The plugins the two flags leave on, in running order. An unknown name, or one in both flags, is an error naming it. */
export function enabledPlugins(enable: string | undefined, disable: string | undefined): EnabledPlugins {
  const on = splitList(enable);
  const off = splitList(disable);
  const ignored: string[] = [];
  for (const [flag, names] of [['--enable-admission-plugins', on], ['--disable-admission-plugins', off]] as const) {
    for (const n of names) {
      if (isOurs(n)) continue;
      if (!NOT_HERE.has(n)) throw new AdmissionConfigError(`${flag}: admission plugin "${n}" is unknown; the plugins are ${[...ORDERED_PLUGINS, ...NOT_HERE].sort().join(', ')}`);
      if (flag === '--enable-admission-plugins') ignored.push(n);
    }
  }
  const both = on.filter((n) => off.includes(n));
  if (both.length) throw new AdmissionConfigError(`--enable-admission-plugins and --disable-admission-plugins both name ${both.join(', ')}`);
  const names = ORDERED_PLUGINS.filter((n) => (on.includes(n) || DEFAULT_ON.includes(n)) && !off.includes(n));
  return { names, ignored };
}

type BaseAttributes = Omit<AdmissionAttributes, 'object' | 'oldObject'>;

/** The enabled plugins, run in order: every mutating one, then (after the kind's validation) every validating one. */
export class AdmissionChain {
  private readonly byOp = new Map<Operation, AdmissionPlugin[]>();

  constructor(readonly plugins: readonly AdmissionPlugin[]) {
    for (const op of ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const) this.byOp.set(op, plugins.filter((p) => p.operations.includes(op)));
  }

  /** The hooks of one write, for the storage to call. */
  for(base: BaseAttributes): WriteAdmission {
    const plugins = this.byOp.get(base.operation) ?? [];
    return {
      mutate: async (object: Obj | undefined, oldObject: Obj | undefined) => {
        for (const p of plugins) if (p.admit) await p.admit({ ...base, object, oldObject });
      },
      validate: async (object: Obj | undefined, oldObject: Obj | undefined) => {
        for (const p of plugins) if (p.validate) await p.validate({ ...base, object, oldObject });
      },
    };
  }
}

/** A chain with no plugins (unit tests, and storage writes of the apiserver's own). */
export const NO_ADMISSION = new AdmissionChain([]);
