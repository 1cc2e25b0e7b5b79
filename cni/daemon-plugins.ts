// The plugins the CNI daemon runs in-process: the same plugin functions and defaults as the
// executables' entry points (flannel-main.ts, host-local-main.ts), except that everything a plugin
// or its delegates write to stderr goes into the request's answer instead of the daemon's stderr.
import { FLANNEL_PLUGIN_INFO, flannelPlugin, realFlannelFs } from './flannel.js';
import { HOST_LOCAL_PLUGIN_INFO, hostLocalPlugin } from './host-local.js';
import { spawnExec } from './invoke.js';
import { stderrLog } from './log.js';
import type { PluginFactory } from './daemon-server.js';

/** The plugin names the shims are built for (scripts/build-cni.mjs). */
export const DAEMON_PLUGINS = ['flannel', 'host-local'] as const;

export function daemonPlugins(): PluginFactory {
  const hostLocal = { funcs: hostLocalPlugin(), info: HOST_LOCAL_PLUGIN_INFO };
  return (name, stderr) => {
    if (name === 'flannel') {
      return { funcs: flannelPlugin({ exec: spawnExec(stderr), fs: realFlannelFs, log: stderrLog('flannel', 'info', stderr) }), info: FLANNEL_PLUGIN_INFO };
    }
    if (name === 'host-local') return hostLocal;
    return undefined;
  };
}
