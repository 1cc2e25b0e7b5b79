// The zone kept up to date from the cluster: Services and Endpoints listed, then watched (common's
// followPrefix: a lost watch or a failure is a new listing). An object that is not of its kind's
// shape is warned about and left out, as if it were not there.
import { type ClusterStore, keys, namespacedName, prefixSource } from '../cluster/index.js';
import { followPrefix, type Logger } from '../common/index.js';
import { type DnsEndpoints, type DnsService, parseDnsEndpoints, parseDnsService } from './records.js';
import type { Zone } from './zone.js';

export interface ZoneSync {
  /** Both kinds have been listed once (ready to answer). */
  readonly synced: () => boolean;
  readonly done: Promise<void>;
}

export function followCluster(store: ClusterStore, zone: Zone, signal: AbortSignal, log: Logger): ZoneSync {
  const listed = { services: false, endpoints: false };
  const svcPrefix = keys.services();
  const epPrefix = keys.allEndpoints();
  const nameOf = (prefix: string, key: string): string | undefined => namespacedName(prefix, key)?.join('/');
  const services = followPrefix(prefixSource(store, parseDnsService), signal, { prefix: svcPrefix, log }, {
    reset: (items) => {
      const all = new Map<string, DnsService>();
      for (const it of items) {
        const n = nameOf(svcPrefix, it.key);
        if (n) all.set(n, it.obj);
      }
      zone.resetServices(all);
      if (!listed.services) log.info({ services: all.size }, 'services listed');
      listed.services = true;
    },
    put: (it) => {
      const n = nameOf(svcPrefix, it.key);
      if (n) zone.setService(n, it.obj);
    },
    delete: (key) => {
      const n = nameOf(svcPrefix, key);
      if (n) zone.setService(n, undefined);
    },
    corrupt: (c) => {
      log.warn({ key: c.key, path: c.path, reason: c.reason }, 'service ignored');
      const n = nameOf(svcPrefix, c.key);
      if (n) zone.setService(n, undefined);
    },
  });
  const endpoints = followPrefix(prefixSource(store, parseDnsEndpoints), signal, { prefix: epPrefix, log }, {
    reset: (items) => {
      const all = new Map<string, DnsEndpoints>();
      for (const it of items) {
        const n = nameOf(epPrefix, it.key);
        if (n) all.set(n, it.obj);
      }
      zone.resetEndpoints(all);
      listed.endpoints = true;
    },
    put: (it) => {
      const n = nameOf(epPrefix, it.key);
      if (n) zone.setEndpoints(n, it.obj);
    },
    delete: (key) => {
      const n = nameOf(epPrefix, key);
      if (n) zone.setEndpoints(n, undefined);
    },
    corrupt: (c) => {
      log.warn({ key: c.key, path: c.path, reason: c.reason }, 'endpoints ignored');
      const n = nameOf(epPrefix, c.key);
      if (n) zone.setEndpoints(n, undefined);
    },
  });
  return { synced: () => listed.services && listed.endpoints, done: Promise.all([services, endpoints]).then(() => undefined) };
}
