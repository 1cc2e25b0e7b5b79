// /healthz answers while the process runs; /readyz once subnet.env has been written.
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { listenHttp, type Logger } from '../common/index.js';

export interface Health {
  ready: boolean;
}

export async function startHealthz(ip: string, port: number, health: Health, log: Logger, metrics?: Registry): Promise<Server> {
  return listenHttp(ip, port, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics' && metrics) {
      metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('flanneld is running\n');
    } else if (path === '/readyz') {
      res.writeHead(health.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(health.ready ? 'ready\n' : 'subnet.env not written yet\n');
    } else {
      res.writeHead(404).end();
    }
  }, log);
}
