// The seeds' example end to end: two hosts, each with flanneld (vxlan), dockerd, the kubelet and
// kube-proxy. A `db` service and a `web` service, two pods each spread over both hosts; the web pods
// find the db through the service environment variables the kubelet gives them, the db service's
// ClusterIP spreads their requests over both db pods, and the web service is reachable on its
// NodePort from the underlay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proc } from './lab.js';
import { BUSYBOX_IMAGE } from './docker.js';
import { waitFor } from './flannel.js';
import { KubeLab, pod, ready } from './kubelet.js';
import { putServiceAllocated, startProxy } from './proxy.js';
import type { Service } from '../../cluster/index.js';

const IMG = { image: BUSYBOX_IMAGE, imagePullPolicy: 'Never' as const };
// The db answers with its pod name; the web answers /cgi-bin/db by asking the db service, found
// through DB_SERVICE_HOST and DB_SERVICE_PORT.
const dbPod = (name: string, node: string) =>
  pod(name, node, { containers: [{ name: 'db', ...IMG, command: ['sh', '-c', `mkdir -p /w && echo ${name} > /w/index.html && exec httpd -f -p 8080 -h /w`], ports: [{ name: 'db', containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] }, { labels: { app: 'db' } });
const WEB_CGI = 'mkdir -p /w/cgi-bin && printf \'#!/bin/sh\\necho Content-Type: text/plain\\necho\\nwget -qO- http://$DB_SERVICE_HOST:$DB_SERVICE_PORT/\\n\' > /w/cgi-bin/db && chmod +x /w/cgi-bin/db && exec httpd -f -p 8080 -h /w';
const webPod = (name: string, node: string) =>
  pod(name, node, { containers: [{ name: 'web', ...IMG, command: ['sh', '-c', WEB_CGI], ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] }, { labels: { app: 'web' } });

let k: KubeLab;
const proxies: Proc[] = [];
let db: Service;
let web: Service;

beforeAll(async () => {
  k = await KubeLab.start({ hosts: ['a', 'b'] });
  for (const n of k.nodes.values()) proxies.push(startProxy(n.host, k.etcd, { args: ['--min-sync-period=200ms'] }));
  // Services first: the kubelet hands a pod the variables of the services that exist when it starts.
  db = await putServiceAllocated(k.etcd, 'db', { selector: { app: 'db' }, ports: [{ port: 6379, targetPort: 'db', protocol: 'TCP' }] });
  web = await putServiceAllocated(k.etcd, 'web', { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http', protocol: 'TCP' }] });
  for (const [name, node] of [['db-1', 'a'], ['db-2', 'b']] as const) await k.putPod(dbPod(name, node));
  for (const [name, node] of [['web-1', 'a'], ['web-2', 'b']] as const) await k.putPod(webPod(name, node));
  for (const name of ['db-1', 'db-2', 'web-1', 'web-2']) await k.waitPod(name, 'Ready', ready);
}, 240_000);

afterAll(async () => {
  for (const p of proxies) await p.stop();
  await k?.destroy();
}, 120_000);

describe("the seeds' web + db example", () => {
  it('gives the web pods the db service in their environment', async () => {
    for (const [name, node] of [['web-1', 'a'], ['web-2', 'b']] as const) {
      const r = await k.execIn(node, name, 'web', ['sh', '-c', 'echo $DB_SERVICE_HOST:$DB_SERVICE_PORT $DB_PORT']);
      expect(r.stdout.trim()).toBe(`${db.spec.clusterIP}:6379 tcp://${db.spec.clusterIP}:6379`);
    }
  });

  it('reaches both db pods, on both hosts, through the service variables', async () => {
    const seen = new Set<string>();
    await waitFor('answers from both db pods', async () => {
      const r = await k.execIn('a', 'web-1', 'web', ['sh', '-c', 'timeout 3 wget -qO- http://$DB_SERVICE_HOST:$DB_SERVICE_PORT/']);
      if (r.code === 0) seen.add(r.stdout.trim());
      return seen.has('db-1') && seen.has('db-2');
    }, 30_000, 50);
    expect([...seen].sort()).toEqual(['db-1', 'db-2']);
  });

  it('serves the web through its NodePort from the underlay, the web asking the db', async () => {
    const nodePort = web.spec.ports[0]!.nodePort!;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    expect(nodePort).toBeLessThanOrEqual(32767);
    const b = k.node('b').host;
    const body = await waitFor('the web through the NodePort of b', async () => {
      const r = await k.lab.switch.exec(['curl', '-s', '-m', '3', `http://${b.ip}:${nodePort}/cgi-bin/db`]);
      return r.code === 0 && /^db-[12]$/.test(r.stdout.trim()) ? r.stdout.trim() : undefined;
    }, 30_000, 250);
    expect(body).toMatch(/^db-[12]$/);
  });
});
