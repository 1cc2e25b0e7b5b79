// Liveness and readiness probes: one worker per (pod, container, kind) that follows the container's
// current ID. httpGet and tcpSocket probes run from the kubelet itself, in the node's network
// namespace, to the pod IP (docker0 is a local bridge); exec probes run in the container through
// Docker exec. A worker waits initialDelaySeconds after the container started, probes every
// periodSeconds with timeoutSeconds, and flips its result after failureThreshold failures in a row
// (successThreshold successes for readiness). Liveness starts as success, readiness as failure unless
// seeded from the status already stored (a restarted kubelet does not flap Ready). A changed result
// calls onChange(uid): the pod's worker then syncs (restart on liveness failure, status on readiness).
import { request } from 'node:http';
import { connect } from 'node:net';
import type { Container, Pod, Probe } from '../cluster/index.js';
import { type Logger, errorMessage, sleep } from '../common/index.js';
import type { ExecResult } from './docker.js';
import type { RuntimePod } from './runtime.js';
import { probeSettings, resolvePort } from './spec.js';

export type ProbeKind = 'liveness' | 'readiness';

export interface ProbeOutcome {
  readonly ok: boolean;
  readonly message: string;
}

export interface ProberDeps {
  readonly log: Logger;
  exec(containerId: string, argv: readonly string[], timeoutMs: number): Promise<ExecResult>;
  /** Default: real HTTP and TCP from this process. */
  httpGet?(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeOutcome>;
  tcp?(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome>;
  onChange(uid: string): void;
  /** Every failed probe (the kubelet's Unhealthy event; a failing readiness probe before the first success too). */
  onFailure?(pod: Pod, container: string, kind: ProbeKind, message: string): void;
}

export function httpGetProbe(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const req = request({ host, port, path: path.startsWith('/') ? path : `/${path}`, method: 'GET', agent: false, headers: { 'User-Agent': 'kube-probe/flannel-ts', Accept: '*/*' } }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      done({ ok: code >= 200 && code < 400, message: `HTTP probe status ${code}` });
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, message: `HTTP probe timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (e) => done({ ok: false, message: `HTTP probe failed: ${errorMessage(e)}` }));
    req.end();
  });
}

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (o: ProbeOutcome): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done({ ok: false, message: `TCP probe timed out after ${timeoutMs} ms` }), timeoutMs);
    sock.once('connect', () => done({ ok: true, message: 'connected' }));
    sock.once('error', (e) => done({ ok: false, message: `TCP probe failed: ${errorMessage(e)}` }));
  });
}

interface Worker {
  readonly key: string;
  readonly uid: string;
  readonly pod: Pod;
  readonly kind: ProbeKind;
  containerId: string;
  startedAt: number;
  podIP: string;
  container: Container;
  probe: Probe;
  result: boolean;
  successes: number;
  failures: number;
  /** After a liveness failure: quiet until the container is replaced. */
  onHold: boolean;
  readonly ac: AbortController;
  done: Promise<void>;
}

export class ProbeManager {
  private readonly workers = new Map<string, Worker>();
  private readonly log: Logger;
  private signal: AbortSignal = new AbortController().signal;

  constructor(private readonly deps: ProberDeps) {
    this.log = deps.log.child({ component: 'prober' });
  }

  /** Starts the manager's lifetime; workers end when the signal aborts (awaited by stop()). */
  start(signal: AbortSignal): void {
    this.signal = signal;
  }

  /** Liveness failed for this container (so the sync kills it). */
  livenessFailed(containerId: string): boolean {
    for (const w of this.workers.values()) if (w.kind === 'liveness' && w.containerId === containerId) return !w.result;
    return false;
  }

  /** Readiness of a container: undefined when it has no readiness probe. */
  ready(uid: string, containerName: string, containerId: string): boolean | undefined {
    const w = this.workers.get(`${uid}/${containerName}/readiness`);
    if (!w) return undefined;
    return w.containerId === containerId ? w.result : false;
  }

  /**
   * Brings the workers of one pod in line with its running containers. `seedReady(name, id)` says
   * whether the stored status already showed that very container ready (adoption after a restart).
   */
  syncPod(pod: Pod, rt: RuntimePod, seedReady: (name: string, containerId: string) => boolean): void {
    const uid = pod.metadata.uid ?? '';
    const ip = rt.sandboxes[0]?.running ? rt.sandboxes[0].ip : undefined;
    const want = new Set<string>();
    for (const c of pod.spec.containers) {
      const cur = rt.containers.find((x) => x.name === c.name);
      for (const kind of ['liveness', 'readiness'] as const) {
        const probe = kind === 'liveness' ? c.livenessProbe : c.readinessProbe;
        const key = `${uid}/${c.name}/${kind}`;
        if (!probe || !cur?.running || !ip) continue;
        want.add(key);
        const w = this.workers.get(key);
        if (w && w.containerId === cur.id && JSON.stringify(w.probe) === JSON.stringify(probe)) {
          w.podIP = ip;
          continue;
        }
        if (w) this.stopWorker(w);
        const initial = kind === 'liveness' ? true : seedReady(c.name, cur.id);
        this.startWorker({ key, uid, pod, kind, containerId: cur.id, startedAt: cur.startedAt ? Date.parse(cur.startedAt) : Date.now(), podIP: ip, container: c, probe, initial });
      }
    }
    for (const w of [...this.workers.values()]) if (w.uid === uid && !want.has(w.key)) this.stopWorker(w);
  }

  removePod(uid: string): void {
    for (const w of [...this.workers.values()]) if (w.uid === uid) this.stopWorker(w);
  }

  /** Resolves once every worker has ended (after the start() signal aborted). */
  async stop(): Promise<void> {
    for (const w of this.workers.values()) w.ac.abort();
    await Promise.allSettled([...this.workers.values()].map((w) => w.done));
    this.workers.clear();
  }

  private stopWorker(w: Worker): void {
    w.ac.abort();
    this.workers.delete(w.key);
  }

  private startWorker(o: { key: string; uid: string; pod: Pod; kind: ProbeKind; containerId: string; startedAt: number; podIP: string; container: Container; probe: Probe; initial: boolean }): void {
    const w: Worker = { ...o, result: o.initial, successes: 0, failures: 0, onHold: false, ac: new AbortController(), done: Promise.resolve() };
    this.workers.set(w.key, w);
    w.done = this.loop(w, AbortSignal.any([this.signal, w.ac.signal]));
  }

  private async loop(w: Worker, signal: AbortSignal): Promise<void> {
    const s = probeSettings(w.probe);
    const delay = w.startedAt + s.initialDelayMs - Date.now();
    if (delay > 0 && !(await sleep(delay, signal))) return;
    while (!signal.aborted) {
      if (!w.onHold) {
        const out = await this.runProbe(w, s.timeoutMs).catch((e: unknown) => ({ ok: false, message: errorMessage(e) }));
        if (signal.aborted) return;
        this.record(w, out, s.failureThreshold, w.kind === 'readiness' ? s.successThreshold : 1);
      }
      if (!(await sleep(s.periodMs, signal))) return;
    }
  }

  private record(w: Worker, out: ProbeOutcome, failureThreshold: number, successThreshold: number): void {
    if (out.ok) {
      w.failures = 0;
      w.successes++;
      if (!w.result && w.successes >= successThreshold) this.flip(w, true, out.message);
    } else {
      w.successes = 0;
      w.failures++;
      this.deps.onFailure?.(w.pod, w.container.name, w.kind, out.message);
      if (w.result && w.failures >= failureThreshold) this.flip(w, false, out.message);
      else if (!w.result && w.kind === 'readiness' && w.failures === 1) this.log.debug({ pod: w.uid, container: w.container.name, message: out.message }, 'readiness probe failed');
    }
  }

  private flip(w: Worker, ok: boolean, message: string): void {
    w.result = ok;
    if (w.kind === 'liveness' && !ok) w.onHold = true;
    this.log.info({ pod: w.uid, container: w.container.name, probe: w.kind, result: ok ? 'success' : 'failure', message }, 'probe result changed');
    this.deps.onChange(w.uid);
  }

  private async runProbe(w: Worker, timeoutMs: number): Promise<ProbeOutcome> {
    const p = w.probe;
    if (p.exec) {
      const r = await this.deps.exec(w.containerId, p.exec.command, timeoutMs);
      if (r.timedOut) return { ok: false, message: `command timed out after ${timeoutMs} ms` };
      return { ok: r.exitCode === 0, message: `exit ${r.exitCode}: ${r.output.trim().slice(0, 200)}` };
    }
    if (p.httpGet) {
      const port = resolvePort(w.container, p.httpGet.port);
      if (port === undefined) return { ok: false, message: `unknown port ${String(p.httpGet.port)}` };
      return (this.deps.httpGet ?? httpGetProbe)(p.httpGet.host || w.podIP, port, p.httpGet.path ?? '/', timeoutMs);
    }
    if (p.tcpSocket) {
      const port = resolvePort(w.container, p.tcpSocket.port);
      if (port === undefined) return { ok: false, message: `unknown port ${String(p.tcpSocket.port)}` };
      return (this.deps.tcp ?? tcpProbe)(p.tcpSocket.host || w.podIP, port, timeoutMs);
    }
    return { ok: false, message: 'probe has no handler' };
  }
}
