// The secure /healthz kube-apiserver's componentstatuses probe (https://127.0.0.1:10257/healthz), on
// a self-signed certificate for localhost kept in --cert-dir, as kube-controller-manager makes one
// when it is given none. Made with openssl: node:crypto cannot issue certificates.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, FlannelError } from '../common/index.js';

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

/** The self-signed pair in `dir` (kube-controller-manager.crt/.key), made when absent. */
export async function ensureSelfSigned(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'kube-controller-manager.crt');
  const key = join(dir, 'kube-controller-manager.key');
  if (!existsSync(cert) || !existsSync(key)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await run(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '365', '-subj', `/CN=localhost@${Math.floor(Date.now() / 1000)}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
        { timeout: 30_000 },
      );
    } catch (e) {
      throw new HealthzError(dir, `cannot make a serving certificate in ${dir}: ${errorMessage(e)}`);
    }
  }
  return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
}

/** Serves /healthz, /livez and /readyz (`ok`) until closed. */
export async function serveHealthz(ip: string, port: number, certDir: string): Promise<Server> {
  const pair = await ensureSelfSigned(certDir);
  const server = createServer(pair, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('ok');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new HealthzError(`${ip}:${port}`, `cannot listen on ${ip}:${port}: ${errorMessage(e)}`)));
    server.listen(port, ip, () => resolve());
  });
  return server;
}
