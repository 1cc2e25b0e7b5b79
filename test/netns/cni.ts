// Running CNI plugins in a lab: the plugin always runs inside a lab host's namespace (Endpoint.exec,
// i.e. nsenter), never in the caller's, and CNI_NETNS is a pod namespace the lab created and will
// delete (`<prefix>-<host>-<name>`). Also a minimal conflist runner with libcni's semantics (name,
// cniVersion and prevResult injected, capabilities turned into runtimeConfig, DEL in reverse order).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { REPO } from './flannel.js';
import { type ExecOptions, type ExecResult, type Host, type Lab, NETNS_DIR, Proc, type SpawnOptions, runCommand } from './lab.js';
import type { Endpoint } from './types.js';

/** Our plugins (the build's executables). */
export const CNI_DIST = path.join(REPO, 'dist/cni');
/** Debian's containernetworking-plugins. */
export const SYSTEM_CNI = '/usr/lib/cni';
/** Our plugins first, so the real bridge finds our host-local. */
export const CNI_PATH = `${CNI_DIST}:${SYSTEM_CNI}`;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export interface CniCall {
  readonly command: CniCommand;
  readonly containerId?: string;
  /** A pod namespace path; empty on a DEL after the namespace is gone. */
  readonly netns?: string;
  readonly ifName?: string;
  readonly cniPath?: string;
  readonly args?: string;
  readonly conf: unknown;
  readonly timeoutMs?: number;
  /** More environment, e.g. FLANNEL_CNI_SOCKET for the shims. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface CniOutcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed, when it is a JSON object. */
  readonly json: Record<string, unknown> | undefined;
  readonly ms: number;
  readonly timedOut: boolean;
}

function parseObject(s: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs plugin `file` inside `at`'s namespace with the CNI environment and config on stdin. */
export async function runCni(at: Endpoint, file: string, c: CniCall): Promise<CniOutcome> {
  const env: Record<string, string> = {
    CNI_COMMAND: c.command,
    CNI_PATH: c.cniPath ?? CNI_PATH,
    ...(c.containerId !== undefined && { CNI_CONTAINERID: c.containerId }),
    ...(c.netns !== undefined && { CNI_NETNS: c.netns }),
    ...(c.command !== 'VERSION' && { CNI_IFNAME: c.ifName ?? 'eth0' }),
    ...(c.args !== undefined && { CNI_ARGS: c.args }),
    ...c.env,
  };
  const r = await at.exec([file], { env, input: typeof c.conf === 'string' ? c.conf : JSON.stringify(c.conf), timeoutMs: c.timeoutMs ?? 30_000 });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, json: parseObject(r.stdout), ms: r.ms, timedOut: r.timedOut };
}

/** The CNI daemon our plugin shims hand requests to (dist/cni/flannel, host-local are the shims). */
export const CNI_DAEMON = path.join(CNI_DIST, 'daemon-main.js');

/** Starts flannel-cni-daemon in `h`'s namespaces on `socket`; resolves once the socket answers. */
export async function spawnCniDaemon(h: Host, socket: string, tag = 'cni-daemon'): Promise<Proc> {
  const proc = h.spawn([process.execPath, CNI_DAEMON, '--socket', socket, '--log-level', 'debug'], { logFile: `${tag}.log` });
  await proc.waitForOutput(/"msg":"listening"/, 20_000, 'err');
  return proc;
}

/** A pod's namespace for CNI: created empty (the plugins add eth0), removed with the lab. */
export class CniPodNs implements Endpoint {
  readonly nsPath: string;
  /** Set by the test from the ADD result. */
  ip = '';
  constructor(
    private readonly lab: Lab,
    readonly name: string,
    readonly ns: string,
    readonly dir: string,
  ) {
    this.nsPath = path.join(NETNS_DIR, ns);
  }

  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return runCommand(['nsenter', `--net=${this.nsPath}`, '--', ...argv], opts);
  }

  async run(argv: readonly string[], opts?: ExecOptions): Promise<string> {
    const r = await this.exec(argv, opts);
    if (r.code !== 0 || r.timedOut) throw new Error(`${argv.join(' ')} in ${this.ns}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  spawn(argv: readonly string[], opts: SpawnOptions = {}): Proc {
    this.lab.assertLive('spawn');
    const proc = new Proc(['nsenter', `--net=${this.nsPath}`, '--', ...argv], path.resolve(this.dir, opts.logFile ?? this.lab.logName(argv[0] ?? 'proc')), opts);
    this.lab.track(proc);
    return proc;
  }

  /** Links of the pod namespace (`ip -j link`), by name. */
  async links(): Promise<Map<string, { operstate?: string; mtu?: number }>> {
    const r = await runCommand(['ip', '-n', this.ns, '-j', 'link', 'show']);
    const list = (JSON.parse(r.stdout || '[]') as { ifname: string; operstate?: string; mtu?: number }[]).map((l) => [l.ifname, l] as const);
    return new Map(list);
  }
}

/** Creates `<prefix>-<host>-<name>` through the lab (so lab.destroy deletes it by name). */
export async function addPodNs(lab: Lab, host: Host, name: string): Promise<CniPodNs> {
  const ns = `${lab.prefix}-${host.name}-${name}`;
  const dir = path.join(host.dir, name);
  await mkdir(dir, { recursive: true });
  await lab.addNamespace(ns);
  return new CniPodNs(lab, `${host.name}/${name}`, ns, dir);
}

/** Deletes a pod namespace now, by its exact name (the lab would also do it on destroy). */
export async function deletePodNs(p: CniPodNs): Promise<void> {
  if (existsSync(p.nsPath)) await runCommand(['ip', 'netns', 'del', p.ns], { timeoutMs: 5000 });
}

// ---------------------------------------------------------------- conflists

export interface ConfList {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly Record<string, unknown>[];
}

export interface ChainCall {
  readonly containerId: string;
  readonly netns: string;
  readonly ifName?: string;
  readonly cniPath?: string;
  /** Runtime capability args, e.g. { portMappings: [...] }, given to plugins that declare them. */
  readonly capabilityArgs?: Readonly<Record<string, unknown>>;
}

/** The plugin executable on the CNI path, as libcni's FindInPath. */
export function findPlugin(type: string, cniPath = CNI_PATH): string {
  for (const d of cniPath.split(':')) if (d && existsSync(path.join(d, type))) return path.join(d, type);
  throw new Error(`plugin ${type} not found in ${cniPath}`);
}

function pluginConf(list: ConfList, p: Record<string, unknown>, c: ChainCall, prevResult: unknown): Record<string, unknown> {
  const caps = (p.capabilities ?? {}) as Record<string, boolean>;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.capabilityArgs ?? {})) if (caps[k]) runtimeConfig[k] = v;
  return {
    ...p,
    name: list.name,
    cniVersion: list.cniVersion,
    ...(Object.keys(runtimeConfig).length > 0 && { runtimeConfig }),
    ...(prevResult !== undefined && { prevResult }),
  };
}

export interface ChainOutcome {
  /** The last plugin's outcome (the failing one, if any). */
  readonly last: CniOutcome;
  /** The chain's result after ADD. */
  readonly result: Record<string, unknown> | undefined;
  readonly ok: boolean;
}

/**
 * Runs a conflist inside `at`'s namespace: ADD in order, each plugin getting the previous result;
 * CHECK in order and DEL in reverse, each getting the cached ADD result (`prevResult`).
 */
export async function runConfList(at: Endpoint, list: ConfList, command: 'ADD' | 'DEL' | 'CHECK', c: ChainCall, cached?: unknown): Promise<ChainOutcome> {
  const order = command === 'DEL' ? [...list.plugins].reverse() : list.plugins;
  let prev: unknown = command === 'ADD' ? undefined : cached;
  let last: CniOutcome | undefined;
  for (const p of order) {
    const type = String(p.type);
    last = await runCni(at, findPlugin(type, c.cniPath), {
      command,
      containerId: c.containerId,
      netns: c.netns,
      ifName: c.ifName ?? 'eth0',
      ...(c.cniPath && { cniPath: c.cniPath }),
      conf: pluginConf(list, p, c, prev),
    });
    if (last.code !== 0) return { last, result: undefined, ok: false };
    if (command === 'ADD') prev = last.json;
  }
  if (!last) throw new Error('empty conflist');
  return { last, result: command === 'ADD' ? (prev as Record<string, unknown>) : undefined, ok: true };
}
