// flanneld's subnet file (subnet.env) as the kubelet reads it: FLANNEL_SUBNET is the node's podCIDR,
// and the node is Ready only once it is there. A file that does not exist yet, or has no
// FLANNEL_SUBNET, means flanneld has not leased a subnet yet; a file that is there but cannot be
// read, or has a line that is not KEY=VALUE or a FLANNEL_SUBNET that is not a CIDR, is malformed,
// and says so with its path and line, instead of passing for "no FLANNEL_SUBNET".
import { readFile } from 'node:fs/promises';
import { FlannelError, errorMessage } from '../common/index.js';
import { formatCidr, networkOf, parseCidr } from '../ipam/index.js';

export class SubnetFileError extends FlannelError {
  readonly code = 'SUBNET_FILE';
  constructor(
    readonly path: string,
    /** 1-based, when the problem is one line. */
    readonly line: number | undefined,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`subnet file ${path}${line === undefined ? '' : `:${line}`} is malformed: ${reason}`, options);
  }
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The podCIDR (the network of FLANNEL_SUBNET) in the text of a subnet file; throws SubnetFileError. */
export function podCIDRFromSubnetEnv(text: string, path: string): string | undefined {
  let cidr: string | undefined;
  text.split('\n').forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    const eq = t.indexOf('=');
    const key = eq > 0 ? t.slice(0, eq).trim() : '';
    if (!KEY.test(key)) throw new SubnetFileError(path, i + 1, `not a KEY=VALUE line: ${JSON.stringify(t.slice(0, 80))}`);
    if (key !== 'FLANNEL_SUBNET') return;
    const v = t.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      cidr = formatCidr(networkOf(parseCidr(v)));
    } catch (e) {
      throw new SubnetFileError(path, i + 1, `FLANNEL_SUBNET ${JSON.stringify(v)} is not a CIDR: ${errorMessage(e)}`, { cause: e });
    }
  });
  return cidr;
}

/** The node's podCIDR from the subnet file; undefined while there is none yet; throws SubnetFileError. */
export async function readPodCIDR(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SubnetFileError(path, undefined, `cannot be read: ${errorMessage(e)}`, { cause: e });
  }
  return podCIDRFromSubnetEnv(text, path);
}

/** Whether the pod network is ready, as the node's Ready condition reports it. */
export async function networkReadiness(path: string): Promise<{ ready: true; podCIDR: string } | { ready: false; message: string; error?: SubnetFileError }> {
  try {
    const podCIDR = await readPodCIDR(path);
    return podCIDR ? { ready: true, podCIDR } : { ready: false, message: `network not ready: no FLANNEL_SUBNET in ${path}` };
  } catch (e) {
    if (!(e instanceof SubnetFileError)) throw e;
    return { ready: false, message: `network not ready: ${e.message}`, error: e };
  }
}
