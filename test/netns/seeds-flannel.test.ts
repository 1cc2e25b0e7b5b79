// The seeds' flannel setup, typed as they typed it, on two lab hosts with Docker:
//  - seed 000: flannel.json with "VNI": 1 uploaded without the leading slash (`etcdctl put
//    coreos.com/network/config < flannel.json`, the v3 spelling of its `etcdctl set`),
//    /etc/sysconfig/flanneld with FLANNEL_ETCD (port 4001), FLANNEL_ETCD_KEY and
//    FLANNEL_OPTIONS="-iface=…", flanneld started by the installed flanneld-start, Docker's options
//    from the installed mk-docker-opts.sh, as the sysconfig unit runs them;
//  - seed 002: its `mk /coreos.com/network/config` document with "Network": "10.1.0.0/16", written
//    with `flanneld config set`.
// Each ends with containers on the two hosts reaching each other at their own addresses.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/index.js';
import { type Dockerd, startDockerd } from './docker.js';
import { FLANNELD, hasLog, readEnvFile, REPO, startFlanneld, startLabEtcd, subnetFileOf, waitFor } from './flannel.js';
import { type Host, Lab, type Proc } from './lab.js';

const run = promisify(execFile);

// Seed 000, as printed (the trailing spaces are the slides' line breaks).
const SEED_000_FLANNEL_JSON = '{ "Network": "10.20.0.0/16",  \n  "SubnetLen": 24,  \n  "Backend": { "Type": "vxlan", "VNI": 1 }  \n}\n';
const seed000Sysconfig = (etcdHost: string, iface: string): string =>
  `FLANNEL_ETCD="http://${etcdHost}:4001"  \nFLANNEL_ETCD_KEY="/coreos.com/network"  \nFLANNEL_OPTIONS="-iface=${iface}"\n`;
// Seed 002's document, with the slides' typographic quotes made straight.
const SEED_002_CONFIG = '{ "Network": "10.1.0.0/16", "Backend": {"Type": "vxlan"} }';

/** Two hosts with dockerd each, stopped in afterAll whatever happened. */
class SeedLab {
  lab!: Lab;
  etcd!: EtcdServer;
  readonly flanneld = new Map<string, Proc>();
  readonly dockerd = new Map<string, Dockerd>();

  async start(etcdExtra: (switchIp: string) => readonly string[] = () => []): Promise<void> {
    this.lab = await Lab.create({ hosts: ['a', 'b'] });
    this.etcd = await startLabEtcd(this.lab, { extraArgs: etcdExtra(this.lab.switch.ip) });
  }

  async startDocker(optsFile: (h: Host) => string): Promise<void> {
    const started = await Promise.allSettled(this.lab.hosts.map(async (h) => this.dockerd.set(h.name, await startDockerd(h, { optsFile: optsFile(h) }))));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** A container on each host; then each pings the other's address. */
  async crossHostPings(): Promise<{ from: string; to: string; ok: boolean }[]> {
    const ips = new Map<string, string>();
    for (const h of this.lab.hosts) ips.set(h.name, (await this.dockerd.get(h.name)!.runContainer('pod', ['sleep', '3600'])).ip);
    const out: { from: string; to: string; ok: boolean }[] = [];
    for (const [from, to] of [['a', 'b'], ['b', 'a']] as const) {
      const r = await this.dockerd.get(from)!.execIn('pod', ['ping', '-c', '2', '-i', '0.2', '-W', '2', ips.get(to)!], { timeoutMs: 10_000 });
      out.push({ from, to: ips.get(to)!, ok: r.code === 0 });
    }
    return out;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.dockerd.values()].map((d) => d.stop()));
    await this.etcd?.destroy();
    await this.lab?.destroy();
  }
}

describe('seed 000: flannel.json, etcdctl put without the slash, /etc/sysconfig/flanneld, flanneld-start', () => {
  const s = new SeedLab();
  let install: { bindir: string; libexecdir: string };
  const optsFile = (h: Host) => path.join(h.dir, 'docker');

  beforeAll(async () => {
    // etcd on the seed's port 4001 as well as 2379.
    await s.start((ip) => ['--listen-client-urls', `http://${ip}:2379,http://${ip}:4001`, '--advertise-client-urls', `http://${ip}:4001`]);
    const sw = s.lab.switch;
    const root = path.join(s.lab.dir, 'install');
    install = { bindir: path.join(root, 'bin'), libexecdir: path.join(root, 'libexec') };
    await run('bash', ['scripts/install', '--style', 'sysconfig', '--bindir', install.bindir, '--libexecdir', install.libexecdir, '--unitdir', path.join(root, 'systemd'), '--sysconfdir', path.join(root, 'etc'), '--no-reload'], { cwd: REPO, timeout: 30_000 });

    const json = path.join(s.lab.dir, 'flannel.json');
    await writeFile(json, SEED_000_FLANNEL_JSON);
    await run('nsenter', [`--net=${sw.nsPath}`, '--', 'sh', '-c', `etcdctl --endpoints=http://${sw.ip}:4001 put coreos.com/network/config < "$0"`, json], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 });

    for (const h of s.lab.hosts) {
      const sysconfig = path.join(h.dir, 'sysconfig-flanneld');
      await writeFile(sysconfig, seed000Sysconfig(sw.ip, h.iface));
      // What the unit runs: flanneld-start (which reads the file), then mk-docker-opts.sh. The subnet file
      // is per host here only because the lab's hosts share one file system.
      s.flanneld.set(h.name, h.spawn([path.join(install.bindir, 'flanneld-start'), `-subnet-file=${subnetFileOf(h)}`], { env: { FLANNEL_SYSCONFIG: sysconfig }, logFile: path.join(h.dir, 'flanneld.log') }));
    }
    for (const h of s.lab.hosts) {
      await waitFor(`subnet.env on ${h.name}`, () => readEnvFile(subnetFileOf(h)), 30_000);
      await run(path.join(install.libexecdir, 'flannel/mk-docker-opts.sh'), ['-k', 'DOCKER_NETWORK_OPTIONS', '-d', optsFile(h), '-f', subnetFileOf(h)], { timeout: 20_000 });
    }
    await s.startDocker(optsFile);
  }, 180_000);
  afterAll(() => s.stop());

  it('leases a /24 of 10.20.0.0/16 on each host over etcd at :4001, warning about the slash-less key', async () => {
    for (const h of s.lab.hosts) {
      const env = (await readEnvFile(subnetFileOf(h)))!;
      expect(env.FLANNEL_NETWORK).toBe('10.20.0.0/16');
      expect(env.FLANNEL_SUBNET).toMatch(/^10\.20\.\d+\.1\/24$/);
      expect(hasLog(s.flanneld.get(h.name)!, 'using the network config from a key without the leading slash; write it to the expected key', { key: 'coreos.com/network/config', expected: '/coreos.com/network/config' })).toBe(true);
      expect(await h.ipCmd(['-d', 'link', 'show', 'flannel.1'])).toMatch(/vxlan id 1 /);
    }
  });

  it("gives Docker mk-docker-opts.sh's options, and containers on the two hosts reach each other", async () => {
    for (const h of s.lab.hosts) {
      const env = (await readEnvFile(subnetFileOf(h)))!;
      expect(await readFile(optsFile(h), 'utf8')).toContain(`DOCKER_NETWORK_OPTIONS=" --bip=${env.FLANNEL_SUBNET} --ip-masq=true --mtu=${env.FLANNEL_MTU}"`);
    }
    expect(await s.crossHostPings()).toEqual([expect.objectContaining({ from: 'a', ok: true }), expect.objectContaining({ from: 'b', ok: true })]);
  });
});

describe("seed 002: the mk /coreos.com/network/config document, written with flanneld config set", () => {
  const s = new SeedLab();
  const optsFile = (h: Host) => path.join(h.dir, 'docker');

  beforeAll(async () => {
    await s.start();
    const sw = s.lab.switch;
    const doc = path.join(s.lab.dir, 'config.json');
    await writeFile(doc, SEED_002_CONFIG);
    const set = await run('nsenter', [`--net=${sw.nsPath}`, '--', process.execPath, FLANNELD, `-etcd-endpoints=${s.etcd.endpoint}`, 'config', 'set', doc], { timeout: 20_000 });
    expect(set.stdout).toBe('wrote /coreos.com/network/config\n');
    for (const h of s.lab.hosts) s.flanneld.set(h.name, startFlanneld(h, s.etcd, { args: [`-iface=${h.iface}`, `-docker-opts-file=${optsFile(h)}`] }));
    for (const h of s.lab.hosts) await waitFor(`subnet.env on ${h.name}`, () => readEnvFile(subnetFileOf(h)), 30_000);
    await s.startDocker(optsFile);
  }, 180_000);
  afterAll(() => s.stop());

  it('leases subnets of 10.1.0.0/16 and containers on the two hosts reach each other', async () => {
    for (const h of s.lab.hosts) expect((await readEnvFile(subnetFileOf(h)))!.FLANNEL_SUBNET).toMatch(/^10\.1\.\d+\.1\/24$/);
    expect(await s.crossHostPings()).toEqual([expect.objectContaining({ from: 'a', ok: true }), expect.objectContaining({ from: 'b', ok: true })]);
  });
});
