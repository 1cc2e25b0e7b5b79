import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readlink, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, NETNS_DIR, capture, pidAlive, ping, runCommand, tcpCheck, type Host } from './lab.js';

async function rootLinks(): Promise<string[]> {
  const r = await runCommand(['ip', '-o', 'link', 'show']);
  return r.stdout
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
}

async function netnsList(): Promise<string[]> {
  const r = await runCommand(['ip', 'netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

async function netInode(pid: number): Promise<string> {
  return readlink(`/proc/${pid}/ns/net`);
}

describe('netns lab', () => {
  let lab: Lab;
  let a: Host;
  let b: Host;
  let rootBefore: string[];

  beforeAll(async () => {
    rootBefore = await rootLinks();
    lab = await Lab.create({ hosts: ['a', 'b'], graceMs: 1000 });
    a = lab.host('a');
    b = lab.host('b');
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('builds hosts on the underlay without touching the root namespace', async () => {
    expect(lab.prefix).toMatch(new RegExp(`^fl${process.pid}[a-z]{2}$`));
    expect(a.ns).toBe(`${lab.prefix}-a`);
    expect(a.nsPath).toBe(`${NETNS_DIR}/${lab.prefix}-a`);
    expect([a.ip, b.ip, lab.switch.ip]).toEqual(['192.0.2.11', '192.0.2.12', '192.0.2.1']);
    const routes = JSON.parse(await a.run(['ip', '-j', 'route', 'show', 'default'])) as Array<{ dev: string; gateway: string }>;
    expect(routes).toEqual([expect.objectContaining({ dev: 'eth0', gateway: '192.0.2.1' })]);
    const addrs = JSON.parse(await b.run(['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0'])) as Array<{
      mtu: number;
      addr_info: Array<{ local: string; prefixlen: number }>;
    }>;
    expect(addrs[0]?.mtu).toBe(1500);
    expect(addrs[0]?.addr_info).toEqual([expect.objectContaining({ local: '192.0.2.12', prefixlen: 24 })]);
    expect(await rootLinks()).toEqual(rootBefore);
    expect(await netnsList()).toEqual(expect.arrayContaining([`${lab.prefix}-sw`, `${lab.prefix}-a`, `${lab.prefix}-b`]));
  });

  it('hosts ping each other and the switch over the underlay', async () => {
    const [ab, ba, asw] = await Promise.all([ping(a, b.ip), ping(b, a.ip), ping(a, lab.switch.ip)]);
    expect(ab).toMatchObject({ ok: true, received: 1 });
    expect(ba.ok).toBe(true);
    expect(asw.ok).toBe(true);
    expect(ab.rttMs).toBeGreaterThan(0);
    const none = await ping(a, '192.0.2.99', { timeoutMs: 1000 });
    expect(none).toMatchObject({ ok: false, received: 0 });
  });

  it('a pod pings its gateway, and two pods on one host talk TCP', async () => {
    const p1 = await a.addPod('p1', { cidr: '10.5.3.1/24' });
    const p2 = await a.addPod('p2', { cidr: '10.5.3.1/24' });
    expect([p1.ns, p1.ip, p2.ip, p1.gateway, p1.bridge]).toEqual([`${lab.prefix}-a-p1`, '10.5.3.2', '10.5.3.3', '10.5.3.1', 'cni0']);
    expect((await ping(p1, '10.5.3.1')).ok).toBe(true);
    expect((await a.run(['sysctl', '-n', 'net.ipv4.ip_forward'])).trim()).toBe('1');
    const tcp = await tcpCheck(p2, p1, { payload: 'hello-p2' });
    expect(tcp).toMatchObject({ ok: true, reply: 'hello-p2' });
    // The host's own underlay address is reachable from a pod via its gateway.
    expect((await ping(p2, a.ip)).ok).toBe(true);
  });

  it("tcpdump on b's eth0 sees a's ICMP", async () => {
    const cap = await capture(b, 'eth0', `icmp and src host ${a.ip}`, { count: 2, timeoutMs: 5000 });
    const r = await ping(a, b.ip, { count: 2 });
    expect(r.received).toBe(2);
    expect(await cap.waitFor(2, 3000)).toBe(true);
    const lines = await cap.stop();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`IP ${a.ip} > ${b.ip}: ICMP echo request`);
  });

  it('spawns tracked processes inside the namespace with a log file', async () => {
    const proc = a.spawn(['sh', '-c', 'echo started; exec sleep 30']);
    await proc.waitForOutput(/started/, 3000);
    const nsIno = (await stat(a.nsPath)).ino;
    expect(await netInode(proc.pid)).toBe(`net:[${nsIno}]`);
    expect(await netInode(proc.pid)).not.toBe(await netInode(process.pid));
    expect(proc.logFile.startsWith(`${a.dir}/`)).toBe(true);
    expect(await readFile(proc.logFile, 'utf8')).toContain('started');
    expect(proc.kill('SIGTERM')).toBe(true);
    expect(await proc.wait(3000)).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('adds a third host that a can reach', async () => {
    const c = await lab.addHost('c');
    expect([c.ns, c.ip, c.index]).toEqual([`${lab.prefix}-c`, '192.0.2.13', 3]);
    expect((await ping(a, c.ip)).ok).toBe(true);
    expect((await tcpCheck(c, a)).ok).toBe(true);
  });

  it('sweepStale removes namespaces of dead runs only', async () => {
    const dead = spawnSync('true').pid;
    expect(pidAlive(dead)).toBe(false);
    const stale = `fl${dead}zz-a`;
    await runCommand(['ip', 'netns', 'add', stale]);
    try {
      const removed = await Lab.sweepStale();
      expect(existsSync(`${NETNS_DIR}/${stale}`)).toBe(false); // by us, or by a concurrent run's sweep
      expect(removed.filter((n) => n.startsWith(`${lab.prefix}-`))).toEqual([]);
      expect(existsSync(a.nsPath)).toBe(true);
    } finally {
      await runCommand(['ip', 'netns', 'del', stale]);
    }
  });

  it('destroy kills what it spawned, deletes every namespace and the temp dir; twice is fine', async () => {
    const daemon = b.spawn(['sh', '-c', 'trap "" TERM; echo up; while :; do sleep 1; done']); // ignores SIGTERM
    await daemon.waitForOutput(/up/, 3000);
    await a.addPod('p3', { cidr: '10.5.3.1/24' });
    const t0 = Date.now();
    await lab.destroy();
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(daemon.running).toBe(false);
    expect(pidAlive(daemon.pid)).toBe(false);
    expect((await netnsList()).filter((n) => n.startsWith(`${lab.prefix}-`))).toEqual([]);
    expect(existsSync(lab.dir)).toBe(false);
    expect(await rootLinks()).toEqual(rootBefore);
    await lab.destroy();
    expect(() => a.spawn(['true'])).toThrow(/destroy/);
  });
});
