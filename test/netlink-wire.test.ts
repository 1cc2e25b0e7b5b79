// The batch encoder (netlink/wire.ts) against the single-request builders of codec.ts: every message
// of a batch must be byte for byte the request the single call sends, behind its own nlmsghdr.
import { describe, expect, it } from 'vitest';
import { encodeBody, fdbReq, neighReq, routeReq, type Request } from '../netlink/codec.js';
import { NetlinkInputError } from '../netlink/errors.js';
import { WireEncoder, parseReplies, type NetlinkWrite } from '../netlink/wire.js';

const body = (r: Request): Buffer => Buffer.concat(encodeBody(r.body));

interface Msg {
  len: number;
  type: number;
  flags: number;
  seq: number;
  body: Buffer;
}

function split(buf: Buffer): Msg[] {
  const out: Msg[] = [];
  for (let o = 0; o < buf.length; ) {
    const len = buf.readUInt32LE(o);
    out.push({ len, type: buf.readUInt16LE(o + 4), flags: buf.readUInt16LE(o + 6), seq: buf.readUInt32LE(o + 8), body: buf.subarray(o + 16, o + len) });
    o += (len + 3) & ~3;
  }
  return out;
}

const cases: [NetlinkWrite, Request][] = [
  [{ op: 'addRoute', route: { dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 9, onlink: true } }, routeReq('add', { dst: '10.5.3.0/24', gw: '10.5.3.0', onlink: true }, 9)],
  [{ op: 'replaceRoute', route: { dst: '10.7.2.0/24', gw: '192.0.2.12', ifindex: 2 } }, routeReq('replace', { dst: '10.7.2.0/24', gw: '192.0.2.12' }, 2)],
  [{ op: 'deleteRoute', route: { dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 9, onlink: true } }, routeReq('del', { dst: '10.5.3.0/24', gw: '10.5.3.0', onlink: true }, 9)],
  [{ op: 'addRoute', route: { dst: 'fd00:5:1::/64', gw: 'fd00:5:1::', ifindex: 11, onlink: true, table: 1000, metric: 5 } }, routeReq('add', { dst: 'fd00:5:1::/64', gw: 'fd00:5:1::', onlink: true, table: 1000, metric: 5 }, 11)],
  [{ op: 'addRoute', route: { dst: '10.5.0.0/16', ifindex: 7, src: '10.5.1.0' } }, routeReq('add', { dst: '10.5.0.0/16', src: '10.5.1.0' }, 7)],
  [{ op: 'addNeigh', neigh: { ip: '10.5.3.0', mac: '0a:62:00:00:00:01', ifindex: 9 } }, neighReq('add', { ip: '10.5.3.0', mac: '0a:62:00:00:00:01', ifindex: 9 })],
  [{ op: 'replaceNeigh', neigh: { ip: 'fd00:5:1::', mac: '0a:62:00:00:00:01', ifindex: 11 } }, neighReq('replace', { ip: 'fd00:5:1::', mac: '0a:62:00:00:00:01', ifindex: 11 })],
  [{ op: 'deleteNeigh', neigh: { ip: '10.5.3.0', ifindex: 9 } }, neighReq('del', { ip: '10.5.3.0', ifindex: 9 })],
  [{ op: 'addFdb', fdb: { mac: '0a:62:00:00:00:01', dst: '198.18.0.2', ifindex: 9 } }, fdbReq('add', { mac: '0a:62:00:00:00:01', dst: '198.18.0.2', ifindex: 9 })],
  [{ op: 'deleteFdb', fdb: { mac: '0a:62:00:00:00:01', dst: '2001:db8::2', ifindex: 9 } }, fdbReq('del', { mac: '0a:62:00:00:00:01', dst: '2001:db8::2', ifindex: 9 })],
  // Off the IPv4 fast path's usual input: a default route, a /32, an upper-case MAC, an IPv4-mapped gateway text.
  [{ op: 'addRoute', route: { dst: '0.0.0.0/0', gw: '192.0.2.1', ifindex: 2 } }, routeReq('add', { dst: '0.0.0.0/0', gw: '192.0.2.1' }, 2)],
  [{ op: 'addRoute', route: { dst: '10.5.3.7/32', ifindex: 2, metric: 0 } }, routeReq('add', { dst: '10.5.3.7/32', metric: 0 }, 2)],
  [{ op: 'addNeigh', neigh: { ip: '10.5.3.0', mac: '0A:62:00:00:00:FF', ifindex: 9 } }, neighReq('add', { ip: '10.5.3.0', mac: '0a:62:00:00:00:ff', ifindex: 9 })],
];

describe('netlink batch encoder', () => {
  it('encodes each write as the single request would be, header, flags and sequence included', () => {
    const enc = new WireEncoder();
    cases.forEach(([w], i) => enc.append(w, 100 + i));
    enc.ackLast();
    const msgs = split(enc.bytes());
    expect(msgs).toHaveLength(cases.length);
    msgs.forEach((m, i) => {
      const req = cases[i]![1];
      expect(m.type).toBe(req.type);
      expect(m.seq).toBe(100 + i);
      // NLM_F_REQUEST always; NLM_F_ACK on the last message only.
      expect(m.flags).toBe(req.flags | 1 | (i === cases.length - 1 ? 4 : 0));
      // The same bytes; ours pads the last attribute to 4 as iproute2 does (npm `netlink` leaves it off).
      const want = body(req);
      expect(m.body.subarray(0, want.length).toString('hex')).toBe(want.toString('hex'));
      expect(m.body.length - want.length).toBe((4 - (want.length % 4)) % 4);
      expect(m.body.subarray(want.length).every((x) => x === 0)).toBe(true);
    });
  });

  it('refuses a bad write without leaving part of it in the buffer, and grows past its first buffer', () => {
    const enc = new WireEncoder();
    enc.append(cases[0]![0], 1);
    const len = enc.length;
    expect(() => enc.append({ op: 'addNeigh', neigh: { ip: '10.5.3.0', mac: 'nope', ifindex: 9 } }, 2)).toThrow(NetlinkInputError);
    expect(() => enc.append({ op: 'addRoute', route: { dst: '10.5.3.1/24', ifindex: 9 } }, 2)).toThrow(/host bits/);
    expect(() => enc.append({ op: 'addRoute', route: { dst: '10.5.3.0/33', ifindex: 9 } }, 2)).toThrow(NetlinkInputError);
    expect(() => enc.append({ op: 'addNeigh', neigh: { ip: '10.5.300.0', mac: '0a:62:00:00:00:01', ifindex: 9 } }, 2)).toThrow(NetlinkInputError);
    expect(() => enc.append({ op: 'addFdb', fdb: { mac: '0a:62:00:00:00:01', dst: '198.18.0.2', ifindex: 0 } }, 2)).toThrow(/ifindex/);
    expect(enc.length).toBe(len);
    for (let i = 0; i < 2000; i++) enc.append(cases[i % cases.length]![0], 10 + i);
    const msgs = split(enc.bytes());
    expect(msgs).toHaveLength(2001);
    expect(msgs.at(-1)!.seq).toBe(2009);
    enc.reset();
    expect(enc.length).toBe(0);
  });

  it('reads the errno and sequence of each NLMSG_ERROR in a datagram', () => {
    const err = (seq: number, errno: number): Buffer => {
      const b = Buffer.alloc(36);
      b.writeUInt32LE(36, 0);
      b.writeUInt16LE(2, 4);
      b.writeUInt32LE(seq, 8);
      b.writeInt32LE(-errno, 16);
      return b;
    };
    const done = Buffer.alloc(20);
    done.writeUInt32LE(20, 0);
    done.writeUInt16LE(3, 4);
    expect(parseReplies(Buffer.concat([err(7, 17), done, err(9, 0)]))).toEqual([
      { seq: 7, errno: 17 },
      { seq: 9, errno: 0 },
    ]);
    expect(parseReplies(Buffer.alloc(10))).toEqual([]);
  });
});
