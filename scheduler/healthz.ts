// kube-scheduler's secure port: /healthz, /livez and /readyz over HTTPS with a self-signed certificate
// (made with openssl, as node:crypto cannot issue one; kube-scheduler also serves a self-signed one
// when given no --tls-cert-file), so the apiserver's componentstatuses probe finds it at 127.0.0.1:10259.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, FlannelError, type Logger } from '../common/index.js';

const run = promisify(execFile);

export class HealthzError extends FlannelError {
  readonly code = 'HEALTHZ';
  constructor(
    readonly addr: string,
    message: string,
  ) {
    super(message);
  }
}

/** A self-signed serving certificate for localhost / 127.0.0.1 (kept only in memory once read). */
async function selfSigned(): Promise<{ cert: Buffer; key: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'kube-scheduler-cert-'));
  try {
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '365', '-subj', `/CN=localhost@${Math.floor(Date.now() / 1000)}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'];
    await run('openssl', args, { timeout: 30_000 });
    return { cert: await readFile(cert), key: await readFile(key) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Serves the health endpoints until closed; `healthy` decides the answer. */
export async function serveHealthz(ip: string, port: number, healthy: () => boolean, log: Logger): Promise<Server> {
  const addr = `${ip}:${port}`;
  let tls: { cert: Buffer; key: Buffer };
  try {
    tls = await selfSigned();
  } catch (e) {
    throw new HealthzError(addr, `cannot make a serving certificate: ${errorMessage(e)}`);
  }
  const srv = createServer(tls, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/livez' && path !== '/readyz') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    const ok = healthy();
    res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }).end(ok ? 'ok' : 'unhealthy');
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (e) => reject(new HealthzError(addr, `cannot listen on ${addr}: ${errorMessage(e)}`)));
    srv.listen(port, ip, () => resolve());
  });
  log.info({ addr }, 'serving securely');
  return srv;
}
