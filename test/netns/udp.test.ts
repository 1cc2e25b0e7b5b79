// The udp overlay end to end on a lab of hosts: flanneld per host opens flannel0 (TUN) and its native
// loop, pods on different hosts talk through UDP/8285, the lease carries no BackendType, garbage sent
// to the port is dropped and counted without harm, the device converges (address, network route,
// the device itself), a departed peer leaves the table, and a restart keeps the subnet.
// FLANNEL_UDP_IPERF=1 adds a throughput comparison with vxlan in the same lab (printed, not asserted).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/index.js';
import { capture, ping, tcpCheck, type Host, type Lab, type Pod, type Proc } from './lab.js';
import { ETCD_PREFIX as PREFIX, FlannelLab, gwOf, ipJson as json, leaseKey, logRecords, netOf, networkConfig, readEnvFile, subnetFileOf, waitFor } from './flannel.js';

const CONFIG = networkConfig('udp');
let net: FlannelLab;
let lab: Lab;
let etcd: EtcdServer;

const routesOn = (h: Host) => json<{ dst: string; prefsrc?: string; gateway?: string }[]>(h, ['route', 'show', 'dev', 'flannel0']).catch(() => []);
const addrsOn = async (h: Host) =>
  (await json<{ addr_info: { family: string; local: string; prefixlen: number }[] }[]>(h, ['addr', 'show', 'dev', 'flannel0']).catch(() => []))
    .flatMap((l) => l.addr_info)
    .filter((a) => a.family === 'inet')
    .map((a) => `${a.local}/${a.prefixlen}`);

/** The counters flanneld last logged ('udp packets dropped' carries them all). */
function lastCounters(p: Proc): Record<string, number> | undefined {
  const recs = logRecords(p).filter((r) => r.msg === 'udp packets dropped');
  return recs.at(-1)?.counters as Record<string, number> | undefined;
}

/** The peer table flanneld last logged. */
function lastTable(p: Proc): string | undefined {
  const recs = logRecords(p).filter((r) => r.msg === 'peer table updated');
  return recs.at(-1)?.table as string | undefined;
}

/** Sends each hex-encoded datagram, then `random` random ones, from `from` to ip:port (node dgram). */
const SENDER = `
const dgram = require('dgram');
const [ip, port, hex, random] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
const list = JSON.parse(hex).map((h) => Buffer.from(h, 'hex'));
for (let i = 0; i < Number(random); i++) {
  const b = require('crypto').randomBytes(1 + Math.floor(Math.random() * 200));
  list.push(b);
}
let left = list.length;
setTimeout(() => { console.error('send timeout'); process.exit(2); }, 10000).unref();
for (const b of list) s.send(b, Number(port), ip, (e) => { if (e) console.error(e.message); if (--left === 0) { s.close(); console.log('SENT ' + list.length); } });
`;

/** One connection: hashes what arrives, prints `GOT <bytes> <sha256>` at its end. */
const BULK_SERVER = `
const net = require('net');
const crypto = require('crypto');
setTimeout(() => process.exit(3), 60000).unref();
const srv = net.createServer((s) => {
  const h = crypto.createHash('sha256');
  let n = 0;
  s.on('data', (d) => { h.update(d); n += d.length; });
  s.on('end', () => { console.log('GOT ' + n + ' ' + h.digest('hex')); s.end(); srv.close(); });
  s.on('error', (e) => { console.error(e.message); process.exit(1); });
});
srv.listen(0, '0.0.0.0', () => console.log('LISTENING ' + srv.address().port));
`;

/** Sends <bytes> of pseudo-random data, prints `SENT <sha256>`. */
const BULK_CLIENT = `
const net = require('net');
const crypto = require('crypto');
const [ip, port, total] = process.argv.slice(1);
setTimeout(() => { console.error('timeout'); process.exit(2); }, 50000).unref();
const h = crypto.createHash('sha256');
const chunk = crypto.randomBytes(1 << 20);
let left = Number(total);
const s = net.connect({ host: ip, port: Number(port) }, function pump() {
  while (left > 0) {
    const c = chunk.subarray(0, Math.min(left, chunk.length));
    left -= c.length;
    h.update(c);
    if (!s.write(c)) return void s.once('drain', pump);
  }
  s.end(() => console.log('SENT ' + h.digest('hex')));
});
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

function ipv4Header(dst: string, opts: { payload?: number; totLen?: number } = {}): Buffer {
  const len = 20 + (opts.payload ?? 8);
  const p = Buffer.alloc(len);
  p[0] = 0x45;
  p.writeUInt16BE(opts.totLen ?? len, 2);
  p[8] = 64;
  p[9] = 1;
  Buffer.from([10, 5, 200, 2]).copy(p, 12);
  Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  return p;
}

beforeAll(async () => {
  net = await FlannelLab.start({ hosts: ['a', 'b'], config: CONFIG });
  ({ lab, etcd } = net);
  await net.addPod(lab.host('a'));
  await net.addPod(lab.host('b'));
}, 60_000);

afterAll(async () => {
  await net?.destroy();
});

describe('udp backend', () => {
  it("creates flannel0 as flannel does and leases without BackendType", async () => {
    const a = lab.host('a');
    const [link] = await json<{ mtu: number; flags: string[]; linkinfo: { info_kind: string; info_data: { type: string; pi: boolean } } }[]>(a, ['-d', 'link', 'show', 'flannel0']);
    expect(link!.linkinfo.info_kind).toBe('tun');
    expect(link!.linkinfo.info_data).toMatchObject({ type: 'tun', pi: false });
    expect(link!.flags).toContain('UP');
    expect(link!.mtu).toBe(1472);
    const env = (await readEnvFile(subnetFileOf(a)))!;
    expect(env.FLANNEL_MTU).toBe('1472');
    expect(await addrsOn(a)).toEqual([`${gwOf(env.FLANNEL_SUBNET!)}/16`]);
    expect(await routesOn(a)).toContainEqual(expect.objectContaining({ dst: '10.5.0.0/16', prefsrc: gwOf(env.FLANNEL_SUBNET!) }));
    const raw = await etcd.ctl(['get', '--print-value-only', leaseKey(env.FLANNEL_SUBNET!)]);
    expect(raw.trim()).toBe(`{"PublicIP":"${a.ip}","PublicIPv6":null}`);
    const udp = await a.run(['ss', '-H', '-u', '-l', '-n']);
    expect(udp).toContain(`${a.ip}:8285`);
    expect(logRecords(net.flanneld.get('a')!).find((r) => r.msg === 'udp device ready')).toMatchObject({ port: 8285, mtu: 1472, gso: true, gro: true, offload: true });
  });

  it('carries ping and TCP between pods on different hosts, UDP/8285 on the wire', async () => {
    const pa = net.pod('a')!;
    const pb = net.pod('b')!;
    const wire = await capture(lab.host('b'), 'eth0', 'udp port 8285', { count: 4, timeoutMs: 15_000 });
    const inner = await capture(lab.host('b'), 'flannel0', 'icmp', { count: 2, timeoutMs: 15_000 });
    const p = await ping(pa, pb.ip, { count: 3, timeoutMs: 10_000 });
    expect(p.ok, p.output).toBe(true);
    expect((await tcpCheck(pb, pa, { timeoutMs: 10_000 })).ok).toBe(true);
    expect((await tcpCheck(pa, pb, { timeoutMs: 10_000 })).ok).toBe(true);
    await wire.waitFor(2, 5_000);
    const wireLines = (await wire.stop()).join('\n');
    const esc = (s: string) => s.replace(/\./g, '\\.');
    expect(wireLines).toMatch(new RegExp(`${esc(lab.host('a').ip)}\\.8285 > ${esc(lab.host('b').ip)}\\.8285: UDP`));
    expect((await inner.stop()).join('\n')).toContain(`${pa.ip} > ${pb.ip}: ICMP echo request`);
  });

  it('carries a bulk TCP transfer intact while the peer table is swapped under it', async () => {
    const pa = net.pod('a')!;
    const pb = net.pod('b')!;
    const size = 64 << 20;
    const taken = new Set(net.subnets.map(netOf));
    let free = 180;
    while (taken.has(`10.5.${free}.0/24`)) free++;
    const churnKey = `${PREFIX}/subnets/10.5.${free}.0-24`;
    const srv = pb.spawn([process.execPath, '-e', BULK_SERVER]);
    try {
      const port = Number(/LISTENING (\d+)/.exec(await srv.waitForOutput(/LISTENING (\d+)/, 5_000, 'out'))![1]);
      const client = pa.exec([process.execPath, '-e', BULK_CLIENT, pb.ip, String(port), String(size)], { timeoutMs: 60_000 });
      let done = false;
      void client.finally(() => (done = true));
      // A peer comes and goes while the transfer runs: every change is a new table for both loops.
      let changes = 0;
      for (; changes < 40 && !done; changes++) {
        await (changes % 2 === 0
          ? etcd.ctl(['put', churnKey, '{"PublicIP":"192.0.2.99","PublicIPv6":null}'])
          : etcd.ctl(['del', churnKey]));
      }
      const r = await client;
      expect(r.code, r.stderr).toBe(0);
      const sent = /SENT ([0-9a-f]{64})/.exec(r.stdout)?.[1];
      const got = await srv.waitForOutput(/GOT (\d+) ([0-9a-f]{64})/, 10_000, 'out');
      expect(got).toContain(`GOT ${size} ${sent}`);
      expect(changes).toBeGreaterThan(1);
    } finally {
      await srv.stop(1_000);
      await etcd.ctl(['del', churnKey]);
    }
    await waitFor('the churned peer to leave the table', () => !lastTable(net.flanneld.get('a')!)?.includes(`10.5.${free}.0`), 10_000);
  }, 90_000);

  it('drops and counts garbage sent to its port, and keeps forwarding', async () => {
    const a = lab.host('a');
    const fa = net.flanneld.get('a')!;
    const before = lastCounters(fa) ?? {};
    const junk = [
      Buffer.alloc(0), // empty
      randomBytes(5).fill(0x13, 0, 1), // a short random payload (version nibble 1)
      ipv4Header(gwOf(net.subnet('a')!)).subarray(0, 12), // half an IPv4 header
      ipv4Header(gwOf(net.subnet('a')!), { totLen: 100 }), // total length beyond the data
      ipv4Header(gwOf(net.subnet('a')!), { payload: 40, totLen: 30 }), // total length short of the data
      Buffer.concat([Buffer.from([0x60]), randomBytes(47)]), // IPv6
      ipv4Header('10.99.0.1'), // not for our subnet
    ].map((b) => b.toString('hex'));
    const r = await lab.host('b').exec([process.execPath, '-e', SENDER, a.ip, '8285', JSON.stringify(junk), '2000'], { timeoutMs: 15_000 });
    expect(r.stdout, r.stderr).toContain('SENT 2007');
    const kinds = ['rxDropTruncated', 'rxDropNotIPv4', 'rxDropBadLength', 'rxDropNotLocal'];
    const grown = (c: Record<string, number> | undefined, k: string) => (c?.[k] ?? 0) - (before[k] ?? 0);
    // Every datagram is dropped (none is a well-formed packet for a's subnet); allow for a few lost on the way.
    const counters = await waitFor(
      'the drops to be logged',
      () => {
        const c = lastCounters(fa);
        const total = kinds.reduce((s, k) => s + grown(c, k), 0);
        return total >= 1950 && grown(c, 'rxDropTruncated') >= 2 && grown(c, 'rxDropNotIPv4') >= 2 && grown(c, 'rxDropBadLength') >= 1 && grown(c, 'rxDropNotLocal') >= 1 && c;
      },
      20_000,
      250,
    );
    expect(grown(counters, 'rxDropWriteError')).toBe(0);
    expect(fa.running).toBe(true);
    expect((await ping(net.pod('b')!, net.pod('a')!.ip, { count: 2, timeoutMs: 5_000 })).ok).toBe(true);
    expect((await tcpCheck(net.pod('a')!, net.pod('b')!, { timeoutMs: 5_000 })).ok).toBe(true);
  });

  it('drops and counts pod packets for a subnet no node holds', async () => {
    const fa = net.flanneld.get('a')!;
    const taken = new Set(net.subnets.map(netOf));
    let free = 250;
    while (taken.has(`10.5.${free}.0/24`)) free--;
    const before = lastCounters(fa)?.txDropUnknown ?? 0;
    expect((await ping(net.pod('a')!, `10.5.${free}.9`, { count: 3, timeoutMs: 2_000 })).ok).toBe(false);
    await waitFor('txDropUnknown to grow', () => (lastCounters(fa)?.txDropUnknown ?? 0) >= before + 3, 20_000, 250);
  });

  it('skips a peer lease of another backend, with the reason', async () => {
    const taken = new Set(net.subnets.map(netOf));
    let free = 201;
    while (taken.has(`10.5.${free}.0/24`)) free++;
    const key = `${PREFIX}/subnets/10.5.${free}.0-24`;
    await etcd.ctl(['put', key, '{"PublicIP":"192.0.2.99","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}}']);
    try {
      await waitFor('a to skip the vxlan lease', () =>
        logRecords(net.flanneld.get('a')!).some((r) => r.msg === 'skipping peer' && r.subnet === `10.5.${free}.0/24` && r.reason === 'backend vxlan is not udp'),
      );
      expect(lastTable(net.flanneld.get('a')!)).not.toContain(`10.5.${free}.0`);
    } finally {
      await etcd.ctl(['del', key]);
    }
  });

  it('restores the network route and the address deleted by hand', async () => {
    const a = lab.host('a');
    const sa = net.subnet('a')!;
    await a.ipCmd(['route', 'del', '10.5.0.0/16', 'dev', 'flannel0']);
    await waitFor('the network route to come back', async () => (await routesOn(a)).some((r) => r.dst === '10.5.0.0/16'), 20_000);
    await a.ipCmd(['addr', 'flush', 'dev', 'flannel0']);
    await waitFor('the address and route to come back', async () => (await addrsOn(a)).includes(`${gwOf(sa)}/16`) && (await routesOn(a)).some((r) => r.dst === '10.5.0.0/16'), 20_000);
    expect((await ping(net.pod('a')!, net.pod('b')!.ip, { count: 2, timeoutMs: 5_000 })).ok).toBe(true);
  });

  it('reopens flannel0 when it is deleted by hand', async () => {
    const b = lab.host('b');
    const [before] = await json<{ ifindex: number }[]>(b, ['link', 'show', 'flannel0']);
    await b.ipCmd(['link', 'del', 'flannel0']);
    await waitFor('b to notice', () => logRecords(net.flanneld.get('b')!).some((r) => r.msg === 'udp device reopened'), 20_000);
    await waitFor('flannel0, its address and route to come back', async () => (await addrsOn(b)).includes(`${gwOf(net.subnet('b')!)}/16`) && (await routesOn(b)).some((r) => r.dst === '10.5.0.0/16'), 20_000);
    const [after] = await json<{ ifindex: number }[]>(b, ['link', 'show', 'flannel0']);
    expect(after!.ifindex).not.toBe(before!.ifindex);
    const r = await waitFor('ping across after the reopen', async () => (await ping(net.pod('b')!, net.pod('a')!.ip, { count: 1, timeoutMs: 2_000 })).ok, 10_000, 200);
    expect(r).toBe(true);
  });

  it('keeps the subnet across a flanneld restart', async () => {
    const a = lab.host('a');
    const before = net.subnet('a');
    const old = net.flanneld.get('a')!;
    old.kill('SIGTERM');
    expect(await old.wait(10_000)).toMatchObject({ code: 0 });
    await net.startFlanneld(a, { tag: 'restart' });
    expect(net.subnet('a')).toBe(before);
    const ok = await waitFor('ping after the restart', async () => (await ping(net.pod('a')!, net.pod('b')!.ip, { count: 1, timeoutMs: 2_000 })).ok, 15_000, 200);
    expect(ok).toBe(true);
    expect((await tcpCheck(net.pod('b')!, net.pod('a')!, { timeoutMs: 5_000 })).ok).toBe(true);
  });

  it('reaches a host that joins, and forgets a peer whose lease is deleted', async () => {
    const c = await lab.addHost('c');
    await net.startFlanneld(c);
    const pc = await net.addPod(c);
    const sc = net.subnet('c')!;
    for (const h of ['a', 'b']) {
      await waitFor(`${h} to learn c`, () => lastTable(net.flanneld.get(h)!)?.includes(`${gwOf(sc)}/24→${c.ip}`), 20_000);
    }
    expect((await ping(net.pod('a')!, pc.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);
    expect((await ping(pc, net.pod('b')!.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);

    // c leaves: stop its flanneld (else it would take its lease again) and delete its lease.
    const fc = net.flanneld.get('c')!;
    fc.kill('SIGTERM');
    await fc.wait(10_000);
    await etcd.ctl(['del', leaseKey(sc)]);
    for (const h of ['a', 'b']) {
      await waitFor(`${h} to forget c`, () => {
        const t = lastTable(net.flanneld.get(h)!);
        return t !== undefined && !t.includes(gwOf(sc));
      }, 10_000);
    }
    const fa = net.flanneld.get('a')!;
    const before = lastCounters(fa)?.txDropUnknown ?? 0;
    expect((await ping(net.pod('a')!, pc.ip, { count: 2, timeoutMs: 2_000 })).ok).toBe(false);
    await waitFor('packets for c to be counted as unknown', () => (lastCounters(fa)?.txDropUnknown ?? 0) >= before + 2, 20_000, 250);
  });

  // In a lab of veths, VXLAN never segments: the pods' 64 KB TCP segments cross vxlan and the veths
  // whole, while the TUN hands every MTU-sized packet to user space. The second figure limits the
  // pods to one MSS per skb (as on a path without segmentation offloads), where both pay per packet.
  it.runIf(process.env.FLANNEL_UDP_IPERF === '1')('throughput pod→pod: udp vs vxlan (iperf3, printed)', async () => {
    const a = lab.host('a');
    const b = lab.host('b');
    const iperf = async (client: Pod, server: Pod): Promise<number> => {
      const srv = server.spawn(['iperf3', '-s', '-1', '--forceflush', '-p', '5201']);
      try {
        await srv.waitForOutput(/Server listening/, 5_000, 'out');
        const out = await client.run(['iperf3', '-c', server.ip, '-p', '5201', '-t', '5', '-J'], { timeoutMs: 20_000 });
        const res = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
        return res.end.sum_received.bits_per_second / 1e9;
      } finally {
        await srv.stop(1_000);
      }
    };
    const both = async (c: Pod, s: Pod): Promise<[number, number]> => {
      const full = await iperf(c, s);
      for (const p of [c, s]) await p.ipCmd(['link', 'set', 'eth0', 'gso_max_segs', '1']);
      const perPacket = await iperf(c, s);
      for (const p of [c, s]) await p.ipCmd(['link', 'set', 'eth0', 'gso_max_segs', '65535']);
      return [full, perPacket];
    };
    const [udpGbps, udpPp] = await both(net.pod('a')!, net.pod('b')!);

    for (const h of [a, b]) {
      const p = net.flanneld.get(h.name)!;
      p.kill('SIGTERM');
      await p.wait(10_000);
    }
    await net.putConfig(networkConfig('vxlan'));
    await Promise.all([net.startFlanneld(a, { tag: 'vxlan' }), net.startFlanneld(b, { tag: 'vxlan' })]);
    const [va, vb] = await Promise.all([net.addPod(a, 'v1'), net.addPod(b, 'v1')]);
    await waitFor('vxlan path up', async () => (await ping(va, vb.ip, { count: 1, timeoutMs: 2_000 })).ok, 20_000, 200);
    const [vxlanGbps, vxlanPp] = await both(va, vb);
    const f = (x: number) => x.toFixed(2);
    console.log(`iperf3 pod→pod: udp ${f(udpGbps)} Gbit/s, vxlan ${f(vxlanGbps)} Gbit/s, ratio ${f(udpGbps / vxlanGbps)}`);
    console.log(`iperf3 pod→pod, one MSS per skb: udp ${f(udpPp)} Gbit/s, vxlan ${f(vxlanPp)} Gbit/s, ratio ${f(udpPp / vxlanPp)}`);
    expect(udpGbps).toBeGreaterThan(0);
  }, 180_000);
});
