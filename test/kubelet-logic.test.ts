// The kubelet's decisions without Docker: what a sync does (computePodActions), the status it writes
// (phase, container states, conditions), the crash-loop back-off schedule and the pod workers'
// coalescing and termination rules, with the logging and back-off of failed stops (on vitest's fake timers and
// an injected clock: no test here waits in real time).
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../common/index.js';
import type { Container, Pod } from '../cluster/index.js';
import {
  CrashLoopBackoff,
  PodWorkers,
  computePodActions,
  computePodStatus,
  containerHash,
  podPhase,
  type ContainerRecord,
  type PodSyncer,
  type RuntimePod,
  type SandboxRecord,
  type Waiting,
  type WorkerClock,
} from '../kubelet/index.js';

const C = (name: string, extra: Partial<Container> = {}): Container => ({ name, image: 'busybox', ...extra });
const podOf = (containers: Container[], restartPolicy?: 'Always' | 'OnFailure' | 'Never'): Pod => ({
  metadata: { name: 'p', namespace: 'default', uid: 'u1' },
  spec: { nodeName: 'n', containers, ...(restartPolicy && { restartPolicy }) },
});
const sandbox = (o: Partial<SandboxRecord> = {}): SandboxRecord => ({ id: 'sb1', attempt: 0, running: true, ip: '10.5.1.2', createdAt: 1, ...o });
let seq = 0;
const ctr = (c: Container, o: Partial<ContainerRecord> = {}): ContainerRecord => ({
  id: `id${++seq}`,
  name: c.name,
  hash: containerHash(c),
  restartCount: 0,
  sandboxId: 'sb1',
  state: 'running',
  running: true,
  exitCode: 0,
  reason: undefined,
  message: undefined,
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: undefined,
  image: 'busybox',
  imageId: 'sha256:abc',
  createdAt: seq,
  ...o,
});
const exited = (c: Container, exitCode: number, o: Partial<ContainerRecord> = {}): ContainerRecord =>
  ctr(c, { state: 'exited', running: false, exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: '2026-01-01T00:00:05.000Z', ...o });
const rt = (sandboxes: SandboxRecord[], containers: ContainerRecord[]): RuntimePod => ({ uid: 'u1', name: 'p', namespace: 'default', graceSec: 30, sandboxes, containers });
const noLiveness = (): boolean => false;

describe('computePodActions', () => {
  const a = C('a');
  const b = C('b');

  it('a new pod: create sandbox attempt 0 and start every container', () => {
    expect(computePodActions(podOf([a, b]), rt([], []), noLiveness)).toEqual({ killPod: false, createSandbox: true, attempt: 0, sandboxId: undefined, start: ['a', 'b'], kill: [] });
  });

  it('a healthy pod: nothing to do', () => {
    const r = computePodActions(podOf([a]), rt([sandbox()], [ctr(a)]), noLiveness);
    expect(r).toMatchObject({ killPod: false, createSandbox: false, start: [], kill: [], sandboxId: 'sb1' });
  });

  it('a changed spec replaces the container; a failed liveness probe restarts it unless the policy is Never', () => {
    const running = ctr(a, { hash: 'old' });
    expect(computePodActions(podOf([a]), rt([sandbox()], [running]), noLiveness)).toMatchObject({ start: ['a'], kill: [{ id: running.id, reason: 'container spec changed' }] });
    const live = ctr(a);
    const failed = (id: string): boolean => id === live.id;
    expect(computePodActions(podOf([a, b]), rt([sandbox()], [live, ctr(b)]), failed)).toMatchObject({ killPod: false, start: ['a'], kill: [{ id: live.id }] });
    expect(computePodActions(podOf([a, b], 'Never'), rt([sandbox()], [live, ctr(b)]), failed)).toMatchObject({ killPod: false, start: [], kill: [{ id: live.id }] });
  });

  it('restart policies for an exited container', () => {
    const ok = rt([sandbox()], [exited(a, 0)]);
    const bad = rt([sandbox()], [exited(a, 1)]);
    expect(computePodActions(podOf([a], 'Always'), ok, noLiveness).start).toEqual(['a']);
    expect(computePodActions(podOf([a], 'OnFailure'), bad, noLiveness).start).toEqual(['a']);
    // Nothing to run any more: the sandbox goes too.
    expect(computePodActions(podOf([a], 'OnFailure'), ok, noLiveness)).toMatchObject({ killPod: true, start: [] });
    expect(computePodActions(podOf([a], 'Never'), bad, noLiveness)).toMatchObject({ killPod: true, start: [] });
  });

  it('a dead sandbox: a new one (attempt + 1) and every container again, except where the policy says done', () => {
    const dead = sandbox({ running: false, ip: undefined, attempt: 2 });
    const r = computePodActions(podOf([a, b]), rt([dead], [ctr(a, { sandboxId: 'sb1' }), exited(b, 0)]), noLiveness);
    expect(r).toMatchObject({ killPod: true, createSandbox: true, attempt: 3, start: ['a', 'b'] });
    expect(computePodActions(podOf([a, b], 'OnFailure'), rt([dead], [exited(a, 0), exited(b, 1)]), noLiveness)).toMatchObject({ createSandbox: true, start: ['b'] });
    expect(computePodActions(podOf([a], 'OnFailure'), rt([dead], [exited(a, 0)]), noLiveness)).toMatchObject({ createSandbox: false, killPod: false });
    expect(computePodActions(podOf([a], 'Never'), rt([dead], [exited(a, 1)]), noLiveness)).toMatchObject({ createSandbox: false });
    // Never, but the sandbox died before any container was created: try again.
    expect(computePodActions(podOf([a], 'Never'), rt([dead], []), noLiveness)).toMatchObject({ createSandbox: true, attempt: 3 });
  });

  it('kills running containers the spec no longer has', () => {
    const gone = ctr(C('old'));
    expect(computePodActions(podOf([a]), rt([sandbox()], [ctr(a), gone]), noLiveness).kill).toEqual([{ id: gone.id, name: 'old', reason: 'container is not in the pod spec' }]);
  });
});

describe('pod status', () => {
  const a = C('a');
  const now = '2026-01-01T00:01:00Z';
  const status = (pod: Pod, r: RuntimePod | undefined, waiting: Map<string, Waiting> = new Map(), ready: boolean | undefined = undefined) =>
    computePodStatus({ pod, rt: r, hostIP: '192.0.2.11', ready: () => ready, waiting, prev: undefined, now });

  it('reports both addresses of a dual-stack sandbox in podIPs, the v4 one first and as podIP', () => {
    const s = status(podOf([a]), rt([sandbox({ ip6: 'fc00:0:0:1::2' })], [ctr(a)]));
    expect(s).toMatchObject({ podIP: '10.5.1.2', podIPs: [{ ip: '10.5.1.2' }, { ip: 'fc00:0:0:1::2' }] });
    expect(status(podOf([a]), rt([sandbox()], [ctr(a)]))).toMatchObject({ podIPs: [{ ip: '10.5.1.2' }] });
  });

  it('Running with the sandbox IP, Ready from the probe, restart count and last state', () => {
    const prev = exited(a, 2, { restartCount: 0 });
    const cur = ctr(a, { restartCount: 1 });
    const s = status(podOf([a]), rt([sandbox()], [cur, prev]), new Map(), false);
    expect(s).toMatchObject({ phase: 'Running', podIP: '10.5.1.2', hostIP: '192.0.2.11', startTime: now });
    expect(s.containerStatuses![0]).toMatchObject({
      name: 'a',
      ready: false,
      restartCount: 1,
      containerID: `docker://${cur.id}`,
      state: { running: { startedAt: '2026-01-01T00:00:00Z' } },
      lastState: { terminated: { exitCode: 2, reason: 'Error', finishedAt: '2026-01-01T00:00:05Z' } },
    });
    expect(s.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [a]' });
    expect(status(podOf([a]), rt([sandbox()], [cur])).conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
  });

  it('waiting reasons from the sync, with the last termination; Pending before the first start', () => {
    const s = status(podOf([a]), rt([sandbox()], [exited(a, 1, { restartCount: 3 })]), new Map([['a', { reason: 'CrashLoopBackOff', message: 'back-off 20s' }]]));
    expect(s.phase).toBe('Running');
    expect(s.containerStatuses![0]).toMatchObject({ restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s' } }, lastState: { terminated: { exitCode: 1 } } });
    const p = status(podOf([a]), undefined, new Map([['a', { reason: 'ErrImageNeverPull' }]]));
    expect(p).toMatchObject({ phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ErrImageNeverPull' } }, restartCount: 0, ready: false }] });
    expect(p.podIP).toBeUndefined();
    expect(status(podOf([a]), rt([sandbox()], [])).containerStatuses![0]!.state).toEqual({ waiting: { reason: 'ContainerCreating' } });
  });

  it('terminal phases and PodCompleted', () => {
    const done = status(podOf([a], 'Never'), rt([sandbox({ running: false })], [exited(a, 0)]));
    expect(done.phase).toBe('Succeeded');
    expect(done.podIP).toBeUndefined();
    expect(done.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
    expect(status(podOf([a], 'Never'), rt([sandbox()], [exited(a, 9)])).phase).toBe('Failed');
  });

  it("getPhase's table", () => {
    const st = (state: object, lastState?: object) => ({ name: 'x', ready: false, restartCount: 0, image: 'i', state, ...(lastState && { lastState }) });
    const run = st({ running: {} });
    const ok = st({ terminated: { exitCode: 0 } });
    const bad = st({ terminated: { exitCode: 1 } });
    const wait = st({ waiting: { reason: 'ContainerCreating' } });
    const crash = st({ waiting: { reason: 'CrashLoopBackOff' } }, { terminated: { exitCode: 1 } });
    const p = (policy: 'Always' | 'OnFailure' | 'Never') => podOf([], policy);
    expect(podPhase(p('Always'), [run, wait])).toBe('Pending');
    expect(podPhase(p('Always'), [run, crash])).toBe('Running');
    expect(podPhase(p('Always'), [ok])).toBe('Running');
    expect(podPhase(p('OnFailure'), [ok, ok])).toBe('Succeeded');
    expect(podPhase(p('OnFailure'), [ok, bad])).toBe('Running');
    expect(podPhase(p('Never'), [ok, bad])).toBe('Failed');
    expect(podPhase(p('Never'), [])).toBe('Pending');
  });

  it('keeps condition transition times while their status holds, so an unchanged status compares equal', () => {
    const pod = podOf([a]);
    const r = rt([sandbox()], [ctr(a)]);
    const first = computePodStatus({ pod, rt: r, hostIP: undefined, ready: () => undefined, waiting: new Map(), prev: undefined, now: '2026-01-01T00:00:10Z' });
    const again = computePodStatus({ pod, rt: r, hostIP: undefined, ready: () => undefined, waiting: new Map(), prev: first, now: '2026-01-01T00:09:00Z' });
    expect(again).toEqual(first);
    const flipped = computePodStatus({ pod, rt: r, hostIP: undefined, ready: () => false, waiting: new Map(), prev: first, now: '2026-01-01T00:09:00Z' });
    expect(flipped.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime).toBe('2026-01-01T00:09:00Z');
    expect(flipped.conditions!.find((c) => c.type === 'PodScheduled')!.lastTransitionTime).toBe('2026-01-01T00:00:10Z');
  });
});

describe('CrashLoopBackoff', () => {
  it('restarts at once, then waits base, doubling, capped; resets after a long run', () => {
    let now = 0;
    const b = new CrashLoopBackoff({ baseMs: 10_000, maxMs: 40_000, resetMs: 600_000 }, () => now);
    const key = 'u1/c';
    expect(b.check(key, now)).toBe(0); // first exit: immediately
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      now += 100; // the container ran 100 ms and exited
      const finished = now;
      const left = b.check(key, finished);
      waits.push(left);
      now += left;
      expect(b.check(key, finished)).toBe(0);
    }
    expect(waits).toEqual([10_000, 20_000, 40_000, 40_000, 40_000]);
    // A container that ran for longer than the reset window starts from base again.
    now += 700_000;
    expect(b.check(key, now)).toBe(0);
    now += 100;
    expect(b.check(key, now)).toBe(10_000);
    b.forgetPod('u1');
    expect(b.current(key)).toBeUndefined();
  });
});

describe('PodWorkers', () => {
  const pod = (v: number): Pod => ({ metadata: { name: 'p', uid: 'u1', labels: { v: String(v) } }, spec: { containers: [] } });

  function recorder(syncMs = 30) {
    const log: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const syncer: PodSyncer = {
      async syncPod(p, signal) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        log.push(`sync ${p.metadata.labels!.v}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, syncMs);
          signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
        });
        if (signal.aborted) log.push(`aborted ${p.metadata.labels!.v}`);
        inFlight--;
        return {};
      },
      async syncTerminatingPod(uid, _p, grace) {
        log.push(`terminating ${uid} ${grace}`);
      },
      async syncTerminatedPod(uid) {
        log.push(`terminated ${uid}`);
      },
    };
    return { syncer, log, max: () => maxInFlight };
  }
  // Virtual time: settle(ms) runs every timer due within ms (the syncs' own delays, requeues and
  // retry sleeps) and the promise callbacks between them, without waiting in real time.
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const settle = async (ms = 150): Promise<void> => {
    await vi.advanceTimersByTimeAsync(ms);
  };

  it('one sync in flight per pod, the newest request pending, intermediate ones dropped', async () => {
    const r = recorder();
    const w = new PodWorkers(r.syncer, { log: silentLogger, retryMs: 1000, terminateRetryMs: 10 });
    const ac = new AbortController();
    w.start(ac.signal);
    w.sync(pod(1));
    await settle(10); // sync 1 is in flight
    for (let v = 2; v <= 5; v++) w.sync(pod(v));
    await settle();
    expect(r.log).toEqual(['sync 1', 'sync 5']);
    expect(r.max()).toBe(1);
    ac.abort();
    await w.stop();
  });

  it('termination cancels the running sync, is not overwritten by later syncs, and the grace only shrinks', async () => {
    const r = recorder(500);
    const w = new PodWorkers(r.syncer, { log: silentLogger, retryMs: 1000, terminateRetryMs: 10 });
    const ac = new AbortController();
    w.start(ac.signal);
    w.sync(pod(1));
    await settle(20);
    w.terminate('u1', undefined, 30);
    w.terminate('u1', undefined, 5);
    w.terminate('u1', undefined, 20);
    w.sync(pod(2));
    await settle();
    expect(r.log).toEqual(['sync 1', 'aborted 1', 'terminating u1 5', 'terminated u1']);
    expect(w.has('u1')).toBe(false);
    ac.abort();
    await w.stop();
  });

  it('retries a failing termination, and requeues a sync that asks for it', async () => {
    let fails = 2;
    const log: string[] = [];
    const w = new PodWorkers(
      {
        async syncPod(p) {
          log.push(`sync ${p.metadata.labels!.v}`);
          return log.length < 3 ? { requeueAfterMs: 20 } : {};
        },
        async syncTerminatingPod() {
          log.push('terminating');
          if (fails-- > 0) throw new Error('docker down');
        },
        async syncTerminatedPod() {
          log.push('terminated');
        },
      },
      { log: silentLogger, retryMs: 1000, terminateRetryMs: 10 },
    );
    const ac = new AbortController();
    w.start(ac.signal);
    w.sync(pod(7));
    await settle(200);
    expect(log).toEqual(['sync 7', 'sync 7', 'sync 7']);
    w.terminate('u1', undefined);
    await settle(300);
    expect(log.slice(3)).toEqual(['terminating', 'terminating', 'terminating', 'terminated']);
    ac.abort();
    await w.stop();
  });

  /** A clock whose sleeps return at once and move time forward by what they asked for. */
  function fakeClock(): WorkerClock & { t: number; slept: number[] } {
    const c = {
      t: 0,
      slept: [] as number[],
      now: () => c.t,
      async sleep(ms: number, signal: AbortSignal) {
        c.slept.push(ms);
        c.t += ms;
        return !signal.aborted;
      },
    };
    return c;
  }
  function records() {
    const out: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void out.push(JSON.parse(line) as Record<string, unknown>) });
    return { log, out };
  }
  async function until(what: string, cond: () => boolean): Promise<void> {
    for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
    if (!cond()) throw new Error(`timed out waiting for ${what}`);
  }

  it('logs a failing stop once per distinct error and again after relogMs, backs off, and reports the recovery', async () => {
    vi.useRealTimers(); // time here is the injected clock's; `until` yields with setImmediate
    const errors = [...Array<string>(7).fill('docker: no answer'), 'docker: permission denied'];
    let stops = 0;
    let cleanups = 0;
    const clock = fakeClock();
    const { log, out } = records();
    const w = new PodWorkers(
      {
        async syncPod() {
          return {};
        },
        async syncTerminatingPod() {
          const e = errors[stops++];
          if (e) throw new Error(e);
        },
        async syncTerminatedPod() {
          if (cleanups++ === 0) throw new Error('device busy');
        },
      },
      { log, retryMs: 1000, terminateRetryMs: 10, terminateMaxRetryMs: 100, relogMs: 250, clock, random: () => 1 },
    );
    const ac = new AbortController();
    w.start(ac.signal);
    w.terminate('u1', pod(1), 5);
    await until('the worker to finish', () => !w.has('u1'));
    expect(stops).toBe(9);
    expect(cleanups).toBe(2);
    // Doubling from terminateRetryMs, capped; then the cleanup's own back-off starts over.
    expect(clock.slept).toEqual([10, 20, 40, 80, 100, 100, 100, 100, 10]);
    const lines = out.map((r) => ({ msg: r.msg, step: r.step, err: r.err, failures: r.failures, pod: r.pod, uid: r.uid }));
    expect(lines).toEqual([
      // first failure at t=0; the same error again at t=250 (relogMs later); then a new error at once
      { msg: 'cannot stop the pod; retrying', step: 'stop', err: 'docker: no answer', failures: 1, pod: 'default/p', uid: 'u1' },
      { msg: 'cannot stop the pod; retrying', step: 'stop', err: 'docker: no answer', failures: 6, pod: 'default/p', uid: 'u1' },
      { msg: 'cannot stop the pod; retrying', step: 'stop', err: 'docker: permission denied', failures: 8, pod: 'default/p', uid: 'u1' },
      { msg: 'pod stopped after failed attempts', step: 'stop', err: undefined, failures: 8, pod: 'default/p', uid: 'u1' },
      { msg: 'cannot clean up the pod; retrying', step: 'cleanup', err: 'device busy', failures: 1, pod: 'default/p', uid: 'u1' },
      { msg: 'pod cleaned up after failed attempts', step: 'cleanup', err: undefined, failures: 1, pod: 'default/p', uid: 'u1' },
    ]);
    expect(out[0]!.level).toBe(40);
    expect(out[0]!.retryInMs).toBe(10);
    ac.abort();
    await w.stop();
  });

  it('a stop that never succeeds ends with the kubelet, without removing the pod', async () => {
    vi.useRealTimers(); // time here is the injected clock's; `until` yields with setImmediate
    const clock = fakeClock();
    const { log, out } = records();
    let stops = 0;
    const ac = new AbortController();
    const w = new PodWorkers(
      {
        async syncPod() {
          return {};
        },
        async syncTerminatingPod() {
          if (++stops === 50) ac.abort();
          throw new Error('docker: no answer');
        },
        async syncTerminatedPod() {
          throw new Error('not reached');
        },
      },
      { log, retryMs: 1000, terminateRetryMs: 10, terminateMaxRetryMs: 100, relogMs: 1_000_000, clock, random: () => 1 },
    );
    w.start(ac.signal);
    w.terminate('u1', undefined);
    await until('the stop signal', () => ac.signal.aborted);
    await w.stop();
    expect(stops).toBe(50);
    expect(w.stateOf('u1')).toBe('terminating');
    expect(out.map((r) => [r.msg, r.pod, r.failures])).toEqual([['cannot stop the pod; retrying', undefined, 1]]);
  });
});
