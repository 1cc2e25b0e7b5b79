// Running the project's daemons in a lab: an etcd inside the switch namespace (reachable from every
// host on the underlay), and flanneld started per host with its own subnet file.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdServer } from '../harness/index.js';
import { type Host, Lab, type Pod, type Proc } from './lab.js';

/** The repository root, whether this runs from test/ (vitest) or from dist/test/ (benchmarks). */
export const REPO = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5 && !existsSync(path.join(dir, 'package.json')); i++) dir = path.dirname(dir);
  return dir;
})();
/** The built daemon; the test command builds before it runs the tests. */
export const FLANNELD = path.join(REPO, 'dist/flanneld/main.js');

/** etcd in the lab's switch namespace, on the switch's underlay address (port 2379). */
export async function startLabEtcd(lab: Lab, opts: { readonly extraArgs?: readonly string[] } = {}): Promise<EtcdServer> {
  return EtcdServer.start({ netnsPath: lab.switch.nsPath, host: lab.switch.ip, dir: path.join(lab.dir, 'etcd'), ...(opts.extraArgs && { extraArgs: opts.extraArgs }) });
}

export interface FlanneldOptions {
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  /** Distinguishes the log file of a restart. */
  readonly tag?: string;
  /**
   * flanneld writes straight to its log file instead of through a pipe to this process, so it can
   * outlive this process (the demo's --keep). Its output is then not in Proc.stdout()/stderr().
   */
  readonly outputToFile?: boolean;
}

export const subnetFileOf = (h: Host): string => path.join(h.dir, 'subnet.env');

export function startFlanneld(h: Host, etcd: EtcdServer, o: FlanneldOptions = {}): Proc {
  const argv = [process.execPath, FLANNELD, `--etcd-endpoints=${etcd.endpoint}`, `--subnet-file=${subnetFileOf(h)}`, ...(o.args ?? [])];
  const logFile = path.join(h.dir, `flanneld${o.tag ? `-${o.tag}` : ''}.log`);
  // sh execs flanneld with stdout/stderr on the file: same PID, no pipe left to break.
  const wrapped = o.outputToFile ? ['sh', '-c', 'exec "$@" >>"$0" 2>&1', logFile, ...argv] : argv;
  return h.spawn(wrapped, { env: o.env ?? {}, logFile });
}

export async function readEnvFile(file: string): Promise<Record<string, string> | undefined> {
  try {
    const text = await readFile(file, 'utf8');
    return Object.fromEntries(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  } catch {
    return undefined;
  }
}

/** Polls `probe` until it returns a value other than undefined/false, within `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, ms = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; Date.now() < deadline && i < Math.ceil(ms / everyMs) + 1; i++) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** pino lines of a process's stderr, parsed. */
export function logRecords(p: Proc): Record<string, unknown>[] {
  return p
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

export const hasLog = (p: Proc, msg: string | RegExp, fields: Record<string, unknown> = {}): boolean =>
  logRecords(p).some(
    (r) => (typeof msg === 'string' ? r.msg === msg : msg.test(String(r.msg))) && Object.entries(fields).every(([k, v]) => JSON.stringify(r[k]) === JSON.stringify(v)),
  );

/** flanneld's default etcd prefix. */
export const ETCD_PREFIX = '/coreos.com/network';

/** The network config most lab tests use: 10.5.0.0/16 with the given backend. */
export const networkConfig = (backend: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ Network: '10.5.0.0/16', ...extra, Backend: { Type: backend } });

/** `10.5.3.1/24` (FLANNEL_SUBNET) → the lease's network `10.5.3.0/24`. */
export const netOf = (subnet: string): string => subnet.replace(/\.1\/24$/, '.0/24');
/** `10.5.3.1/24` → `10.5.3.0`, the address the vxlan/udp device carries and peers route via. */
export const gwOf = (subnet: string): string => subnet.replace(/\.1\/24$/, '.0');
/** The etcd key of the lease for FLANNEL_SUBNET `subnet`. */
export const leaseKey = (subnet: string, prefix = ETCD_PREFIX): string => `${prefix}/subnets/${netOf(subnet).replace('/', '-')}`;

/** `ip -j <args>` in an endpoint's namespace, parsed (an empty answer is `[]`). */
export async function ipJson<T>(h: Host, args: readonly string[]): Promise<T> {
  return JSON.parse((await h.ipCmd(['-j', ...args])) || '[]') as T;
}

export interface FlannelLabOptions {
  readonly hosts: readonly string[];
  /** Network config put at `<prefix>/config` before any flanneld starts; none when omitted. */
  readonly config?: string;
  /** flanneld's flags per host (besides the etcd endpoint and subnet file); default `--iface=eth0`. */
  readonly flanneldArgs?: (h: Host) => readonly string[];
  /** Runs on every host before its flanneld starts (e.g. iptables as Docker leaves them). */
  readonly prepare?: (h: Host) => Promise<void>;
  /** Start flanneld on every host and wait until each wrote its subnet file; default true when config is given. */
  readonly startFlanneld?: boolean;
}

/**
 * A lab with etcd in the switch namespace and flanneld per host: the setup every overlay test
 * repeats. It keeps each host's flanneld, subnet.env and first pod; destroy() ends them all.
 */
export class FlannelLab {
  /** The current flanneld of each host. */
  readonly flanneld = new Map<string, Proc>();
  /** The subnet.env each host's flanneld last wrote, as read when it became ready. */
  readonly env = new Map<string, Record<string, string>>();
  /** The pods added by addPod(), by host name (the default pod `p1`) or `host/name`. */
  readonly pods = new Map<string, Pod>();

  private constructor(
    readonly lab: Lab,
    readonly etcd: EtcdServer,
    private readonly args: (h: Host) => readonly string[],
  ) {}

  /** Builds it; on failure everything started so far is stopped before the error is thrown. */
  static async start(o: FlannelLabOptions): Promise<FlannelLab> {
    const lab = await Lab.create({ hosts: o.hosts });
    try {
      const etcd = await startLabEtcd(lab);
      const fl = new FlannelLab(lab, etcd, o.flanneldArgs ?? (() => ['--iface=eth0']));
      try {
        if (o.config !== undefined) await fl.putConfig(o.config);
        if (o.prepare) for (const h of lab.hosts) await o.prepare(h);
        if (o.startFlanneld ?? o.config !== undefined) await Promise.all(lab.hosts.map((h) => fl.startFlanneld(h)));
        return fl;
      } catch (e) {
        await fl.destroy();
        throw e;
      }
    } catch (e) {
      await lab.destroy();
      throw e;
    }
  }

  host(name: string): Host {
    return this.lab.host(name);
  }

  /** FLANNEL_SUBNET of a host, e.g. `10.5.3.1/24`. */
  subnet(host: string): string {
    const s = this.env.get(host)?.FLANNEL_SUBNET;
    if (!s) throw new RangeError(`no FLANNEL_SUBNET for host ${host}`);
    return s;
  }

  /** Every host's FLANNEL_SUBNET. */
  get subnets(): string[] {
    return [...this.env.values()].flatMap((e) => (e.FLANNEL_SUBNET ? [e.FLANNEL_SUBNET] : []));
  }

  /** The pod addPod() added on a host (default name `p1`). */
  pod(host: string, name = 'p1'): Pod {
    const p = this.pods.get(name === 'p1' ? host : `${host}/${name}`);
    if (!p) throw new RangeError(`no pod ${name} on host ${host}`);
    return p;
  }

  async putConfig(config: string, prefix = ETCD_PREFIX): Promise<void> {
    await this.etcd.ctl(['put', `${prefix}/config`, config]);
  }

  /**
   * Starts flanneld on a host (stopping the one running there first) and waits until this process
   * wrote its subnet file (after a restart the old file is still there); returns what it wrote.
   */
  async startFlanneld(h: Host, o: { tag?: string; args?: readonly string[]; timeoutMs?: number } = {}): Promise<Record<string, string>> {
    await this.stopFlanneld(h);
    const p = startFlanneld(h, this.etcd, { args: o.args ?? this.args(h), ...(o.tag && { tag: o.tag }) });
    this.flanneld.set(h.name, p);
    const ready = (): boolean => {
      if (hasLog(p, 'wrote subnet file')) return true;
      if (!p.running) throw new Error(`flanneld on ${h.name} exited before writing its subnet file: ${p.stderr().slice(-2000)}`);
      return false;
    };
    await waitFor(`flanneld${o.tag ? ` ${o.tag}` : ''} on ${h.name} to write its subnet file`, ready, o.timeoutMs ?? 20_000);
    const env = await waitFor(`subnet.env on ${h.name}`, () => readEnvFile(subnetFileOf(h)), 5_000);
    this.env.set(h.name, env);
    return env;
  }

  /** SIGTERM to a host's flanneld and waits (10 s) for it to exit; nothing when none runs. */
  async stopFlanneld(h: Host): Promise<void> {
    const p = this.flanneld.get(h.name);
    if (!p?.running) return;
    p.kill('SIGTERM');
    await p.wait(10_000);
  }

  /** Adds a pod on a host's FLANNEL_SUBNET, with its FLANNEL_MTU unless `mtu` says otherwise. */
  async addPod(h: Host, name = 'p1', o: { mtu?: number | 'kernel' } = {}): Promise<Pod> {
    const env = this.env.get(h.name) ?? (await readEnvFile(subnetFileOf(h)));
    if (!env?.FLANNEL_SUBNET) throw new RangeError(`no subnet.env on host ${h.name}`);
    const mtu = o.mtu === 'kernel' ? undefined : (o.mtu ?? Number(env.FLANNEL_MTU));
    const pod = await h.addPod(name, { cidr: env.FLANNEL_SUBNET, ...(mtu !== undefined && { mtu }) });
    this.pods.set(name === 'p1' ? h.name : `${h.name}/${name}`, pod);
    return pod;
  }

  /** Stops etcd, then ends every process and namespace of the lab. Never throws. */
  async destroy(): Promise<void> {
    await this.etcd.destroy().catch(() => undefined);
    await this.lab.destroy();
  }
}
