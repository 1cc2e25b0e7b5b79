// Element changes written as one nf_tables netlink batch (no ruleset fetched), against the real kernel in
// a lab namespace: what `nft -j list` shows afterwards, all or nothing on a refusal, and nft taking over
// what netlink cannot write or when the relay fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ElementChange, NetlinkElementWriter, NetlinkLinkError, NftError, NftRunner } from '../../nft/index.js';
import { Lab, runCommand } from './index.js';

const isRoot = process.getuid?.() === 0;
const T = 'nftnl';

describe.skipIf(!isRoot)('nf_tables element batches over netlink in a lab namespace', () => {
  let lab: Lab;
  let argv: string[];
  let prefix: string[];
  const nft = async (...args: string[]): Promise<string> => {
    const r = await runCommand([...argv, ...args], { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout;
  };
  /** The elements of a set or map, as nft -j shows them: keys, `key . key`, `key : goto chain`. */
  const elements = async (kind: 'set' | 'map', name: string): Promise<string[]> => {
    const j = JSON.parse(await nft('-j', 'list', kind, 'inet', T, name)) as { nftables: Record<string, { elem?: unknown[] }>[] };
    const show = (x: unknown): string => {
      if (typeof x === 'string' || typeof x === 'number') return String(x);
      const o = x as { concat?: unknown[]; prefix?: { addr: string; len: number }; range?: unknown[]; goto?: { target: string } };
      if (o.concat) return o.concat.map(show).join(' . ');
      if (o.prefix) return `${o.prefix.addr}/${o.prefix.len}`;
      if (o.range) return o.range.map(show).join('-');
      if (o.goto) return `goto ${o.goto.target}`;
      return JSON.stringify(x);
    };
    const e = j.nftables.find((o) => o[kind])?.[kind]?.elem ?? [];
    return e.map((x) => (Array.isArray(x) ? `${show(x[0])} : ${show(x[1])}` : show(x))).sort();
  };
  const DECL = { s4: 'type ipv4_addr ;', s6: 'type ipv6_addr ;', named: 'type ipv4_addr . inet_proto . inet_service ;', self: 'type ipv4_addr . ipv4_addr ;', m: 'type ipv4_addr : verdict ;', blocks: 'type ipv4_addr ; flags interval ;' };
  const ch = (verb: 'add' | 'delete', set: keyof typeof DECL, ...els: (string | [string, string])[]): ElementChange => ({ verb, family: 'inet', table: T, set, decl: DECL[set], elements: els.map((e) => (typeof e === 'string' ? [e, ''] : e)) });
  const script = (cs: readonly ElementChange[]): string =>
    cs.map((c) => `${c.verb} element inet ${T} ${c.set} { ${c.elements.map(([k, v]) => (c.verb === 'add' && v ? `${k} : ${v}` : k)).join(', ')} }\n`).join('');
  const table = async (): Promise<void> => {
    const sets = Object.entries(DECL).map(([n, d]) => `add ${n === 'm' ? 'map' : 'set'} inet ${T} ${n} { ${d} }`);
    const r = await runCommand([...argv, '-f', '-'], { timeoutMs: 10_000, input: `add table inet ${T}\ndelete table inet ${T}\nadd table inet ${T}\nadd chain inet ${T} c1\nadd chain inet ${T} c2\n${sets.join('\n')}\n` });
    if (r.code !== 0) throw new Error(r.stderr);
  };

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['a'] });
    prefix = ['nsenter', `--net=${lab.host('a').nsPath}`, '--'];
    argv = [...prefix, 'nft'];
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('writes sets, concatenations and verdict maps: nft -j list shows exactly the elements', async () => {
    await table();
    const r = new NftRunner({ argv });
    try {
      const first = [ch('add', 's4', '10.0.0.1', '10.0.0.2', '10.0.0.3'), ch('add', 's6', 'fd00::1', '2001:db8::a:0:1'), ch('add', 'named', '10.0.0.1 . tcp . 80', '10.0.0.2 . udp . 53'), ch('add', 'self', '10.0.0.1 . 10.0.0.1'), ch('add', 'm', ['10.0.0.1', 'goto c1'], ['10.0.0.2', 'goto c2'])];
      await r.runElements(first, script(first));
      const second = [ch('delete', 's4', '10.0.0.2'), ch('delete', 'm', ['10.0.0.1', 'goto c1']), ch('add', 'm', ['10.0.0.1', 'goto c2']), ch('add', 's4', '10.0.0.4')];
      await r.runElements(second, script(second));
      expect(r.elementStats).toEqual({ netlink: 2, nft: 0 });
      expect(r.interactiveStarts).toBe(0);
      expect(await elements('set', 's4')).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.4']);
      expect(await elements('set', 's6')).toEqual(['2001:db8::a:0:1', 'fd00::1']);
      expect(await elements('set', 'named')).toEqual(['10.0.0.1 . tcp . 80', '10.0.0.2 . udp . 53']);
      expect(await elements('set', 'self')).toEqual(['10.0.0.1 . 10.0.0.1']);
      expect(await elements('map', 'm')).toEqual(['10.0.0.1 : goto c2', '10.0.0.2 : goto c2']);
    } finally {
      r.close();
    }
  });

  it('applies a refused batch not at all and names the set and errno', async () => {
    await table();
    const r = new NftRunner({ argv });
    try {
      const ok = [ch('add', 's4', '10.1.0.1')];
      await r.runElements(ok, script(ok));
      // the add of 10.1.0.2 comes first, the delete of a missing element makes the kernel abort both
      const bad = [ch('add', 's4', '10.1.0.2'), ch('delete', 'named', '10.1.0.9 . tcp . 1')];
      const err = await r.runElements(bad, script(bad)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NftError);
      expect((err as NftError).stderr).toBe(`netlink: delete element inet ${T} named: ENOENT`);
      expect(await elements('set', 's4')).toEqual(['10.1.0.1']);
      const noSet = [{ ...ch('add', 's4', '10.1.0.3'), set: 'gone' }];
      expect(((await r.runElements(noSet, script(noSet)).catch((e: unknown) => e)) as NftError).stderr).toBe(`netlink: add element inet ${T} gone: ENOENT`);
      // the same socket goes on after a refusal
      const next = [ch('add', 's4', '10.1.0.4')];
      await r.runElements(next, script(next));
      expect(await elements('set', 's4')).toEqual(['10.1.0.1', '10.1.0.4']);
      expect(r.elementStats.nft).toBe(0);
    } finally {
      r.close();
    }
  });

  it('leaves to nft what netlink does not write (an interval set), and what it cannot when the relay fails', async () => {
    await table();
    const r = new NftRunner({ argv });
    try {
      const blocks = [ch('add', 'blocks', '10.2.0.0/16', '10.3.0.0-10.3.0.9')];
      await r.runElements(blocks, script(blocks));
      expect(r.elementStats).toEqual({ netlink: 0, nft: 1 });
      expect(await elements('set', 'blocks')).toEqual(['10.2.0.0/16', '10.3.0.0-10.3.0.9']);
      // A batch above MAX_BATCH_BYTES (5,000 addresses: ~100 KB) goes to nft too.
      const big = [ch('add', 's4', ...Array.from({ length: 5000 }, (_, i) => `10.7.${i >> 8}.${i & 255}`))];
      await r.runElements(big, script(big));
      expect(r.elementStats).toEqual({ netlink: 0, nft: 2 });
      expect((await elements('set', 's4')).length).toBe(5000);
    } finally {
      r.close();
    }
    // A relay that cannot start: each change goes through nft; after three failures netlink is given up.
    await table();
    const broken = new NftRunner({ argv, netlinkPrefix: ['sh', '-c', 'exit 7', 'sh'] });
    try {
      for (let i = 1; i <= 4; i++) {
        const c = [ch('add', 's4', `10.4.0.${i}`)];
        await broken.runElements(c, script(c));
      }
      expect(broken.elementStats).toEqual({ netlink: 0, nft: 4 });
      expect(await elements('set', 's4')).toEqual(['10.4.0.1', '10.4.0.2', '10.4.0.3', '10.4.0.4']);
    } finally {
      broken.close();
    }
    const w = new NetlinkElementWriter({ prefix: ['sh', '-c', 'exit 7', 'sh'] });
    const e = await w.apply([ch('add', 's4', '10.4.0.9')]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NetlinkLinkError);
    expect((e as Error).message).toMatch(/netlink relay exited \(code 7\)/);
    w.close();
  });

  it('one batch costs a fraction of what nft costs on a table of a thousand sets', async () => {
    const sets = Array.from({ length: 1000 }, (_, i) => `add set inet ${T} p${i} { type ipv4_addr ; }\nadd element inet ${T} p${i} { 10.5.${i >> 8}.${i & 255} }`);
    const chains = Array.from({ length: 1000 }, (_, i) => `add chain inet ${T} k${i}\nadd rule inet ${T} k${i} ip saddr @p${i} accept`);
    const r0 = await runCommand([...argv, '-f', '-'], { timeoutMs: 60_000, input: `add table inet ${T}\ndelete table inet ${T}\nadd table inet ${T}\n${sets.join('\n')}\n${chains.join('\n')}\n` });
    expect(r0.code, r0.stderr).toBe(0);
    const r = new NftRunner({ argv });
    const off = new NftRunner({ argv, netlink: false });
    try {
      const time = async (x: NftRunner, i: number): Promise<number> => {
        const c = [{ verb: 'add' as const, family: 'inet', table: T, set: `p${i}`, decl: 'type ipv4_addr ;', elements: [['10.6.0.1', ''] as const] }];
        const t0 = performance.now();
        await x.runElements(c, script(c));
        return performance.now() - t0;
      };
      await time(r, 0);
      await time(off, 1);
      const nl: number[] = [];
      const ni: number[] = [];
      for (let i = 2; i < 22; i += 2) (nl.push(await time(r, i)), ni.push(await time(off, i + 1)));
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
      expect(r.elementStats.nft).toBe(0);
      expect(off.elementStats.netlink).toBe(0);
      expect(med(nl), `netlink ${med(nl).toFixed(2)} ms, nft -i ${med(ni).toFixed(2)} ms`).toBeLessThan(med(ni) / 2);
    } finally {
      r.close();
      off.close();
    }
  });
});
