// ClusterIP allocation against a real etcd and the built apiserver: many Services created concurrently
// each get their own address (the DNS bench once saw a 422 "failed to allocate IP" at the 744th of
// 1,000 created 25 at a time: a create that lost its transaction retried with the address it had
// picked as if the client had asked for it).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServerProc, EtcdServer } from '../harness/index.js';

let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apialloc-'));
  etcd = await EtcdServer.start();
  // A /24: 253 addresses beside the kubernetes service's, so 200 creates fill most of it.
  srv = await ApiServerProc.start(etcd.endpoint, dir, ['--service-cluster-ip-range=10.96.0.0/24']);
});

afterAll(async () => {
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Svc {
  spec: { clusterIP: string; clusterIPs: string[] };
}

describe('ClusterIP allocation', () => {
  it('gives 200 services created 25 at a time 200 distinct addresses of the range', async () => {
    const total = 200;
    const ips: string[] = [];
    const failures: string[] = [];
    for (let batch = 0; batch < total / 25; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          srv.request('POST', '/api/v1/namespaces/default/services', { metadata: { name: `s${batch * 25 + i}` }, spec: { selector: { app: 'x' }, ports: [{ port: 80 }] } }),
        ),
      );
      for (const a of answers) {
        if (a.status !== 201) failures.push(`${a.status} ${a.text}`);
        else ips.push((a.json as Svc).spec.clusterIP);
      }
    }
    expect(failures).toEqual([]);
    expect(new Set(ips).size).toBe(total);
    for (const ip of ips) expect(ip).toMatch(/^10\.96\.0\.\d+$/);
    expect(ips).not.toContain('10.96.0.1'); // the kubernetes service's
  }, 180_000);
});
