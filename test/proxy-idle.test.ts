// The proxy at rest: the nf_tables generation (netlink GETGEN) read and parsed, the tracker that tells
// our writes from other programs' changes, and the proxier that, with it, rewrites nothing while
// nothing changed, runs a full sync after a foreign change (a table deleted by hand) and hourly.
import { describe, expect, it } from 'vitest';
import type { Endpoints, Service } from '../cluster/index.js';
import { silentLogger } from '../common/index.js';
import { encodeGetGen, parseGenReplies } from '../nft/index.js';
import { GenerationTracker, type NftPort, Proxier } from '../proxy/index.js';
import { FakeNft } from './harness/index.js';

/** A NEWGEN message as the kernel answers GETGEN: nlmsghdr, nfgenmsg, NFTA_GEN_ID (and PROC_PID). */
function newGen(seq: number, gen: number): Buffer {
  const b = Buffer.alloc(16 + 4 + 8 + 8);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE((10 << 8) | 15, 4);
  b.writeUInt32LE(seq, 8);
  b.writeUInt16LE(8, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32BE(gen, 24);
  b.writeUInt16LE(8, 28);
  b.writeUInt16LE(2, 30);
  b.writeUInt32BE(4242, 32);
  return b;
}

function nlError(seq: number, errno: number): Buffer {
  const b = Buffer.alloc(16 + 4 + 16);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt32LE(seq, 8);
  b.writeInt32LE(-errno, 16);
  return b;
}

describe('the nf_tables generation on the wire', () => {
  it('asks with GETGEN (nfnetlink subsystem 10, message 16) and the sequence number', () => {
    const b = encodeGetGen(77);
    expect(b.length).toBe(20);
    expect(b.readUInt32LE(0)).toBe(20);
    expect(b.readUInt16LE(4)).toBe(0x0a10);
    expect(b.readUInt16LE(6)).toBe(1);
    expect(b.readUInt32LE(8)).toBe(77);
  });

  it('reads NFTA_GEN_ID out of NEWGEN answers, errors by sequence, and skips the rest', () => {
    const other = Buffer.alloc(20);
    other.writeUInt32LE(20, 0);
    other.writeUInt16LE(3, 4); // NLMSG_DONE
    expect(parseGenReplies(Buffer.concat([newGen(5, 0xfffffff0), other, nlError(6, 1), newGen(7, 3)]))).toEqual([
      { seq: 5, gen: 0xfffffff0 },
      { seq: 6, errno: 1 },
      { seq: 7, gen: 3 },
    ]);
  });

  it('stops at a truncated or malformed message instead of reading past it', () => {
    const m = newGen(1, 9);
    expect(parseGenReplies(m.subarray(0, 30))).toEqual([]);
    const bad = Buffer.from(m);
    bad.writeUInt32LE(4, 0);
    expect(parseGenReplies(bad)).toEqual([]);
    expect(parseGenReplies(Buffer.alloc(0))).toEqual([]);
  });
});

class Gen {
  value = 1;
  fail = false;
  reads = 0;
  async read(): Promise<number> {
    this.reads++;
    if (this.fail) throw new Error('no netlink');
    return this.value;
  }
}

describe('GenerationTracker', () => {
  it('takes the generation our own writes moved for ours, and another program’s change for foreign, once per subscriber', async () => {
    const gen = new Gen();
    const t = new GenerationTracker(gen);
    const a = t.subscribe();
    const b = t.subscribe();
    expect(await a.takeForeign()).toBe(true); // nothing known at first
    expect(await b.takeForeign()).toBe(true);
    await t.ownWrite(async () => void gen.value++);
    await t.ownWrite(async () => void gen.value++);
    expect(await a.takeForeign()).toBe(false);
    gen.value++; // someone else
    expect(await a.takeForeign()).toBe(true);
    expect(await a.takeForeign()).toBe(false);
    expect(await b.takeForeign()).toBe(true);
  });

  it('notices a change made between two of our writes', async () => {
    const gen = new Gen();
    const t = new GenerationTracker(gen);
    const a = t.subscribe();
    await a.takeForeign();
    await t.ownWrite(async () => void gen.value++);
    gen.value++; // someone else, before our next write
    await t.ownWrite(async () => void gen.value++);
    expect(await a.takeForeign()).toBe(true);
  });

  it('runs our writes one at a time, so concurrent ones never look foreign to each other', async () => {
    const gen = new Gen();
    const t = new GenerationTracker(gen);
    const a = t.subscribe();
    await a.takeForeign();
    let inside = 0;
    let most = 0;
    const write = () =>
      t.ownWrite(async () => {
        most = Math.max(most, ++inside);
        await new Promise((r) => setTimeout(r, 5));
        gen.value++;
        inside--;
      });
    await Promise.all([write(), write(), write()]);
    expect(most).toBe(1);
    expect(await a.takeForeign()).toBe(false);
  });

  it('counts a generation it cannot read as a change (the caller falls back to a full sync)', async () => {
    const gen = new Gen();
    const t = new GenerationTracker(gen);
    const a = t.subscribe();
    await a.takeForeign();
    gen.fail = true;
    expect(await a.takeForeign()).toBe(true);
    expect(await a.takeForeign()).toBe(true);
  });

  it('passes a failed write’s error on and keeps tracking', async () => {
    const gen = new Gen();
    const t = new GenerationTracker(gen);
    const a = t.subscribe();
    await a.takeForeign();
    await expect(t.ownWrite(async () => Promise.reject(new Error('nft failed')))).rejects.toThrow('nft failed');
    await t.ownWrite(async () => void gen.value++);
    expect(await a.takeForeign()).toBe(false);
  });
});

/** FakeNft with a generation: each transaction bumps it, as the kernel's commit does. */
class GenNft implements NftPort {
  readonly fake = new FakeNft();
  readonly gen = new Gen();
  private readonly tracker = new GenerationTracker(this.gen);
  run(script: string): Promise<void> {
    return this.tracker.ownWrite(async () => {
      await this.fake.run(script);
      if (script) this.gen.value++;
    });
  }
  listChains(family?: 4 | 6): Promise<string[]> {
    return this.fake.listChains(family);
  }
  changes() {
    return this.tracker.subscribe();
  }
  /** Another program's transaction. */
  foreign(script: string): void {
    this.fake.apply(script);
    this.gen.value++;
  }
}

const svc = (name: string, ip: string): Service => ({ metadata: { name, namespace: 'default' }, spec: { clusterIP: ip, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
const eps = (name: string, ips: string[]): Endpoints => ({ metadata: { name, namespace: 'default' }, subsets: [{ addresses: ips.map((ip) => ({ ip })), ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }] });

const tick = () => new Promise((r) => setTimeout(r, 3));

/** A proxier whose --sync-period (1 ms) has always passed: only the generation keeps it from rewriting. */
async function proxier(o: { fullSyncPeriodMs?: number; withGeneration?: boolean } = {}) {
  const nft = new GenNft();
  const p = new Proxier(
    { nodeName: 'n', ruleset: { masqMark: 0x4000 }, minSyncMs: 0, syncPeriodMs: 1, ...(o.fullSyncPeriodMs !== undefined && { fullSyncPeriodMs: o.fullSyncPeriodMs }) },
    { nft, conntrack: { flush: async () => 0 }, log: silentLogger, ...(o.withGeneration !== false && { changes: nft.changes() }) },
  );
  p.resetServices(new Map([['default/web', svc('web', '10.254.0.10')], ['default/db', svc('db', '10.254.0.11')]]));
  p.resetEndpoints(new Map([['default/web', eps('web', ['10.5.1.2', '10.5.1.3'])], ['default/db', eps('db', ['10.5.2.2'])]]));
  p.setSynced('services');
  p.setSynced('endpoints');
  await p.sync();
  return { nft, p };
}

describe('Proxier at rest, with the generation', () => {
  it('writes nothing at its periodic sync while nobody changed nf_tables', async () => {
    const { nft, p } = await proxier();
    const applied = nft.fake.applied.length;
    for (let i = 0; i < 5; i++) {
      await tick();
      await p.sync();
    }
    expect(nft.fake.applied.length).toBe(applied);
    expect(p.health().syncs).toBe(1);
  });

  it('without the generation, every sync period is a full sync (as before)', async () => {
    const { nft, p } = await proxier({ withGeneration: false });
    const applied = nft.fake.applied.length;
    await tick();
    await p.sync();
    expect(nft.fake.applied.length).toBeGreaterThan(applied);
    expect(p.health()).toMatchObject({ syncs: 2, lastSync: { full: true } });
  });

  it('rebuilds a table another program deleted at its next sync, every service in it', async () => {
    const { nft, p } = await proxier();
    nft.foreign('delete table ip kube-proxy');
    expect(nft.fake.hasTable('ip', 'kube-proxy')).toBe(false);
    await tick();
    await p.sync();
    expect(nft.fake.hasTable('ip', 'kube-proxy')).toBe(true);
    expect([...nft.fake.elements('service-ips').keys()].sort()).toEqual(['10.254.0.10 . tcp . 80', '10.254.0.11 . tcp . 80']);
    expect(p.health().lastSync?.full).toBe(true);
    // Healed: the next one writes nothing again.
    const applied = nft.fake.applied.length;
    await tick();
    await p.sync();
    expect(nft.fake.applied.length).toBe(applied);
  });

  it('still writes an endpoint change as a partial sync', async () => {
    const { nft, p } = await proxier();
    p.updateEndpoints('default/db', eps('db', ['10.5.2.2', '10.5.2.3']));
    await p.sync();
    expect(p.health().lastSync?.full).toBe(false);
    expect(nft.fake.applied.at(-1)).not.toContain('flush');
  });

  it('runs the unconditional full sync after the full-sync period', async () => {
    const { p } = await proxier({ fullSyncPeriodMs: 30 });
    await new Promise((r) => setTimeout(r, 40));
    await p.sync();
    expect(p.health().syncs).toBe(2);
    expect(p.health().lastSync?.full).toBe(true);
  });
});
