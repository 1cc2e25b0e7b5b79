// The edge to conntrack: deleting the UDP flows the proxy's NAT no longer stands behind.
import type { ConntrackFlush } from './state.js';
import { execFileInput } from './nft.js';
import { FlannelError } from '../common/index.js';

export interface ConntrackPort {
  /** Deletes matching UDP entries; resolves with how many were deleted. */
  flush(f: ConntrackFlush): Promise<number>;
}

export class ConntrackError extends FlannelError {
  readonly code = 'CONNTRACK';
  override readonly transient = true;
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')}: ${stderr.trim().split('\n')[0] ?? ''}`);
  }
}

export function conntrackArgs(f: ConntrackFlush): string[] {
  const a = ['-D', '-p', 'udp'];
  if (f.origDst) a.push('--orig-dst', f.origDst);
  if (f.origPortDst !== undefined) a.push('--orig-port-dst', String(f.origPortDst));
  if (f.dstNat) a.push('--dst-nat', f.dstNat);
  return a;
}

export class ConntrackCli implements ConntrackPort {
  constructor(private readonly o: { argv?: readonly string[]; timeoutMs?: number } = {}) {}

  async flush(f: ConntrackFlush): Promise<number> {
    const argv = [...(this.o.argv ?? ['conntrack']), ...conntrackArgs(f)];
    const r = await execFileInput(argv, '', this.o.timeoutMs ?? 10_000);
    const m = /(\d+) flow entries have been deleted/.exec(r.stderr);
    // conntrack exits 1 when nothing matched.
    if (m) return Number(m[1]);
    if (r.code === 0) return 0;
    throw new ConntrackError(argv, r.stderr || `exit ${r.code}`);
  }
}
