#!/usr/bin/env node
// kubelet: wiring only. Flags → the cluster store (the API or etcd), Docker → the Kubelet; SIGTERM/SIGINT stop it (pods keep running).
import { hostname } from 'node:os';
import { Command } from 'commander';
import { apiEventSink, openClusterStore } from '../cluster/index.js';
import { createLogger, errorMessage, flagTableOf, normalizePflagArgs } from '../common/index.js';
import { DockerClient, parseDockerEndpoint } from './docker.js';
import { startKubeletHealthz } from './healthz.js';
import { Kubelet } from './kubelet.js';
import { detectNodeIp } from './netinfo.js';
import { addKubeletOptions, kubeletOptions, VERSION } from './options.js';
import { apiTokenRequester } from './token-request.js';
import { startKubeletServer } from './server/index.js';

const program = addKubeletOptions(new Command('kubelet'))
  .description('the node agent: registers the node and runs the pods bound to it on Docker, over flannel')
  .version(VERSION, '--version', 'print the version and exit')
  .showHelpAfterError()
  .action(async (raw: Record<string, unknown>) => {
    const o = kubeletOptions(raw, program.getOptionValueSource('etcdEndpoints') !== 'default');
    const log = createLogger({ level: o.logLevel as 'info' });
    const cluster = await openClusterStore(o.api, o, log);
    const docker = new DockerClient(parseDockerEndpoint(o.dockerEndpoint));
    const nodeName = (o.hostnameOverride ?? hostname()).toLowerCase();
    const nodeIP = o.nodeIp ?? (await detectNodeIp());
    const kubelet = new Kubelet(
      {
        nodeName,
        nodeIP,
        rootDir: o.rootDir,
        podManifestPath: o.podManifestPath,
        subnetFile: o.subnetFile,
        pauseImage: o.podInfraContainerImage,
        pauseBusybox: o.pauseBusybox,
        syncFrequencyMs: o.syncFrequency,
        plegPeriodMs: o.plegRelistPeriod,
        fileCheckMs: o.fileCheckFrequency,
        nodeStatusUpdateMs: o.nodeStatusUpdateFrequency,
        nodeMonitorPeriodMs: o.nodeMonitorPeriod,
        nodeMonitorGraceMs: o.nodeMonitorGracePeriod,
        monitorPeers: cluster.api === undefined,
        backoff: { baseMs: o.crashloopBackoffBase, maxMs: o.crashloopBackoffMax, resetMs: o.crashloopBackoffReset },
        maxPods: o.maxPods,
        dns: { clusterDns: o.clusterDns, clusterDomain: o.clusterDomain, resolvConf: o.resolvConf },
        ...(o.port > 0 && { kubeletPort: o.port }),
        ...(o.networkPlugin === 'cni' && { cni: { confDir: o.cniConfDir, binDirs: o.cniBinDirs, cacheDir: o.cniCacheDir } }),
      },
      { log, store: cluster.store, docker, ...(cluster.api && { requestToken: apiTokenRequester(cluster.api.client), events: apiEventSink(cluster.api.client) }) },
    );
    const ac = new AbortController();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        log.info({ signal: sig }, 'shutting down');
        ac.abort();
      });
    }
    const healthz = o.healthzPort > 0 ? await startKubeletHealthz(o.healthzBindAddress, o.healthzPort, kubelet, log) : undefined;
    const server = o.port > 0 ? await startKubeletServer(o, { nodeName, nodeIP, api: cluster.api?.client, pods: kubelet, docker, health: () => kubelet.health(), log }) : undefined;
    try {
      await kubelet.run(ac.signal);
    } finally {
      server?.close();
      healthz?.close();
      docker.close();
      cluster.close();
    }
  });

let args: string[];
try {
  args = normalizePflagArgs(process.argv.slice(2), flagTableOf(program));
} catch (e) {
  process.stderr.write(`kubelet: ${errorMessage(e)}\n`);
  process.exit(2);
}
program.parseAsync(args, { from: 'user' }).catch((e: unknown) => {
  process.stderr.write(`kubelet: ${errorMessage(e)}\n`);
  process.exit(1);
});
