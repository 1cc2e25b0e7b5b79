// The kubelet server from the kubelet's flags: the serving pair (given or self-signed), the client CA, the
// authenticator and authorizer (the reviews go to the API with the kubelet's own credentials).
import { readFile } from 'node:fs/promises';
import type { Logger } from '../../common/index.js';
import type { DockerClient } from '../docker.js';
import { KubeletAuth, type ReviewClient } from './auth.js';
import { ensureSelfSigned } from './certs.js';
import type { PodSource } from './containers.js';
import { KubeletServer } from './server.js';

export interface KubeletServerFlags {
  readonly port: number;
  readonly address: string;
  readonly tlsCertFile?: string;
  readonly tlsPrivateKeyFile?: string;
  readonly certDir: string;
  readonly clientCaFile?: string;
  readonly anonymousAuth: boolean;
  readonly authenticationTokenWebhook: boolean;
  readonly authenticationTokenWebhookCacheTtl: number;
  readonly authorizationMode?: 'Webhook' | 'AlwaysAllow';
  readonly authorizationWebhookCacheAuthorizedTtl: number;
  readonly authorizationWebhookCacheUnauthorizedTtl: number;
}

export async function startKubeletServer(
  f: KubeletServerFlags,
  d: { nodeName: string; nodeIP: string | undefined; api: ReviewClient | undefined; pods: PodSource; docker: DockerClient; health: () => { ok: boolean; message: string }; log: Logger },
): Promise<KubeletServer> {
  const mode = f.authorizationMode ?? (d.api ? 'Webhook' : 'AlwaysAllow');
  if (mode === 'Webhook' && !d.api) throw new Error('--authorization-mode=Webhook needs the API (--kubeconfig)');
  const pair = f.tlsCertFile ? { cert: f.tlsCertFile, key: f.tlsPrivateKeyFile! } : await ensureSelfSigned(f.certDir, d.nodeName, [d.nodeIP, f.address]);
  const tls = { cert: await readFile(pair.cert), key: await readFile(pair.key), ...(f.clientCaFile && { clientCa: await readFile(f.clientCaFile) }) };
  if (f.authenticationTokenWebhook && !d.api) d.log.warn({}, 'no API to review bearer tokens with: the kubelet server refuses them');
  const auth = new KubeletAuth({
    anonymous: f.anonymousAuth,
    ...(f.authenticationTokenWebhook && d.api && { tokenReviews: d.api }),
    ...(mode === 'Webhook' && d.api && { accessReviews: d.api }),
    tokenTtlMs: f.authenticationTokenWebhookCacheTtl,
    allowedTtlMs: f.authorizationWebhookCacheAuthorizedTtl,
    deniedTtlMs: f.authorizationWebhookCacheUnauthorizedTtl,
  });
  const srv = new KubeletServer({ address: f.address, port: f.port, nodeName: d.nodeName, tls, auth, pods: d.pods, docker: d.docker, health: d.health, log: d.log });
  await srv.listen();
  return srv;
}
