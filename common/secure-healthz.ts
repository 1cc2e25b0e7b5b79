// The secure health port of kube-scheduler (10259) and kube-controller-manager (10257): /healthz, /livez
// and /readyz over HTTPS on a self-signed certificate for localhost, as both make one when given no
// --tls-cert-file, so the apiserver's componentstatuses probe finds them at 127.0.0.1. Made with
// openssl: node:crypto cannot issue certificates.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as Https from 'node:https';
import type { Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, FlannelError } from '../core/index.js';
import type { Logger } from './log.js';

const run = promisify(execFile);

export class HealthzError extends FlannelError {
  readonly code = 'HEALTHZ';
  constructor(
    readonly address: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SecureHealthzOptions {
  readonly ip: string;
  readonly port: number;
  /** Names the certificate's files (`<name>.crt`, `<name>.key`) and its temp dir. */
  readonly name: string;
  /** Where the pair is kept across restarts; absent: made in a temp dir and kept only in memory. */
  readonly certDir?: string;
  /** Decides the answer (`ok` or a 500 `unhealthy`); always healthy when absent. */
  readonly healthy?: () => boolean;
  readonly log?: Logger;
}

async function makeSelfSigned(cert: string, key: string): Promise<void> {
  const subject = `/CN=localhost@${Math.floor(Date.now() / 1000)}`;
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '365', '-subj', subject, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { timeout: 30_000 });
}

/** The self-signed pair: in `certDir` (made when absent), or made in a temp dir that is removed at once. */
export async function selfSignedPair(name: string, certDir?: string): Promise<{ cert: string; key: string }> {
  const dir = certDir ?? (await mkdtemp(join(tmpdir(), `${name}-cert-`)));
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  try {
    if (!existsSync(cert) || !existsSync(key)) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await makeSelfSigned(cert, key);
    }
    return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
  } catch (e) {
    throw new HealthzError(dir, `cannot make a serving certificate in ${dir}: ${errorMessage(e)}`);
  } finally {
    if (!certDir) await rm(dir, { recursive: true, force: true });
  }
}

/** Serves the health endpoints until closed. */
export async function serveSecureHealthz(o: SecureHealthzOptions): Promise<Server> {
  const addr = `${o.ip}:${o.port}`;
  const pair = await selfSignedPair(o.name, o.certDir);
  // Required here, not imported: every daemon loads common/, and node:https is a tenth of a start.
  const srv = (createRequire(import.meta.url)('node:https') as typeof Https).createServer(pair, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/livez' && path !== '/readyz') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    const ok = o.healthy?.() ?? true;
    res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }).end(ok ? 'ok' : 'unhealthy');
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (e) => reject(new HealthzError(addr, `cannot listen on ${addr}: ${errorMessage(e)}`)));
    srv.listen(o.port, o.ip, () => resolve());
  });
  o.log?.info({ addr }, 'serving securely');
  return srv;
}
