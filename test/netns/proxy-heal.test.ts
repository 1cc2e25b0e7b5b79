// kube-proxy mends its table when someone else breaks it: the daemon in a lab host, on the lab's etcd,
// with its default --sync-period (30 s). A table deleted by hand and a chain flushed by hand come
// back within seconds (the generation's 2 s poll wakes the check), long before the
// period would; and while nothing changes it writes nothing.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/index.js';
import { startLabEtcd, waitFor } from './flannel.js';
import { Lab, type Host, type Proc } from './lab.js';
import { endpointsKey, putService, startProxy } from './proxy.js';

let lab: Lab;
let etcd: EtcdServer;
let a: Host;
let kp: Proc;
const SERVICES = 5;

async function serviceIps(): Promise<number> {
  const r = await a.exec(['nft', '-j', 'list', 'map', 'ip', 'kube-proxy', 'service-ips'], { timeoutMs: 5_000 });
  if (r.code !== 0) return 0;
  const j = JSON.parse(r.stdout) as { nftables: { map?: { elem?: unknown[] } }[] };
  return j.nftables.reduce((s, o) => s + (o.map?.elem?.length ?? 0), 0);
}

async function servicesRules(): Promise<string> {
  const r = await a.exec(['nft', 'list', 'chain', 'ip', 'kube-proxy', 'services'], { timeoutMs: 5_000 });
  return r.code === 0 ? r.stdout : '';
}

const log = (): Promise<string> => readFile(path.join(a.dir, 'kube-proxy.log'), 'utf8');
const syncLines = async (): Promise<number> => (await log()).split('\n').filter((l) => l.includes('"msg":"rules synced"')).length;

beforeAll(async () => {
  lab = await Lab.create({ hosts: ['a'] });
  etcd = await startLabEtcd(lab);
  a = lab.host('a');
  for (let i = 0; i < SERVICES; i++) {
    await putService(etcd, `s${i}`, { clusterIP: `10.254.9.${10 + i}`, ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
    const ep = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: `s${i}`, namespace: 'default' }, subsets: [{ addresses: [{ ip: `10.5.7.${10 + i}` }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }] };
    await etcd.ctl(['put', endpointsKey('default', `s${i}`), JSON.stringify(ep)]);
  }
  kp = startProxy(a, etcd, { args: ['--cluster-cidr=10.5.0.0/16', '--metrics-bind-address=127.0.0.1:0'] });
  await waitFor('every service in table ip kube-proxy', async () => (await serviceIps()) === SERVICES, 30_000, 100);
}, 90_000);

afterAll(async () => {
  await kp?.stop(10_000);
  await etcd?.destroy();
  await lab?.destroy();
});

describe('kube-proxy heals its table', () => {
  it('writes nothing while nothing changes', async () => {
    await new Promise((r) => setTimeout(r, 1_500)); // the follow-up check of its own first write
    const before = await syncLines();
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await syncLines()).toBe(before);
  });

  it('puts back a table deleted by hand, with every service, well within the 30 s sync period', async () => {
    await a.run(['nft', 'delete', 'table', 'ip', 'kube-proxy']);
    const t0 = Date.now();
    await waitFor('table ip kube-proxy back', async () => (await serviceIps()) === SERVICES, 5_000, 50);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await log()).toContain('nf_tables changed by another program; full sync');
  });

  it('puts back the rules of a chain flushed by hand', async () => {
    expect(await servicesRules()).toContain('@service-ips');
    await a.run(['nft', 'flush', 'chain', 'ip', 'kube-proxy', 'services']);
    expect(await servicesRules()).not.toContain('@service-ips');
    await waitFor('the services chain refilled', async () => (await servicesRules()).includes('@service-ips'), 5_000, 50);
  });

  it('answers another table’s change with at most one full sync, then is quiet again', async () => {
    await new Promise((r) => setTimeout(r, 1_500));
    const before = await syncLines();
    await a.run(['nft', 'add', 'table', 'ip', 'someone-else']);
    await new Promise((r) => setTimeout(r, 1_500));
    // Another program's change cannot be told from one to our table without a listing: one full sync, then quiet.
    const after = await syncLines();
    expect(after - before).toBeLessThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await syncLines()).toBe(after);
    expect(await serviceIps()).toBe(SERVICES);
  });
});
