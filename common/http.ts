import { createServer, type RequestListener, type Server } from 'node:http';
import type { Logger } from './log.js';

/** An HTTP server listening on ip:port (the daemons' healthz and metrics endpoints), once it listens. */
export async function listenHttp(ip: string, port: number, handler: RequestListener, log: Logger): Promise<Server> {
  const srv = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, ip, () => resolve());
  });
  log.info({ addr: `${ip}:${port}` }, 'healthz listening');
  return srv;
}
