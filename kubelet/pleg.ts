// The pod lifecycle event generator and housekeeping. The PLEG relists Docker every
// --pleg-relist-period: a pod whose containers changed (an ID or a state) is reported, so that its
// worker syncs it (or removes it, when no source wants it any more). Housekeeping (every
// --sync-frequency) requests a sync of every desired pod, reports kubelet containers of pods that no
// source wants and no worker handles, and trims the crash-loop back-off entries.
import { type Logger, errorMessage, sleep } from '../common/index.js';
import type { CrashLoopBackoff } from './backoff.js';
import type { DesiredPods } from './desired.js';
import type { PodWorkers } from './pod-workers.js';
import type { PodRuntime } from './runtime.js';

export interface PlegOptions {
  readonly runtime: Pick<PodRuntime, 'listPods'>;
  readonly log: Logger;
  readonly periodMs: number;
  /** The containers of this pod changed (or it was seen for the first time). */
  onPodChanged(uid: string): void;
}

export class Pleg {
  private readonly fingerprints = new Map<string, string>();
  /** The last relist worked. */
  runtimeUp = false;
  /** When the last relist finished (healthz). */
  lastRelist = 0;

  constructor(private readonly o: PlegOptions) {}

  /** The pod is gone: a pod with its UID would be reported afresh. */
  forget(uid: string): void {
    this.fingerprints.delete(uid);
  }

  /** One relist; throws when the runtime does not answer. */
  async relist(): Promise<void> {
    const pods = await this.o.runtime.listPods();
    for (const [uid, s] of pods) {
      const fp = s.containers.map((c) => `${c.id}:${c.state}`).sort().join(',');
      if (this.fingerprints.get(uid) === fp) continue;
      this.fingerprints.set(uid, fp);
      this.o.onPodChanged(uid);
    }
    for (const uid of [...this.fingerprints.keys()]) if (!pods.has(uid)) this.fingerprints.delete(uid);
  }

  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.relist();
        this.runtimeUp = true;
        this.lastRelist = Date.now();
        failures = 0;
      } catch (e) {
        this.runtimeUp = false;
        if (failures++ % 20 === 0) this.o.log.warn({ err: errorMessage(e) }, 'container runtime relist failed');
      }
      await sleep(this.o.periodMs, signal);
    }
  }
}

/** One housekeeping pass (run by a SyncRunner). */
export async function housekeep(desired: DesiredPods, runtime: Pick<PodRuntime, 'listPods'>, workers: Pick<PodWorkers, 'has'>, backoff: CrashLoopBackoff): Promise<void> {
  if (!desired.initialized) return;
  for (const d of desired.values()) desired.requestSync(d.pod.metadata.uid!);
  const pods = await runtime.listPods();
  for (const uid of pods.keys()) if (!desired.has(uid) && !workers.has(uid)) desired.containersChanged(uid);
  backoff.gc();
}
