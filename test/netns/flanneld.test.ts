// flanneld as operators run it, against a real etcd, inside lab hosts (never the root namespace):
// it waits for etcd and a valid config, leases a subnet, writes subnet.env as flannel does, serves
// /healthz and /readyz, keeps its subnet across restarts and re-acquires a deleted lease.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/index.js';
import type { Lab } from './lab.js';
import { ETCD_PREFIX as PREFIX, FlannelLab, hasLog, readEnvFile, startFlanneld, subnetFileOf, waitFor } from './flannel.js';

const CONFIG = '{"Network":"10.5.0.0/16","Backend":{"Type":"alloc"}}';

let net: FlannelLab;
let lab: Lab;
let etcd: EtcdServer;

beforeAll(async () => {
  net = await FlannelLab.start({ hosts: ['a', 'b', 'c'] });
  ({ lab, etcd } = net);
});
afterAll(async () => {
  await net?.destroy();
});

const leases = async (): Promise<Record<string, Record<string, unknown>>> => {
  const out = JSON.parse(await etcd.ctl(['get', '--prefix', `${PREFIX}/subnets/`, '-w', 'json'])) as { kvs?: { key: string; value: string; lease?: number }[] };
  return Object.fromEntries(
    (out.kvs ?? []).map((kv) => [Buffer.from(kv.key, 'base64').toString().slice(`${PREFIX}/subnets/`.length), { ...JSON.parse(Buffer.from(kv.value, 'base64').toString()), lease: kv.lease ?? 0 }]),
  );
};

describe('flanneld', () => {
  it('waits for a valid config, then leases a subnet and writes subnet.env exactly as flannel does', async () => {
    const a = lab.host('a');
    const fl = startFlanneld(a, etcd, { args: ['--healthz-port=8471', '--healthz-ip=127.0.0.1'] });
    await waitFor('the "waiting for the network config" log', () => hasLog(fl, 'waiting for the network config', { key: `${PREFIX}/config` }));

    await etcd.ctl(['put', `${PREFIX}/config`, '{"Network":"10.5.0.0/16","SubnetLen":31,"Backend":{"Type":"alloc"}}']);
    await waitFor('the invalid-config log naming the field', () => hasLog(fl, /network config is invalid/, { field: 'SubnetLen' }));
    const notReady = await a.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:8471/readyz']);
    expect(notReady.stdout).toBe('503');
    expect(fl.running).toBe(true);

    await etcd.ctl(['put', `${PREFIX}/config`, CONFIG]);
    const env = await waitFor('subnet.env', () => readEnvFile(subnetFileOf(a)));
    expect(Object.keys(env)).toEqual(['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_MTU', 'FLANNEL_IPMASQ']);
    expect(env.FLANNEL_NETWORK).toBe('10.5.0.0/16');
    expect(env.FLANNEL_SUBNET).toMatch(/^10\.5\.(\d+)\.1\/24$/);
    expect(env.FLANNEL_MTU).toBe('1500');
    expect(env.FLANNEL_IPMASQ).toBe('false');

    const key = env.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0-24');
    const all = await leases();
    expect(all[key]).toMatchObject({ PublicIP: a.ip, PublicIPv6: null, BackendType: 'alloc' });
    expect(all[key]!.lease).not.toBe(0);

    const ready = await a.exec(['curl', '-s', '-w', ' %{http_code}', 'http://127.0.0.1:8471/readyz']);
    expect(ready.stdout).toBe('ready\n 200');
    const healthz = await a.exec(['curl', '-s', 'http://127.0.0.1:8471/healthz']);
    expect(healthz.stdout).toContain('flanneld is running');

    // SIGTERM: clean exit, the lease stays in etcd.
    fl.kill('SIGTERM');
    expect(await fl.wait(10_000)).toMatchObject({ code: 0 });
    expect(Object.keys(await leases())).toContain(key);

    // Restart: the same subnet, the same file.
    const again = startFlanneld(a, etcd, { tag: 'restart' });
    try {
      await waitFor('the lease to be reused', () => hasLog(again, 'reusing the lease held by this node'));
      const env2 = await readEnvFile(subnetFileOf(a));
      expect(env2?.FLANNEL_SUBNET).toBe(env.FLANNEL_SUBNET);
    } finally {
      again.kill('SIGTERM');
      await again.wait(10_000);
    }
  });

  it('takes its flags from FLANNELD_* variables, and re-acquires its lease when it is deleted', async () => {
    const b = lab.host('b');
    const fl = startFlanneld(b, etcd, {
      args: ['--subnet-lease-renew-margin=0.05'],
      env: { FLANNELD_IFACE: 'eth0', FLANNELD_IP_MASQ: 'true', FLANNELD_SUBNET_LEASE_TTL: '30' },
    });
    try {
      const env = await waitFor('subnet.env', () => readEnvFile(subnetFileOf(b)));
      expect(env.FLANNEL_IPMASQ).toBe('true');
      const key = env.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0-24');
      expect((await leases())[key]).toMatchObject({ PublicIP: b.ip });

      await etcd.ctl(['del', `${PREFIX}/subnets/${key}`]);
      await waitFor('the lease to come back', async () => (await leases())[key]?.PublicIP === b.ip, 10_000);
      expect(fl.running).toBe(true);
      expect(hasLog(fl, 'own lease is gone; acquiring again')).toBe(true);
    } finally {
      fl.kill('SIGTERM');
      await fl.wait(10_000);
    }
  });

  it('waits for etcd instead of exiting, and skips corrupt leases', async () => {
    const c = lab.host('c');
    await etcd.ctl(['put', `${PREFIX}/subnets/10.5.200.0-24`, '{corrupt']);
    await etcd.stop();
    const fl = startFlanneld(c, etcd);
    try {
      await waitFor('the "waiting for etcd" log', () => hasLog(fl, 'waiting for etcd'), 20_000);
      await etcd.restart();
      const env = await waitFor('subnet.env', () => readEnvFile(subnetFileOf(c)), 30_000);
      expect(env.FLANNEL_SUBNET).toMatch(/^10\.5\.\d+\.1\/24$/);
      expect(hasLog(fl, 'skipping corrupt lease', { key: `${PREFIX}/subnets/10.5.200.0-24` })).toBe(true);
      expect(fl.running).toBe(true);
    } finally {
      fl.kill('SIGTERM');
      await fl.wait(10_000);
    }
  });
});
