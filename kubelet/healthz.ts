// /healthz answers 200 while the Docker relist keeps running (Kubernetes' PLEG health), 500 when it
// has stalled; /pods lists the pods this kubelet runs (the old read-only port's /pods).
import type { Server } from 'node:http';
import { listenHttp, type Logger } from '../common/index.js';
import type { Kubelet } from './kubelet.js';

export async function startKubeletHealthz(ip: string, port: number, k: Kubelet, log: Logger): Promise<Server> {
  return listenHttp(ip, port, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const h = k.health();
      res.writeHead(h.ok ? 200 : 500, { 'content-type': 'text/plain' }).end(`${h.message}\n`);
    } else if (path === '/pods') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', items: k.pods() }));
    } else {
      res.writeHead(404).end();
    }
  }, log);
}
