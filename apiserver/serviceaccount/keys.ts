// The service-account keys: the RSA private key that signs tokens (--service-account-signing-key-file) and
// the public keys that verify them (--service-account-key-file, any number of files, each with any number
// of PEM blocks: public keys, private keys or certificates, as kube-apiserver reads them). Without the
// flags, a key pair is made once in --cert-dir (sa.key, sa.pub) and kept for the next start, so tokens
// outlive a restart; several apiservers on one etcd must be given the same key.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, FlannelError, writeFileAtomic } from '../../core/index.js';

export class ServiceAccountKeyError extends FlannelError {
  readonly code = 'SA_KEY';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ServiceAccountKeys {
  readonly signing: KeyObject;
  readonly verifying: readonly KeyObject[];
  /** Where the signing key came from (for the log). */
  readonly signingFile: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** The public keys of every PEM block in `text` (`file` names it in errors). A file with none is an error. */
export function publicKeysOf(text: string, file: string): KeyObject[] {
  const out: KeyObject[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const [pem, type] = [m[0], m[1]!];
    try {
      if (type === 'CERTIFICATE') out.push(new X509Certificate(pem).publicKey);
      else if (type.endsWith('PRIVATE KEY')) out.push(createPublicKey(createPrivateKey(pem)));
      else if (type.endsWith('PUBLIC KEY')) out.push(createPublicKey(pem));
    } catch (e) {
      throw new ServiceAccountKeyError(file, `${file}: the ${type} block is not a key: ${errorMessage(e)}`);
    }
  }
  if (out.length === 0) throw new ServiceAccountKeyError(file, `${file}: no public keys found (expected PEM blocks of public keys, private keys or certificates)`);
  return out;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new ServiceAccountKeyError(file, `${file}: ${errorMessage(e)}`);
  }
}

/** The signing key: given (and RSA, as RS256 needs), or made in `certDir` when the flag is absent. */
export async function loadServiceAccountKeys(certDir: string, signingFile: string | undefined, keyFiles: readonly string[]): Promise<ServiceAccountKeys> {
  let file = signingFile;
  if (file === undefined) {
    file = join(certDir, 'sa.key');
    if (!existsSync(file)) {
      await mkdir(certDir, { recursive: true, mode: 0o700 });
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      await writeFileAtomic(join(certDir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644);
      await writeFileAtomic(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
    }
  }
  let signing: KeyObject;
  try {
    signing = createPrivateKey(await readText(file));
  } catch (e) {
    if (e instanceof ServiceAccountKeyError) throw e;
    throw new ServiceAccountKeyError(file, `${file}: not a private key: ${errorMessage(e)}`);
  }
  if (signing.asymmetricKeyType !== 'rsa') throw new ServiceAccountKeyError(file, `${file}: the signing key is ${signing.asymmetricKeyType ?? 'not asymmetric'}; tokens are signed RS256, which needs an RSA key`);
  const verifying: KeyObject[] = [];
  for (const f of keyFiles) verifying.push(...publicKeysOf(await readText(f), f));
  // As kube-apiserver: without --service-account-key-file the signing key verifies its own tokens.
  if (keyFiles.length === 0) verifying.push(createPublicKey(signing));
  return { signing, verifying, signingFile: file };
}
