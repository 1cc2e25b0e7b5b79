#!/usr/bin/env node
// kube-controller-manager: wiring only. Flags → the API client and store → /healthz and the controller manager; SIGTERM/SIGINT stop it.
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { openApiStore, parseServerList } from '../cluster/index.js';
import { createLogger, errorMessage, flagTableOf, normalizePflagArgs, serveSecureHealthz } from '../common/index.js';
import { EndpointsController } from './endpoints/index.js';
import { GarbageCollector } from './gc/index.js';
import { ControllerManager } from './manager.js';
import { NodeIpamController, NodeLifecycleController, PodGcController } from './nodelifecycle/index.js';
import { addControllerManagerOptions, controllerManagerOptions, VERSION } from './options.js';

const program = addControllerManagerOptions(new Command('kube-controller-manager'))
  .description('the controllers that keep the cluster as its objects say: replication controllers, replica sets, deployments, jobs, cron jobs, daemon sets, endpoints, node lifecycle, node IPAM, pod and object garbage collection, service accounts and the root CA config map')
  .version(VERSION, '--version', 'print the version and exit')
  .showHelpAfterError()
  .action(async (raw: Record<string, unknown>) => {
    const o = controllerManagerOptions(raw);
    const log = createLogger({ level: o.logLevel as 'info', name: 'kube-controller-manager' });
    if (!o.kubeconfig && !o.master) throw new Error('--kubeconfig or --master is required: the controller manager works through the API');
    const { client, store } = await openApiStore({ ...(o.kubeconfig && { kubeconfig: o.kubeconfig }), ...(o.master && { servers: parseServerList(o.master) }) }, log);
    const ac = new AbortController();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        log.info({ signal: sig }, 'shutting down');
        ac.abort();
      });
    }
    const rootCa = o.rootCaFile ? await readFile(o.rootCaFile, 'utf8') : client.conn.ca?.toString('utf8');
    const healthz = o.securePort > 0 ? await serveSecureHealthz({ ip: o.bindAddress, port: o.securePort, name: 'kube-controller-manager', certDir: o.certDir, log }) : undefined;
    log.info({ server: client.server, controllers: [...o.controllers], leaderElect: o.leaderElect, healthz: healthz ? `${o.bindAddress}:${o.securePort}` : undefined, version: VERSION }, 'starting');
    const cm = new ControllerManager(
      store,
      client,
      {
        controllers: o.controllers,
        workers: { replicationcontroller: o.concurrentRcSyncs, replicaset: o.concurrentReplicasetSyncs, deployment: o.concurrentDeploymentSyncs, job: o.concurrentJobSyncs, cronjob: o.concurrentCronJobSyncs, daemonset: o.concurrentDaemonsetSyncs, serviceaccount: 1, 'root-ca-cert-publisher': 1 },
        ...(rootCa && { rootCa }),
        own: {
          endpoint: (d) => new EndpointsController(d, { workers: o.concurrentEndpointSyncs }),
          nodelifecycle: (d) =>
            new NodeLifecycleController(d, {
              monitorPeriodMs: o.nodeMonitorPeriodMs,
              gracePeriodMs: o.nodeMonitorGracePeriodMs,
              startupGracePeriodMs: o.nodeStartupGracePeriodMs,
              evictionRate: o.nodeEvictionRate,
              secondaryEvictionRate: o.secondaryNodeEvictionRate,
              unhealthyZoneThreshold: o.unhealthyZoneThreshold,
              largeClusterThreshold: o.largeClusterSizeThreshold,
            }),
          // As in Kubernetes, node IPAM runs only with --allocate-node-cidrs.
          ...(o.allocateNodeCidrs && o.clusterCidr && { nodeipam: (d) => new NodeIpamController(d, { clusterCidr: o.clusterCidr!, maskSize: o.nodeCidrMaskSize }) }),
          podgc: (d) => new PodGcController(d),
          garbagecollector: (d) => new GarbageCollector(d, { workers: o.concurrentGcSyncs }),
        },
        ...(o.leaderElect && { election: { identity: o.identity, leaseDurationMs: o.leaseDurationMs, renewDeadlineMs: o.renewDeadlineMs, retryPeriodMs: o.retryPeriodMs, namespace: o.leaseNamespace, name: o.leaseName } }),
      },
      log,
    );
    try {
      await cm.run(ac.signal);
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
  process.stderr.write(`kube-controller-manager: ${errorMessage(e)}\n`);
  process.exit(2);
}
program.parseAsync(args, { from: 'user' }).catch((e: unknown) => {
  process.stderr.write(`kube-controller-manager: ${errorMessage(e)}\n`);
  process.exit(1);
});
