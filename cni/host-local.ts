// The host-local IPAM plugin: ADD allocates one address per range set (a requested one where the
// runtime asked), all under one hold of the store's lock, and releases what it took if a later set
// fails; DEL releases everything held by (containerID, ifname), idempotently; CHECK asks whether
// the container holds any address. Allocation and storage live in ipam/host-local.
import { readFile } from 'node:fs/promises';
import { errorMessage, type IpAddr, formatIp } from '../core/index.js';
import {
  Allocator,
  DiskStore,
  type IpamAllocation,
  type IpamDns,
  type LockedStore,
  NoReservationError,
  IpUnavailableError,
  parseIpamConfig,
  parseResolvConf,
  rangeSetContains,
} from '../ipam/host-local/index.js';
import { CniError } from './errors.js';
import { ipamResult } from './result.js';
import type { CmdArgs, PluginFuncs, PluginInfo } from './skel.js';
import { CniCode } from './types.js';
import { SUPPORTED_VERSIONS } from './version.js';

export const HOST_LOCAL_PLUGIN_INFO: PluginInfo = { about: 'CNI Plugin host-local (flannel-ts)', supportedVersions: SUPPORTED_VERSIONS };

export interface HostLocalDeps {
  openStore(network: string, dataDir: string): Promise<LockedStore>;
  readFile(file: string): Promise<string>;
}

export const realHostLocalDeps: HostLocalDeps = {
  openStore: (network, dataDir) => DiskStore.open(network, dataDir),
  readFile: (file) => readFile(file, 'utf8'),
};

export function hostLocalPlugin(deps: HostLocalDeps = realHostLocalDeps): PluginFuncs {
  return {
    async add(a: CmdArgs) {
      const cfg = parseIpamConfig(a.netconf, a.args);
      let dns: IpamDns | undefined;
      if (cfg.resolvConf) {
        try {
          dns = parseResolvConf(await deps.readFile(cfg.resolvConf));
        } catch (e) {
          throw new CniError(CniCode.IoFailure, 'cannot read resolvConf', `${cfg.resolvConf}: ${errorMessage(e)}`);
        }
      }
      const store = await deps.openStore(cfg.name, cfg.dataDir);
      const ips = await store.withLock(async () => {
        const out: IpamAllocation[] = [];
        const requested = [...cfg.requestedIps];
        try {
          for (const [i, set] of cfg.ranges.entries()) {
            const k = requested.findIndex((ip) => rangeSetContains(set, ip));
            const want: IpAddr | undefined = k >= 0 ? requested.splice(k, 1)[0] : undefined;
            out.push(await new Allocator(set, store, i).get(a.containerId, a.ifName, want));
          }
          if (requested.length > 0) {
            const list = requested.map(formatIp).join(' ');
            throw new IpUnavailableError(list, `failed to allocate all requested IPs: ${list}`);
          }
        } catch (e) {
          if (out.length > 0) await store.releaseById(a.containerId, a.ifName);
          throw e;
        }
        return out;
      });
      return { result: ipamResult(ips, cfg.routes, dns) };
    },

    async del(a: CmdArgs) {
      const cfg = parseIpamConfig(a.netconf, a.args);
      const store = await deps.openStore(cfg.name, cfg.dataDir);
      await store.withLock(() => store.releaseById(a.containerId, a.ifName));
    },

    async check(a: CmdArgs) {
      const cfg = parseIpamConfig(a.netconf, a.args);
      const store = await deps.openStore(cfg.name, cfg.dataDir);
      const held = await store.withLock(() => store.getById(a.containerId, a.ifName));
      if (held.length === 0) throw new NoReservationError(a.containerId, a.ifName);
    },
  };
}
