// The pod lifecycle event generator and housekeeping. The PLEG relists Docker: a pod whose containers
// changed (an ID or a state) is reported, so that its worker syncs it (or removes it, when no source
// wants it any more). It relists when Docker's event stream says a kubelet container changed (as
// Kubernetes' evented PLEG does), and otherwise every EVENTED_RELIST_MS as a safety net; while the
// stream is down (or without one) every --pleg-relist-period, as before. Housekeeping (every
// --sync-frequency) requests a sync of every desired pod, reports kubelet containers of pods that no
// source wants and no worker handles, and trims the crash-loop back-off entries.
import { type Logger, errorMessage, sleep } from '../common/index.js';
import type { CrashLoopBackoff } from './backoff.js';
import type { DesiredPods } from './desired.js';
import type { PodWorkers } from './pod-workers.js';
import type { PodRuntime } from './runtime.js';

/** The relist period while Docker's events arrive (Kubernetes' evented PLEG relists every 300 s). */
export const EVENTED_RELIST_MS = 30_000;
const EVENTS_RETRY_MS = 1_000;

export interface PlegOptions {
  readonly runtime: Pick<PodRuntime, 'listPods'> & Partial<Pick<PodRuntime, 'containerChanges'>>;
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
  /** Docker's event stream is followed: relists on its events, the period only as a safety net. */
  private eventsUp = false;
  private pending = false;
  private wake: (() => void) | undefined;

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
    const watching = this.o.runtime.containerChanges ? this.watchChanges(signal) : Promise.resolve();
    while (!signal.aborted) {
      this.pending = false;
      try {
        await this.relist();
        this.runtimeUp = true;
        this.lastRelist = Date.now();
        failures = 0;
      } catch (e) {
        this.runtimeUp = false;
        if (failures++ % 20 === 0) this.o.log.warn({ err: errorMessage(e) }, 'container runtime relist failed');
      }
      if (this.pending) continue;
      await this.sleep(this.eventsUp && this.runtimeUp ? Math.max(this.o.periodMs, EVENTED_RELIST_MS) : this.o.periodMs, signal);
    }
    await watching;
  }

  /** A change was seen (or may have been missed): relist now, or right after the relist under way. */
  private changed(): void {
    this.pending = true;
    this.wake?.();
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }

  /** Follows Docker's events; each one, a (re)connection and a lost stream ask for a relist. */
  private async watchChanges(signal: AbortSignal): Promise<void> {
    let lost = 0;
    while (!signal.aborted) {
      try {
        for await (const _ of this.o.runtime.containerChanges!(signal, () => {
          this.eventsUp = true;
          this.changed();
          if (lost) this.o.log.info('container events followed again');
          lost = 0;
        })) this.changed();
      } catch (e) {
        if (!signal.aborted && lost++ % 60 === 0) this.o.log.warn({ err: errorMessage(e) }, 'cannot follow the container events; relisting every --pleg-relist-period');
      }
      this.eventsUp = false;
      if (signal.aborted) return;
      this.changed();
      await sleep(EVENTS_RETRY_MS, signal);
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
