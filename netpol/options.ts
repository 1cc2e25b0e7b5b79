// The agent's flags, named as kube-proxy's are (the same cluster flags, the same sync periods). Every flag can
// also come from the environment as NETPOL_AGENT_<NAME>; the command line wins.
import { hostname } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { type ApiFlags, apiFlagsOf } from '../cluster/index.js';
import { addEtcdOptions, DurationError, type EtcdFlagValues, etcdFlagValues, parseDuration } from '../common/index.js';

export interface AgentFlags extends EtcdFlagValues {
  readonly api?: ApiFlags;
  readonly hostnameOverride: string;
  readonly minSyncPeriodMs: number;
  readonly syncPeriodMs: number;
  readonly cleanup: boolean;
  readonly logLevel: string;
}

export const VERSION = '0.1.0';
const envName = (flag: string) => `NETPOL_AGENT_${flag.replace(/-/g, '_').toUpperCase()}`;
const opt = (flags: string, description: string, name: string): Option => new Option(flags, description).env(envName(name));

function durationMs(flag: string, v: string): number {
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch (e) {
    if (!(e instanceof DurationError)) throw e;
    throw new InvalidArgumentError(`--${flag}: ${e.reason}: expected a duration such as 100ms, 1s or 1m`);
  }
  if (ms < 0) throw new InvalidArgumentError(`--${flag}: a duration here cannot be negative`);
  return Math.round(ms);
}

export function addAgentOptions(cmd: Command): Command {
  return addEtcdOptions(cmd, envName)
    .addOption(opt('--kubeconfig <file>', 'work through the Kubernetes API this kubeconfig names (instead of --etcd-endpoints)', 'kubeconfig'))
    .addOption(opt('--master <url>', 'work through the Kubernetes API at this plain-HTTP server (comma-separated: the first that answers)', 'master'))
    .addOption(opt('--hostname-override <name>', "this node's name (pods' spec.nodeName): policies are enforced for its pods; default the hostname", 'hostname-override'))
    .addOption(opt('--min-sync-period <duration>', 'least time between two rule syncs: changes within it are applied together', 'min-sync-period').default('100ms'))
    .addOption(opt('--sync-period <duration>', 'a full resync of the rules at least this often', 'sync-period').default('30s'))
    .addOption(opt('--cleanup', "remove the agent's nftables table and exit", 'cleanup'))
    .addOption(opt('--log-level <level>', 'log level: trace, debug, info, warn, error', 'log-level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'));
}

/** The parsed flags; throws InvalidArgumentError naming the flag. `etcdGiven`: --etcd-endpoints was set, not defaulted. */
export function agentFlags(raw: Record<string, unknown>, etcdGiven = false): AgentFlags {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const api = apiFlagsOf(str(raw.kubeconfig), str(raw.master), '--master', etcdGiven);
  const o: AgentFlags = {
    ...etcdFlagValues(raw),
    ...(api && { api }),
    hostnameOverride: str(raw.hostnameOverride) ?? hostname(),
    minSyncPeriodMs: durationMs('min-sync-period', String(raw.minSyncPeriod)),
    syncPeriodMs: durationMs('sync-period', String(raw.syncPeriod)),
    cleanup: raw.cleanup === true || raw.cleanup === 'true',
    logLevel: String(raw.logLevel),
  };
  if (o.syncPeriodMs < 1000) throw new InvalidArgumentError('--sync-period: must be at least 1s');
  if (o.minSyncPeriodMs > o.syncPeriodMs) throw new InvalidArgumentError('--min-sync-period: must not exceed --sync-period');
  return o;
}
