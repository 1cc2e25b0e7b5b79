#!/usr/bin/env node
// kube-proxy: wiring only. Flags → the cluster store (the API or etcd), nft, conntrack → the proxy server; SIGTERM/SIGINT stop it.
// The rules stay in the kernel when it stops (a restart does not interrupt traffic); --cleanup
// removes them.
import { Command } from 'commander';
import { openClusterStore } from '../cluster/index.js';
import { createLogger, errorMessage, flagTableOf, normalizePflagArgs } from '../common/index.js';
import { NftGeneration } from '../nft/index.js';
import { ConntrackCli } from './conntrack.js';
import { NftCli } from './nft.js';
import { addProxyOptions, proxyOptions, VERSION } from './options.js';
import { FAMILY, TABLE } from './ruleset.js';
import { ProxyServer } from './server.js';

const program = addProxyOptions(new Command('kube-proxy'))
  .description('service proxy: ClusterIPs and node ports load-balanced across pods, in nftables')
  .version(VERSION, '--version', 'print the version and exit')
  .showHelpAfterError()
  .action(async (raw: Record<string, unknown>) => {
    const o = proxyOptions(raw, program.getOptionValueSource('etcdEndpoints') !== 'default');
    const log = createLogger({ level: o.logLevel as 'info', name: 'kube-proxy' });
    // kube-proxy writes in its own namespace: the generation read here is that of the table it writes.
    const nft = new NftCli({ log, generation: new NftGeneration() });
    if (o.cleanup) {
      await nft.run(`add table ${FAMILY} ${TABLE}\ndelete table ${FAMILY} ${TABLE}\n`);
      log.info({ table: `${FAMILY} ${TABLE}` }, 'rules removed');
      return;
    }
    const cluster = await openClusterStore(o.api, o, log);
    const ac = new AbortController();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        log.info({ signal: sig }, 'shutting down');
        ac.abort();
      });
    }
    log.info({ node: o.hostnameOverride, serviceRange: o.serviceRange.cidr, nodePorts: `${o.nodePortRange.min}-${o.nodePortRange.max}`, version: VERSION }, 'starting');
    const server = new ProxyServer(
      {
        nodeName: o.hostnameOverride,
        serviceRange: o.serviceRange,
        nodePortRange: o.nodePortRange,
        ruleset: { masqMark: 2 ** o.masqueradeBit, ...(cidrOf(o.clusterCidr, 4) && { clusterCIDR: cidrOf(o.clusterCidr, 4) }) },
        // The v6 table when --cluster-cidr names an IPv6 pod network (dual stack).
        ...(cidrOf(o.clusterCidr, 6) && { ruleset6: { masqMark: 2 ** o.masqueradeBit, clusterCIDR: cidrOf(o.clusterCidr, 6)!, family: 6 as const } }),
        minSyncMs: o.minSyncPeriodMs,
        syncPeriodMs: o.syncPeriodMs,
        leaderTtlSec: o.leaderElectLeaseDurationSec,
        ...(o.healthzPort > 0 && { healthz: { ip: o.healthzBindAddress, port: o.healthzPort } }),
        ...(o.metricsBind.port > 0 && { metrics: o.metricsBind }),
      },
      { store: cluster.store, ...(cluster.etcd && { etcd: cluster.etcd }), nft, conntrack: new ConntrackCli(), log },
    );
    try {
      await server.run(ac.signal);
    } finally {
      cluster.close();
    }
    log.info({}, 'stopped');
  });

let args: string[];
try {
  args = normalizePflagArgs(process.argv.slice(2), flagTableOf(program));
} catch (e) {
  process.stderr.write(`kube-proxy: ${errorMessage(e)}\n`);
  process.exit(2);
}
program.parseAsync(args, { from: 'user' }).catch((e: unknown) => {
  process.stderr.write(`kube-proxy: ${errorMessage(e)}\n`);
  process.exit(1);
});

/** The CIDR of one family in a comma-separated --cluster-cidr. */
function cidrOf(list: string | undefined, family: 4 | 6): string | undefined {
  return list
    ?.split(',')
    .map((c) => c.trim())
    .find((c) => c.includes(':') === (family === 6));
}
