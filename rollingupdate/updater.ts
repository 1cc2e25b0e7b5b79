// The rolling update's loop against the API, as kubectl 1.17's RollingUpdater ran it: find the new
// controller (an interrupted update is continued) or create it at 0 replicas with the desired count in an
// annotation; then, until the new one has them all and the old none, scale the new one up within the
// surge limit, wait --update-period, scale the old one down as far as the new pods' readiness allows;
// every scale waits for the controller to report the size. A round with no progress for --timeout
// fails. At the end: the old controller deleted, and the new one renamed to the old name when it kept it.
import type { Logger } from '../common/index.js';
import { sleep } from '../common/index.js';
import type { RcApi } from './api.js';
import {
  ANNOTATIONS,
  annotationsOf,
  desiredOf,
  fenceposts,
  forCreate,
  isPodAvailable,
  LINES,
  nameOf,
  objAt,
  type Obj,
  replicasOf,
  RollingUpdateError,
  scaleDownTo,
  scaleUpTo,
  selectorOf,
  uidOf,
} from './steps.js';

export type CleanupPolicy = 'Delete' | 'Rename';

export interface UpdaterConfig {
  readonly out: (line: string) => void;
  readonly oldRc: Obj;
  readonly newRc: Obj;
  readonly updatePeriodMs: number;
  readonly pollIntervalMs: number;
  readonly timeoutMs: number;
  readonly cleanup: CleanupPolicy;
  readonly log: Logger;
}

/** Go's `%s` of a map[string]string: `map[a:1 b:2]`, keys sorted. */
const goMap = (m: Record<string, string>): string =>
  `map[${Object.keys(m)
    .sort()
    .map((k) => `${k}:${m[k]}`)
    .join(' ')}]`;

/** Polls `cond` every `intervalMs` (the first look after one interval unless `immediate`) until true or `timeoutMs`; whether it became true. */
export async function poll(cond: () => Promise<boolean>, intervalMs: number, timeoutMs: number, immediate = false): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const step = Math.max(1, intervalMs);
  if (immediate && (await cond())) return true;
  for (let i = 0; i < Math.ceil(timeoutMs / step) + 1; i++) {
    await sleep(step);
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
  }
  return false;
}

export class RollingUpdater {
  constructor(private readonly api: RcApi) {}

  /** Scales the controller and waits until it reports that many (kubectl's Scaler with its wait); the controller as it is then. */
  async scaleAndWait(rc: Obj, to: number, c: UpdaterConfig): Promise<Obj> {
    const name = nameOf(rc);
    await this.api.scale(name, to);
    const synced = await poll(
      async () => {
        const s = await this.api.getScale(name);
        const spec = objAt(s, 'spec').replicas ?? 0;
        // Someone else scaled it meanwhile: nothing more to wait for.
        if (spec !== to) return true;
        return objAt(s, 'status').replicas === to;
      },
      c.pollIntervalMs,
      c.timeoutMs,
      true,
    );
    if (!synced) throw new RollingUpdateError(`timed out waiting for ${JSON.stringify(name)} to be synced`);
    c.log.debug({ rc: name, replicas: to }, 'scaled');
    return this.api.get(name);
  }

  /** How many of the new controller's pods are available (ready for its minReadySeconds; not being deleted). */
  async newAvailable(newRc: Obj): Promise<number> {
    const min = Number(objAt(newRc, 'spec').minReadySeconds ?? 0) || 0;
    const now = Date.now();
    return (await this.api.listPods(selectorOf(newRc))).filter((p) => isPodAvailable(p, min, now)).length;
  }

  /** getOrCreateTargetController: the existing controller (checked to come from this source) or a new one at 0. */
  async target(controller: Obj, sourceId: string): Promise<{ rc: Obj; existed: boolean }> {
    // A manifest with only a generateName names a controller that cannot exist yet.
    const existing = nameOf(controller) ? await this.api.find(nameOf(controller)) : undefined;
    if (!existing) {
      const replicas = replicasOf(controller);
      if (replicas <= 0) throw new RollingUpdateError(`Invalid controller spec for ${nameOf(controller)}; required: > 0 replicas, actual: ${replicas}`);
      const rc = forCreate(controller);
      const meta = rc.metadata as Obj;
      meta.annotations = { ...annotationsOf(rc), [ANNOTATIONS.desiredReplicas]: String(replicas), [ANNOTATIONS.sourceId]: sourceId };
      rc.spec = { ...objAt(rc, 'spec'), replicas: 0 };
      return { rc: await this.api.create(rc), existed: false };
    }
    const a = annotationsOf(existing);
    if (a[ANNOTATIONS.sourceId] !== sourceId || a[ANNOTATIONS.desiredReplicas] === undefined) {
      throw new RollingUpdateError(`Missing/unexpected annotations for controller ${nameOf(controller)}, expected ${sourceId} : ${goMap(a)}`);
    }
    return { rc: existing, existed: true };
  }

  async update(c: UpdaterConfig): Promise<void> {
    let oldRc = c.oldRc;
    const sourceId = `${nameOf(oldRc)}:${uidOf(oldRc)}`;
    const t = await this.target(c.newRc, sourceId);
    let newRc = t.rc;
    c.out(t.existed ? LINES.continuing(nameOf(newRc)) : LINES.created(nameOf(newRc)));
    const desired = desiredOf(newRc);
    if (annotationsOf(oldRc)[ANNOTATIONS.originalReplicas] === undefined) {
      const existing = await this.api.get(nameOf(oldRc));
      const original = String(replicasOf(existing));
      oldRc = await this.api.update(existing, (rc) => {
        (rc.metadata as Obj).annotations = { ...annotationsOf(rc), [ANNOTATIONS.originalReplicas]: original };
      });
    }
    const f = fenceposts(desired, replicasOf(oldRc));
    c.out(LINES.plan(nameOf(newRc), replicasOf(newRc), desired, nameOf(oldRc), replicasOf(oldRc), f));

    let deadline = Date.now() + c.timeoutMs;
    while (replicasOf(newRc) !== desired || replicasOf(oldRc) !== 0) {
      const before = [replicasOf(newRc), replicasOf(oldRc)];
      const up = scaleUpTo(replicasOf(newRc), replicasOf(oldRc), desired, f.maxSurge);
      if (up !== undefined) {
        c.out(LINES.up(nameOf(newRc), up));
        newRc = await this.scaleAndWait(newRc, up, c);
      }
      await sleep(c.updatePeriodMs);
      if (replicasOf(oldRc) !== 0) {
        const down = scaleDownTo(replicasOf(newRc), replicasOf(oldRc), desired, f.minAvailable, await this.newAvailable(newRc));
        if (down !== undefined) {
          c.out(LINES.down(nameOf(oldRc), down));
          oldRc = await this.scaleAndWait(oldRc, down, c);
        }
      }
      if (replicasOf(newRc) !== before[0] || replicasOf(oldRc) !== before[1]) deadline = Date.now() + c.timeoutMs;
      else if (Date.now() > deadline) throw new RollingUpdateError('timed out waiting for any update progress to be made');
    }
    await this.cleanup(oldRc, newRc, c);
  }

  /** The update's annotations off the new controller, it at its size, then the policy: delete the old one, and rename. */
  private async cleanup(oldRc: Obj, newRc: Obj, c: UpdaterConfig): Promise<void> {
    let rc = await this.api.get(nameOf(newRc));
    rc = await this.api.update(rc, (o) => {
      const a = { ...annotationsOf(o) };
      delete a[ANNOTATIONS.sourceId];
      delete a[ANNOTATIONS.desiredReplicas];
      (o.metadata as Obj).annotations = a;
    });
    const generation = Number(objAt(rc, 'metadata').generation ?? 0);
    const settled = await poll(
      async () => {
        const cur = await this.api.get(nameOf(rc));
        const st = objAt(cur, 'status');
        return Number(st.observedGeneration ?? 0) >= generation && (st.replicas ?? 0) === replicasOf(cur);
      },
      c.pollIntervalMs,
      c.timeoutMs,
    );
    if (!settled) throw new RollingUpdateError('timed out waiting for the condition');
    rc = await this.api.get(nameOf(rc));
    if (c.cleanup === 'Delete') {
      c.out(LINES.deleting(nameOf(oldRc)));
      await this.api.delete(nameOf(oldRc));
      return;
    }
    c.out(LINES.deletingOld(nameOf(oldRc)));
    await this.api.delete(nameOf(oldRc));
    c.out(LINES.renaming(nameOf(rc), nameOf(oldRc)));
    await this.rename(rc, nameOf(oldRc), c);
  }

  /**
   * kubectl's Rename: the controller deleted with its pods orphaned, then created again under the new
   * name, which adopts them. Where no garbage collector takes the deleted owner's reference off the pods,
   * it is taken off here before the create, or the new controller would see them owned and make its own.
   */
  async rename(rc: Obj, newName: string, c: Pick<UpdaterConfig, 'pollIntervalMs' | 'log'>): Promise<void> {
    const from = nameOf(rc);
    const uid = uidOf(rc);
    try {
      await this.api.delete(from, 'Orphan');
    } catch (e) {
      if (!(e instanceof Error && 'status' in e && e.status === 404)) throw e;
    }
    const gone = await poll(async () => (await this.api.find(from)) === undefined, Math.min(c.pollIntervalMs, 5_000), 60_000, true);
    if (!gone) throw new RollingUpdateError('timed out waiting for the condition');
    for (const p of await this.api.listPods(selectorOf(rc))) {
      const meta = objAt(p, 'metadata');
      const refs = Array.isArray(meta.ownerReferences) ? (meta.ownerReferences as Obj[]) : [];
      if (!refs.some((r) => r.uid === uid)) continue;
      c.log.debug({ pod: meta.name, owner: from }, 'releasing a pod of the deleted controller');
      await this.api.patchPod(String(meta.name), { metadata: { ownerReferences: refs.filter((r) => r.uid !== uid) } });
    }
    const copy = forCreate(rc);
    (copy.metadata as Obj).name = newName;
    await this.api.create(copy);
  }
}
