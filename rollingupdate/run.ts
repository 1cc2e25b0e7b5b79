// `kubectl rolling-update`, the command (kubectl 1.17's RollingUpdateOptions.Run): the old controller
// read; the new one made from --image (named by the second argument, by the old one's
// next-controller-id annotation on a resumed update, or `<old>-<hash>`) or read from -f; the old one
// given the deployment label (its pods relabelled first) and a pointer to the new one; --rollback swaps
// the two so that the update runs backwards to the old one's original size; then the updater's loop.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { ApiStatusError } from '../cluster/index.js';
import type { Logger } from '../common/index.js';
import { errorMessage } from '../core/index.js';
import type { RcApi } from './api.js';
import type { RollingUpdateArgs } from './args.js';
import {
  ANNOTATIONS,
  annotationsOf,
  containersOf,
  hashObject,
  LINES,
  nameOf,
  newControllerFrom,
  objAt,
  type Obj,
  renameSourceOf,
  replicasOf,
  RollingUpdateError,
  selectorOf,
  selectorsDiffer,
  sourceIdOf,
} from './steps.js';
import { type CleanupPolicy, RollingUpdater } from './updater.js';

export interface RunContext {
  readonly api: RcApi;
  readonly out: (line: string) => void;
  readonly log: Logger;
  /** Standard input, for `-f -`. */
  readonly stdin: () => Promise<string>;
}

/** The controller an update is renaming to `name` (interrupted after deleting the old one): its update-source-id starts with it. */
async function sourceController(api: RcApi, name: string): Promise<Obj | undefined> {
  return renameSourceOf(await api.list(), name);
}

/** The one ReplicationController of the -f file (YAML or JSON). */
export async function readControllerFile(filename: string, namespace: string, stdin: () => Promise<string>): Promise<Obj> {
  let text: string;
  try {
    text = filename === '-' ? await stdin() : await readFile(filename, 'utf8');
  } catch {
    throw new RollingUpdateError(`the path "${filename}" does not exist`);
  }
  const docs = parseAllDocuments(text);
  const items: unknown[] = [];
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    if (d.errors.length) throw new RollingUpdateError(`error parsing ${filename}: ${d.errors[0]!.message}`);
    const v: unknown = d.toJS();
    if (v === null || v === undefined) continue;
    if (typeof v === 'object' && !Array.isArray(v) && (v as Obj).kind === 'List' && Array.isArray((v as Obj).items)) items.push(...((v as Obj).items as unknown[]));
    else items.push(v);
  }
  if (items.length > 1) throw new RollingUpdateError(`${filename} specifies multiple items`);
  const o = items[0];
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new RollingUpdateError(`please make sure ${filename} exists and is not empty`);
  const rc = o as Obj;
  if (rc.kind !== 'ReplicationController' || rc.apiVersion !== 'v1') {
    const gv = typeof rc.apiVersion === 'string' ? rc.apiVersion : '';
    throw new RollingUpdateError(`${filename} contains a ${gv.includes('/') ? gv : `/${gv}`}, Kind=${String(rc.kind ?? '')} not a ReplicationController`);
  }
  const meta = objAt(rc, 'metadata');
  if (!meta.name && !meta.generateName) throw new RollingUpdateError('resource name may not be empty');
  const ns = meta.namespace;
  if (typeof ns === 'string' && ns !== '' && ns !== namespace) {
    throw new RollingUpdateError(`the namespace from the provided object "${ns}" does not match the namespace "${namespace}". You must pass '--namespace=${ns}' to perform this operation.`);
  }
  return rc;
}

/**
 * Adds the deployment label to the old controller: the template first (pods made meanwhile carry it),
 * then every pod it selects, then its selector; a pod that was made from the old template in between
 * (it lacks the label, and matches no controller now) is deleted.
 */
async function addDeploymentKey(api: RcApi, oldRc: Obj, key: string, value: string): Promise<Obj> {
  const originalSelector = { ...selectorOf(oldRc) };
  let rc = await api.update(oldRc, (o) => {
    const tmpl = objAt(objAt(o, 'spec'), 'template');
    const tmeta = objAt(tmpl, 'metadata');
    (o.spec as Obj).template = { ...tmpl, metadata: { ...tmeta, labels: { ...objAt(tmeta, 'labels'), [key]: value } } };
  });
  for (const p of await api.listPods(originalSelector)) {
    await api.updatePod(p, (pod) => {
      const meta = pod.metadata as Obj;
      meta.labels = { ...objAt(meta, 'labels'), [key]: value };
    });
  }
  rc = await api.update(rc, (o) => {
    (o.spec as Obj).selector = { ...selectorOf(o), [key]: value };
  });
  for (const p of await api.listPods(originalSelector)) {
    if ((objAt(objAt(p, 'metadata'), 'labels') as Record<string, string>)[key] !== value) await api.deletePod(String(objAt(p, 'metadata').name));
  }
  return rc;
}

/** UpdateExistingReplicationController: the old controller points at the next one, and has the deployment label. */
async function pointToNext(api: RcApi, oldRc: Obj, newName: string, key: string, value: string): Promise<Obj> {
  const setNext = (o: Obj) => {
    (o.metadata as Obj).annotations = { ...annotationsOf(o), [ANNOTATIONS.nextController]: newName };
  };
  if (!(key in selectorOf(oldRc))) {
    const rc = structuredClone(oldRc);
    setNext(rc);
    return addDeploymentKey(api, rc, key, value);
  }
  return api.update(oldRc, setNext);
}

export async function runRollingUpdate(a: RollingUpdateArgs, ctx: RunContext): Promise<void> {
  const { api, out } = ctx;
  const keepOldName = a.newName === undefined;
  const findNewName = (rc: Obj | undefined): string | undefined => a.newName ?? (rc ? annotationsOf(rc)[ANNOTATIONS.nextController] : undefined);

  let oldRc: Obj;
  try {
    oldRc = await api.get(a.oldName);
  } catch (e) {
    if (!(e instanceof ApiStatusError && e.status === 404) || !a.image || !keepOldName) throw e;
    // Interrupted between deleting the old controller and renaming the new one: finish the rename. With
    // no such controller either, the server's NotFound says more than kubectl's "couldn't find … source id".
    const rc = await sourceController(api, a.oldName);
    if (!rc) throw e;
    out(LINES.renaming(nameOf(rc), a.oldName));
    await new RollingUpdater(api).rename(rc, a.oldName, { pollIntervalMs: a.pollIntervalMs, log: ctx.log });
    out(LINES.done(a.oldName));
    return;
  }

  let newRc: Obj | undefined;
  let replicasDefaulted = false;
  if (a.filename) {
    newRc = await readControllerFile(a.filename, api.namespace, ctx.stdin);
    replicasDefaulted = objAt(newRc, 'spec').replicas === undefined;
  }
  if (a.image) {
    const newName = findNewName(oldRc);
    newRc = newName ? await api.find(newName) : undefined;
    if (newRc) {
      const inProgress = String(containersOf(newRc)[0]?.image ?? '');
      if (inProgress !== a.image) throw new RollingUpdateError(`Found existing in-progress update to image (${inProgress}).\nEither continue in-progress update with --image=${inProgress} or rollback with --rollback`);
      out(LINES.resuming(nameOf(newRc)));
    } else {
      const containers = containersOf(oldRc);
      const target = a.container ? containers.find((c) => c.name === a.container) : containers[0];
      if (target?.image === a.image && !a.imagePullPolicy) throw new RollingUpdateError('Specified --image must be distinct from existing container image');
      newRc = newControllerFrom(await api.get(a.oldName), {
        image: a.image,
        deploymentKey: a.deploymentKey,
        ...(a.container && { container: a.container }),
        ...(newName && { newName }),
        ...(a.imagePullPolicy && { pullPolicy: a.imagePullPolicy }),
      }).rc;
    }
    // The same image again hashes the same: the suffix keeps old and new apart.
    oldRc = await pointToNext(api, oldRc, nameOf(newRc), a.deploymentKey, `${hashObject(oldRc)}-orig`);
  }
  if (a.rollback) {
    const newName = findNewName(oldRc);
    newRc = newName ? await api.find(newName) : undefined;
    if (!newRc) throw new RollingUpdateError(`Could not find ${newName ?? ''} to rollback.`);
  }
  if (!newRc) throw new RollingUpdateError('Must specify --filename or --image for new controller');
  if (a.oldName === nameOf(newRc)) throw new RollingUpdateError(`${a.filename ?? ''} cannot have the same name as the existing ReplicationController ${a.oldName}`);
  if (!selectorsDiffer(oldRc, newRc)) throw new RollingUpdateError(`${a.filename ?? ''} must specify a matching key with non-equal value in Selector for ${a.oldName}`);
  if (replicasDefaulted) newRc.spec = { ...objAt(newRc, 'spec'), replicas: replicasOf(oldRc) };

  let from = oldRc;
  let to = newRc;
  let cleanup: CleanupPolicy = keepOldName ? 'Rename' : 'Delete';
  if (a.rollback) {
    // AbortRollingUpdate: the update runs backwards, to the old controller's original size.
    const original = annotationsOf(oldRc)[ANNOTATIONS.originalReplicas];
    if (original === undefined) throw new RollingUpdateError(`couldn't find original replica count of ${JSON.stringify(nameOf(oldRc))}`);
    out(LINES.settingReplicas(nameOf(oldRc), original));
    const sourceId = sourceIdOf(newRc);
    to = await api.update(oldRc, (o) => {
      (o.metadata as Obj).annotations = { ...annotationsOf(o), [ANNOTATIONS.sourceId]: sourceId, [ANNOTATIONS.desiredReplicas]: original };
    });
    from = newRc;
    cleanup = 'Delete';
  }
  ctx.log.debug({ from: nameOf(from), to: nameOf(to), cleanup }, 'updating');
  await new RollingUpdater(api).update({
    out,
    oldRc: from,
    newRc: to,
    updatePeriodMs: a.updatePeriodMs,
    pollIntervalMs: a.pollIntervalMs,
    timeoutMs: a.timeoutMs,
    cleanup,
    log: ctx.log,
  });
  if (a.rollback) {
    out(LINES.rolledBack(a.oldName));
    return;
  }
  const finalName = keepOldName ? a.oldName : nameOf(newRc);
  try {
    await api.get(finalName);
  } catch (e) {
    throw new RollingUpdateError(`the update finished but ${finalName} cannot be read: ${errorMessage(e)}`);
  }
  out(keepOldName ? LINES.done(a.oldName) : LINES.done(a.oldName, nameOf(newRc)));
}
