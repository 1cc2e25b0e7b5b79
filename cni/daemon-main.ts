#!/usr/bin/env node
// flannel-cni-daemon: wiring only. Serves the CNI shims' requests on --socket (daemon-server.ts)
// with the plugins in this process (daemon-plugins.ts); SIGTERM/SIGINT stop it after the requests
// already running are answered. With it down, the shims run each plugin in its own Node process.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { pino } from 'pino';
import { errorMessage } from '../core/index.js';
import { daemonPlugins } from './daemon-plugins.js';
import { ownNamespace, startCniDaemon } from './daemon-server.js';
import { sameNetns } from './skel.js';

/** Where the shims look when FLANNEL_CNI_SOCKET is unset (cni/shim.c has the same default). */
export const DEFAULT_CNI_SOCKET = '/run/flannel/cni.sock';

const program = new Command('flannel-cni-daemon')
  .description("runs the flannel and host-local CNI plugins for the node's plugin shims, without a Node start per exec")
  .option('--socket <path>', 'unix socket the shims connect to (they read FLANNEL_CNI_SOCKET)', process.env.FLANNEL_CNI_SOCKET || DEFAULT_CNI_SOCKET)
  .option('--log-level <level>', 'debug logs every request', process.env.LOG_LEVEL || 'info')
  .showHelpAfterError()
  .action(async (o: { socket: string; logLevel: string }) => {
    const log = pino({ level: o.logLevel, base: { name: 'flannel-cni-daemon' } }, pino.destination({ fd: 2, sync: true }));
    await mkdir(path.dirname(o.socket), { recursive: true, mode: 0o755 });
    const daemon = await startCniDaemon({
      socketPath: o.socket,
      plugins: daemonPlugins(),
      own: { netns: await ownNamespace('net'), mntns: await ownNamespace('mnt') },
      isOwnNetns: sameNetns,
      log,
    });
    log.info({ socket: daemon.socketPath }, 'listening');
    const sig = await new Promise<string>((resolve) => {
      for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve(s));
    });
    log.info({ signal: sig, inFlight: daemon.inFlight() }, 'shutting down');
    await daemon.close();
    log.info({}, 'stopped');
    process.exit(0);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`flannel-cni-daemon: ${errorMessage(e)}\n`);
  process.exit(1);
});
