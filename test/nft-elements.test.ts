import { describe, expect, it } from 'vitest';
import { batchOutcome, describeErrors, type ElementChange, ElementEncodeError, encodeElementBatch, encodeKey, frame, parseAcks, parseDecl, prefixOf, takeFrames } from '../nft/index.js';

// What nft 1.0.6 sends for the same change (`nft --debug=mnl`, the NEWSETELEM / DELSETELEM message after
// its 16-byte header), with two differences that the kernel ignores for an existing set: nft adds
// NFTA_SET_ELEM_LIST_SET_ID (for a set created in the same batch) and numbers the list's elements 1, 2, …
// where the uapi names each NFTA_LIST_ELEM (1); both are taken out of nft's bytes here.
const NFT: Record<string, string> = {
  'add element inet t s4 { 10.1.2.3, 10.1.2.4 }': '010000000600010074000000070002007334000024000380100001800c000180080001000a010203100001800c000180080001000a010204',
  'delete element inet t s4 { 10.1.2.3 }': '010000000600010074000000070002007334000014000380100001800c000180080001000a010203',
  'add element inet t sn { 10.1.2.3 . tcp . 80 }': '01000000060001007400000007000200736e00001c0003801800018014000180100001000a0102030600000000500000',
  'add element inet t sc { 10.1.2.3 . 10.9.9.9 }': '01000000060001007400000007000200736300001800038014000180100001800c0001000a0102030a090909',
  'add element inet t s6 { fd00::1, 2001:db8::a:0:1 }': '01000000060001007400000007000200733600003c0003801c0001801800018014000100fd0000000000000000000000000000011c000180180001801400010020010db8000000000000000a00000001',
  'delete element inet t m { 10.1.2.7 }': '010000000600010074000000060002006d00000014000380100001800c000180080001000a010207',
  'add element inet t m { 10.1.2.9 : goto c1 }': '010000000600010074000000060002006d0000002c000380280001800c000180080001000a010209180002801400028008000100fffffffc0700020063310000',
};

const DECL: Record<string, string> = { s4: 'type ipv4_addr ;', s6: 'type ipv6_addr ;', sc: 'type ipv4_addr . ipv4_addr ;', sn: 'type ipv4_addr . inet_proto . inet_service ;', m: 'type ipv4_addr : verdict ;' };

/** The change an nft command names, as data. */
function changeOf(cmd: string): ElementChange {
  const m = /^(add|delete) element (\S+) (\S+) (\S+) \{ (.*) \}$/.exec(cmd)!;
  const elements = m[5]!.split(', ').map((e) => {
    const [k, v = ''] = e.split(' : ');
    return [k!, v] as const;
  });
  return { verb: m[1] as 'add' | 'delete', family: m[2]!, table: m[3]!, set: m[4]!, decl: DECL[m[4]!]!, elements };
}

describe('nf_tables element batches: the bytes', () => {
  for (const [cmd, hex] of Object.entries(NFT)) {
    it(`${cmd}: what nft sends`, () => {
      const b = encodeElementBatch([changeOf(cmd)], 100);
      expect(b.begin).toBe(100);
      expect(b.messages.map((x) => x.seq)).toEqual([101]);
      expect(b.end).toBe(102);
      const msg = b.bytes.subarray(20, b.bytes.length - 20);
      expect(msg.readUInt32LE(0)).toBe(msg.length);
      // NFNL_SUBSYS_NFTABLES << 8 | NEWSETELEM (12) / DELSETELEM (14); REQUEST | ACK, and CREATE on add (as nft)
      expect(msg.readUInt16LE(4)).toBe(cmd.startsWith('add') ? 0xa0c : 0xa0e);
      expect(msg.readUInt16LE(6)).toBe(cmd.startsWith('add') ? 0x405 : 0x005);
      expect(msg.readUInt32LE(8)).toBe(101);
      expect(msg.subarray(16).toString('hex')).toBe(hex);
    });
  }

  it('wraps the messages in BATCH_BEGIN / BATCH_END for nf_tables, one message per set', () => {
    const b = encodeElementBatch([changeOf('delete element inet t s4 { 10.1.2.3 }'), changeOf('add element inet t m { 10.1.2.9 : goto c1 }')], 7);
    expect(b.bytes.subarray(0, 20).toString('hex')).toBe('14000000100001000700000000000000' + '0000000a');
    expect(b.bytes.subarray(b.bytes.length - 20).toString('hex')).toBe('14000000110001000a00000000000000' + '0000000a');
    expect(b.messages.map((m) => [m.seq, m.change.set])).toEqual([[8, 's4'], [9, 'm']]);
  });

  it('splits a long element list over messages (an attribute length is 16 bits)', () => {
    const many = Array.from({ length: 5000 }, (_, i) => [`10.9.${i >> 8}.${i & 255}`, ''] as const);
    const b = encodeElementBatch([{ verb: 'add', family: 'ip', table: 't', set: 's', decl: 'type ipv4_addr ;', elements: many }], 1);
    expect(b.messages.length).toBeGreaterThan(1);
    let at = 20;
    for (const m of b.messages) {
      const len = b.bytes.readUInt32LE(at);
      expect(b.bytes.readUInt32LE(at + 8)).toBe(m.seq);
      expect(len).toBeLessThan(40_000);
      at += len;
    }
    expect(at).toBe(b.bytes.length - 20);
  });

  it('keys: ports, protocols by name and number, IPv6 forms', () => {
    expect(encodeKey(parseDecl('type inet_service ;'), '8080').toString('hex')).toBe('1f90');
    expect(encodeKey(parseDecl('type ipv4_addr . inet_proto . inet_service ;'), '1.2.3.4 . 17 . 53').toString('hex')).toBe('0102030411000000' + '00350000');
    expect(encodeKey(parseDecl('type ipv4_addr . inet_proto . inet_service ;'), '1.2.3.4 . sctp . 1').toString('hex')).toBe('0102030484000000' + '00010000');
    expect(encodeKey(parseDecl('type ipv6_addr ;'), '::').toString('hex')).toBe('0'.repeat(32));
    expect(encodeKey(parseDecl('type ipv6_addr ;'), '1:2:3:4:5:6:7:8').toString('hex')).toBe('00010002000300040005000600070008');
  });

  it('leaves to nft what it does not encode, with the reason', () => {
    expect(() => parseDecl('type ipv4_addr ; flags interval ;')).toThrow(ElementEncodeError);
    expect(() => parseDecl('type ether_addr ;')).toThrow(/key type not supported: ether_addr/);
    expect(() => parseDecl('type ipv4_addr : ipv4_addr ;')).toThrow(/map data type/);
    expect(() => parseDecl('')).toThrow(/names no type/);
    const bad = (set: string, key: string, value = '') => () => encodeElementBatch([{ verb: 'add', family: 'inet', table: 't', set, decl: DECL[set]!, elements: [[key, value]] }], 1);
    expect(bad('s4', '10.1.2.256')).toThrow(/not an IPv4 address: 10.1.2.256/);
    expect(bad('s4', '10.1.2.0/24')).toThrow(ElementEncodeError);
    expect(bad('s6', '::ffff:1.2.3.4')).toThrow(ElementEncodeError);
    expect(bad('s6', '1::2::3')).toThrow(/not an IPv6 address/);
    expect(bad('sn', '1.2.3.4 . tcp')).toThrow(/has 2 fields, the set 3/);
    expect(bad('sn', '1.2.3.4 . tcp . 70000')).toThrow(/not a port: 70000/);
    expect(bad('m', '1.2.3.4', 'goto')).toThrow(/not a verdict: goto/);
    expect(() => encodeElementBatch([{ verb: 'add', family: 'x', table: 't', set: 's4', decl: DECL.s4!, elements: [] }], 1)).toThrow(/family not supported: x/);
  });
});

describe('nf_tables element batches: the answers', () => {
  const ack = (seq: number, errno: number): Buffer => {
    const b = Buffer.alloc(36);
    b.writeUInt32LE(36, 0);
    b.writeUInt16LE(2, 4); // NLMSG_ERROR
    b.writeUInt32LE(seq, 8);
    b.writeInt32LE(-errno, 16);
    b.writeUInt32LE(16, 20); // the original header, truncated
    return b;
  };
  const batch = encodeElementBatch([changeOf('delete element inet t s4 { 10.1.2.3 }'), changeOf('add element inet t s4 { 10.1.2.3, 10.1.2.4 }')], 10);

  it('waits for every message, then reports success', () => {
    const acks = parseAcks(Buffer.concat([ack(11, 0)]));
    expect(acks).toEqual([{ seq: 11, errno: 0 }]);
    expect(batchOutcome(batch, acks)).toEqual({ done: false });
    expect(batchOutcome(batch, [...acks, ...parseAcks(ack(12, 0))])).toEqual({ done: true, errors: [] });
  });

  it('names the set and errno of a refused message, and a refused batch', () => {
    const o = batchOutcome(batch, parseAcks(Buffer.concat([ack(11, 2), ack(12, 0)])));
    expect(o.done && describeErrors(o.errors)).toBe('delete element inet t s4: ENOENT');
    const w = batchOutcome(batch, parseAcks(ack(10, 1)));
    expect(w.done && describeErrors(w.errors)).toBe('batch: EPERM');
  });

  it('skips what is not an answer and stops at a truncated message', () => {
    const other = Buffer.alloc(20);
    other.writeUInt32LE(20, 0);
    other.writeUInt16LE(0xa0c, 4);
    expect(parseAcks(Buffer.concat([other, ack(11, 0), ack(12, 0).subarray(0, 30)]))).toEqual([{ seq: 11, errno: 0 }]);
  });

  it('frames datagrams for the relay pipe, across reads', () => {
    const all = Buffer.concat([frame(Buffer.from('abc')), frame(Buffer.alloc(0)), frame(Buffer.from('defg'))]);
    const a = takeFrames(all.subarray(0, 9));
    expect(a.frames.map(String)).toEqual(['abc']);
    const b = takeFrames(Buffer.concat([a.rest, all.subarray(9)]));
    expect(b.frames.map(String)).toEqual(['', 'defg']);
    expect(b.rest.length).toBe(0);
  });

  it('finds the namespace prefix before nft', () => {
    expect(prefixOf(['nft'])).toEqual([]);
    expect(prefixOf(['nsenter', '--net=/run/netns/x', '--', '/usr/sbin/nft'])).toEqual(['nsenter', '--net=/run/netns/x', '--']);
    expect(prefixOf(['my-nft-wrapper'])).toBeUndefined();
  });
});
