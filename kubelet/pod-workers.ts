// Per-pod workers (the kubelet's pod_workers.go): one worker per pod UID, at most one sync in flight
// and the newest request pending, so a burst of updates for one pod costs one or two syncs and pods
// never wait on each other. A termination request cancels the running sync (its signal aborts),
// is never overwritten by a later sync request, and can only shorten the grace period; the worker then
// runs syncTerminating until it succeeds (retried), then syncTerminated, and goes away. A sync that
// asks for it (back-off, a failure) is requeued after a delay. The sync functions log; the worker
// does not (STYLE 3.13).
import type { Pod } from '../cluster/index.js';
import { sleep } from '../common/index.js';

export interface SyncResult {
  /** Sync again after this many ms even without a new request (back-off, retry). */
  readonly requeueAfterMs?: number;
}

export interface PodSyncer {
  syncPod(pod: Pod, signal: AbortSignal): Promise<SyncResult>;
  /** Stops the pod's containers; throws to be retried. `pod` is the last spec known, if any. */
  syncTerminatingPod(uid: string, pod: Pod | undefined, graceSec: number | undefined): Promise<void>;
  /** Removes what is left (containers, volumes, probe workers, back-off entries). */
  syncTerminatedPod(uid: string, pod: Pod | undefined): Promise<void>;
}

export type WorkerState = 'syncing' | 'terminating' | 'terminated';

interface PodWorker {
  readonly uid: string;
  state: WorkerState;
  pod: Pod | undefined;
  pending: boolean;
  graceSec: number | undefined;
  /** Cancels the running sync (a termination request). */
  syncAc: AbortController | undefined;
  wake: () => void;
  timer: NodeJS.Timeout | undefined;
  loop: Promise<void>;
}

export interface PodWorkersOptions {
  /** Delay before a failed sync is retried when the sync did not ask for one. */
  readonly retryMs: number;
  /** Delay between attempts to stop a terminating pod. */
  readonly terminateRetryMs: number;
}

export class PodWorkers {
  private readonly workers = new Map<string, PodWorker>();
  private signal: AbortSignal = new AbortController().signal;

  constructor(
    private readonly syncer: PodSyncer,
    private readonly o: PodWorkersOptions,
  ) {}

  start(signal: AbortSignal): void {
    this.signal = signal;
  }

  /** Asks for a sync of the pod with this spec (ignored while the pod is terminating). */
  sync(pod: Pod): void {
    const uid = pod.metadata.uid;
    if (!uid || this.signal.aborted) return;
    const w = this.worker(uid);
    if (w.state !== 'syncing') return;
    w.pod = pod;
    w.pending = true;
    w.wake();
  }

  /** Asks for the pod to be stopped and removed; `graceSec` undefined means the pod's own. */
  terminate(uid: string, pod: Pod | undefined, graceSec?: number): void {
    if (this.signal.aborted) return;
    const w = this.worker(uid);
    if (w.state === 'terminated') return;
    if (pod) w.pod = pod;
    if (graceSec !== undefined) w.graceSec = w.graceSec === undefined ? graceSec : Math.min(w.graceSec, graceSec);
    if (w.state === 'syncing') {
      w.state = 'terminating';
      w.syncAc?.abort();
    }
    w.pending = true;
    w.wake();
  }

  has(uid: string): boolean {
    return this.workers.has(uid);
  }

  stateOf(uid: string): WorkerState | undefined {
    return this.workers.get(uid)?.state;
  }

  get size(): number {
    return this.workers.size;
  }

  /** Resolves when every worker has finished its current step (after the start() signal aborted). */
  async stop(): Promise<void> {
    for (const w of this.workers.values()) {
      w.syncAc?.abort();
      if (w.timer) clearTimeout(w.timer);
      w.wake();
    }
    await Promise.allSettled([...this.workers.values()].map((w) => w.loop));
  }

  private worker(uid: string): PodWorker {
    let w = this.workers.get(uid);
    if (w) return w;
    const nw: PodWorker = { uid, state: 'syncing', pod: undefined, pending: false, graceSec: undefined, syncAc: undefined, wake: () => undefined, timer: undefined, loop: Promise.resolve() };
    this.workers.set(uid, nw);
    nw.loop = this.run(nw);
    w = nw;
    return w;
  }

  private requeue(w: PodWorker, ms: number): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      w.timer = undefined;
      w.pending = true;
      w.wake();
    }, ms);
    w.timer.unref();
  }

  private async run(w: PodWorker): Promise<void> {
    // Bounded by the kubelet's lifetime: each turn waits for a request or the stop signal.
    while (!this.signal.aborted) {
      if (!w.pending) {
        await new Promise<void>((resolve) => {
          w.wake = resolve;
          if (w.pending || this.signal.aborted) resolve();
        });
        w.wake = () => undefined;
        continue;
      }
      w.pending = false;
      if (w.state === 'syncing' && w.pod) {
        const ac = new AbortController();
        w.syncAc = ac;
        let res: SyncResult = {};
        try {
          res = await this.syncer.syncPod(w.pod, AbortSignal.any([ac.signal, this.signal]));
        } catch {
          res = { requeueAfterMs: this.o.retryMs };
        } finally {
          w.syncAc = undefined;
        }
        if (w.state === 'syncing' && res.requeueAfterMs !== undefined) this.requeue(w, res.requeueAfterMs);
        continue;
      }
      if (w.state === 'terminating') {
        if (w.timer) clearTimeout(w.timer);
        for (let attempt = 0; !this.signal.aborted; attempt++) {
          try {
            await this.syncer.syncTerminatingPod(w.uid, w.pod, w.graceSec);
            break;
          } catch {
            if (!(await sleep(this.o.terminateRetryMs * Math.min(2 ** attempt, 16), this.signal))) return;
          }
        }
        if (this.signal.aborted) return;
        w.state = 'terminated';
        try {
          await this.syncer.syncTerminatedPod(w.uid, w.pod);
        } catch {
          // logged by the syncer; the housekeeping pass removes leftovers later
        }
        this.workers.delete(w.uid);
        return;
      }
    }
  }
}
