// Docker on flannel, once per backend: flanneld (--ip-masq) writes the Docker options on each host,
// dockerd takes --bip/--mtu/--ip-masq from them, containers on different hosts reach each other with
// their own addresses, what leaves the overlay is masqueraded to the host's underlay address, and a
// subnet change at runtime rewrites the options (a restarted dockerd then follows the new subnet).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/index.js';
import { offsetIn, parseCidr4, parseIp4 } from './addr.js';
import { type ContainerInfo, type Dockerd, parseDockerOpts, remoteAddr, startDockerd, writeRemoteAddrSite } from './docker.js';
import { ETCD_PREFIX as PREFIX, FlannelLab, hasLog, ipJson as json, logRecords, networkConfig, readEnvFile, subnetFileOf, waitFor } from './flannel.js';
import type { Host, Lab } from './lab.js';

const WEB_PORT = 8080;
const UNDERLAY_PORT = 8081;
const SUBNET_CHANGED = 'subnet changed: restart docker and other consumers of the subnet file';

const inSubnet = (cidr: string, ip: string): boolean => offsetIn(parseCidr4(cidr), parseIp4(ip)) > 1;
const docker0 = (h: Host) => json<{ mtu: number; addr_info: { family: string; local: string; prefixlen: number }[] }[]>(h, ['addr', 'show', 'dev', 'docker0']);

for (const backend of ['vxlan', 'host-gw', 'udp'] as const) {
  describe(`Docker on flannel (${backend})`, () => {
    let net: FlannelLab;
    let lab: Lab;
    let etcd: EtcdServer;
    const dockerd = new Map<string, Dockerd>();
    const web = new Map<string, ContainerInfo>();
    const optsFile = (h: Host): string => path.join(h.dir, 'docker');

    /** The body busybox wget got from `url`, fetched inside container `name` on host `h`. */
    async function wgetFrom(h: string, name: string, url: string): Promise<string> {
      // busybox 1.35's `wget -T` segfaults; its `timeout` applet bounds the request instead.
      const r = await dockerd.get(h)!.execIn(name, ['timeout', '5', 'wget', '-qO-', url], { timeoutMs: 10_000 });
      if (r.code !== 0) throw new Error(`wget ${url} in ${h}/${name}: exit ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    }
    const pingFrom = async (h: string, name: string, ip: string): Promise<boolean> =>
      (await dockerd.get(h)!.execIn(name, ['ping', '-c', '2', '-i', '0.2', '-W', '2', ip], { timeoutMs: 10_000 })).code === 0;

    beforeAll(async () => {
      net = await FlannelLab.start({ hosts: ['a', 'b'], config: networkConfig(backend), flanneldArgs: (h) => ['--iface=eth0', '--ip-masq', `--docker-opts-file=${optsFile(h)}`] });
      ({ lab, etcd } = net);
      // allSettled: a start still running when another fails must land in the map, or afterAll misses it.
      const started = await Promise.allSettled(lab.hosts.map(async (h) => dockerd.set(h.name, await startDockerd(h, { optsFile: optsFile(h) }))));
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      await Promise.all(lab.hosts.map(async (h) => web.set(h.name, await dockerd.get(h.name)!.runContainer('web', ['httpd', '-f', '-p', String(WEB_PORT), '-h', '/www']))));
      // A server on host b itself, on its underlay address: outside the overlay.
      const b = lab.host('b');
      const site = await writeRemoteAddrSite(path.join(b.dir, 'www'));
      b.spawn(['busybox', 'httpd', '-f', '-p', `${b.ip}:${UNDERLAY_PORT}`, '-h', site]);
      await waitFor('httpd on b', async () => (await b.exec(['curl', '-s', '-m', '1', `http://${b.ip}:${UNDERLAY_PORT}/cgi-bin/remote`])).code === 0, 10_000);
    }, 120_000);

    afterAll(async () => {
      await Promise.allSettled([...dockerd.values()].map((d) => d.stop()));
      await net?.destroy();
    });

    it('starts dockerd with the options flanneld wrote: docker0 on the lease, flannel MTU, no Docker masquerade', async () => {
      for (const h of lab.hosts) {
        const e = net.env.get(h.name)!;
        const o = parseDockerOpts(await readFile(optsFile(h), 'utf8'));
        expect(o).toMatchObject({ bip: e.FLANNEL_SUBNET, mtu: Number(e.FLANNEL_MTU), ipMasq: false });
        expect(dockerd.get(h.name)!.networkArgs).toEqual(o.args);
        const [br] = await docker0(h);
        const [addr, len] = e.FLANNEL_SUBNET!.split('/');
        expect(br!.addr_info.filter((a) => a.family === 'inet')).toEqual([expect.objectContaining({ local: addr, prefixlen: Number(len) })]);
        // Docker 20.10 leaves the bridge at 1500 until a port joins; the container's veth (--mtu) sets it.
        expect(br!.mtu).toBe(Number(e.FLANNEL_MTU));
        const mtu = await dockerd.get(h.name)!.execIn('web', ['cat', '/sys/class/net/eth0/mtu']);
        expect(mtu.stdout.trim()).toBe(e.FLANNEL_MTU);
        // --ip-masq=false: flanneld masquerades; Docker adds no rule of its own for the subnet.
        const nat = await h.run(['iptables-save', '-t', 'nat']);
        expect(nat).not.toMatch(/-A POSTROUTING -s 10\.5\.\d+\.0\/24 ! -o docker0 -j MASQUERADE/);
        expect(nat).toContain('-j FLANNEL-POSTRTG');
      }
      expect(net.env.get('a')!.FLANNEL_MTU).toBe({ vxlan: '1450', 'host-gw': '1500', udp: '1472' }[backend]);
    });

    it("gives each container an address inside its host's lease", () => {
      for (const h of ['a', 'b']) expect(inSubnet(net.env.get(h)!.FLANNEL_SUBNET!, web.get(h)!.ip), `${h}: ${web.get(h)!.ip}`).toBe(true);
    });

    it('carries ping and TCP between containers on different hosts, each seen with its own address', async () => {
      const [wa, wb] = [web.get('a')!, web.get('b')!];
      // The first packets may race the peer's route; afterwards it must just work.
      await waitFor('container a to ping container b', () => pingFrom('a', 'web', wb.ip), 20_000, 250);
      expect(await pingFrom('b', 'web', wa.ip)).toBe(true);
      expect(remoteAddr(await wgetFrom('a', 'web', `http://${wb.ip}:${WEB_PORT}/cgi-bin/remote`))).toBe(wa.ip);
      expect(remoteAddr(await wgetFrom('b', 'web', `http://${wa.ip}:${WEB_PORT}/cgi-bin/remote`))).toBe(wb.ip);
    });

    it("masquerades what leaves the overlay to the host's underlay address", async () => {
      const [a, b] = [lab.host('a'), lab.host('b')];
      expect(await pingFrom('a', 'web', b.ip)).toBe(true);
      expect(remoteAddr(await wgetFrom('a', 'web', `http://${b.ip}:${UNDERLAY_PORT}/cgi-bin/remote`))).toBe(a.ip);
    });

    it('rewrites the Docker options when the subnet changes at runtime; a restarted dockerd follows', async () => {
      const [a, b] = [lab.host('a'), lab.host('b')];
      const oldNet = net.env.get('a')!.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0-24');
      const taken = new Set([...net.env.values()].map((e) => e.FLANNEL_SUBNET));
      const third = ['200', '201', '202'].find((n) => !taken.has(`10.5.${n}.1/24`))!;
      // One transaction: a's lease is gone and a reservation for a's address exists, so the
      // re-acquisition that follows the deletion finds the reservation.
      // etcdctl txn reads: compares, a blank line, success requests, a blank line, failure requests, a blank line.
      const txn = `\ndel ${PREFIX}/subnets/${oldNet}\nput ${PREFIX}/subnets/10.5.${third}.0-24 ${JSON.stringify(JSON.stringify({ PublicIP: a.ip }))}\n\n\n`;
      const r = await lab.switch.exec(['etcdctl', `--endpoints=${etcd.endpoint}`, 'txn'], { input: txn, env: { ETCDCTL_API: '3' } });
      expect(r.stdout, r.stderr).toMatch(/^SUCCESS/);

      const bip = `10.5.${third}.1/24`;
      const opts = await waitFor('new docker options on a', async () => {
        const o = parseDockerOpts(await readFile(optsFile(a), 'utf8'));
        return o.bip === bip ? o : undefined;
      }, 20_000);
      expect(opts.vars.get('DOCKER_OPT_BIP')).toBe(`--bip=${bip}`);
      expect(opts.args).toEqual([`--bip=${bip}`, '--ip-masq=false', `--mtu=${net.env.get('a')!.FLANNEL_MTU}`]);
      expect((await readEnvFile(subnetFileOf(a)))!.FLANNEL_SUBNET).toBe(bip);
      await waitFor('the restart warning', () => hasLog(net.flanneld.get('a')!, SUBNET_CHANGED), 5_000);
      expect(logRecords(net.flanneld.get('a')!).find((l) => l.msg === SUBNET_CHANGED)).toMatchObject({ level: 40, subnet: `10.5.${third}.0/24` });

      // What the warning asks for: restart dockerd, which then takes the new options.
      await dockerd.get('a')!.stop();
      const da = await startDockerd(a, { optsFile: optsFile(a), tag: 'restart' });
      dockerd.set('a', da);
      const [br] = await docker0(a);
      expect(br!.addr_info.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`)).toEqual([bip]);
      const w2 = await da.runContainer('web2', ['httpd', '-f', '-p', String(WEB_PORT), '-h', '/www']);
      expect(inSubnet(bip, w2.ip)).toBe(true);
      const wb = web.get('b')!;
      await waitFor('the moved container to reach b', () => pingFrom('a', 'web2', wb.ip), 20_000, 250);
      expect(remoteAddr(await wgetFrom('a', 'web2', `http://${wb.ip}:${WEB_PORT}/cgi-bin/remote`))).toBe(w2.ip);
      expect(remoteAddr(await wgetFrom('b', 'web', `http://${w2.ip}:${WEB_PORT}/cgi-bin/remote`))).toBe(wb.ip);
      expect(remoteAddr(await wgetFrom('a', 'web2', `http://${b.ip}:${UNDERLAY_PORT}/cgi-bin/remote`))).toBe(a.ip);
    });
  });
}
