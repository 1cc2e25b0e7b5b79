// The flannel CNI meta-plugin: ADD reads subnet.env, renders the delegate config (flannel-config.ts),
// saves it as <dataDir>/<containerID> and runs the delegate (bridge by default), passing its result
// or error through. DEL replays exactly the saved config to the delegate, then forgets it; without a
// saved config DEL is a no-op success. CHECK runs the delegate's CHECK on the saved config with the
// runtime's prevResult, after checking that flanneld's subnet is still the one the pod got.
// A delegate ADD that fails is undone with a delegate DEL (the spec's rule for upper plugins).
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, writeFileAtomic } from '../core/index.js';
import { type JsonObject, isJsonObject, optString, parseJsonObject } from '../ipam/host-local/index.js';
import { CniError } from './errors.js';
import {
  type FlannelEnv,
  SubnetFileError,
  buildDelegateConfig,
  flannelRanges,
  parseFlannelEnv,
  parseFlannelNetConf,
  renderDelegateConfig,
} from './flannel-config.js';
import { DEFAULT_DELEGATE_TIMEOUT_MS, type PluginExec, delegate, realExec } from './invoke.js';
import { type PluginLog, silentLog, stderrLog } from './log.js';
import type { CmdArgs, PluginFuncs, PluginInfo } from './skel.js';
import { CniCode, PluginCode } from './types.js';
import { SUPPORTED_VERSIONS } from './version.js';

export const FLANNEL_PLUGIN_INFO: PluginInfo = { about: 'CNI Plugin flannel (flannel-ts)', supportedVersions: SUPPORTED_VERSIONS };

/** The file edge: reads that reject with the errno code, a durable save, an idempotent remove. */
export interface FlannelFs {
  readFile(file: string): Promise<string>;
  /** Creates `dir` (0700) if needed and writes `dir/name` atomically (0600). */
  save(dir: string, name: string, data: string): Promise<void>;
  remove(file: string): Promise<void>;
}

export interface FlannelDeps {
  readonly exec: PluginExec;
  readonly fs: FlannelFs;
  readonly log: PluginLog;
  readonly delegateTimeoutMs?: number;
}

export const realFlannelFs: FlannelFs = {
  readFile: (file) => readFile(file, 'utf8'),
  async save(dir, name, data) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(dir, name), data, 0o600);
  },
  remove: (file) => rm(file, { force: true }),
};

export const realFlannelDeps = (): FlannelDeps => ({ exec: realExec, fs: realFlannelFs, log: stderrLog('flannel') });

const isNotFound = (e: unknown): boolean => e instanceof Error && 'code' in e && e.code === 'ENOENT';

export function flannelPlugin(deps: Partial<FlannelDeps> = {}): PluginFuncs {
  const exec = deps.exec ?? realExec;
  const fs = deps.fs ?? realFlannelFs;
  const log = deps.log ?? silentLog;
  const timeoutMs = deps.delegateTimeoutMs ?? DEFAULT_DELEGATE_TIMEOUT_MS;

  async function loadEnv(file: string): Promise<FlannelEnv> {
    let text: string;
    try {
      text = await fs.readFile(file);
    } catch (e) {
      if (isNotFound(e)) throw new CniError(CniCode.TryAgainLater, 'flannel subnet file not found', `${file}: is flanneld running on this node?`);
      throw new CniError(CniCode.IoFailure, 'cannot read flannel subnet file', `${file}: ${errorMessage(e)}`);
    }
    try {
      return parseFlannelEnv(text, file);
    } catch (e) {
      if (e instanceof SubnetFileError) throw new CniError(PluginCode.BadSubnetFile, 'invalid flannel subnet file', e.message);
      throw e;
    }
  }

  /** The saved delegate config, or undefined when there is none. */
  async function loadSaved(file: string): Promise<string | undefined> {
    try {
      return await fs.readFile(file);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new CniError(CniCode.IoFailure, 'cannot read saved delegate config', `${file}: ${errorMessage(e)}`);
    }
  }

  return {
    async add(a: CmdArgs) {
      const conf = parseFlannelNetConf(a.netconf);
      const env = await loadEnv(conf.subnetFile);
      const d = buildDelegateConfig(conf, env);
      const text = renderDelegateConfig(d);
      const saved = path.join(conf.dataDir, a.containerId);
      try {
        await fs.save(conf.dataDir, a.containerId, text);
      } catch (e) {
        throw new CniError(CniCode.IoFailure, 'cannot save delegate config', `${saved}: ${errorMessage(e)}`);
      }
      try {
        return { raw: await delegate(exec, 'ADD', d.type, text, a.env, timeoutMs) };
      } catch (e) {
        try {
          await delegate(exec, 'DEL', d.type, text, a.env, timeoutMs);
        } catch (undoErr) {
          log('warn', 'delegate DEL after a failed ADD failed', { containerId: a.containerId, delegate: d.type, err: errorMessage(undoErr) });
        }
        await fs.remove(saved).catch((rmErr: unknown) => log('warn', 'cannot remove saved delegate config', { file: saved, err: errorMessage(rmErr) }));
        throw e;
      }
    },

    async del(a: CmdArgs) {
      const conf = parseFlannelNetConf(a.netconf);
      const file = path.join(conf.dataDir, a.containerId);
      const text = await loadSaved(file);
      if (text === undefined) return; // never added, or already deleted
      let type: string | undefined;
      try {
        type = optString(parseJsonObject(text, file), 'type', '');
      } catch {
        type = undefined;
      }
      if (!type) {
        // Nothing to replay: the delegate's leftovers (a veth) go with the pod's namespace.
        log('warn', 'saved delegate config unreadable; removed without a delegate DEL', { containerId: a.containerId, file });
        await fs.remove(file);
        return;
      }
      await delegate(exec, 'DEL', type, text, a.env, timeoutMs);
      await fs.remove(file); // kept when the delegate failed, so a retried DEL replays it
    },

    async check(a: CmdArgs) {
      const conf = parseFlannelNetConf(a.netconf);
      const file = path.join(conf.dataDir, a.containerId);
      const text = await loadSaved(file);
      if (text === undefined) throw new CniError(PluginCode.NotAdded, 'no saved delegate config for this container', file);
      const saved = parseJsonObject(text, file);
      const type = optString(saved, 'type', '');
      if (!type) throw new CniError(PluginCode.DelegateFailed, 'saved delegate config names no plugin type', file);
      const ipam = saved.ipam;
      const env = await loadEnv(conf.subnetFile);
      if (isJsonObject(ipam) && ipam.ranges !== undefined && JSON.stringify(ipam.ranges) !== JSON.stringify(flannelRanges(env))) {
        throw new CniError(PluginCode.SubnetChanged, 'flannel subnet changed since ADD', `pod ranges ${JSON.stringify(ipam.ranges)}, ${conf.subnetFile} now ${JSON.stringify(flannelRanges(env))}`);
      }
      const prev = a.netconf.prevResult;
      const withPrev: JsonObject = prev === undefined ? saved : { ...saved, prevResult: prev };
      await delegate(exec, 'CHECK', type, JSON.stringify(withPrev), a.env, timeoutMs);
    },
  };
}
