// The serving certificate when --tls-cert-file is not given: self-signed, as the kubelet makes one, for the
// node's name and address, kept in --cert-dir as kubelet.crt/kubelet.key and reused on the next start.
// Made with openssl: node:crypto reads X.509 certificates but cannot issue them.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage } from '../../common/index.js';

const run = promisify(execFile);

/** subjectAltName for the node: its name (and localhost) as DNS names, its addresses as IPs. Pure. */
export function kubeletSans(nodeName: string, addresses: readonly (string | undefined)[]): string {
  const ips = [...new Set(['127.0.0.1', ...addresses.filter((a): a is string => !!a && isIP(a) !== 0 && a !== '0.0.0.0' && a !== '::')])];
  const names = [...new Set([nodeName, 'localhost'].filter((n) => isIP(n) === 0))];
  return [...names.map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
}

export async function ensureSelfSigned(dir: string, nodeName: string, addresses: readonly (string | undefined)[]): Promise<{ cert: string; key: string }> {
  const p = { cert: join(dir, 'kubelet.crt'), key: join(dir, 'kubelet.key') };
  if (existsSync(p.cert) && existsSync(p.key)) return p;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const subj = `/CN=${nodeName.replace(/[\\/=+]/g, (c) => `\\${c}`)}@${Math.floor(Date.now() / 1000)}`;
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p.key, '-out', p.cert, '-days', '365', '-subj', subj];
  args.push('-addext', `subjectAltName=${kubeletSans(nodeName, addresses)}`, '-addext', 'extendedKeyUsage=serverAuth', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment');
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (e) {
    throw new Error(`cannot make the kubelet's self-signed certificate in ${dir}: ${errorMessage(e)}`, { cause: e });
  }
  return p;
}
