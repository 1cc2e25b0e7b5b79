#!/usr/bin/env node
// kube-dns: wiring only. Flags → the API store, the upstreams of --resolv-conf → the zone followed from
// the API and the DNS server; SIGTERM/SIGINT stop it.
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { Command } from 'commander';
import { InClusterError, openApiStore } from '../cluster/index.js';
import { createLogger, errorMessage, flagTableOf, listenHttp, normalizePflagArgs } from '../common/index.js';
import { followCluster } from './kube.js';
import { addDnsOptions, dnsOptions, VERSION } from './options.js';
import { parseResolvConf, upstreamServers } from './resolv-conf.js';
import { DnsServer } from './server.js';
import { Forwarder } from './upstream.js';
import { Zone } from './zone.js';

const program = addDnsOptions(new Command('kube-dns'))
  .description('cluster DNS: services and pods of the Kubernetes API by name, other names from the upstream resolvers')
  .version(VERSION, '--version', 'print the version and exit')
  .showHelpAfterError()
  .action(async (raw: Record<string, unknown>) => {
    const o = dnsOptions(raw);
    const log = createLogger({ level: o.logLevel as 'info', name: 'kube-dns' });
    let resolv = '';
    try {
      resolv = await readFile(o.resolvConf, 'utf8');
    } catch (e) {
      log.warn({ file: o.resolvConf, err: errorMessage(e) }, 'no upstream resolvers: names outside the cluster domain get SERVFAIL');
    }
    const upstreams = upstreamServers(parseResolvConf(resolv));
    const { client, store } = await openApiStore(o.api, log).catch((e: unknown) => {
      throw e instanceof InClusterError ? new InClusterError(`${e.message} (outside a pod, give --kubecfg-file or --kube-master-url)`) : e;
    });
    const ac = new AbortController();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        log.info({ signal: sig }, 'shutting down');
        ac.abort();
      });
    }
    const zone = new Zone(o.domain);
    const sync = followCluster(store, zone, ac.signal, log);
    const server = new DnsServer(zone, new Forwarder(upstreams, { timeoutMs: o.upstreamTimeoutMs, log }), { bindAddress: o.dnsBindAddress, port: o.dnsPort, cacheEntries: o.cacheSize, ready: sync.synced, log });
    let healthz: Server | undefined;
    try {
      await server.listen();
      if (o.healthzPort > 0) {
        healthz = await listenHttp(o.dnsBindAddress, o.healthzPort, (req, res) => {
          const path = (req.url ?? '/').split('?')[0];
          if (path !== '/healthz' && path !== '/readiness') return void res.writeHead(404).end();
          const ok = sync.synced();
          res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'services and endpoints not listed yet\n');
        }, log);
      }
      log.info({ version: VERSION, domain: o.domain, port: server.port }, 'started');
      await sync.done;
    } finally {
      healthz?.close();
      await server.close();
      client.close();
    }
    log.info({}, 'stopped');
  });

let args: string[];
try {
  args = normalizePflagArgs(process.argv.slice(2), flagTableOf(program));
} catch (e) {
  process.stderr.write(`kube-dns: ${errorMessage(e)}\n`);
  process.exit(2);
}
program.parseAsync(args, { from: 'user' }).catch((e: unknown) => {
  process.stderr.write(`kube-dns: ${errorMessage(e)}\n`);
  process.exit(1);
});
