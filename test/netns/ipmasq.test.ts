// flanneld's iptables rules on a lab: --ip-masq masquerades what leaves the overlay and keeps pod
// addresses inside it; FLANNEL-FWD keeps forwarding working under Docker's FORWARD DROP policy;
// drift is repaired without duplicates and other chains are left alone. Also the Docker options
// file and /metrics.
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture, ping, type Host, type Lab } from './lab.js';
import { FlannelLab, hasLog, networkConfig, readEnvFile, subnetFileOf, waitFor } from './flannel.js';

let net: FlannelLab;
let lab: Lab;
const dockerOpts = (h: Host) => path.join(h.dir, 'docker');

beforeAll(async () => {
  net = await FlannelLab.start({
    hosts: ['a', 'b'],
    config: networkConfig('vxlan'),
    // As Docker leaves it: forwarding dropped unless a rule accepts it; and a chain that is not ours.
    prepare: async (h) => {
      await h.run(['iptables', '-P', 'FORWARD', 'DROP']);
      await h.run(['iptables', '-t', 'nat', '-N', 'OTHER-OWNER']);
      await h.run(['iptables', '-t', 'nat', '-A', 'OTHER-OWNER', '-s', '203.0.113.0/24', '-j', 'RETURN']);
      await h.run(['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-j', 'OTHER-OWNER']);
    },
    flanneldArgs: (h) => ['--iface=eth0', '--ip-masq', '--iptables-resync=1', `--docker-opts-file=${dockerOpts(h)}`, '--healthz-port=9101', '--healthz-ip=127.0.0.1'],
  });
  ({ lab } = net);
  for (const h of lab.hosts) await net.addPod(h);
  for (const p of net.flanneld.values()) await waitFor('iptables rules', () => hasLog(p, 'iptables rules applied'));
}, 60_000);
afterAll(async () => {
  await net?.destroy();
});

const natSave = async (h: Host) => h.run(['iptables-save', '-t', 'nat']);

describe('ip-masq and forward rules', () => {
  it('keeps pod addresses inside the overlay, despite a FORWARD DROP policy', async () => {
    const [pa, pb] = [net.pod('a')!, net.pod('b')!];
    const seen = await capture(pb, 'eth0', 'icmp', { count: 1, timeoutMs: 10_000 });
    expect((await ping(pa, pb.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);
    expect(await seen.waitFor(1, 5_000)).toBe(true);
    expect((await seen.stop()).join('\n')).toContain(`${pa.ip} > ${pb.ip}: ICMP echo request`);
  });

  it('masquerades traffic leaving the overlay', async () => {
    const [a, b] = [lab.host('a'), lab.host('b')];
    const seen = await capture(b, 'eth0', 'icmp and dst host ' + b.ip, { count: 1, timeoutMs: 10_000 });
    expect((await ping(net.pod('a')!, b.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);
    expect(await seen.waitFor(1, 5_000)).toBe(true);
    const lines = (await seen.stop()).join('\n');
    expect(lines).toContain(`${a.ip} > ${b.ip}: ICMP echo request`);
    expect(lines).not.toContain(net.pod('a')!.ip);
  });

  it('repairs a flushed chain and a deleted hook without duplicates, leaving other chains alone', async () => {
    const a = lab.host('a');
    await a.run(['iptables', '-t', 'nat', '-F', 'FLANNEL-POSTRTG']);
    await a.run(['iptables', '-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'flanneld masq', '-j', 'FLANNEL-POSTRTG']);
    await a.run(['iptables', '-D', 'FORWARD', '-m', 'comment', '--comment', 'flanneld forward', '-j', 'FLANNEL-FWD']);
    await waitFor('the rules to be repaired', async () => {
      const nat = await natSave(a);
      return nat.includes('-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG') && nat.includes('-j MASQUERADE --random-fully');
    }, 10_000);
    await new Promise((r) => setTimeout(r, 2_500)); // a few more resyncs: nothing may be added twice
    const nat = await natSave(a);
    expect(nat.match(/-j FLANNEL-POSTRTG/g)).toHaveLength(1);
    expect(nat.match(/^-A FLANNEL-POSTRTG /gm)).toHaveLength(6);
    expect(nat).toContain('-A OTHER-OWNER -s 203.0.113.0/24 -j RETURN');
    expect(nat).toContain('-A POSTROUTING -j OTHER-OWNER');
    const filter = await a.run(['iptables-save', '-t', 'filter']);
    expect(filter.match(/-j FLANNEL-FWD/g)).toHaveLength(1);
    expect(hasLog(net.flanneld.get('a')!, 'iptables rules repaired')).toBe(true);
    expect((await ping(net.pod('a')!, net.pod('b')!.ip, { count: 1, timeoutMs: 5_000 })).ok).toBe(true);
  });

  it('writes the Docker options file and serves metrics', async () => {
    const a = lab.host('a');
    const env = (await readEnvFile(subnetFileOf(a)))!;
    expect(await readFile(dockerOpts(a), 'utf8')).toBe(
      `DOCKER_OPT_BIP="--bip=${env.FLANNEL_SUBNET}"\nDOCKER_OPT_IPMASQ="--ip-masq=false"\nDOCKER_OPT_MTU="--mtu=1450"\nDOCKER_NETWORK_OPTIONS=" --bip=${env.FLANNEL_SUBNET} --ip-masq=false --mtu=1450"\n`,
    );
    const metrics = (await a.exec(['curl', '-s', 'http://127.0.0.1:9101/metrics'])).stdout;
    expect(metrics).toMatch(/^flannel_peers 1$/m);
    expect(metrics).toMatch(/^flannel_kernel_objects\{kind="route"\} 1$/m);
    expect(metrics).toMatch(/^flannel_lease_expiration_timestamp_seconds \d{10}/m);
    expect(metrics).toMatch(/^flannel_iptables_restores_total [2-9]/m);
    expect(metrics).toMatch(/^flannel_reconcile_duration_seconds_count [1-9]/m);
  });
});
