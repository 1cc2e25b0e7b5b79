// Per-pod workers (the kubelet's pod_workers.go): one worker per pod UID, at most one sync in flight
// and the newest request pending, so a burst of updates for one pod costs one or two syncs and pods
// never wait on each other. A termination request cancels the running sync (its signal aborts),
// is never overwritten by a later sync request, and can only shorten the grace period; the worker then
// runs syncTerminating until it succeeds, then syncTerminated until it succeeds, and goes away; both
// are retried with exponential back-off. A sync that asks for it (back-off, a failure) is requeued
// after a delay. syncPod logs its own failures (STYLE 3.13); the two termination steps throw to be
// retried, and the worker, which alone knows whether a failure repeats, logs them: once per distinct
// error, again every `relogMs` while the same error persists, and once more when the step succeeds.
import type { Pod } from '../cluster/index.js';
import { Backoff, type Logger, errorMessage, sleep } from '../common/index.js';
import { podFullName } from './spec.js';

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

/** Time for the termination retries (injected in tests). */
export interface WorkerClock {
  now(): number;
  /** Sleeps `ms`, or less if the signal aborts; true when the full time passed. */
  sleep(ms: number, signal: AbortSignal): Promise<boolean>;
}

export const systemClock: WorkerClock = { now: () => Date.now(), sleep };

export interface PodWorkersOptions {
  readonly log: Logger;
  /** Delay before a failed sync is retried when the sync did not ask for one. */
  readonly retryMs: number;
  /** First delay between attempts to stop or clean up a pod; doubles up to terminateMaxRetryMs. */
  readonly terminateRetryMs: number;
  /** Longest delay between those attempts (default 30 s). */
  readonly terminateMaxRetryMs?: number;
  /** A step that keeps failing with the same error is logged again after this long (default 5 min). */
  readonly relogMs?: number;
  readonly clock?: WorkerClock;
  /** Jitter source of the back-off (default Math.random). */
  readonly random?: () => number;
}

type Step = 'stop' | 'cleanup';
const STEP_FAILED: Record<Step, string> = { stop: 'cannot stop the pod; retrying', cleanup: 'cannot clean up the pod; retrying' };
const STEP_RECOVERED: Record<Step, string> = { stop: 'pod stopped after failed attempts', cleanup: 'pod cleaned up after failed attempts' };

export class PodWorkers {
  private readonly workers = new Map<string, PodWorker>();
  private signal: AbortSignal = new AbortController().signal;
  private readonly clock: WorkerClock;
  private readonly log: Logger;

  constructor(
    private readonly syncer: PodSyncer,
    private readonly o: PodWorkersOptions,
  ) {
    this.clock = o.clock ?? systemClock;
    this.log = o.log.child({ component: 'pod-workers' });
  }

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
        // grace and spec are read on every attempt: a later terminate() may shorten the grace.
        if (!(await this.untilDone(w, 'stop', () => this.syncer.syncTerminatingPod(w.uid, w.pod, w.graceSec)))) return;
        w.state = 'terminated';
        if (!(await this.untilDone(w, 'cleanup', () => this.syncer.syncTerminatedPod(w.uid, w.pod)))) return;
        this.workers.delete(w.uid);
        return;
      }
    }
  }

  /** Runs `fn` until it succeeds, with back-off; false when the kubelet stopped first. */
  private async untilDone(w: PodWorker, step: Step, fn: () => Promise<void>): Promise<boolean> {
    const backoff = new Backoff(this.o.terminateRetryMs, this.o.terminateMaxRetryMs ?? 30_000, this.o.random);
    const relogMs = this.o.relogMs ?? 300_000;
    let failures = 0;
    let lastErr: string | undefined;
    let loggedAt = 0;
    // Bounded by the kubelet's lifetime: every failed attempt sleeps, and the stop signal ends the loop.
    while (!this.signal.aborted) {
      try {
        await fn();
        if (failures > 0) this.log.info({ uid: w.uid, pod: w.pod && podFullName(w.pod), step, failures }, STEP_RECOVERED[step]);
        return true;
      } catch (e) {
        failures++;
        const err = errorMessage(e);
        const delayMs = backoff.next();
        const now = this.clock.now();
        if (err !== lastErr || now - loggedAt >= relogMs) {
          this.log.warn({ uid: w.uid, pod: w.pod && podFullName(w.pod), step, err, failures, retryInMs: delayMs }, STEP_FAILED[step]);
          lastErr = err;
          loggedAt = now;
        }
        if (!(await this.clock.sleep(delayMs, this.signal))) return false;
      }
    }
    return false;
  }
}
