// host-local: range canonicalization and its messages, the IPAM config (legacy range, runtime
// ranges, requested IPs, CNI_ARGS), the round-robin iterator, the allocator against an in-memory
// store, the disk store's files and lock on a temp dir, and the plugin's ADD/DEL/CHECK in-process.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../ipam/config.js';
import {
  Allocator,
  AddressesExhaustedError,
  CniArgsError,
  DiskStore,
  DuplicateAllocationError,
  type IpRangeSet,
  type IpStore,
  IpUnavailableError,
  canonicalizeRange,
  canonicalizeRangeSet,
  formatRangeSet,
  lockFile,
  parseCniArgs,
  parseIpamConfig,
  parseResolvConf,
  rangeIter,
} from '../ipam/host-local/index.js';
import { type IpAddr, formatIp, parseIp } from '../core/index.js';
import { type CmdArgs, hostLocalPlugin, CniError, PluginCode } from '../cni/index.js';

const ip = (s: string) => parseIp(s);
const fmt = (r: { rangeStart: IpAddr; rangeEnd: IpAddr; gateway: IpAddr }) => [formatIp(r.rangeStart), formatIp(r.rangeEnd), formatIp(r.gateway)];
const configError = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('range canonicalization', () => {
  it('fills in gateway .1, start .1 and end before the broadcast address (IPv4)', () => {
    expect(fmt(canonicalizeRange({ subnet: '10.5.72.0/24' }, 'r'))).toEqual(['10.5.72.1', '10.5.72.254', '10.5.72.1']);
    expect(fmt(canonicalizeRange({ subnet: '10.9.0.0/29' }, 'r'))).toEqual(['10.9.0.1', '10.9.0.6', '10.9.0.1']);
  });

  it('keeps the last address for IPv6 and honours explicit fields', () => {
    expect(fmt(canonicalizeRange({ subnet: 'fd00:5:1::/120' }, 'r'))).toEqual(['fd00:5:1::1', 'fd00:5:1::ff', 'fd00:5:1::1']);
    expect(fmt(canonicalizeRange({ subnet: '10.5.0.0/16', rangeStart: '10.5.1.10', rangeEnd: '10.5.1.20', gateway: '10.5.0.254' }, 'r'))).toEqual([
      '10.5.1.10',
      '10.5.1.20',
      '10.5.0.254',
    ]);
  });

  it('rejects bad ranges with messages that name the field', () => {
    expect(configError(() => canonicalizeRange({}, 'ipam.ranges[0][0]')).message).toBe('invalid network config: ipam.ranges[0][0].subnet: is required');
    const hostBits = configError(() => canonicalizeRange({ subnet: '10.5.72.1/24' }, 'ipam.ranges[0][0]'));
    expect(hostBits.path).toBe('ipam.ranges[0][0].subnet');
    expect(hostBits.reason).toBe('has host bits set; for a /24 the network address is 10.5.72.0');
    expect(configError(() => canonicalizeRange({ subnet: '10.5.0.0/31' }, 'r')).reason).toBe('network 10.5.0.0/31 too small to allocate from');
    expect(configError(() => canonicalizeRange({ subnet: 'nonsense' }, 'r')).path).toBe('r.subnet');
    const start = configError(() => canonicalizeRange({ subnet: '10.5.0.0/24', rangeStart: '10.6.0.1' }, 'r'));
    expect([start.path, start.value, start.reason]).toEqual(['r.rangeStart', '10.6.0.1', 'is not in network 10.5.0.0/24']);
    expect(configError(() => canonicalizeRange({ subnet: '10.5.0.0/24', rangeEnd: '10.5.0.999' }, 'r')).path).toBe('r.rangeEnd');
    expect(configError(() => canonicalizeRange({ subnet: '10.5.0.0/24', gateway: 'fd00::1' }, 'r')).reason).toMatch(/must be an IPv4 address/);
    expect(configError(() => canonicalizeRange({ subnet: '10.5.0.0/24', rangeStart: '10.5.0.9', rangeEnd: '10.5.0.3' }, 'r')).reason).toBe('is after rangeEnd 10.5.0.3');
  });

  it('rejects empty, mixed-family and overlapping range sets', () => {
    expect(configError(() => canonicalizeRangeSet([], 'ipam.ranges[1]')).reason).toBe('empty range set');
    expect(configError(() => canonicalizeRangeSet([{ subnet: '10.5.0.0/24' }, { subnet: 'fd00::/64' }], 's')).path).toBe('s[1]');
    const ov = configError(() => canonicalizeRangeSet([{ subnet: '10.5.0.0/24', rangeEnd: '10.5.0.100' }, { subnet: '10.5.0.0/24', rangeStart: '10.5.0.50' }], 's'));
    expect(ov.path).toBe('s[1]');
    expect(ov.reason).toMatch(/overlaps with range 10.5.0.1-10.5.0.100/);
    expect(configError(() => canonicalizeRangeSet({ subnet: '10.5.0.0/24' }, 's')).reason).toBe('must be an array of ranges');
  });
});

describe('IPAM config', () => {
  const base = { cniVersion: '1.0.0', name: 'net1' };

  it('orders runtime ranges, the legacy range and ipam.ranges as the Go plugin does', () => {
    const cfg = parseIpamConfig({
      ...base,
      runtimeConfig: { ipRanges: [[{ subnet: '10.1.0.0/24' }]] },
      ipam: { type: 'host-local', subnet: '10.2.0.0/24', ranges: [[{ subnet: '10.3.0.0/24' }], [{ subnet: 'fd00::/64' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: '/tmp/x' },
    });
    expect(cfg.ranges.map((s) => formatRangeSet(s))).toEqual(['10.1.0.1-10.1.0.254', '10.2.0.1-10.2.0.254', '10.3.0.1-10.3.0.254', 'fd00::1-fd00::ffff:ffff:ffff:ffff']);
    expect(cfg.dataDir).toBe('/tmp/x');
    expect(cfg.routes.map((r) => r.dst.prefix)).toEqual([0]);
  });

  it('defaults the data dir and requires ipam and ranges', () => {
    expect(parseIpamConfig({ ...base, ipam: { ranges: [[{ subnet: '10.3.0.0/24' }]] } }).dataDir).toBe('/var/lib/cni/networks');
    expect(configError(() => parseIpamConfig({ ...base })).path).toBe('ipam');
    expect(configError(() => parseIpamConfig({ ...base, ipam: {} })).reason).toBe('no IP ranges specified');
    expect(configError(() => parseIpamConfig({ ...base, ipam: { ranges: [[{ subnet: '10.3.0.0/24' }], [{ subnet: '10.3.0.0/16' }]] } })).reason).toMatch(/range set 1 overlaps with range set 0/);
    expect(configError(() => parseIpamConfig({ ...base, ipam: { ranges: [[{ subnet: '10.3.0.0/24' }]], routes: [{ gw: '10.3.0.1' }] } })).path).toBe('ipam.routes[0].dst');
    expect(configError(() => parseIpamConfig({ ...base, ipam: { ranges: 'x' } })).path).toBe('ipam.ranges');
  });

  it('collects requested IPs from CNI_ARGS, args.cni.ips and runtimeConfig.ips, deduplicated', () => {
    const cfg = parseIpamConfig(
      { ...base, args: { cni: { ips: ['10.3.0.7/24', '10.3.0.8'] } }, runtimeConfig: { ips: ['10.3.0.8'] }, ipam: { ranges: [[{ subnet: '10.3.0.0/24' }]] } },
      'IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.3.0.9',
    );
    expect(cfg.requestedIps.map(formatIp)).toEqual(['10.3.0.9', '10.3.0.7', '10.3.0.8']);
    expect(() => parseIpamConfig({ ...base, ipam: { ranges: [[{ subnet: '10.3.0.0/24' }]] } }, 'K8S_POD_NAME=x')).toThrow(CniArgsError);
    expect(() => parseCniArgs('a=b=c')).toThrow(/invalid pair/);
    expect(configError(() => parseIpamConfig({ ...base, args: { cni: { ips: ['bogus'] } }, ipam: { ranges: [[{ subnet: '10.3.0.0/24' }]] } })).path).toBe('args.cni.ips[0]');
  });

  it('reads resolv.conf as host-local does', () => {
    expect(parseResolvConf('# c\nnameserver 10.0.0.10\nnameserver 10.0.0.11\nsearch a.svc b.svc\ndomain cluster.local\noptions ndots:5\n;x\n')).toEqual({
      nameservers: ['10.0.0.10', '10.0.0.11'],
      domain: 'cluster.local',
      search: ['a.svc', 'b.svc'],
      options: ['ndots:5'],
    });
  });
});

const set = (...ranges: Record<string, string>[]): IpRangeSet => canonicalizeRangeSet(ranges, 't');
const walk = (s: IpRangeSet, last?: string) => [...rangeIter(s, last === undefined ? undefined : ip(last))].map((c) => formatIp(c.ip));

describe('round-robin iterator', () => {
  it('starts at rangeStart and skips the gateway', () => {
    expect(walk(set({ subnet: '10.9.0.0/29' }))).toEqual(['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
  });

  it('resumes after the last reserved address, wraps, and ends with it', () => {
    expect(walk(set({ subnet: '10.9.0.0/29' }), '10.9.0.4')).toEqual(['10.9.0.5', '10.9.0.6', '10.9.0.2', '10.9.0.3', '10.9.0.4']);
    expect(walk(set({ subnet: '10.9.0.0/29' }), '10.9.0.6')).toEqual(['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
  });

  it('ignores a last reserved address outside the set', () => {
    expect(walk(set({ subnet: '10.9.0.0/29' }), '10.8.0.4')).toEqual(['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
  });

  it('moves across the ranges of a set and back to the first', () => {
    const s = set({ subnet: '10.9.0.0/29', rangeStart: '10.9.0.5' }, { subnet: '10.9.1.0/29', rangeEnd: '10.9.1.3' });
    expect(walk(s)).toEqual(['10.9.0.5', '10.9.0.6', '10.9.1.2', '10.9.1.3']);
    expect(walk(s, '10.9.1.2')).toEqual(['10.9.1.3', '10.9.0.5', '10.9.0.6', '10.9.1.2']);
  });

  it('terminates on a range holding only its gateway', () => {
    expect(walk(set({ subnet: '10.9.0.0/29', rangeStart: '10.9.0.1', rangeEnd: '10.9.0.1' }))).toEqual([]);
  });

  it('works the same for IPv6', () => {
    expect(walk(set({ subnet: 'fd00::/126' }), 'fd00::2')).toEqual(['fd00::3', 'fd00::2']);
  });
});

/** The Go plugin's fake_store: a map, no lock. */
class MemoryStore implements IpStore {
  readonly held = new Map<string, string>();
  readonly last = new Map<string, IpAddr>();
  async reserve(id: string, ifname: string, a: IpAddr, rangeId: string): Promise<boolean> {
    const k = formatIp(a);
    if (this.held.has(k)) return false;
    this.held.set(k, `${id}\r\n${ifname}`);
    this.last.set(rangeId, a);
    return true;
  }
  async lastReserved(rangeId: string) {
    return this.last.get(rangeId);
  }
  async getById(id: string, ifname: string) {
    return [...this.held].filter(([, v]) => v === `${id}\r\n${ifname}`).map(([k]) => ip(k));
  }
  async releaseById(id: string, ifname: string) {
    const mine = await this.getById(id, ifname);
    for (const a of mine) this.held.delete(formatIp(a));
    return mine;
  }
}

describe('allocator', () => {
  it('hands out addresses round-robin and reports exhaustion with the range set', async () => {
    const store = new MemoryStore();
    const alloc = new Allocator(set({ subnet: '10.9.0.0/29' }), store, 0);
    const got = [];
    for (let i = 0; i < 5; i++) got.push(formatIp((await alloc.get(`c${i}`, 'eth0')).ip));
    expect(got).toEqual(['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
    const err = await alloc.get('c5', 'eth0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddressesExhaustedError);
    expect((err as Error).message).toBe('failed to allocate for range 0: no IP addresses available in range set: 10.9.0.1-10.9.0.6');
    await store.releaseById('c2', 'eth0');
    // After a release, the next address is the freed one only once the cycle comes round to it.
    expect(formatIp((await alloc.get('c6', 'eth0')).ip)).toBe('10.9.0.4');
  });

  it('returns the prefix and gateway of the range', async () => {
    const a = await new Allocator(set({ subnet: '10.9.0.0/24', gateway: '10.9.0.254' }), new MemoryStore(), 0).get('c', 'eth0');
    expect([formatIp(a.ip), a.prefix, formatIp(a.gateway)]).toEqual(['10.9.0.1', 24, '10.9.0.254']);
  });

  it('refuses a second allocation for the same container and interface', async () => {
    const store = new MemoryStore();
    const alloc = new Allocator(set({ subnet: '10.9.0.0/29' }), store, 0);
    await alloc.get('c1', 'eth0');
    await expect(alloc.get('c1', 'eth0')).rejects.toBeInstanceOf(DuplicateAllocationError);
    await expect(alloc.get('c1', 'eth1')).resolves.toBeDefined();
  });

  it('reserves a requested address, unless taken, the gateway, or outside the set', async () => {
    const store = new MemoryStore();
    const alloc = new Allocator(set({ subnet: '10.9.0.0/29' }), store, 0);
    expect(formatIp((await alloc.get('c1', 'eth0', ip('10.9.0.5'))).ip)).toBe('10.9.0.5');
    await expect(alloc.get('c2', 'eth0', ip('10.9.0.5'))).rejects.toThrow('requested IP address 10.9.0.5 is not available in range set 10.9.0.1-10.9.0.6');
    await expect(alloc.get('c2', 'eth0', ip('10.9.0.1'))).rejects.toThrow("requested ip 10.9.0.1 is subnet's gateway");
    await expect(alloc.get('c2', 'eth0', ip('10.9.0.7'))).rejects.toBeInstanceOf(IpUnavailableError);
  });
});

describe('disk store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cni-hl-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one file per address and the last reserved address, as the Go plugin does', async () => {
    const s = await DiskStore.open('net1', dir);
    expect(await s.withLock(() => s.reserve(' c1 ', 'eth0', ip('10.9.0.2'), '0'))).toBe(true);
    expect(await s.reserve('c2', 'eth0', ip('10.9.0.2'), '0')).toBe(false);
    expect(await readFile(path.join(dir, 'net1', '10.9.0.2'), 'utf8')).toBe('c1\r\neth0');
    expect(await readFile(path.join(dir, 'net1', 'last_reserved_ip.0'), 'utf8')).toBe('10.9.0.2');
    expect(formatIp((await s.lastReserved('0'))!)).toBe('10.9.0.2');
    expect(await s.lastReserved('1')).toBeUndefined();
    expect(await s.reserve('c1', 'eth0', ip('fd00::2'), '1')).toBe(true);
    expect((await readdir(path.join(dir, 'net1'))).sort()).toEqual(['10.9.0.2', 'fd00::2', 'last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
  });

  it('releases by container and ifname, falls back to files without the ifname, and is idempotent', async () => {
    const s = await DiskStore.open('net1', dir);
    await s.reserve('c1', 'eth0', ip('10.9.0.2'), '0');
    await s.reserve('c1', 'eth1', ip('10.9.0.3'), '0');
    await writeFile(path.join(dir, 'net1', '10.9.0.4'), 'old\n'); // written by a plugin before ifnames were recorded
    expect((await s.getById('c1', 'eth0')).map(formatIp)).toEqual(['10.9.0.2']);
    expect((await s.releaseById('c1', 'eth0')).map(formatIp)).toEqual(['10.9.0.2']);
    expect(await s.releaseById('c1', 'eth0')).toEqual([]);
    expect((await s.releaseById('old', 'eth0')).map(formatIp)).toEqual(['10.9.0.4']);
    expect((await s.getById('c1', 'eth1')).map(formatIp)).toEqual(['10.9.0.3']);
  });

  it('serialises withLock across independent openers (flock on <dir>/lock)', async () => {
    const a = await DiskStore.open('net1', dir);
    const b = await DiskStore.open('net1', dir);
    const events: string[] = [];
    const hold = (s: DiskStore, name: string) =>
      s.withLock(async () => {
        events.push(`${name}+`);
        await new Promise((r) => setTimeout(r, 150));
        events.push(`${name}-`);
      });
    await Promise.all([hold(a, 'a'), hold(b, 'b'), hold(a, 'c')]);
    for (let i = 0; i < events.length; i += 2) expect(events[i]!.slice(0, -1)).toBe(events[i + 1]!.slice(0, -1));
  });

  it('queues holders of one directory in this process, and one that times out keeps the order', async () => {
    const a = await DiskStore.open('net1', dir);
    const impatient = await DiskStore.open('net1', dir, { lockTimeoutMs: 100 });
    const events: string[] = [];
    const first = a.withLock(async () => {
      events.push('a+');
      await new Promise((r) => setTimeout(r, 400));
      events.push('a-');
    });
    const gaveUp = impatient.withLock(async () => void events.push('never')).catch((e: unknown) => e);
    const third = a.withLock(async () => void events.push('c'));
    expect(((await gaveUp) as Error).name).toBe('LockTimeoutError');
    await Promise.all([first, third]);
    expect(events).toEqual(['a+', 'a-', 'c']);
  });

  it('gives up waiting for the lock after the timeout', async () => {
    const held = await lockFile(path.join(dir, 'lock'), 1000);
    try {
      const err = await lockFile(path.join(dir, 'lock'), 200).catch((e: unknown) => e);
      expect((err as Error).name).toBe('LockTimeoutError');
    } finally {
      await held.release();
    }
    const again = await lockFile(path.join(dir, 'lock'), 1000);
    await again.release();
  });
});

describe('host-local plugin (in-process)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cni-hl-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const args = (netconf: Record<string, unknown>, containerId: string, over: Partial<CmdArgs> = {}): CmdArgs => ({
    command: 'ADD',
    containerId,
    netns: '/var/run/netns/x',
    ifName: 'eth0',
    args: '',
    path: '',
    stdin: JSON.stringify(netconf),
    netconf: JSON.parse(JSON.stringify(netconf)),
    cniVersion: '1.0.0',
    env: {},
    ...over,
  });

  it('ADD returns an IPAM result, DEL releases, CHECK finds the reservation', async () => {
    const p = hostLocalPlugin();
    const conf = { cniVersion: '1.0.0', name: 'net1', ipam: { type: 'host-local', dataDir: dir, ranges: [[{ subnet: '10.9.0.0/29' }], [{ subnet: 'fd00::/120' }]], routes: [{ dst: '10.0.0.0/8' }] } };
    const out = await p.add(args(conf, 'c1'));
    expect(out).toEqual({
      result: {
        cniVersion: '1.0.0',
        ips: [
          { address: '10.9.0.2/29', gateway: '10.9.0.1' },
          { address: 'fd00::2/120', gateway: 'fd00::1' },
        ],
        routes: [{ dst: '10.0.0.0/8' }],
      },
    });
    await p.check(args(conf, 'c1', { command: 'CHECK' }));
    await p.del(args(conf, 'c1', { command: 'DEL' }));
    await p.del(args(conf, 'c1', { command: 'DEL' }));
    await expect(p.check(args(conf, 'c1', { command: 'CHECK' }))).rejects.toThrow(/Failed to find address added by container c1/);
    expect((await readdir(path.join(dir, 'net1'))).sort()).toEqual(['last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
  });

  it('releases the first range set when the second is full (ADD is all or nothing)', async () => {
    const p = hostLocalPlugin();
    const conf = { cniVersion: '1.0.0', name: 'net1', ipam: { dataDir: dir, ranges: [[{ subnet: '10.9.0.0/29' }], [{ subnet: '10.9.1.0/30' }]] } };
    await p.add(args(conf, 'c1')); // takes the only address of 10.9.1.0/30 (.2; .1 is the gateway)
    const err = await p.add(args(conf, 'c2')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddressesExhaustedError);
    expect((err as Error).message).toBe('failed to allocate for range 1: no IP addresses available in range set: 10.9.1.1-10.9.1.2');
    const files = await readdir(path.join(dir, 'net1'));
    expect(files.filter((f) => f.startsWith('10.')).sort()).toEqual(['10.9.0.2', '10.9.1.2']);
  });

  it('gives requested addresses to their range sets and fails for one no set can hold', async () => {
    const p = hostLocalPlugin();
    const conf = { cniVersion: '1.0.0', name: 'net1', ipam: { dataDir: dir, ranges: [[{ subnet: '10.9.0.0/29' }]] } };
    const out = await p.add(args(conf, 'c1', { args: 'IP=10.9.0.5' }));
    expect('result' in out && out.result.ips?.[0]?.address).toBe('10.9.0.5/29');
    await expect(p.add(args(conf, 'c2', { args: 'IP=10.9.5.5' }))).rejects.toThrow('failed to allocate all requested IPs: 10.9.5.5');
    expect(await readdir(path.join(dir, 'net1'))).not.toContain('10.9.0.2'); // c2's automatic pick was rolled back
  });

  it('maps failures to CNI codes at the skeleton edge', async () => {
    const { toCniError } = await import('../cni/index.js');
    expect(toCniError(new AddressesExhaustedError(0, 'x')).cniCode).toBe(PluginCode.AddressesExhausted);
    expect(toCniError(new CniError(11, 'busy')).transient).toBe(true);
  });
});
