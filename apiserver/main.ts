#!/usr/bin/env node
// kube-apiserver: wiring only. Flags → startApiServer; SIGTERM/SIGINT close the listeners and etcd.
import { Command } from 'commander';
import { createLogger, errorMessage, flagTableOf, normalizePflagArgs } from '../common/index.js';
import { runApiServer } from './daemon.js';
import { addApiServerOptions, apiServerOptions, VERSION } from './options.js';

const program = addApiServerOptions(new Command('kube-apiserver'))
  .description('the Kubernetes API over etcd, for kubectl and the cluster\'s daemons')
  .version(VERSION, '--version', 'print the version and exit')
  .showHelpAfterError()
  .action(async (raw: Record<string, unknown>) => {
    const o = apiServerOptions(raw);
    const log = createLogger({ level: o.logLevel as 'info' });
    const ac = new AbortController();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        log.info({ signal: sig }, 'shutting down');
        ac.abort();
      });
    }
    await runApiServer(o, log, ac.signal);
  });

let args: string[];
try {
  args = normalizePflagArgs(process.argv.slice(2), flagTableOf(program));
} catch (e) {
  process.stderr.write(`kube-apiserver: ${errorMessage(e)}\n`);
  process.exit(2);
}
program.parseAsync(args, { from: 'user' }).catch((e: unknown) => {
  process.stderr.write(`kube-apiserver: ${errorMessage(e)}\n`);
  process.exit(1);
});
