// Docker in a lab: one dockerd (with its own containerd) per lab host, configured from flanneld's
// Docker options file, plus a registry-free busybox image. Used by the Docker, kubelet and proxy tests.
//
//   <host.dir>/dk/        one host's Docker (a short path: unix socket paths are at most 107 bytes)
//     d.sock              dockerd's API (-H unix://…)
//     c.sock              containerd's gRPC (and c.sock.ttrpc)
//     data/ run/          dockerd --data-root / --exec-root (container netns files: run/netns/<id>)
//     ctd/                containerd's root and state
//     daemon.json         dockerd's config file (never /etc/docker/daemon.json; key.json lands here too)
//     cli/                the client's DOCKER_CONFIG (never ~/.docker)
//   cgroup <host.ns>-docker, in every cgroup hierarchy: daemons/ holds dockerd, containerd and the
//                       shims; each container is <id>/ (dockerd --cgroup-parent)
//
// Why containerd is started here and not by dockerd: dockerd 20.10 uses /run/containerd/containerd.sock
// when that socket exists (sharing the machine's containerd), and the containerd it starts itself
// loads the `opt` plugin, which creates /opt/containerd. Our own containerd has a config of ours.
// Why a cgroup: containerd starts each shim in a new process group that outlives containerd, and the
// shim leaves no pidfile; the cgroup is the one place that names every process this Docker started,
// so stop() can end them all by PID even after dockerd or containerd were SIGKILLed.
//
// dockerd and containerd run in the host's network namespace (host.spawn: `nsenter --net`, not
// `ip netns exec`, which would remount /sys and hide the cgroup hierarchies); Docker's iptables rules,
// docker0 and ip_forward are therefore the lab host's. They share the machine's mount namespace:
// dockerd bind-mounts its data-root onto itself and each container's netns under run/netns; stop()
// unmounts whatever is still mounted under <host.dir>/dk. The shim sockets are the one thing outside
// our directories (containerd 1.6 hard-codes /run/containerd/s/<sha256>); a shim removes its own on
// exit and stop() removes those of shims it had to kill.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync, unlinkSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlannelError, errorMessage, silentLogger, type Logger } from '../../common/index.js';
import { LabError, runCommand, type ExecOptions, type ExecResult } from './exec.js';
import { TMP_ROOT, type Host } from './lab.js';
import { pidAlive, trySignal, type Proc } from './proc.js';

/** The test image: busybox-static as the whole root file system, imported (no registry involved). */
export const BUSYBOX_IMAGE = 'flannel-test/busybox:latest';
/** The Docker client; talks to each dockerd over its own socket. */
export const DOCKER_CLI = 'docker';
/** Where containerd 1.6 puts shim sockets whatever its config says. */
const SHIM_SOCKET_DIR = '/run/containerd/s/';
/** dockerd's default --containerd-namespace. */
const CONTAINERD_NAMESPACE = 'moby';
const BUSYBOX = '/bin/busybox';
/** Cgroups this harness creates: `<lab prefix>-<host>-docker`; a default lab prefix encodes the owner's PID. */
const CGROUP_RE = /^fl(\d{1,7})[a-z]{2}-[a-z][a-z0-9]{0,7}-docker$/;
const TMP_DIR_RE = /^\/tmp\/fl(\d{1,7})[a-z]{2}\//;

export class DockerError extends FlannelError {
  readonly code = 'LAB_DOCKER';
}

// ---------------------------------------------------------------- flanneld's Docker options file

export interface DockerNetworkOptions {
  /** The words of DOCKER_NETWORK_OPTIONS, e.g. ['--bip=10.5.72.1/24', '--ip-masq=false', '--mtu=1450']. */
  readonly args: readonly string[];
  readonly bip: string | undefined;
  readonly mtu: number | undefined;
  readonly ipMasq: boolean | undefined;
  /** Every variable of the file (DOCKER_OPT_BIP, …), unquoted. */
  readonly vars: ReadonlyMap<string, string>;
}

/** Parses what `flanneld --docker-opts-file` / `flanneld docker-opts` (mk-docker-opts.sh) writes. */
export function parseDockerOpts(text: string, key = 'DOCKER_NETWORK_OPTIONS'): DockerNetworkOptions {
  const vars = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new DockerError(`docker options: not a NAME=value line: ${JSON.stringify(line)}`);
    const v = m[2]!;
    vars.set(m[1]!, v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v);
  }
  const all = vars.get(key);
  if (all === undefined) throw new DockerError(`docker options: no ${key}`);
  const args = all.split(/\s+/).filter(Boolean);
  const flag = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const mtu = flag('mtu');
  const masq = flag('ip-masq');
  return { args, bip: flag('bip'), mtu: mtu === undefined ? undefined : Number(mtu), ipMasq: masq === undefined ? undefined : masq === 'true', vars };
}

// ---------------------------------------------------------------- dockerd per host

export interface DockerdOptions {
  /** flanneld's Docker options file; its DOCKER_NETWORK_OPTIONS are passed to dockerd (waited for, bounded). */
  readonly optsFile?: string;
  /** Without optsFile: the bridge address (e.g. FLANNEL_SUBNET), MTU and Docker's own masquerading. */
  readonly bip?: string;
  readonly mtu?: number;
  readonly ipMasq?: boolean;
  /** More dockerd flags (they come last, so they can override ours). */
  readonly extraArgs?: readonly string[];
  /** Import BUSYBOX_IMAGE unless present; default true. */
  readonly image?: boolean;
  /** Bound for the options file to appear and for dockerd to answer /_ping; default 30 s each. */
  readonly timeoutMs?: number;
  /** Distinguishes the log files of a restart. */
  readonly tag?: string;
  /**
   * containerd's and dockerd's argv wrapped, e.g. into a mount namespace of the node's own; it must exec
   * (same PID), and put both in the same one (runc, under containerd, opens dockerd's mounts: node-root.ts).
   */
  readonly wrap?: (argv: readonly string[]) => string[];
  readonly log?: Logger;
}

export interface ContainerInfo {
  readonly id: string;
  readonly name: string;
  /** Address on the default bridge (docker0). */
  readonly ip: string;
  /** Main process, in the machine's PID namespace. */
  readonly pid: number;
}

export interface DockerTimings {
  readonly containerdMs: number;
  /** dockerd spawn until /_ping answers. */
  readonly dockerdMs: number;
  /** 0 when the image was already there (a restart). */
  readonly imageMs: number;
}

export interface Dockerd {
  readonly host: Host;
  /** `<host.dir>/dk` */
  readonly dir: string;
  /** The API socket (dockerd -H unix://…). */
  readonly socket: string;
  readonly proc: Proc;
  readonly containerd: Proc;
  /** The cgroup (one name in every hierarchy) holding the daemons and the containers. */
  readonly cgroup: string;
  /** The network flags dockerd was started with (--bip, --mtu, --ip-masq). */
  readonly networkArgs: readonly string[];
  readonly timings: DockerTimings;
  /** `docker -H unix://<socket> args…`; throws a LabError on failure; returns stdout. Default limit 30 s. */
  docker(args: readonly string[], opts?: ExecOptions): Promise<string>;
  /** Like docker() but returns the result whatever the exit code. */
  dockerExec(args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** `docker run -d --name <name> [runArgs] <image> argv…`, then its ID, bridge address and PID. */
  runContainer(name: string, argv: readonly string[], o?: { readonly runArgs?: readonly string[]; readonly image?: string }): Promise<ContainerInfo>;
  inspect(name: string): Promise<ContainerInfo>;
  /** `docker exec <name> argv…`, whatever the exit code (default limit 15 s). */
  execIn(name: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Removes every container, stops dockerd and containerd (SIGTERM, bounded, SIGKILL), kills what is left in the cgroup, unmounts, removes the cgroup. Never throws; idempotent. */
  stop(): Promise<void>;
}

/** Running handles by host namespace: one dockerd per host at a time. */
const running = new Map<string, Dockerd>();
let swept = false;

/**
 * Starts containerd and dockerd in the host's namespace, waits until dockerd answers GET /_ping, and
 * imports the busybox image. On failure everything started is stopped again before the error is thrown.
 */
export async function startDockerd(host: Host, o: DockerdOptions = {}): Promise<Dockerd> {
  if (running.has(host.ns)) throw new DockerError(`dockerd already runs on ${host.name}`);
  const log = (o.log ?? silentLogger).child({ component: 'netns-docker', host: host.name });
  if (!swept) {
    swept = true;
    await sweepStaleDocker(log);
  }
  const timeoutMs = o.timeoutMs ?? 30_000;
  const networkArgs = o.optsFile ? (await waitForOpts(o.optsFile, timeoutMs)).args : explicitNetworkArgs(o);
  const d = new DockerdHandle(host, networkArgs, log, o.tag, o.wrap);
  running.set(host.ns, d);
  try {
    await d.start(o.extraArgs ?? [], timeoutMs, o.image ?? true);
  } catch (e) {
    await d.stop();
    throw e;
  }
  return d;
}

function explicitNetworkArgs(o: DockerdOptions): string[] {
  return [
    ...(o.bip !== undefined ? [`--bip=${o.bip}`] : []),
    ...(o.ipMasq !== undefined ? [`--ip-masq=${o.ipMasq}`] : []),
    ...(o.mtu !== undefined ? [`--mtu=${o.mtu}`] : []),
  ];
}

/** flanneld writes the options file right after subnet.env, so a caller that saw subnet.env may be early. */
async function waitForOpts(file: string, timeoutMs: number): Promise<DockerNetworkOptions> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    try {
      return parseDockerOpts(await readFile(file, 'utf8'));
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new DockerError(`docker options file ${file} not usable after ${timeoutMs} ms: ${errorMessage(last)}`);
}

class DockerdHandle implements Dockerd {
  readonly dir: string;
  readonly socket: string;
  readonly cgroup: string;
  proc!: Proc;
  containerd!: Proc;
  timings: DockerTimings = { containerdMs: 0, dockerdMs: 0, imageMs: 0 };
  private readonly ctdSocket: string;
  private readonly ctdState: string;
  private stopping: Promise<void> | undefined;
  private readonly onExit = (): void => this.stopSync();

  constructor(
    readonly host: Host,
    readonly networkArgs: readonly string[],
    private readonly log: Logger,
    private readonly tag: string | undefined,
    private readonly wrap: (argv: readonly string[]) => string[] = (a) => [...a],
  ) {
    this.dir = path.join(host.dir, 'dk');
    this.socket = path.join(this.dir, 'd.sock');
    this.ctdSocket = path.join(this.dir, 'c.sock');
    this.ctdState = path.join(this.dir, 'ctd', 'state');
    this.cgroup = `${host.ns}-docker`;
    if (Buffer.byteLength(`${this.ctdSocket}.ttrpc`) > 100) throw new DockerError(`socket path too long for a unix socket: ${this.ctdSocket}`);
  }

  async start(extraArgs: readonly string[], timeoutMs: number, image: boolean): Promise<void> {
    // Before anything is spawned: the exit hook must run before the lab's, which removes the dir.
    process.prependListener('exit', this.onExit);
    const sfx = this.tag ? `-${this.tag}` : '';
    for (const sub of ['data', 'run', 'ctd/root', 'ctd/state', 'cli']) await mkdir(path.join(this.dir, sub), { recursive: true });
    await writeFile(path.join(this.dir, 'containerd.toml'), containerdConfig(this.dir, this.ctdSocket));
    // deprecated-key-path: else dockerd 20.10 creates /etc/docker/key.json. It has no command-line flag.
    await writeFile(path.join(this.dir, 'daemon.json'), `${JSON.stringify({ 'deprecated-key-path': path.join(this.dir, 'key.json') })}\n`);
    const procsFile = await makeDaemonCgroup(this.cgroup);
    // sh joins the cgroup, then execs (same PID), so everything the daemon forks is in it from the start.
    const inCgroup = (argv: readonly string[]): string[] => this.wrap(['sh', '-c', 'echo $$ > "$0" && exec "$@"', procsFile, ...argv]);

    let t0 = Date.now();
    await rm(this.ctdSocket, { force: true });
    this.containerd = this.host.spawn(inCgroup(['containerd', '--config', path.join(this.dir, 'containerd.toml')]), { logFile: path.join(this.dir, `containerd${sfx}.log`) });
    await waitUntil(`containerd socket on ${this.host.name}`, () => existsSync(this.ctdSocket), 10_000, this.containerd);
    this.timings = { ...this.timings, containerdMs: Date.now() - t0 };

    t0 = Date.now();
    await rm(path.join(this.dir, 'dockerd.pid'), { force: true }); // a SIGKILLed predecessor's
    this.proc = this.host.spawn(
      inCgroup([
        'dockerd',
        `--containerd=${this.ctdSocket}`,
        `--data-root=${path.join(this.dir, 'data')}`,
        `--exec-root=${path.join(this.dir, 'run')}`,
        `--pidfile=${path.join(this.dir, 'dockerd.pid')}`,
        `--host=unix://${this.socket}`,
        `--config-file=${path.join(this.dir, 'daemon.json')}`,
        '--storage-driver=vfs',
        `--cgroup-parent=/${this.cgroup}`,
        '--userland-proxy=false',
        '--log-level=warn',
        // Containers are removed before dockerd is stopped; this only bounds a shutdown that was not.
        '--shutdown-timeout=3',
        ...this.networkArgs,
        ...extraArgs,
      ]),
      { logFile: path.join(this.dir, `dockerd${sfx}.log`) },
    );
    await waitUntil(`dockerd /_ping on ${this.host.name}`, () => pingDockerd(this.socket), timeoutMs, this.proc);
    this.timings = { ...this.timings, dockerdMs: Date.now() - t0 };
    this.log.info({ pid: this.proc.pid, containerd: this.containerd.pid, args: this.networkArgs, ms: this.timings.dockerdMs }, 'dockerd ready');

    if (image) {
      t0 = Date.now();
      const present = await this.dockerExec(['image', 'inspect', '--format', '{{.Id}}', BUSYBOX_IMAGE]);
      if (present.code !== 0) {
        const tar = await busyboxRootfsTar(path.dirname(this.host.dir));
        await this.docker(['import', '--change', 'CMD ["/bin/sh"]', tar, BUSYBOX_IMAGE], { timeoutMs: 60_000 });
        this.timings = { ...this.timings, imageMs: Date.now() - t0 };
      }
    }
  }

  dockerExec(args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    // The client only needs the socket; it runs in the host's namespace all the same. Its own config
    // dir keeps it away from ~/.docker, and -H wins over DOCKER_HOST / DOCKER_CONTEXT.
    return this.host.exec([DOCKER_CLI, '-H', `unix://${this.socket}`, ...args], {
      timeoutMs: 30_000,
      ...opts,
      env: { DOCKER_CONFIG: path.join(this.dir, 'cli'), DOCKER_CLI_HINTS: 'false', ...opts.env },
    });
  }

  async docker(args: readonly string[], opts?: ExecOptions): Promise<string> {
    const r = await this.dockerExec(args, opts);
    if (r.code !== 0 || r.timedOut) throw new LabError(`docker on ${this.host.name}`, [DOCKER_CLI, ...args], r);
    return r.stdout;
  }

  async runContainer(name: string, argv: readonly string[], o: { readonly runArgs?: readonly string[]; readonly image?: string } = {}): Promise<ContainerInfo> {
    await this.docker(['run', '-d', '--name', name, ...(o.runArgs ?? []), o.image ?? BUSYBOX_IMAGE, ...argv]);
    return this.inspect(name);
  }

  async inspect(name: string): Promise<ContainerInfo> {
    const out = await this.docker(['inspect', '--format', '{{.Id}} {{.NetworkSettings.IPAddress}} {{.State.Pid}}', name]);
    const [id = '', ip = '', pid = '0'] = out.trim().split(/\s+/);
    return { id, name, ip, pid: Number(pid) };
  }

  execIn(name: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? 15_000;
    return this.dockerExec(['exec', name, ...argv], { ...opts, timeoutMs });
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopAsync();
    return this.stopping;
  }

  private async stopAsync(): Promise<void> {
    const warn = (what: string, e: unknown): void => this.log.warn({ err: errorMessage(e) }, `docker cleanup: ${what} failed`);
    try {
      // Containers first: with none left, dockerd's shutdown does not wait on stop timeouts.
      if (this.proc?.running && (await pingDockerd(this.socket))) {
        const ids = (await this.dockerExec(['ps', '-aq'], { timeoutMs: 10_000 })).stdout.split('\n').filter(Boolean);
        if (ids.length) await this.dockerExec(['rm', '-f', '-v', ...ids], { timeoutMs: 20_000 });
      }
    } catch (e) {
      warn('removing containers', e);
    }
    for (const [p, grace] of [[this.proc, 10_000], [this.containerd, 5_000]] as const) {
      try {
        if (p?.running) {
          const exit = await p.stop(grace);
          if (!exit) this.log.warn({ pid: p.pid }, 'docker cleanup: daemon did not exit');
        }
      } catch (e) {
        warn('stopping a daemon', e);
      }
    }
    try {
      const killed = await killCgroupTree(this.cgroup);
      if (killed.length) this.log.warn({ pids: killed }, 'docker cleanup: killed processes left in the cgroup');
    } catch (e) {
      warn('killing the cgroup', e);
    }
    try {
      removeShimSocketsSync([...shimSocketsSync(this.ctdState), ...shimSocketsOfCgroupSync(this.cgroup, this.ctdSocket)]);
    } catch (e) {
      warn('removing shim sockets', e);
    }
    try {
      const left = await unmountUnder(this.dir);
      if (left.length) this.log.warn({ mounts: left }, 'docker cleanup: mounts left');
    } catch (e) {
      warn('unmounting', e);
    }
    try {
      await removeCgroupTree(this.cgroup);
    } catch (e) {
      warn('removing the cgroup', e);
    }
    process.off('exit', this.onExit);
    if (running.get(this.host.ns) === this) running.delete(this.host.ns);
  }

  /** Last resort from process 'exit' (synchronous): SIGKILL the cgroup, remove shim sockets, unmount, remove the cgroup. */
  private stopSync(): void {
    for (const round of [0, 1, 2]) {
      const pids = cgroupPidsSync(this.cgroup);
      for (const pid of pids) trySignal(pid, 'SIGKILL');
      if (pids.length === 0 || round === 2) break;
      spawnSync('sleep', ['0.05']);
    }
    removeShimSocketsSync([...shimSocketsSync(this.ctdState), ...shimSocketsOfCgroupSync(this.cgroup, this.ctdSocket)]);
    for (const m of mountsUnderSync(this.dir)) spawnSync('umount', ['-l', m], { timeout: 2000 });
    for (const dir of cgroupDirsSync(this.cgroup)) {
      try {
        rmdirSync(dir);
      } catch {
        // a zombie may still hold it; the next run's sweep removes it
      }
    }
  }
}

/** containerd of ours: own root, state and sockets; no CRI, no /opt/containerd, no snapshotters that probe. */
function containerdConfig(dir: string, socket: string): string {
  const q = JSON.stringify;
  return [
    'version = 2',
    `root = ${q(path.join(dir, 'ctd', 'root'))}`,
    `state = ${q(path.join(dir, 'ctd', 'state'))}`,
    'disabled_plugins = [',
    '  "io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.internal.v1.tracing",',
    '  "io.containerd.tracing.processor.v1.otlp", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",',
    '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",',
    ']',
    '[grpc]',
    `  address = ${q(socket)}`,
    '[debug]',
    '  address = ""',
    '  level = "warn"',
    '[metrics]',
    '  address = ""',
    '[plugins]',
    // The v1 runtime cannot be disabled (the tasks service needs it), but its root can be ours.
    '  [plugins."io.containerd.runtime.v1.linux"]',
    `    runtime_root = ${q(path.join(dir, 'ctd', 'runc-v1'))}`,
    '',
  ].join('\n');
}

/** GET /_ping over the unix socket, 1 s at most. */
function pingDockerd(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function waitUntil(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number, proc: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
    if (await probe()) return;
    if (!proc.running) break;
    await sleep(50);
  }
  if (await probe()) return;
  const why = proc.running ? `timed out after ${timeoutMs} ms` : `exited ${JSON.stringify(proc.exitInfo)}`;
  throw new DockerError(`${what}: ${why}; log ${proc.logFile}: ${proc.stderr().slice(-1500)}`);
}

// ---------------------------------------------------------------- cgroups

interface CgroupMount {
  readonly dir: string;
  readonly v2: boolean;
  readonly pids: boolean;
}

/** Every cgroup hierarchy mounted on this machine (v1 controllers, name=systemd, the unified v2). */
function cgroupMountsSync(): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const [fstype, , superOpts = ''] = right.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mnt = unescapeMount(left.split(' ')[4] ?? '');
    if (mnt) out.push({ dir: mnt, v2: fstype === 'cgroup2', pids: superOpts.split(',').includes('pids') });
  }
  return out;
}

/**
 * Creates `<cgroup>/daemons` and returns its cgroup.procs: on cgroup v1 in the pids hierarchy (one
 * hierarchy is enough to list the processes; docker creates each container's cgroup in all of them),
 * on a pure v2 machine in the unified tree.
 */
async function makeDaemonCgroup(cgroup: string): Promise<string> {
  const mounts = cgroupMountsSync();
  const pure2 = mounts.find((m) => m.v2 && m.dir === '/sys/fs/cgroup');
  const base = pure2 ?? mounts.find((m) => m.pids) ?? mounts.find((m) => !m.v2) ?? mounts[0];
  if (!base) throw new DockerError('no cgroup hierarchy is mounted');
  const dir = path.join(base.dir, cgroup, 'daemons');
  await mkdir(dir, { recursive: true });
  return path.join(dir, 'cgroup.procs');
}

/** `<mount>/<cgroup>` and every directory below it, deepest first, in every hierarchy. */
function cgroupDirsSync(cgroup: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 8) return;
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(path.join(dir, e), depth + 1);
    out.push(dir);
  };
  for (const m of cgroupMountsSync()) {
    const top = path.join(m.dir, cgroup);
    if (existsSync(top)) walk(top, 0);
  }
  return out;
}

function cgroupPidsSync(cgroup: string): number[] {
  const pids = new Set<number>();
  for (const dir of cgroupDirsSync(cgroup)) {
    try {
      for (const l of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
        const n = Number(l.trim());
        if (Number.isInteger(n) && n > 1 && n !== process.pid) pids.add(n);
      }
    } catch {
      // removed meanwhile
    }
  }
  return [...pids];
}

/** SIGKILLs every process in the cgroup tree until it is empty (bounded); returns the PIDs it found. */
async function killCgroupTree(cgroup: string): Promise<number[]> {
  const seen = new Set<number>();
  for (let round = 0; round < 60; round++) {
    const pids = cgroupPidsSync(cgroup);
    if (pids.length === 0) break;
    for (const pid of pids) {
      seen.add(pid);
      trySignal(pid, 'SIGKILL');
    }
    await sleep(50);
  }
  return [...seen];
}

/** rmdir, deepest first, in every hierarchy; retried a little (a just-killed task may still be exiting). */
async function removeCgroupTree(cgroup: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const dirs = cgroupDirsSync(cgroup);
    if (dirs.length === 0) return;
    for (const d of dirs) await rmdir(d).catch(() => undefined);
    await sleep(50);
  }
  throw new DockerError(`cgroup ${cgroup} could not be removed: ${cgroupDirsSync(cgroup).join(', ')}`);
}

// ---------------------------------------------------------------- mounts and shim sockets

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below dir, deepest first. */
function mountsUnderSync(dir: string): string[] {
  const root = dir.replace(/\/+$/, '');
  const pts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => unescapeMount(l.split(' ')[4] ?? ''))
    .filter((m) => m === root || m.startsWith(`${root}/`));
  return [...new Set(pts)].sort((x, y) => y.split('/').length - x.split('/').length || y.length - x.length);
}

/** Unmounts everything at or below dir (plain umount, then lazy); returns what is still mounted. */
async function unmountUnder(dir: string): Promise<string[]> {
  for (let round = 0; round < 5; round++) {
    const pts = mountsUnderSync(dir);
    if (pts.length === 0) return [];
    for (const m of pts) {
      const r = await runCommand(['umount', m], { timeoutMs: 5000 });
      if (r.code !== 0) await runCommand(['umount', '-l', m], { timeoutMs: 5000 });
    }
  }
  return mountsUnderSync(dir);
}

/**
 * The shim sockets named by the task bundles (`<state>/io.containerd.runtime.v2.task/<ns>/<id>/address`)
 * that still exist: a shim removes its socket when it exits, a killed one leaves it behind.
 */
function shimSocketsSync(ctdState: string): string[] {
  const tasks = path.join(ctdState, 'io.containerd.runtime.v2.task');
  const ls = (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const out: string[] = [];
  for (const ns of ls(tasks)) {
    for (const id of ls(path.join(tasks, ns))) {
      let addr = '';
      try {
        addr = readFileSync(path.join(tasks, ns, id, 'address'), 'utf8').trim().replace(/^unix:\/\//, '');
      } catch {
        continue;
      }
      if (addr.startsWith(SHIM_SOCKET_DIR) && /^[0-9a-f]{64}$/.test(path.basename(addr)) && existsSync(addr)) out.push(addr);
    }
  }
  return out;
}

/**
 * The same sockets computed from the containers' cgroups (`<cgroup>/<id>`), for when the bundles are
 * gone: containerd 1.6 names a shim's socket sha256(<containerd address>/<namespace>/<id>).
 */
function shimSocketsOfCgroupSync(cgroup: string, ctdSocket: string): string[] {
  const ids = new Set(cgroupDirsSync(cgroup).map((d) => path.basename(d)).filter((n) => /^[0-9a-f]{64}$/.test(n)));
  return [...ids]
    .map((id) => path.join(SHIM_SOCKET_DIR, createHash('sha256').update(path.join(ctdSocket, CONTAINERD_NAMESPACE, id)).digest('hex')))
    .filter((s) => existsSync(s));
}

function removeShimSocketsSync(sockets: readonly string[]): void {
  for (const sock of new Set(sockets)) {
    try {
      unlinkSync(sock);
    } catch {
      // already gone
    }
  }
}

/**
 * Leftovers of crashed runs whose lab prefix names a PID that is gone: processes in (and then) cgroups
 * named `fl<pid><xx>-<host>-docker`, and mounts under `/tmp/fl<pid><xx>/`. Touches nothing else.
 */
export async function sweepStaleDocker(log: Logger = silentLogger): Promise<void> {
  const stale = new Set<string>();
  for (const m of cgroupMountsSync()) {
    for (const name of await readdir(m.dir).catch(() => [] as string[])) {
      const pid = CGROUP_RE.exec(name)?.[1];
      if (pid !== undefined && Number(pid) !== process.pid && !pidAlive(Number(pid))) stale.add(name);
    }
  }
  for (const cg of stale) {
    await killCgroupTree(cg);
    const [, prefix, host] = /^(.+)-([^-]+)-docker$/.exec(cg) ?? [];
    if (prefix && host) removeShimSocketsSync(shimSocketsOfCgroupSync(cg, path.join(TMP_ROOT, prefix, host, 'dk', 'c.sock')));
    await removeCgroupTree(cg).catch((e: unknown) => log.warn({ cgroup: cg, err: errorMessage(e) }, 'docker sweep: cgroup left'));
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => unescapeMount(l.split(' ')[4] ?? ''))
    .filter((m) => {
      const pid = TMP_DIR_RE.exec(m)?.[1];
      return pid !== undefined && Number(pid) !== process.pid && !pidAlive(Number(pid));
    });
  for (const m of mounts.sort((x, y) => y.length - x.length)) await runCommand(['umount', '-l', m], { timeoutMs: 5000 });
  // The lab's own sweep could not finish removing these dirs while they held mounts.
  const dirs = new Set(mounts.map((m) => m.split('/').slice(0, 3).join('/')));
  for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => undefined);
  if (stale.size || mounts.length) log.warn({ cgroups: [...stale], mounts }, 'docker sweep removed stale leftovers');
}

// ---------------------------------------------------------------- the busybox image

/** A CGI script printing the client's address as busybox httpd passes it (REMOTE_ADDR). */
const REMOTE_CGI = '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n';

const tarballs = new Map<string, Promise<string>>();

/**
 * A root file system tarball: /bin/busybox (static) with a symlink per applet, a minimal /etc, and
 * /www for `httpd -h /www` whose cgi-bin/remote answers the client's address (REMOTE_ADDR), so a
 * test can see the source address a server got. Built once per lab directory.
 */
export function busyboxRootfsTar(cacheDir: string): Promise<string> {
  const file = path.join(cacheDir, 'busybox-rootfs.tar');
  let p = tarballs.get(file);
  if (!p) {
    p = buildRootfsTar(file);
    tarballs.set(file, p);
    p.catch(() => tarballs.delete(file));
  }
  return p;
}

async function buildRootfsTar(file: string): Promise<string> {
  if (existsSync(file)) return file;
  const stage = `${file}.d`;
  await rm(stage, { recursive: true, force: true });
  try {
    for (const d of ['bin', 'etc', 'root', 'tmp', 'proc', 'sys', 'dev', 'www/cgi-bin']) await mkdir(path.join(stage, d), { recursive: true });
    await chmod(path.join(stage, 'tmp'), 0o1777);
    await copyFile(BUSYBOX, path.join(stage, 'bin', 'busybox'));
    await chmod(path.join(stage, 'bin', 'busybox'), 0o755);
    const list = await runCommand([BUSYBOX, '--list']);
    if (list.code !== 0) throw new LabError('busybox --list', [BUSYBOX, '--list'], list);
    for (const applet of new Set(list.stdout.split('\n').map((s) => s.trim()))) {
      if (/^[A-Za-z0-9_.[+-]+$/.test(applet) && applet !== 'busybox') await symlink('busybox', path.join(stage, 'bin', applet));
    }
    await writeFile(path.join(stage, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
    await writeFile(path.join(stage, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    await writeFile(path.join(stage, 'www', 'index.html'), 'flannel-test\n');
    await writeFile(path.join(stage, 'www', 'cgi-bin', 'remote'), REMOTE_CGI, { mode: 0o755 });
    const tmp = `${file}.tmp`;
    const r = await runCommand(['tar', '--numeric-owner', '--owner=0', '--group=0', '-C', stage, '-cf', tmp, '.'], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new LabError('tar rootfs', ['tar', '-cf', tmp], r);
    await rename(tmp, file);
    return file;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** The IPv4 address in what busybox httpd's REMOTE_ADDR gives (`[::ffff:10.5.72.2]` on a v6 socket). */
export function remoteAddr(body: string): string | undefined {
  return /(\d{1,3}(?:\.\d{1,3}){3})/.exec(body)?.[1];
}

/** Directory with cgi-bin/remote for a `busybox httpd -h <dir>` run on a lab host itself. */
export async function writeRemoteAddrSite(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'cgi-bin'), { recursive: true });
  await writeFile(path.join(dir, 'cgi-bin', 'remote'), REMOTE_CGI, { mode: 0o755 });
  return dir;
}
