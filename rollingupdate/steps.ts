// kubectl's rolling-update algorithm (kubectl 1.17, pkg/cmd/rollingupdate), its decisions only, pure: the
// new controller made from the old one (image replaced, named `<old>-<md5 of the object>` unless named,
// the deployment label on its selector and template), how far to scale the new one up within the surge
// limit, how far the old one down keeping the minimum available, and the lines kubectl printed.
import { createHash } from 'node:crypto';
import { FlannelError } from '../core/index.js';

export type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const objAt = (o: unknown, k: string): Obj => (isObj(o) && isObj(o[k]) ? o[k] : {});
const strAt = (o: unknown, k: string): string | undefined => (isObj(o) && typeof o[k] === 'string' ? o[k] : undefined);

const PREFIX = 'kubectl.kubernetes.io/';
export const ANNOTATIONS = {
  sourceId: `${PREFIX}update-source-id`,
  desiredReplicas: `${PREFIX}desired-replicas`,
  originalReplicas: `${PREFIX}original-replicas`,
  nextController: `${PREFIX}next-controller-id`,
} as const;

/** A refusal kubectl printed as `error: <message>`. */
export class RollingUpdateError extends FlannelError {
  readonly code = 'ROLLING_UPDATE';
}

export const nameOf = (rc: unknown): string => strAt(objAt(rc, 'metadata'), 'name') ?? '';
export const uidOf = (rc: unknown): string => strAt(objAt(rc, 'metadata'), 'uid') ?? '';
/** spec.replicas, 0 when unset (kubectl's valOrZero: the apiserver has defaulted it by then). */
export const replicasOf = (rc: unknown): number => {
  const r = objAt(rc, 'spec').replicas;
  return typeof r === 'number' ? r : 0;
};
export const annotationsOf = (rc: unknown): Record<string, string> => objAt(objAt(rc, 'metadata'), 'annotations') as Record<string, string>;
export const selectorOf = (rc: unknown): Record<string, string> => objAt(objAt(rc, 'spec'), 'selector') as Record<string, string>;
export const containersOf = (rc: unknown): Obj[] => {
  const c = objAt(objAt(objAt(rc, 'spec'), 'template'), 'spec').containers;
  return Array.isArray(c) ? c.filter(isObj) : [];
};

/** `<name>:<uid>`: which controller an update started from (the new controller's update-source-id). */
export const sourceIdOf = (rc: unknown): string => `${nameOf(rc)}:${uidOf(rc)}`;

/** Pure: kubectl's util.HashObject, the md5 of the object's JSON in hex (32 characters). */
export function hashObject(o: unknown): string {
  return createHash('md5').update(JSON.stringify(o)).digest('hex');
}

export interface NewControllerConfig {
  readonly image: string;
  readonly container?: string;
  readonly deploymentKey: string;
  /** The name to give it; `<old>-<hash>` when undefined. */
  readonly newName?: string;
  readonly pullPolicy?: string;
}

/**
 * Pure: CreateNewControllerFromCurrentController, from the old controller as read: the image replaced
 * in the named container (the only one when not named), hashed, named, the deployment label set to the
 * hash on selector and template. Throws RollingUpdateError as kubectl refused.
 */
export function newControllerFrom(old: Obj, cfg: NewControllerConfig): { rc: Obj; hash: string } {
  const rc = structuredClone(old);
  const containers = containersOf(rc);
  let index = 0;
  if (cfg.container) {
    index = containers.findIndex((c) => c.name === cfg.container);
    if (index < 0) throw new RollingUpdateError(`container ${cfg.container} not found in pod`);
  }
  if (containers.length > 1 && !cfg.container) throw new RollingUpdateError('must specify container to update when updating a multi-container pod');
  if (containers.length === 0) throw new RollingUpdateError(`pod has no containers! (${nameOf(old)})`);
  const c = containers[index]!;
  c.image = cfg.image;
  if (cfg.pullPolicy) c.imagePullPolicy = cfg.pullPolicy;
  const hash = hashObject(rc);
  const meta = rc.metadata as Obj;
  meta.name = cfg.newName ?? `${nameOf(old)}-${hash}`;
  const spec = rc.spec as Obj;
  spec.selector = { ...selectorOf(rc), [cfg.deploymentKey]: hash };
  const tmeta = objAt(spec.template, 'metadata');
  (spec.template as Obj).metadata = { ...tmeta, labels: { ...objAt(tmeta, 'labels'), [cfg.deploymentKey]: hash } };
  return { rc: forCreate(rc), hash };
}

/** Pure: an object read from the server made fit to create under its (new) name: what the server set goes. */
export function forCreate(rc: Obj): Obj {
  const out = structuredClone(rc);
  const meta = { ...objAt(out, 'metadata') };
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'selfLink', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'ownerReferences', 'finalizers']) delete meta[k];
  out.metadata = meta;
  delete out.status;
  return out;
}

/**
 * Pure: the controller an interrupted update was renaming to `name` (the old one already deleted): the
 * one whose update-source-id names it, as kubectl looked; or, since kubectl's cleanup takes that
 * annotation off before it deletes the old controller, the one named `<name>-<hash>`.
 */
export function renameSourceOf(rcs: readonly Obj[], name: string): Obj | undefined {
  const hashed = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]{32}$`);
  return rcs.find((r) => (annotationsOf(r)[ANNOTATIONS.sourceId] ?? '').startsWith(`${name}:`)) ?? rcs.find((r) => hashed.test(nameOf(r)));
}

/** Pure: the image the controller's first container runs (what kubectl compared --image with). */
export const firstImage = (rc: unknown): string | undefined => strAt(containersOf(rc)[0], 'image');

/** Pure: kubectl's check that old and new differ in the value of at least one selector key they share. */
export function selectorsDiffer(oldRc: unknown, newRc: unknown): boolean {
  const n = selectorOf(newRc);
  return Object.entries(selectorOf(oldRc)).some(([k, v]) => k in n && n[k] !== v);
}

export interface Fenceposts {
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  /** Pods that must stay available throughout. */
  readonly minAvailable: number;
}

/**
 * Pure: ResolveFenceposts for absolute values (kubectl's rolling-update fixes maxSurge 1, maxUnavailable
 * 0); both 0 would deadlock, so unavailable becomes 1 as Kubernetes does. Scaling to 0 makes every old
 * pod expendable.
 */
export function fenceposts(desired: number, oldReplicas: number, maxSurge = 1, maxUnavailable = 0): Fenceposts {
  let unavailable = maxUnavailable;
  if (maxSurge === 0 && unavailable === 0) unavailable = 1;
  if (desired === 0) return { maxSurge, maxUnavailable: oldReplicas, minAvailable: 0 };
  return { maxSurge, maxUnavailable: unavailable, minAvailable: Math.max(0, desired - unavailable) };
}

/** Pure: the new controller's next size, or undefined to leave it (at desired, or the surge limit reached). */
export function scaleUpTo(newReplicas: number, oldReplicas: number, desired: number, maxSurge: number): number | undefined {
  if (newReplicas === desired) return undefined;
  // The old one is gone: all the way up at once.
  const increment = oldReplicas === 0 ? desired - newReplicas : desired + maxSurge - (oldReplicas + newReplicas);
  if (increment <= 0) return undefined;
  return Math.min(newReplicas + increment, desired);
}

/**
 * Pure: the old controller's next size, or undefined to leave it: as far down as keeps `minAvailable`
 * (the old pods are counted by size, the new by availability), to 0 once the new one is fully up and
 * available.
 */
export function scaleDownTo(newReplicas: number, oldReplicas: number, desired: number, minAvailable: number, newAvailable: number): number | undefined {
  if (oldReplicas === 0) return undefined;
  const newUnavailable = newReplicas - newAvailable;
  const decrement = oldReplicas + newReplicas - minAvailable - newUnavailable;
  if (decrement <= 0) return undefined;
  if (newReplicas === desired && newAvailable === desired) return 0;
  return Math.max(0, oldReplicas - decrement);
}

/** Pure: a pod counts as available (podutils.IsPodAvailable): Ready, for at least minReadySeconds. */
export function isPodAvailable(pod: unknown, minReadySeconds: number, nowMs: number): boolean {
  if (strAt(objAt(pod, 'metadata'), 'deletionTimestamp')) return false;
  const conds = objAt(pod, 'status').conditions;
  const ready = Array.isArray(conds) ? conds.find((c) => isObj(c) && c.type === 'Ready') : undefined;
  if (!isObj(ready) || ready.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = Date.parse(strAt(ready, 'lastTransitionTime') ?? '');
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= nowMs;
}

/** Pure: the desired-replicas annotation as a number; throws as kubectl did when it is not one. */
export function desiredOf(newRc: unknown): number {
  const v = annotationsOf(newRc)[ANNOTATIONS.desiredReplicas];
  if (v === undefined || !/^[+-]?\d+$/.test(v)) throw new RollingUpdateError(`Unable to parse annotation for ${nameOf(newRc)}: ${ANNOTATIONS.desiredReplicas}=${v ?? ''}`);
  return Number(v);
}

/** The lines kubectl printed, word for word. */
export const LINES = {
  created: (name: string) => `Created ${name}`,
  continuing: (name: string) => `Continuing update with existing controller ${name}.`,
  resuming: (name: string) => `Found existing update in progress (${name}), resuming.`,
  plan: (newName: string, newReplicas: number, desired: number, oldName: string, oldReplicas: number, f: Fenceposts) =>
    `Scaling up ${newName} from ${newReplicas} to ${desired}, scaling down ${oldName} from ${oldReplicas} to 0 (keep ${f.minAvailable} pods available, don't exceed ${desired + f.maxSurge} pods)`,
  up: (name: string, to: number) => `Scaling ${name} up to ${to}`,
  down: (name: string, to: number) => `Scaling ${name} down to ${to}`,
  deleting: (name: string) => `Update succeeded. Deleting ${name}`,
  deletingOld: (name: string) => `Update succeeded. Deleting old controller: ${name}`,
  renaming: (from: string, to: string) => `Renaming ${from} to ${to}`,
  settingReplicas: (name: string, n: string) => `Setting ${JSON.stringify(name)} replicas to ${n}`,
  done: (name: string, to?: string) => `replicationcontroller ${JSON.stringify(name)} rolling updated${to === undefined ? '' : ` to ${JSON.stringify(to)}`}`,
  rolledBack: (name: string) => `replicationcontroller ${JSON.stringify(name)} rolled back`,
} as const;
