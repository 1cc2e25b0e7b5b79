// kube-scheduler's flags (the subset this scheduler has), named as kube-scheduler names them.
import { hostname } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../common/index.js';

export const VERSION = '0.1.0';

export interface SchedulerOptions {
  readonly kubeconfig: string;
  readonly schedulerName: string;
  readonly leaderElect: boolean;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly bindAddress: string;
  readonly securePort: number;
  readonly backstopMs: number;
  readonly identity: string;
  readonly logLevel: string;
}

function duration(v: string): number {
  try {
    const ms = parseDuration(v);
    if (ms <= 0) throw new InvalidArgumentError('must be positive');
    return ms;
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw e;
    throw new InvalidArgumentError('expected a duration such as 15s or 1m');
  }
}

function port(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('expected a port (0 turns the secure port off)');
  return Number(v);
}

function bool(v: string | boolean): boolean {
  if (typeof v === 'boolean') return v;
  if (/^(1|t|true|T|TRUE|True)$/.test(v)) return true;
  if (/^(0|f|false|F|FALSE|False)$/.test(v)) return false;
  throw new InvalidArgumentError('expected true or false');
}

export function addSchedulerOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--kubeconfig <file>', 'the kubeconfig of the API server to schedule through').makeOptionMandatory())
    .addOption(new Option('--scheduler-name <name>', "the pods' spec.schedulerName this scheduler takes").default('default-scheduler'))
    .addOption(new Option('--leader-elect [bool]', 'elect a leader on a coordination.k8s.io Lease; only the leader schedules').default(true).argParser(bool))
    .addOption(new Option('--leader-elect-lease-duration <d>', 'how long a standby waits after the last renewal before taking the lease').default(15_000, '15s').argParser(duration))
    .addOption(new Option('--leader-elect-renew-deadline <d>', 'a leader that cannot renew for this long stops scheduling').default(10_000, '10s').argParser(duration))
    .addOption(new Option('--leader-elect-retry-period <d>', 'between attempts to take or renew the lease').default(2_000, '2s').argParser(duration))
    .addOption(new Option('--leader-elect-resource-namespace <ns>', "the Lease's namespace").default('kube-system'))
    .addOption(new Option('--leader-elect-resource-name <name>', "the Lease's name").default('kube-scheduler'))
    .addOption(new Option('--bind-address <ip>', 'the address of the secure port').default('0.0.0.0'))
    .addOption(new Option('--secure-port <port>', '/healthz over HTTPS on this port (0: off)').default(10259).argParser(port))
    .addOption(new Option('--pod-max-in-unschedulable-pods-duration <d>', 'an unschedulable pod is tried again after this long even when nothing changed').default(60_000, '60s').argParser(duration))
    .addOption(new Option('--v <level>', 'log level (trace, debug, info, warn, error)').default('info'));
}

export function schedulerOptions(raw: Record<string, unknown>): SchedulerOptions {
  const o = raw as {
    kubeconfig: string;
    schedulerName: string;
    leaderElect: boolean;
    leaderElectLeaseDuration: number;
    leaderElectRenewDeadline: number;
    leaderElectRetryPeriod: number;
    leaderElectResourceNamespace: string;
    leaderElectResourceName: string;
    bindAddress: string;
    securePort: number;
    podMaxInUnschedulablePodsDuration: number;
    v: string;
  };
  if (o.leaderElectRenewDeadline >= o.leaderElectLeaseDuration) throw new InvalidArgumentError('--leader-elect-renew-deadline must be shorter than --leader-elect-lease-duration');
  return {
    kubeconfig: o.kubeconfig,
    schedulerName: o.schedulerName,
    leaderElect: o.leaderElect,
    leaseDurationMs: o.leaderElectLeaseDuration,
    renewDeadlineMs: o.leaderElectRenewDeadline,
    retryPeriodMs: o.leaderElectRetryPeriod,
    leaseNamespace: o.leaderElectResourceNamespace,
    leaseName: o.leaderElectResourceName,
    bindAddress: o.bindAddress,
    securePort: o.securePort,
    backstopMs: o.podMaxInUnschedulablePodsDuration,
    identity: `${hostname()}_${crypto.randomUUID()}`,
    logLevel: /^\d+$/.test(o.v) ? (Number(o.v) >= 4 ? 'debug' : 'info') : o.v,
  };
}
