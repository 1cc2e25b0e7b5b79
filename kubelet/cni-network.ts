// The kubelet's CNI network plugin (--network-plugin=cni), the I/O half (the pure half is cni-config.ts):
// the conf dir re-read every few seconds (the node is NotReady while no usable config is there), the
// list's plugins run for ADD in order and for DEL in reverse, each found on --cni-bin-dir, and libcni's
// result cache kept in --cni-cache-dir, so DEL replays what ADD got and a restarted kubelet reads a running
// sandbox's address back instead of adding it again.
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { type CniError, type PluginExec, delegateError, spawnExec } from '../cni/index.js';
import { type Logger, errorMessage, sleep } from '../common/index.js';
import { writeFileAtomic } from '../core/index.js';
import {
  CNI_NOT_READY_MESSAGE,
  CniConfigError,
  type CniVerb,
  type NetworkConfigList,
  type PodRef,
  POD_IFNAME,
  cacheEntry,
  cacheFile,
  chooseNetworkConfig,
  cniArgs,
  delTakesPrevResult,
  netnsPath,
  parseCacheEntry,
  pluginConfig,
  pluginEnv,
  pluginErrorText,
  podIPs,
} from './cni-config.js';

export interface CniNetworkOptions {
  readonly confDir: string;
  readonly binDirs: readonly string[];
  readonly cacheDir: string;
  readonly log: Logger;
  /** The process edge (default: spawning the plugin, its stderr logged). */
  readonly exec?: PluginExec;
  /** One plugin run's bound. */
  readonly timeoutMs?: number;
  /** How often the conf dir is re-read. */
  readonly pollMs?: number;
}

/** A plugin of the list failed: `message` is its CNI error in libcni's words. */
export class CniPluginError extends Error {
  constructor(
    readonly verb: CniVerb,
    readonly plugin: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CniPluginError';
  }
}

/** What the runtime needs of a pod network (runtime.ts): set up a new sandbox, tear one down, its addresses. */
export interface SandboxNetwork {
  /** Runs ADD for a started sandbox; returns its addresses (IPv4 first). On failure it has run DEL already. */
  setUp(pod: PodRef, sandboxId: string, pid: number): Promise<string[]>;
  /** Runs DEL for the sandbox (pid: its process while it runs); nothing when it was never added. */
  tearDown(sandboxId: string, pid: number | undefined): Promise<void>;
  /** The sandbox's addresses from the result cache; undefined when it has no attachment. */
  podIPs(sandboxId: string): readonly string[] | undefined;
}

interface Attachment {
  readonly file: string;
  readonly ips: readonly string[];
}

const DEFAULT_TIMEOUT_MS = 60_000;

export class CniNetwork implements SandboxNetwork {
  private readonly log: Logger;
  private readonly exec: PluginExec;
  private current: NetworkConfigList | undefined;
  /** The reason last logged per skipped file (each distinct reason once). */
  private readonly skipLogged = new Map<string, string>();
  private readonly attachments = new Map<string, Attachment>();

  constructor(private readonly o: CniNetworkOptions) {
    this.log = o.log.child({ component: 'cni' });
    this.exec = o.exec ?? spawnExec((chunk) => this.log.debug({ stderr: chunk.toString('utf8').trimEnd().slice(0, 2000) }, 'plugin stderr'));
  }

  /** The pod network in use (the conf dir's, as of the last read). */
  get network(): NetworkConfigList | undefined {
    return this.current;
  }

  /** undefined when ready; else the Ready condition's message. */
  notReadyMessage(): string | undefined {
    return this.current ? undefined : CNI_NOT_READY_MESSAGE;
  }

  /** Re-reads the conf dir (a missing dir is no config); returns the network now in use. */
  async refresh(): Promise<NetworkConfigList | undefined> {
    const files = new Map<string, string>();
    let names: string[] = [];
    try {
      names = await readdir(this.o.confDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ dir: this.o.confDir, err: errorMessage(e) }, 'cannot read the CNI conf dir');
    }
    for (const n of names) {
      const file = path.join(this.o.confDir, n);
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined) files.set(file, text);
    }
    const plugins = await this.pluginsOnPath();
    const choice = chooseNetworkConfig(files, (l) => {
      const missing = l.plugins.map((p) => String(p.type)).find((t) => !plugins.has(t));
      return missing === undefined ? undefined : `failed to find plugin ${JSON.stringify(missing)} in path [${this.o.binDirs.join(' ')}]`;
    });
    const seen = new Set<string>();
    for (const s of choice.skipped) {
      seen.add(s.file);
      if (this.skipLogged.get(s.file) === s.reason) continue;
      this.skipLogged.set(s.file, s.reason);
      this.log.warn({ file: s.file, reason: s.reason }, 'skipping a CNI config file');
    }
    for (const f of [...this.skipLogged.keys()]) if (!seen.has(f)) this.skipLogged.delete(f);
    const next = choice.network;
    if (next?.file !== this.current?.file || next?.bytes !== this.current?.bytes) {
      if (next) this.log.info({ file: next.file, network: next.name, cniVersion: next.cniVersion, plugins: next.plugins.map((p) => p.type) }, 'using the CNI network config');
      else this.log.warn({ dir: this.o.confDir }, 'no usable CNI network config: the network is not ready');
    }
    this.current = next;
    return next;
  }

  /** The executables' names in the bin dirs. */
  private async pluginsOnPath(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const d of this.o.binDirs) for (const n of await readdir(d).catch(() => [] as string[])) out.add(n);
    return out;
  }

  /** Reads every cached result (a restarted kubelet's running sandboxes); a bad file is logged and left. */
  async loadCache(): Promise<void> {
    const dir = path.join(this.o.cacheDir, 'results');
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names) {
      if (!n.endsWith(`-${POD_IFNAME}`)) continue;
      const file = path.join(dir, n);
      try {
        const { entry } = parseCacheEntry(file, await readFile(file, 'utf8'));
        this.attachments.set(entry.containerId, { file, ips: entry.result ? podIPs(entry.result) : [] });
      } catch (e) {
        this.log.warn({ file, err: e instanceof CniConfigError ? e.reason : errorMessage(e) }, 'skipping a bad CNI cache file');
      }
    }
    if (this.attachments.size) this.log.info({ sandboxes: this.attachments.size }, 'CNI results read back from the cache');
  }

  /** Runs this loop until the signal aborts: the conf dir read every pollMs. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.refresh().catch((e: unknown) => this.log.warn({ err: errorMessage(e) }, 'cannot read the CNI config'));
      await sleep(this.o.pollMs ?? 3000, signal);
    }
  }

  podIPs(sandboxId: string): readonly string[] | undefined {
    return this.attachments.get(sandboxId)?.ips;
  }

  async setUp(pod: PodRef, sandboxId: string, pid: number): Promise<string[]> {
    const list = this.current ?? (await this.refresh());
    if (!list) throw new CniPluginError('ADD', '', CNI_NOT_READY_MESSAGE);
    const args = cniArgs(pod, sandboxId);
    const netns = netnsPath(pid);
    let prev: Record<string, unknown> | undefined;
    try {
      for (let i = 0; i < list.plugins.length; i++) {
        const out = await this.runPlugin('ADD', list, i, prev, sandboxId, netns, args);
        let doc: unknown;
        try {
          doc = JSON.parse(out);
        } catch {
          doc = undefined;
        }
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new CniPluginError('ADD', String(list.plugins[i]!.type), `plugin ${String(list.plugins[i]!.type)} printed no result`);
        prev = doc as Record<string, unknown>;
      }
      const ips = podIPs(prev ?? {});
      if (!ips.length) throw new CniPluginError('ADD', String(list.plugins.at(-1)!.type), `the CNI result gives ${POD_IFNAME} no address`);
      const file = path.join(this.o.cacheDir, cacheFile(list.name, sandboxId));
      await writeFileAtomic(file, JSON.stringify(cacheEntry(list, sandboxId, args, prev!)), 0o600);
      this.attachments.set(sandboxId, { file, ips });
      this.log.info({ sandbox: sandboxId.slice(0, 12), pod: `${pod.namespace}/${pod.name}`, network: list.name, ips }, 'pod network set up');
      return ips;
    } catch (e) {
      // As dockershim: a half-made attachment is torn down with the same list, so no address leaks.
      await this.del(list, undefined, sandboxId, netns, args).catch((d: unknown) => this.log.warn({ sandbox: sandboxId.slice(0, 12), err: errorMessage(d) }, 'cannot tear down a failed attachment'));
      throw e;
    }
  }

  async tearDown(sandboxId: string, pid: number | undefined): Promise<void> {
    const dir = path.join(this.o.cacheDir, 'results');
    const known = this.attachments.get(sandboxId)?.file;
    const file = known ?? (await readdir(dir).catch(() => [] as string[])).map((n) => path.join(dir, n)).find((f) => f.endsWith(`-${sandboxId}-${POD_IFNAME}`));
    if (!file) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.attachments.delete(sandboxId);
      return;
    }
    let parsed: ReturnType<typeof parseCacheEntry>;
    try {
      parsed = parseCacheEntry(file, text);
    } catch (e) {
      if (!(e instanceof CniConfigError)) throw e;
      // A corrupt entry must not wedge the pod's termination: DEL with the config in use, at best.
      this.log.warn({ file, reason: e.reason }, 'bad CNI cache file: DEL with the current config');
      if (this.current) await this.del(this.current, undefined, sandboxId, pid ? netnsPath(pid) : '', []).catch((d: unknown) => this.log.warn({ sandbox: sandboxId.slice(0, 12), err: errorMessage(d) }, 'DEL failed'));
      await rm(file, { force: true });
      this.attachments.delete(sandboxId);
      return;
    }
    const { entry, list } = parsed;
    const args = entry.cniArgs ?? [];
    await this.del(list, entry.result, sandboxId, pid ? netnsPath(pid) : '', args);
    await rm(file, { force: true });
    this.attachments.delete(sandboxId);
    this.log.info({ sandbox: sandboxId.slice(0, 12), network: list.name }, 'pod network torn down');
  }

  private async del(list: NetworkConfigList, result: Record<string, unknown> | undefined, sandboxId: string, netns: string, args: readonly (readonly [string, string])[]): Promise<void> {
    const prev = delTakesPrevResult(list.cniVersion) ? result : undefined;
    for (let i = list.plugins.length - 1; i >= 0; i--) await this.runPlugin('DEL', list, i, prev, sandboxId, netns, args);
  }

  private async runPlugin(
    verb: CniVerb,
    list: NetworkConfigList,
    index: number,
    prev: Record<string, unknown> | undefined,
    sandboxId: string,
    netns: string,
    args: readonly (readonly [string, string])[],
  ): Promise<string> {
    const type = String(list.plugins[index]!.type);
    const file = await this.exec.find(type, this.o.binDirs);
    if (!file) throw new CniPluginError(verb, type, `failed to find plugin ${JSON.stringify(type)} in path [${this.o.binDirs.join(' ')}]`);
    const timeoutMs = this.o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const env = { ...process.env, ...pluginEnv(verb, sandboxId, netns, args, this.o.binDirs) };
    let run;
    try {
      run = await this.exec.run(file, pluginConfig(list, index, prev), env, timeoutMs);
    } catch (e) {
      throw new CniPluginError(verb, type, `cannot execute plugin ${file}: ${errorMessage(e)}`, { cause: e });
    }
    if (run.code !== 0 || run.timedOut) {
      const err: CniError = delegateError(type, run, timeoutMs);
      throw new CniPluginError(verb, type, pluginErrorText(err.msg, err.details), { cause: err });
    }
    return run.stdout;
  }
}
