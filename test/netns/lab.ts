// A lab of "hosts" built from network namespaces on one L2 segment, for tests that touch the kernel.
//
//   <prefix>-sw : bridge br0 = the underlay segment, with address .1 (every host's default gateway)
//   <prefix>-a  : lo, eth0 = .11/len (veth; peer ve-a on br0), default via .1
//   <prefix>-b  : lo, eth0 = .12/len ...
//   <prefix>-a-p1 : a pod: eth0 on host a's pod bridge (cni0), default via the bridge's gateway address
//
// Nothing is created in the caller's network namespace: every link is created inside (or directly
// into) a lab namespace, and every command runs in one via `nsenter --net=<path>` (not `ip netns exec`,
// which remounts /sys). destroy() ends every process the lab started (by PID / process group), deletes
// every namespace it created (by exact name) and removes its temp dir. See names.ts for the scheme.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlannelError, errorMessage, silentLogger, type Logger } from '../../common/index.js';
import { formatIp4, nthHost, offsetIn, parseCidr4, parseIp4, type Cidr4 } from './addr.js';
import { LabError, labEnv, runChecked, runCommand, type ExecOptions, type ExecResult } from './exec.js';
import {
  DEFAULT_PREFIX_RE,
  STALE_NS_RE,
  SWITCH,
  checkHostName,
  checkIfName,
  checkPodName,
  checkPrefix,
  defaultPrefix,
  podPortName,
  switchPortName,
} from './names.js';
import { Proc, pidAlive, trySignal, type SpawnOptions } from './proc.js';
import type { Endpoint } from './types.js';

export { LabError, runCommand, type ExecOptions, type ExecResult } from './exec.js';
export { Proc, pidAlive, type ExitInfo, type SpawnOptions } from './proc.js';
export type { Endpoint } from './types.js';
export {
  Capture,
  PING,
  capture,
  ping,
  startTcpEcho,
  tcpCheck,
  tcpProbe,
  type CaptureOptions,
  type PingOptions,
  type PingResult,
  type TcpEcho,
  type TcpEchoOptions,
  type TcpProbeResult,
} from './traffic.js';

export const NETNS_DIR = '/var/run/netns';
export const TMP_ROOT = '/tmp';
/** Host N (1-based) gets underlay address network + HOST_OFFSET + N: .11, .12, ... */
export const HOST_OFFSET = 10;
export const UNDERLAY_BRIDGE = 'br0';

export interface LabOptions {
  /** Default: `fl<pid><2 random letters>`. A custom prefix is never swept by sweepStale(). */
  prefix?: string;
  hosts: readonly string[];
  /** Default 192.0.2.0/24 (TEST-NET-1). */
  underlay?: string;
  /** MTU of the underlay links (eth0, switch ports, br0); default 1500. */
  mtu?: number;
  log?: Logger;
  /** Run Lab.sweepStale() first; default true. */
  sweep?: boolean;
  /** SIGTERM grace for tracked processes on destroy; default 3000 ms. */
  graceMs?: number;
}

export interface PodOptions {
  /** Pod bridge in the host namespace, created when missing; default `cni0`. */
  bridge?: string;
  /** Gateway address and prefix length of the pod network, e.g. FLANNEL_SUBNET `10.5.3.1/24`. */
  cidr: string;
  /** Pod address; default the first free address after the gateway. */
  ip?: string;
  /** MTU of the pod's veth pair (e.g. FLANNEL_MTU); default the kernel's 1500. */
  mtu?: number;
}

export type LabState = 'creating' | 'ready' | 'destroying' | 'destroyed';

/** An operation the lab's current state does not allow (e.g. spawn after destroy). */
export class LabStateError extends FlannelError {
  readonly code = 'LAB_STATE';
  constructor(
    readonly prefix: string,
    readonly op: string,
    readonly state: LabState,
  ) {
    super(`lab ${prefix}: ${op} while ${state}`);
  }
}

/** What endpoints need from their lab. */
interface LabCore {
  readonly log: Logger;
  assertLive(op: string): void;
  track(proc: Proc): void;
  logName(argv0: string): string;
  addNamespace(ns: string): Promise<void>;
}

class NsEndpoint implements Endpoint {
  readonly nsPath: string;
  constructor(
    protected readonly core: LabCore,
    readonly name: string,
    readonly ns: string,
    readonly ip: string,
    readonly dir: string,
  ) {
    this.nsPath = path.join(NETNS_DIR, ns);
  }

  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return runCommand(this.wrap(argv), opts);
  }

  async run(argv: readonly string[], opts?: ExecOptions): Promise<string> {
    const r = await this.exec(argv, opts);
    if (r.code !== 0 || r.timedOut) throw new LabError(`run in ${this.name}`, argv, r);
    return r.stdout;
  }

  spawn(argv: readonly string[], opts: SpawnOptions = {}): Proc {
    this.core.assertLive('spawn');
    const logFile = path.resolve(this.dir, opts.logFile ?? this.core.logName(argv[0] ?? 'proc'));
    const proc = new Proc(this.wrap(argv), logFile, opts);
    this.core.track(proc);
    return proc;
  }

  /** `ip -n <ns> args...`; throws a LabError on failure. */
  ipCmd(args: readonly string[]): Promise<string> {
    return runChecked(`ip in ${this.name}`, ['ip', '-n', this.ns, ...args]);
  }

  /** Several `ip` commands in one process (`ip -n <ns> -batch -`), stopping at the first failure. */
  protected ipBatch(lines: readonly string[]): Promise<string> {
    return runChecked(`ip batch in ${this.name}`, ['ip', '-n', this.ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
  }

  protected async linkExists(dev: string): Promise<boolean> {
    const r = await runCommand(['ip', '-n', this.ns, 'link', 'show', 'dev', dev]);
    return r.code === 0;
  }

  private wrap(argv: readonly string[]): string[] {
    if (argv.length === 0) throw new RangeError('empty argv');
    return ['nsenter', `--net=${this.nsPath}`, '--', ...argv];
  }
}

/** The switch namespace: the underlay bridge br0 with the segment's .1 address. */
export class Switch extends NsEndpoint {
  readonly bridge = UNDERLAY_BRIDGE;
}

export class Host extends NsEndpoint {
  /** The underlay interface, also the default route's interface (flanneld's auto-detected iface). */
  readonly iface = 'eth0';
  /** The peer of eth0, a port of br0 in the switch namespace. */
  readonly switchPort: string;
  private readonly podMap = new Map<string, Pod>();
  private chain: Promise<unknown> = Promise.resolve();
  private forwarding = false;

  constructor(
    core: LabCore,
    name: string,
    ns: string,
    ip: string,
    dir: string,
    /** 1-based position in the lab. */
    readonly index: number,
    /** Underlay prefix length. */
    readonly prefixLen: number,
    /** The default gateway: the switch's address. */
    readonly gateway: string,
    private readonly prefix: string,
  ) {
    super(core, name, ns, ip, dir);
    this.switchPort = switchPortName(name);
  }

  get pods(): readonly Pod[] {
    return [...this.podMap.values()];
  }

  pod(name: string): Pod {
    const p = this.podMap.get(name);
    if (!p) throw new RangeError(`host ${this.name} has no pod ${name}`);
    return p;
  }

  /**
   * Adds a pod: namespace `<prefix>-<host>-<pod>` whose eth0 is a veth on the host's pod bridge
   * (created with the gateway address when missing), default route via the gateway; turns on
   * net.ipv4.ip_forward in the host namespace. Calls on one host are serialised.
   */
  addPod(name: string, opts: PodOptions): Promise<Pod> {
    this.core.assertLive('addPod');
    checkPodName(name);
    if (this.podMap.has(name)) return Promise.reject(new RangeError(`pod ${name} already exists on ${this.name}`));
    const next = this.chain.then(() => this.makePod(name, opts));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async makePod(name: string, opts: PodOptions): Promise<Pod> {
    if (this.podMap.has(name)) throw new RangeError(`pod ${name} already exists on ${this.name}`);
    const bridge = opts.bridge ?? 'cni0';
    checkIfName(bridge);
    const net = parseCidr4(opts.cidr);
    const gateway = formatIp4(net.addr);
    const ip = opts.ip ?? this.freePodAddress(bridge, net);
    const off = offsetIn(net, parseIp4(ip));
    if (off <= 0 || ip === gateway) throw new RangeError(`pod address ${ip} is not a host address in ${opts.cidr} (or is the gateway)`);
    if (this.pods.some((p) => p.ip === ip)) throw new RangeError(`pod address ${ip} is already used on ${this.name}`);

    if (await this.linkExists(bridge)) {
      await this.ipBatch([`addr replace ${opts.cidr} dev ${bridge}`, `link set ${bridge} up`]);
    } else {
      await this.ipBatch([`link add ${bridge} type bridge`, `addr add ${opts.cidr} dev ${bridge}`, `link set ${bridge} up`]);
    }
    if (!this.forwarding) {
      await this.run(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      this.forwarding = true;
    }

    const ns = `${this.prefix}-${this.name}-${name}`;
    const dir = path.join(this.dir, name);
    await mkdir(dir, { recursive: true });
    await this.core.addNamespace(ns);
    const port = podPortName(name);
    const mtu = opts.mtu === undefined ? [] : ['mtu', String(opts.mtu)];
    await this.ipCmd(['link', 'add', port, ...mtu, 'type', 'veth', 'peer', 'name', 'eth0', ...mtu, 'netns', ns]);
    await this.ipCmd(['link', 'set', port, 'master', bridge, 'up']);
    const pod = new Pod(this.core, `${this.name}/${name}`, ns, ip, dir, this, name, bridge, gateway, net.len, port);
    await pod.configure();
    this.podMap.set(name, pod);
    this.core.log.debug({ host: this.name, pod: name, ns, ip, bridge }, 'lab pod added');
    return pod;
  }

  private freePodAddress(bridge: string, net: Cidr4): string {
    const used = new Set(this.pods.filter((p) => p.bridge === bridge).map((p) => offsetIn(net, parseIp4(p.ip))));
    used.add(offsetIn(net, net.addr));
    const size = 2 ** (32 - net.len);
    for (let off = 1; off < size - 1; off++) if (!used.has(off)) return nthHost(net, off);
    throw new RangeError(`no free pod address in ${formatIp4(net.addr)}/${net.len}`);
  }
}

export class Pod extends NsEndpoint {
  readonly iface = 'eth0';
  constructor(
    core: LabCore,
    name: string,
    ns: string,
    ip: string,
    dir: string,
    readonly host: Host,
    /** The pod's own name (without the host). */
    readonly podName: string,
    readonly bridge: string,
    readonly gateway: string,
    readonly prefixLen: number,
    /** The host-side veth, a port of the bridge. */
    readonly hostVeth: string,
  ) {
    super(core, name, ns, ip, dir);
  }

  /** @internal */
  async configure(): Promise<void> {
    await this.ipBatch([
      'link set lo up',
      'link set eth0 up',
      `addr add ${this.ip}/${this.prefixLen} dev eth0`,
      `route add default via ${this.gateway} dev eth0`,
    ]);
  }
}

export class Lab implements LabCore {
  readonly switch: Switch;
  readonly log: Logger;
  private state: LabState = 'creating';
  private readonly nsList: string[] = [];
  private readonly procs = new Set<Proc>();
  private readonly hostMap = new Map<string, Host>();
  private nextIndex = 1;
  private logSeq = 0;
  private destroying: Promise<void> | undefined;
  private readonly onExit = (): void => this.destroySync();

  private constructor(
    readonly prefix: string,
    /** `/tmp/<prefix>` */
    readonly dir: string,
    readonly underlay: Cidr4,
    readonly mtu: number,
    private readonly graceMs: number,
    log: Logger,
  ) {
    this.log = log.child({ component: 'netns-lab', prefix });
    this.switch = new Switch(this, SWITCH, `${prefix}-${SWITCH}`, nthHost(underlay, 1), path.join(dir, SWITCH));
  }

  /** Builds the switch and the hosts. On failure everything created so far is removed again. */
  static async create(opts: LabOptions): Promise<Lab> {
    const log = opts.log ?? silentLogger;
    const underlay = parseCidr4(opts.underlay ?? '192.0.2.0/24');
    const mtu = opts.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw new RangeError(`lab mtu ${mtu} out of range`);
    for (const h of opts.hosts) checkHostName(h);
    if (new Set(opts.hosts).size !== opts.hosts.length) throw new RangeError(`duplicate host names: ${opts.hosts.join(',')}`);
    if (opts.prefix !== undefined) checkPrefix(opts.prefix);
    nthHost(underlay, HOST_OFFSET + Math.max(1, opts.hosts.length)); // throws if the hosts do not fit
    if (opts.sweep ?? true) await Lab.sweepStale({ log });
    const prefix = await claimPrefix(opts.prefix);
    const lab = new Lab(prefix, path.join(TMP_ROOT, prefix), underlay, mtu, opts.graceMs ?? 3000, log);
    process.on('exit', lab.onExit);
    try {
      await lab.build(opts.hosts);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    lab.state = 'ready';
    lab.log.info({ hosts: opts.hosts, underlay: opts.underlay ?? '192.0.2.0/24' }, 'lab ready');
    return lab;
  }

  /**
   * Removes leftovers of crashed runs: namespaces named `fl<pid><xx>-...` and temp dirs `/tmp/fl<pid><xx>`
   * whose PID is not alive (after killing processes still inside such a namespace). Touches nothing else.
   * Returns the namespace names it removed.
   */
  static async sweepStale(opts: { log?: Logger } = {}): Promise<string[]> {
    const log = (opts.log ?? silentLogger).child({ component: 'netns-lab' });
    const removed: string[] = [];
    const names = await readdir(NETNS_DIR).catch(() => [] as string[]);
    for (const name of names) {
      const m = STALE_NS_RE.exec(name);
      if (!m || isLive(Number(m[1]))) continue;
      await removeNamespace(name, log);
      removed.push(name);
    }
    const dirs = await readdir(TMP_ROOT).catch(() => [] as string[]);
    for (const d of dirs) {
      const m = DEFAULT_PREFIX_RE.exec(d);
      if (!m || isLive(Number(m[1]))) continue;
      const p = path.join(TMP_ROOT, d);
      const st = await lstat(p).catch(() => undefined);
      if (st?.isDirectory()) await rm(p, { recursive: true, force: true }).catch(() => undefined);
    }
    if (removed.length) log.warn({ namespaces: removed }, 'lab removed stale namespaces');
    return removed;
  }

  get hosts(): readonly Host[] {
    return [...this.hostMap.values()];
  }

  /** Every namespace the lab has created (switch, hosts, pods), in creation order. */
  get namespaces(): readonly string[] {
    return [...this.nsList];
  }

  get currentState(): LabState {
    return this.state;
  }

  host(name: string): Host {
    const h = this.hostMap.get(name);
    if (!h) throw new RangeError(`lab ${this.prefix} has no host ${name}`);
    return h;
  }

  /** Adds a host to a running lab (e.g. a third node joining); it gets the next underlay address. */
  async addHost(name: string): Promise<Host> {
    this.assertLive('addHost');
    checkHostName(name);
    if (this.hostMap.has(name)) throw new RangeError(`host ${name} already exists`);
    try {
      return await this.makeHost(name, this.nextIndex++);
    } catch (e) {
      this.hostMap.delete(name); // its namespace, if any, stays on the list for destroy()
      throw e;
    }
  }

  /** Idempotent, never throws: kills tracked processes, deletes the lab's namespaces, removes the temp dir. */
  destroy(): Promise<void> {
    this.destroying ??= this.destroyAsync();
    return this.destroying;
  }

  // ---- LabCore

  assertLive(op: string): void {
    if (this.state !== 'ready' && this.state !== 'creating') throw new LabStateError(this.prefix, op, this.state);
  }

  track(proc: Proc): void {
    this.procs.add(proc);
  }

  logName(argv0: string): string {
    return `${path.basename(argv0)}-${++this.logSeq}.log`;
  }

  async addNamespace(ns: string): Promise<void> {
    this.assertLive('add namespace');
    // Never adopt a namespace someone else made: destroy() deletes every name on the list.
    if (existsSync(path.join(NETNS_DIR, ns))) throw new RangeError(`namespace ${ns} already exists`);
    this.nsList.push(ns); // recorded before creation, so a half-made namespace is still removed
    await runChecked('netns add', ['ip', 'netns', 'add', ns]);
  }

  // ---- internals

  private async build(hosts: readonly string[]): Promise<void> {
    await mkdir(this.switch.dir, { recursive: true });
    await this.addNamespace(this.switch.ns);
    const len = this.underlay.len;
    await this.switch.ipCmd(['link', 'set', 'lo', 'up']);
    await this.switch.ipCmd(['link', 'add', UNDERLAY_BRIDGE, 'mtu', String(this.mtu), 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    await this.switch.ipCmd(['addr', 'add', `${this.switch.ip}/${len}`, 'dev', UNDERLAY_BRIDGE]);
    await this.switch.ipCmd(['link', 'set', UNDERLAY_BRIDGE, 'up']);
    // allSettled: never leave a creation running behind a rejection (destroy must see every name).
    const results = await Promise.allSettled(hosts.map((h) => this.makeHost(h, this.nextIndex++)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async makeHost(name: string, index: number): Promise<Host> {
    const ip = nthHost(this.underlay, HOST_OFFSET + index);
    const ns = `${this.prefix}-${name}`;
    const host = new Host(this, name, ns, ip, path.join(this.dir, name), index, this.underlay.len, this.switch.ip, this.prefix);
    this.hostMap.set(name, host);
    await mkdir(host.dir, { recursive: true });
    await this.addNamespace(ns);
    const mtu = String(this.mtu);
    // The veth is created in the switch namespace with its peer directly in the host namespace.
    await this.switch.ipCmd(['link', 'add', host.switchPort, 'mtu', mtu, 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', mtu, 'netns', ns]);
    await this.switch.ipCmd(['link', 'set', host.switchPort, 'master', UNDERLAY_BRIDGE, 'up']);
    await runChecked(`configure host ${name}`, ['ip', '-n', ns, '-batch', '-'], {
      input: [
        'link set lo up',
        'link set eth0 up',
        `addr add ${ip}/${this.underlay.len} dev eth0`,
        `route add default via ${this.switch.ip} dev eth0`,
        '',
      ].join('\n'),
    });
    this.log.debug({ host: name, ns, ip }, 'lab host added');
    return host;
  }

  private async destroyAsync(): Promise<void> {
    this.state = 'destroying';
    try {
      const live = [...this.procs].filter((p) => p.running);
      for (const p of live) p.killGroup('SIGTERM');
      await Promise.all(live.map((p) => p.wait(this.graceMs)));
      const stubborn = live.filter((p) => p.running);
      for (const p of stubborn) p.killGroup('SIGKILL');
      await Promise.all(stubborn.map((p) => p.wait(2000)));
      if (stubborn.length) this.log.warn({ pids: stubborn.map((p) => p.pid) }, 'lab killed processes after grace');
      for (const p of this.procs) trySignal(-p.pid, 'SIGKILL'); // whatever they forked into their group
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'lab process cleanup failed');
    }
    for (const ns of [...this.nsList].reverse()) await removeNamespace(ns, this.log);
    await rm(this.dir, { recursive: true, force: true }).catch((e: unknown) =>
      this.log.warn({ dir: this.dir, err: errorMessage(e) }, 'lab temp dir removal failed'),
    );
    process.off('exit', this.onExit);
    this.state = 'destroyed';
    this.log.info({ namespaces: this.nsList.length, processes: this.procs.size }, 'lab destroyed');
  }

  /**
   * Hands the lab over to whoever outlives this process (the demo's --keep): the last-resort exit
   * handler no longer destroys it; `destroy()` still works while this process runs.
   */
  detach(): void {
    process.off('exit', this.onExit);
  }

  /** Last resort from process 'exit' (synchronous): SIGKILL, delete namespaces, remove the dir. */
  private destroySync(): void {
    if (this.state === 'destroyed') return;
    for (const p of this.procs) {
      trySignal(-p.pid, 'SIGKILL');
      p.kill('SIGKILL');
    }
    for (const ns of [...this.nsList].reverse()) {
      if (!existsSync(path.join(NETNS_DIR, ns))) continue;
      const pids = spawnSync('ip', ['netns', 'pids', ns], { env: labEnv(), timeout: 2000, encoding: 'utf8' });
      for (const pid of parsePids(pids.stdout ?? '')) trySignal(pid, 'SIGKILL');
      spawnSync('ip', ['netns', 'del', ns], { env: labEnv(), timeout: 2000 });
    }
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // nothing more to do at exit
    }
  }
}

/**
 * Picks the prefix and creates `/tmp/<prefix>`; the exclusive mkdir is the claim, so two labs in one
 * process can never share a prefix.
 */
async function claimPrefix(custom: string | undefined): Promise<string> {
  for (let i = 0; i < 20; i++) {
    const p = custom ?? defaultPrefix();
    const taken = existsSync(path.join(NETNS_DIR, `${p}-${SWITCH}`));
    if (!taken) {
      try {
        await mkdir(path.join(TMP_ROOT, p));
        return p;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    if (custom !== undefined) throw new RangeError(`lab prefix ${custom} is already in use`);
  }
  throw new RangeError('could not pick an unused lab prefix');
}

function isLive(pid: number): boolean {
  return pid === process.pid || pidAlive(pid);
}

function parsePids(text: string): number[] {
  return text
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid);
}

/**
 * Deletes one namespace by exact name, after killing any process still inside it (a namespace with
 * a live process would survive `ip netns del`, together with its links). Never throws.
 */
async function removeNamespace(ns: string, log: Logger): Promise<void> {
  const nsPath = path.join(NETNS_DIR, ns);
  try {
    for (let attempt = 0; attempt < 3 && existsSync(nsPath); attempt++) {
      // Bounded: SIGKILL whatever is still inside, until `ip netns pids` comes back empty.
      for (let round = 0; round < 20; round++) {
        const pids = parsePids((await runCommand(['ip', 'netns', 'pids', ns], { timeoutMs: 3000 })).stdout);
        if (pids.length === 0) break;
        if (round === 0) log.warn({ ns, pids }, 'lab killed processes left in namespace');
        for (const pid of pids) trySignal(pid, 'SIGKILL');
        await sleep(25);
      }
      const r = await runCommand(['ip', 'netns', 'del', ns], { timeoutMs: 5000 });
      if (r.code === 0 || !existsSync(nsPath)) return;
      log.warn({ ns, stderr: r.stderr.trim() }, 'lab netns delete failed');
      await sleep(100);
    }
  } catch (e) {
    log.warn({ ns, err: errorMessage(e) }, 'lab netns removal failed');
  }
}
