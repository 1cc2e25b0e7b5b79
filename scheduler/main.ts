#!/usr/bin/env node
// kube-scheduler: wiring only. Flags → the API (kubeconfig) → the caches, the leader election and the
// scheduling loop, and the secure /healthz; SIGTERM/SIGINT stop it (the lease is released).
import { Command } from 'commander';
import { openApiStore } from '../cluster/index.js';
import { createLogger, errorMessage, flagTableOf, normalizePflagArgs, serveSecureHealthz } from '../common/index.js';
import { LeaseElection } from '../proxy/index.js';
import { addSchedulerOptions, schedulerOptions, VERSION } from './options.js';
import { Scheduler } from './scheduler.js';

const program = addSchedulerOptions(new Command('kube-scheduler'))
  .description('assigns pods without spec.nodeName to nodes, through the binding subresource')
  .version(VERSION, '--version', 'print the version and exit')
  .showHelpAfterError()
  .action(async (raw: Record<string, unknown>) => {
    const o = schedulerOptions(raw);
    const log = createLogger({ level: o.logLevel as 'info', name: 'kube-scheduler' });
    const { client, store: api } = await openApiStore({ kubeconfig: o.kubeconfig }, log);
    const ac = new AbortController();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        log.info({ signal: sig }, 'shutting down');
        ac.abort();
      });
    }
    log.info({ schedulerName: o.schedulerName, identity: o.identity, leaderElect: o.leaderElect, version: VERSION }, 'starting');
    const sched = new Scheduler({ schedulerName: o.schedulerName, identity: o.identity, backstopMs: o.backstopMs }, { store: api, client: api.client, log });
    const healthz = o.securePort > 0 ? await serveSecureHealthz({ ip: o.bindAddress, port: o.securePort, name: 'kube-scheduler', log }) : undefined;
    try {
      const following = sched.follow(ac.signal);
      if (o.leaderElect) {
        const election = new LeaseElection(api, {
          identity: o.identity,
          ttlSec: o.leaseDurationMs / 1000,
          renewDeadlineMs: o.renewDeadlineMs,
          retryPeriodMs: o.retryPeriodMs,
          lease: { namespace: o.leaseNamespace, name: o.leaseName },
          log: log.child({ component: 'leader-election' }),
        });
        await election.run(ac.signal, (leading) => sched.schedule(leading));
      } else {
        await sched.schedule(ac.signal);
      }
      await following;
    } finally {
      healthz?.close();
      client.close();
    }
    log.info({}, 'stopped');
  });

let args: string[];
try {
  args = normalizePflagArgs(process.argv.slice(2), flagTableOf(program));
} catch (e) {
  process.stderr.write(`kube-scheduler: ${errorMessage(e)}\n`);
  process.exit(2);
}
program.parseAsync(args, { from: 'user' }).catch((e: unknown) => {
  process.stderr.write(`kube-scheduler: ${errorMessage(e)}\n`);
  process.exit(1);
});
