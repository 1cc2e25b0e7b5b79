// What mk-docker-opts.sh made of subnet.env: Docker's --bip, --mtu and --ip-masq (inverted: when
// flanneld masquerades, Docker must not), one variable each and DOCKER_NETWORK_OPTIONS combining them,
// for a docker.service drop-in's EnvironmentFile.
import { parseEnvFile } from '../ipam/index.js';

export interface DockerOptsOptions {
  /** The combined variable's name (mk-docker-opts.sh -k). */
  readonly key?: string;
  /** Leave out --ip-masq (mk-docker-opts.sh -m). */
  readonly noIpMasq?: boolean;
  /** Which variables to write: each option alone (`-i`), the combined one (`-c`); both when neither is asked for. */
  readonly individual?: boolean;
  readonly combined?: boolean;
}

export class DockerOptsError extends Error {}

export function renderDockerOpts(subnetEnv: string, o: DockerOptsOptions = {}): string {
  const env = parseEnvFile(subnetEnv);
  const subnet = env.get('FLANNEL_SUBNET');
  const mtu = env.get('FLANNEL_MTU');
  if (!subnet) throw new DockerOptsError('subnet file has no FLANNEL_SUBNET');
  if (!mtu || !/^\d+$/.test(mtu)) throw new DockerOptsError('subnet file has no valid FLANNEL_MTU');
  const opts: [string, string][] = [['DOCKER_OPT_BIP', `--bip=${subnet}`]];
  if (!o.noIpMasq) opts.push(['DOCKER_OPT_IPMASQ', `--ip-masq=${env.get('FLANNEL_IPMASQ') === 'true' ? 'false' : 'true'}`]);
  opts.push(['DOCKER_OPT_MTU', `--mtu=${mtu}`]);
  const both = !o.individual && !o.combined;
  const lines = both || o.individual ? opts.map(([k, v]) => `${k}="${v}"`) : [];
  if (both || o.combined) lines.push(`${o.key ?? 'DOCKER_NETWORK_OPTIONS'}=" ${opts.map(([, v]) => v).join(' ')}"`);
  return lines.join('\n') + '\n';
}
