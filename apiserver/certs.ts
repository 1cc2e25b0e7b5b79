// The certificates an apiserver needs when none are given: a CA, a serving certificate that names
// every address clients use (the bind and advertise addresses, 127.0.0.1, the first service address,
// kubernetes.default.svc...), and client certificates for kubeconfigs, all kept in --cert-dir and
// reused on the next start. Made with openssl: node:crypto reads X.509 certificates but cannot issue them.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, FlannelError, writeFileAtomic } from '../core/index.js';

const run = promisify(execFile);

export class CertError extends FlannelError {
  readonly code = 'CERT';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

async function openssl(args: readonly string[], file: string): Promise<void> {
  try {
    await run('openssl', [...args], { timeout: 30_000 });
  } catch (e) {
    throw new CertError(file, `openssl ${args[0]} for ${file}: ${errorMessage(e)}`);
  }
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const DAYS = '3650';

/** The CA in `dir` (ca.crt, ca.key), made when absent. */
export async function ensureCa(dir: string, cn = 'kubernetes-ca'): Promise<KeyPair> {
  const p = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  if (existsSync(p.cert) && existsSync(p.key)) return p;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const subj = `/CN=${cn}@${Math.floor(Date.now() / 1000)}`;
  await openssl(['req', '-x509', ...NEW_KEY, '-keyout', p.key, '-out', p.cert, '-days', DAYS, '-subj', subj, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'], p.cert);
  return p;
}

/** The subject alternative names of the serving certificate, as openssl's subjectAltName value. */
export function servingSans(addresses: readonly string[], dnsNames: readonly string[]): string {
  const ips = [...new Set(addresses.filter((a) => isIP(a) !== 0 && a !== '0.0.0.0' && a !== '::'))];
  return [...new Set(dnsNames)].map((d) => `DNS:${d}`).concat(ips.map((ip) => `IP:${ip}`)).join(',');
}

/**
 * A certificate signed by `ca` in `dir` as <name>.crt/<name>.key, made when absent (kept: the next
 * start serves the same one). `subject` like /O=system:masters/CN=admin.
 */
export async function ensureSigned(dir: string, ca: KeyPair, name: string, subject: string, ext: string): Promise<KeyPair> {
  const p = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  if (existsSync(p.cert) && existsSync(p.key)) return p;
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  await openssl(['req', ...NEW_KEY, '-keyout', p.key, '-out', csr, '-subj', subject], p.key);
  await writeFile(extFile, ext);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', p.cert, '-days', DAYS, '-extfile', extFile], p.cert);
  return p;
}

export async function ensureServing(dir: string, ca: KeyPair, sans: string): Promise<KeyPair> {
  return ensureSigned(dir, ca, 'apiserver', '/CN=kube-apiserver', `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
}

export async function ensureAdminClient(dir: string, ca: KeyPair): Promise<KeyPair> {
  return ensureSigned(dir, ca, 'admin', '/O=system:masters/CN=admin', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
}

/** One RDN value for openssl's -subj: its `/`, `=`, `+` and `\` escaped. */
const rdn = (v: string): string => v.replace(/[\\/=+]/g, (c) => `\\${c}`);

/**
 * A client certificate for `user` in `groups` (CN the user, an O per group, as the authenticator reads them),
 * signed by `ca` and kept in `dir` as client-<user>.crt/.key (made when absent, with the same subject).
 */
export async function ensureUserClient(dir: string, ca: KeyPair, user: string, groups: readonly string[]): Promise<KeyPair> {
  if (user === '') throw new CertError(dir, 'a client certificate needs a user name');
  const file = `client-${user.replace(/[^A-Za-z0-9_.-]/g, '-')}`;
  const subject = [...groups.map((g) => `/O=${rdn(g)}`), `/CN=${rdn(user)}`].join('');
  return ensureSigned(dir, ca, file, subject, 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
}

/**
 * A kubeconfig for one daemon or user: a client certificate for `user` in `groups` signed by the CA in
 * `certDir` (the apiserver's --cert-dir, whose CA it trusts for clients without --client-ca-file), written
 * to `file` with `server` and the CA that verifies the server.
 */
export async function writeUserKubeconfig(o: { certDir: string; server: string; file: string; user: string; groups: readonly string[]; serverCaFile?: string }): Promise<void> {
  const ca = await ensureCa(o.certDir);
  const client = await ensureUserClient(o.certDir, ca, o.user, o.groups);
  await writeKubeconfig(o.file, o.server, await readFile(o.serverCaFile ?? ca.cert, 'utf8'), client);
}

/** An admin kubeconfig as k3s writes one: the CA, the server, and a client certificate, embedded. Mode 0600. */
export async function writeKubeconfig(file: string, server: string, caPem: string, client: KeyPair): Promise<void> {
  const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
  const text = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${b64(caPem)}`,
    `    server: ${server}`,
    '  name: default',
    'contexts:',
    '- context:',
    '    cluster: default',
    '    user: default',
    '  name: default',
    'current-context: default',
    'preferences: {}',
    'users:',
    '- name: default',
    '  user:',
    `    client-certificate-data: ${b64(await readFile(client.cert))}`,
    `    client-key-data: ${b64(await readFile(client.key))}`,
    '',
  ].join('\n');
  await writeFileAtomic(file, text, 0o600);
}
