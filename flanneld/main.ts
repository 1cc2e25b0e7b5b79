#!/usr/bin/env node
// flanneld: wiring only. Flags → real etcd, netlink and backends → the daemon; SIGTERM/SIGINT abort it.
import { Command } from 'commander';
import { createLogger, errorMessage, etcdClientFromFlags } from '../common/index.js';
import { EtcdRegistry, writeFileAtomic } from '../ipam/index.js';
import { systemIptables } from '../iptables/index.js';
import { openNetlink } from '../netlink/index.js';
import { createBackendRegistry } from './backends.js';
import { checkConfigText, readConfigSource } from './config-check.js';
import { createDaemon } from './daemon.js';
import { renderDockerOpts } from './docker-opts.js';
import { FlannelMetrics } from './metrics.js';
import { type FlanneldArgs, flanneldArgs } from './go-flags.js';
import { addDaemonOptions, daemonOptions, VERSION } from './options.js';

const program = addDaemonOptions(new Command('flanneld'))
  .description('flannel-compatible overlay network daemon')
  .version(VERSION, '--version', 'print the version and exit')
  .showHelpAfterError()
  .action(async (raw: Record<string, unknown>) => {
    const o = daemonOptions(raw);
    const log = createLogger({ level: o.logLevel as 'info' });
    const client = etcdClientFromFlags(o);
    const nl = openNetlink();
    const ac = new AbortController();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        log.info({ signal: sig }, 'shutting down');
        ac.abort();
      });
    }
    const daemon = createDaemon(o, {
      log,
      registry: new EtcdRegistry(client, o.etcdPrefix, log),
      backends: createBackendRegistry(),
      nl,
      iptables: systemIptables,
      metrics: new FlannelMetrics(),
    });
    try {
      await daemon.run(ac.signal);
    } finally {
      nl.close();
      client.close();
    }
  });

const config = program.command('config').description('network config tools');
config
  .command('check')
  .argument('[file]', 'config file, or - for stdin; without it, the config stored in etcd')
  .description('validate a network config and print it with every default filled in')
  .action(async (file: string | undefined) => {
    const o = daemonOptions(program.opts());
    let raw: string | undefined;
    if (file !== undefined) {
      raw = await readConfigSource(file);
    } else {
      const client = etcdClientFromFlags(o, 5_000);
      try {
        raw = await new EtcdRegistry(client, o.etcdPrefix).getNetworkConfig();
      } finally {
        client.close();
      }
      if (raw === undefined) {
        process.stderr.write(`flanneld: no network config at ${o.etcdPrefix}/config\n`);
        process.exitCode = 1;
        return;
      }
    }
    const r = checkConfigText(raw, createBackendRegistry());
    (r.ok ? process.stdout : process.stderr).write(r.output);
    process.exitCode = r.ok ? 0 : 1;
  });

program
  .command('docker-opts')
  .description("write Docker's network options from subnet.env, as mk-docker-opts.sh did (for docker.service's ExecStartPre)")
  .option('-f, --subnet-env <path>', 'flannel subnet file', '/run/flannel/subnet.env')
  .option('-d, --dest <path>', 'Docker environment file to write', '/run/flannel/docker')
  .option('-k, --key <name>', 'name of the combined variable', 'DOCKER_NETWORK_OPTIONS')
  .option('-m, --no-ip-masq', 'leave out --ip-masq')
  .action(async (opts: { subnetEnv: string; dest: string; key: string; ipMasq: boolean }) => {
    const text = await readConfigSource(opts.subnetEnv);
    await writeFileAtomic(opts.dest, renderDockerOpts(text, { key: opts.key, noIpMasq: !opts.ipMasq }));
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
