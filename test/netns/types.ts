import type { ExecOptions, ExecResult } from './exec.js';
import type { Proc, SpawnOptions } from './proc.js';

/** Something that owns a network namespace in the lab: a host, a pod, or the switch. */
export interface Endpoint {
  /** `a` for a host, `a/p1` for a pod on host a, `sw` for the switch. */
  readonly name: string;
  /** Namespace name, e.g. `fl1234xq-a`. */
  readonly ns: string;
  /** `/var/run/netns/<ns>`, for `nsenter --net=` and for netNsFd. */
  readonly nsPath: string;
  /** The endpoint's own address: underlay address for a host / the switch, pod address for a pod. */
  readonly ip: string;
  /** A scratch directory under the lab's temp dir (logs, subnet.env, data dirs). */
  readonly dir: string;
  /** Runs argv inside the namespace (`nsenter --net=<nsPath> -- argv`), bounded by timeoutMs (default 10 s). */
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Like exec but throws a LabError on a non-zero exit or timeout; returns stdout. */
  run(argv: readonly string[], opts?: ExecOptions): Promise<string>;
  /** Starts a long-running process inside the namespace; the lab tracks its PID and ends it on destroy. */
  spawn(argv: readonly string[], opts?: SpawnOptions): Proc;
}
