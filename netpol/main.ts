#!/usr/bin/env node
// netpol-agent: wiring only. Flags → the cluster store (the API or etcd), nft → the agent; SIGTERM/SIGINT stop it.
// The rules stay in the kernel when it stops (a restart opens nothing); --cleanup removes them.
import { Command } from 'commander';
import { openClusterStore } from '../cluster/index.js';
import { createLogger, errorMessage, flagTableOf, normalizePflagArgs } from '../common/index.js';
import { NftCli } from '../proxy/index.js';
import { cleanupScript } from './agent.js';
import { addAgentOptions, agentFlags, VERSION } from './options.js';
import { FAMILY, TABLE } from './ruleset.js';
import { NetpolServer } from './server.js';

const program = addAgentOptions(new Command('netpol-agent'))
  .description('NetworkPolicy (networking.k8s.io/v1) enforced in nftables for the pods of this node')
  .version(VERSION, '--version', 'print the version and exit')
  .showHelpAfterError()
  .action(async (raw: Record<string, unknown>) => {
    const o = agentFlags(raw, program.getOptionValueSource('etcdEndpoints') !== 'default');
    const log = createLogger({ level: o.logLevel as 'info', name: 'netpol-agent' });
    const nft = new NftCli({ log });
    if (o.cleanup) {
      await nft.run(cleanupScript());
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
    log.info({ node: o.hostnameOverride, table: `${FAMILY} ${TABLE}`, version: VERSION }, 'starting');
    const server = new NetpolServer(
      { nodeName: o.hostnameOverride, minSyncMs: o.minSyncPeriodMs, syncPeriodMs: o.syncPeriodMs },
      { store: cluster.store, ...(cluster.api && { client: cluster.api.client }), nft, log },
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
  process.stderr.write(`netpol-agent: ${errorMessage(e)}\n`);
  process.exit(2);
}
program.parseAsync(args, { from: 'user' }).catch((e: unknown) => {
  process.stderr.write(`netpol-agent: ${errorMessage(e)}\n`);
  process.exit(1);
});
