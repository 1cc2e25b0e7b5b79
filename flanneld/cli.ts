// flanneld: wiring only. Flags → real etcd, netlink and backends → the daemon; SIGTERM/SIGINT abort it.
// Run by main.ts, from the bundle of this module (dist/bundle/flanneld.cjs) or as tsc wrote it.
import { compileCache } from './compile-cache.js'; // first: it speeds up loading what follows (installed once, by main.ts)
import { Command } from 'commander';
import type { Etcd3, IKeyValue } from 'etcd3';
import {
  createLogger,
  type Logger,
  errorMessage,
  EtcdGateway,
  etcdClientFromFlags,
  etcdOptionsFromFlags,
  type KvPair,
  NoGatewayError,
  type PrefixWatchBatch,
  readEtcdV2Key,
  watchPrefix,
  watchPrefixViaGateway,
} from '../common/index.js';
import { EtcdRegistry, fallbackKv, grpcKv, type MissingConfig, type V2KeyReader, writeFileAtomic } from '../ipam/index.js';
import { systemIptables } from '../iptables/index.js';
import { openNetlink } from '../netlink/index.js';
import { createBackendRegistry } from './backends.js';
import { checkConfigText, readConfigSource } from './config-check.js';
import { createDaemon } from './daemon.js';
import type { KubeLeaser, KubeNodeRegistry } from './kube/index.js';
import { renderDockerOpts } from './docker-opts.js';
import { type FlanneldArgs, flanneldArgs } from './go-flags.js';
import { systemdNotifier } from './sd-notify.js';
import { addDaemonOptions, daemonOptions, type DaemonOptions, VERSION } from './options.js';

function v2ReaderFromFlags(o: DaemonOptions): V2KeyReader {
  const opts = etcdOptionsFromFlags(o);
  return (key) => readEtcdV2Key(opts, key);
}

/**
 * With plain-http endpoints the registry's calls and its lease watch go through etcd's JSON gateway
 * (HTTP/1.1 with node:http), and etcd3, gRPC and protobufjs (most of a start, and a third of the
 * memory) are never loaded; an etcd that serves no gateway, TLS flags, or FLANNEL_ETCD_GATEWAY=0
 * take etcd3's gRPC client as before.
 */
function etcdSubnetManager(o: DaemonOptions, log: Logger): { deps: { registry: EtcdRegistry }; close(): void } {
  const opts = etcdOptionsFromFlags(o);
  if (process.env.FLANNEL_ETCD_GATEWAY === '0' || !EtcdGateway.usable(opts)) {
    const client = etcdClientFromFlags(o);
    return { deps: { registry: new EtcdRegistry(client, o.etcdPrefix, log, v2ReaderFromFlags(o)) }, close: () => client.close() };
  }
  let client: Etcd3 | undefined;
  const grpc = (): Etcd3 => (client ??= etcdClientFromFlags(o));
  let viaGateway = true;
  const noGateway = (): void => {
    if (viaGateway) log.info({ endpoints: o.etcdEndpoints }, 'etcd serves no v3 JSON gateway; using gRPC');
    viaGateway = false;
  };
  const gw = new EtcdGateway({ ...opts, callTimeoutMs: 10_000 });
  const calls = fallbackKv(gw, () => {
    noGateway();
    return grpcKv(grpc());
  });
  async function* watch(prefix: string, from: bigint, signal: AbortSignal, l: Logger): AsyncIterable<PrefixWatchBatch<KvPair | IKeyValue>> {
    if (!viaGateway) return yield* watchPrefix(grpc(), prefix, from, signal, l);
    try {
      yield* watchPrefixViaGateway(gw, prefix, from, signal, l);
    } catch (e) {
      if (!(e instanceof NoGatewayError)) throw e;
      noGateway(); // the daemon restarts the watch from its last revision, over gRPC
      throw e;
    }
  }
  return { deps: { registry: new EtcdRegistry({ calls, watch }, o.etcdPrefix, log, v2ReaderFromFlags(o)) }, close: () => client?.close() };
}

/** --kube-subnet-mgr: the API client, our node's name, the Node registry and leaser; a setup error ends flanneld, as flannel's. */
async function kubeSubnetManager(o: DaemonOptions, log: Logger, signal: AbortSignal): Promise<{ deps: { registry: KubeNodeRegistry; leaser: KubeLeaser }; close(): void }> {
  // Only this subnet manager needs the API client: etcd users do not load it.
  const { ApiClient } = await import('../cluster/index.js');
  const { annotationNames, KubeLeaser, KubeNodeRegistry, kubeConnection, resolveNodeName } = await import('./kube/index.js');
  let client: InstanceType<typeof ApiClient> | undefined;
  try {
    const names = annotationNames(o.kubeAnnotationPrefix);
    client = new ApiClient(await kubeConnection({ ...(o.kubeconfigFile && { kubeconfigFile: o.kubeconfigFile }), ...(o.kubeApiUrl && { kubeApiUrl: o.kubeApiUrl }) }, process.env), { log });
    const nodeName = await resolveNodeName(process.env, client, signal);
    log.info({ node: nodeName, server: client.server, netConfPath: o.netConfPath }, 'using the Kubernetes subnet manager');
    const leaser = new KubeLeaser({ client, nodeName, names, log, setNetworkUnavailable: o.setNodeNetworkUnavailable });
    const c = client;
    return { deps: { registry: new KubeNodeRegistry(client, names, o.netConfPath), leaser }, close: () => c.close() };
  } catch (e) {
    client?.close();
    process.stderr.write(`flanneld: --kube-subnet-mgr: ${errorMessage(e)}\n`);
    process.exit(1);
  }
}

const program = addDaemonOptions(new Command('flanneld'))
  .description('flannel-compatible overlay network daemon')
  .version(VERSION, '--version', 'print the version and exit')
  .showHelpAfterError()
  .action(async (raw: Record<string, unknown>) => {
    const o = daemonOptions(raw);
    const log = createLogger({ level: o.logLevel as 'info' });
    log.debug({ cachedModules: compileCache?.hits() ?? 0 }, 'compile cache');
    const ac = new AbortController();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        log.info({ signal: sig }, 'shutting down');
        ac.abort();
      });
    }
    const store = o.kubeSubnetMgr ? await kubeSubnetManager(o, log, ac.signal) : etcdSubnetManager(o, log);
    const nl = openNetlink();
    const daemon = createDaemon(o, {
      log,
      ...store.deps,
      backends: createBackendRegistry(),
      nl,
      iptables: systemIptables,
      // Served on the healthz listener only: without one, prom-client (and its sampling of the process) is not loaded.
      ...(o.healthzPort > 0 && { metrics: new (await import('./metrics.js')).FlannelMetrics() }),
      notify: systemdNotifier(log),
    });
    try {
      await daemon.run(ac.signal);
    } finally {
      nl.close();
      store.close();
    }
  });

const config = program.command('config').description('network config tools');

/** A short-lived registry on the daemon's own etcd flags, for the config commands. */
async function withRegistry<T>(fn: (r: EtcdRegistry) => Promise<T>): Promise<T> {
  const o = daemonOptions(program.opts());
  const client = etcdClientFromFlags(o, 5_000);
  try {
    return await fn(new EtcdRegistry(client, o.etcdPrefix, createLogger({ level: 'warn' }), v2ReaderFromFlags(o)));
  } finally {
    client.close();
  }
}

config
  .command('check')
  .argument('[file]', 'config file, or - for stdin; without it, the config stored in etcd')
  .description('validate a network config and print it with every default filled in')
  .action(async (file: string | undefined) => {
    const raw = file !== undefined ? await readConfigSource(file) : await withRegistry(async (r) => (await r.getNetworkConfig()) ?? missingConfig(await r.explainMissingConfig()));
    if (raw === undefined) return;
    const r = checkConfigText(raw, createBackendRegistry());
    (r.ok ? process.stdout : process.stderr).write(r.output);
    process.exitCode = r.ok ? 0 : 1;
  });

config
  .command('set')
  .argument('[file]', 'config file, or - for stdin', '-')
  .description("check a network config and write it to <etcd-prefix>/config with these etcd flags, as 'etcdctl set' did")
  .action(async (file: string) => {
    const raw = await readConfigSource(file);
    const r = checkConfigText(raw, createBackendRegistry());
    if (!r.ok) {
      process.stderr.write(r.output);
      process.exitCode = 1;
      return;
    }
    const key = await withRegistry(async (reg) => {
      await reg.putNetworkConfig(raw.trim());
      return reg.configKey;
    });
    process.stdout.write(`wrote ${key}\n`);
  });

function missingConfig(why: MissingConfig): undefined {
  const lines = [`flanneld: no network config; looked for ${why.lookedFor.join(', ')}`, ...(why.note ? [`flanneld: ${why.note}`] : []), ...why.write.map((w) => `  ${w}`)];
  process.stderr.write(lines.join('\n') + '\n');
  process.exitCode = 1;
  return undefined;
}

program
  .command('docker-opts')
  .description("write Docker's network options from subnet.env, as mk-docker-opts.sh did (for docker.service's ExecStartPre)")
  .option('-f, --subnet-env <path>', 'flannel subnet file', '/run/flannel/subnet.env')
  .option('-d, --dest <path>', 'Docker environment file to write', '/run/flannel/docker')
  .option('-k, --key <name>', 'name of the combined variable', 'DOCKER_NETWORK_OPTIONS')
  .option('-m, --no-ip-masq', 'leave out --ip-masq')
  .option('-i, --individual', 'write each option as its own variable (DOCKER_OPT_BIP, ...)')
  .option('-c, --combined', 'write the combined variable (both when neither -i nor -c is given)')
  .action(async (opts: { subnetEnv: string; dest: string; key: string; ipMasq: boolean; individual?: boolean; combined?: boolean }) => {
    const text = await readConfigSource(opts.subnetEnv);
    await writeFileAtomic(opts.dest, renderDockerOpts(text, { key: opts.key, noIpMasq: !opts.ipMasq, individual: opts.individual === true, combined: opts.combined === true }));
  });

let parsed: FlanneldArgs;
try {
  parsed = flanneldArgs(program, process.argv.slice(2));
} catch (e) {
  process.stderr.write(`flanneld: ${errorMessage(e)}\nRun 'flanneld --help' for usage.\n`);
  process.exit(2);
}
if (parsed.ignored.length > 0) {
  process.stderr.write(`flanneld: ignoring arguments after the flags, as flannel does: ${parsed.ignored.join(' ')} (a boolean flag takes its value as -flag=false)\n`);
}
program.parseAsync(parsed.args, { from: 'user' }).catch((e: unknown) => {
  process.stderr.write(`flanneld: ${errorMessage(e)}\n`);
  process.exit(1);
});
