// Batched writes on the wire: many RTM_NEWROUTE / RTM_DELROUTE / RTM_NEWNEIGH / RTM_DELNEIGH messages,
// nlmsghdr included, encoded back to back into one reused buffer that goes out in one sendmsg, and the
// kernel's replies to them read back by sequence number. Pure, unit-tested against codec.ts's builders.
//
// Written by hand rather than through npm `netlink`'s AttrStream: that allocates a Buffer per header,
// per attribute and per padding, and one request per sendmsg was the whole cost of programming
// thousands of peers (a native send and an address() lookup per entry). The layouts are the kernel's
// (rtnetlink.h, neighbour.h); the same validation as codec.ts applies (canonicalRoute, neighReq, fdbReq).
import { AF_BRIDGE, afOf, ipToBytes, macToBytes, parseRouteDst } from './addr.js';
import { F_ADD, F_APPEND, F_REPLACE, RTNH_F_ONLINK, canonicalRoute } from './codec.js';
import { NetlinkInputError } from './errors.js';
import { TABLE_MAIN, type Fdb, type Route } from './types.js';

/** One write of a batch; devices are ifindexes (a batch never resolves names). */
export type NetlinkWrite =
  | { readonly op: 'addRoute' | 'replaceRoute' | 'deleteRoute'; readonly route: Route & { readonly ifindex: number } }
  | { readonly op: 'addNeigh' | 'replaceNeigh'; readonly neigh: { readonly ip: string; readonly mac: string; readonly ifindex: number } }
  | { readonly op: 'deleteNeigh'; readonly neigh: { readonly ip: string; readonly ifindex: number } }
  | { readonly op: 'addFdb' | 'deleteFdb'; readonly fdb: Fdb };

const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_NEWNEIGH = 28;
const RTM_DELNEIGH = 29;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;
const NDA_DST = 1;
const NDA_LLADDR = 2;
const NUD_PERMANENT = 0x80;
const NTF_SELF = 0x02;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_NOWHERE = 255;

const align4 = (n: number): number => (n + 3) & ~3;

/**
 * Dotted-quad text into `out` (4 bytes), or false for anything else (IPv6, leading zeros, junk): the
 * fast path for the canonical IPv4 text the backends hold; the general parser handles the rest.
 */
function v4Into(s: string, out: Buffer): boolean {
  let part = 0;
  let digits = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || n === 3) return false;
      out[n++] = part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return false;
      part = part * 10 + (c - 48);
      if (part > 255) return false;
      digits++;
    } else {
      return false;
    }
  }
  if (digits === 0 || n !== 3) return false;
  out[3] = part;
  return true;
}

const hexVal = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);

/** "aa:bb:cc:dd:ee:ff" into `out` (6 bytes); anything else is refused as macToBytes refuses it. */
function macInto(s: string, out: Buffer, field: string): Buffer {
  if (s.length === 17) {
    let ok = true;
    for (let i = 0; i < 6 && ok; i++) {
      const h = hexVal(s.charCodeAt(i * 3));
      const l = hexVal(s.charCodeAt(i * 3 + 1));
      if (h < 0 || l < 0 || (i < 5 && s.charCodeAt(i * 3 + 2) !== 58)) ok = false;
      else out[i] = (h << 4) | l;
    }
    if (ok) return out;
  }
  return macToBytes(s, field);
}

/** The bytes of an address: the fast IPv4 path into `scratch`, else the general parser (naming `field`). */
function ipInto(s: string, scratch: Buffer, field: string): Buffer {
  return v4Into(s, scratch) ? scratch : ipToBytes(s, field);
}

/** A message's flags besides NLM_F_REQUEST (and NLM_F_ACK, which the encoder sets on request). */
function opFlags(op: NetlinkWrite['op']): number {
  switch (op) {
    case 'addRoute': case 'addNeigh': return F_ADD;
    case 'replaceRoute': case 'replaceNeigh': return F_REPLACE;
    case 'addFdb': return F_APPEND;
    default: return 0;
  }
}

/**
 * Encodes writes into one growing buffer, reused from batch to batch. Each message gets the sequence
 * number it is given; the caller asks an ACK of the last one only: the kernel answers every failed
 * message anyway (NLMSG_ERROR with its errno) and handles a sendmsg's messages in order, so the last
 * ACK says every earlier message was handled.
 */
export class WireEncoder {
  private buf = Buffer.alloc(16 << 10);
  private readonly ipA = Buffer.alloc(4);
  private readonly ipB = Buffer.alloc(4);
  private readonly mac = Buffer.alloc(6);
  private off = 0;
  private last = -1;

  get length(): number {
    return this.off;
  }

  reset(): void {
    this.off = 0;
    this.last = -1;
  }

  /** Asks an ACK of the last message appended. */
  ackLast(): void {
    if (this.last < 0) return;
    this.buf.writeUInt16LE(this.buf.readUInt16LE(this.last + 6) | NLM_F_ACK, this.last + 6);
  }

  /** The encoded messages; valid until the next reset. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.off);
  }

  /** Appends one message; throws NetlinkInputError (and appends nothing) on bad input. */
  append(w: NetlinkWrite, seq: number, ack = false): void {
    this.room(160);
    const start = this.off;
    try {
      this.off += NLMSG_HDRLEN;
      let type: number;
      if ('route' in w) type = this.route(w.op, w.route);
      else if ('fdb' in w) type = this.neigh(w.op === 'deleteFdb', true, w.fdb.ifindex, ipInto(w.fdb.dst, this.ipA, 'dst'), macInto(w.fdb.mac, this.mac, 'mac'));
      else type = this.neigh(w.op === 'deleteNeigh', false, w.neigh.ifindex, ipInto(w.neigh.ip, this.ipA, 'ip'), w.op === 'deleteNeigh' ? undefined : macInto(w.neigh.mac, this.mac, 'mac'));
      const b = this.buf;
      b.writeUInt32LE(this.off - start, start);
      b.writeUInt16LE(type, start + 4);
      b.writeUInt16LE(NLM_F_REQUEST | (ack ? NLM_F_ACK : 0) | opFlags(w.op), start + 6);
      b.writeUInt32LE(seq >>> 0, start + 8);
      b.writeUInt32LE(0, start + 12); // nlmsg_pid: the kernel answers the sending socket whatever it says
      this.last = start;
    } catch (e) {
      this.off = start;
      throw e;
    }
  }

  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  private attr(type: number, payload: Uint8Array): void {
    const b = this.buf;
    b.writeUInt16LE(4 + payload.length, this.off);
    b.writeUInt16LE(type, this.off + 2);
    b.set(payload, this.off + 4);
    const end = this.off + align4(4 + payload.length);
    b.fill(0, this.off + 4 + payload.length, end);
    this.off = end;
  }

  private u32(type: number, v: number): void {
    const b = this.buf;
    b.writeUInt16LE(8, this.off);
    b.writeUInt16LE(type, this.off + 2);
    b.writeUInt32LE(v >>> 0, this.off + 4);
    this.off += 8;
  }

  /** The fast path of a plain IPv4 route (canonical text, main table, no metric or source), else undefined. */
  private fastRoute(route: Route): { family: 4; dst: Buffer; prefix: number; gw?: Buffer } | undefined {
    if (route.table !== undefined || route.metric !== undefined || route.src !== undefined || (route.family !== undefined && route.family !== 4)) return undefined;
    const slash = route.dst.indexOf('/');
    if (slash < 0) return undefined;
    const prefixText = route.dst.slice(slash + 1);
    const prefix = Number(prefixText);
    if (!/^(0|[1-9]\d?)$/.test(prefixText) || prefix > 32 || !v4Into(route.dst.slice(0, slash), this.ipA)) return undefined;
    const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
    if ((this.ipA.readUInt32BE(0) & ~mask) !== 0) return undefined; // host bits: the general path names the error
    if (route.gw === undefined) return { family: 4, dst: this.ipA, prefix };
    if (!v4Into(route.gw, this.ipB)) return undefined;
    return { family: 4, dst: this.ipA, prefix, gw: this.ipB };
  }

  private route(op: 'addRoute' | 'replaceRoute' | 'deleteRoute', route: Route & { readonly ifindex: number }): number {
    // The same checks (and the same message) as codec.ts's routeReq; canonical IPv4 skips re-parsing.
    const fast = this.fastRoute(route);
    let family: 4 | 6, dstAddr: Buffer, prefix: number, table: number, gw: Buffer | undefined, metric: number | undefined, src: Buffer | undefined;
    if (fast) {
      ({ family, dst: dstAddr, prefix, gw } = fast);
      table = TABLE_MAIN;
    } else {
      const r = canonicalRoute(route);
      const dst = parseRouteDst(r.dst);
      family = r.family;
      dstAddr = dst.addr;
      prefix = dst.prefix;
      table = r.table ?? TABLE_MAIN;
      gw = r.gw !== undefined ? ipToBytes(r.gw, 'gw') : undefined;
      metric = r.metric;
      src = r.src !== undefined ? ipToBytes(r.src, 'src') : undefined;
    }
    const del = op === 'deleteRoute';
    const b = this.buf;
    const o = this.off;
    b[o] = afOf(family);
    b[o + 1] = prefix;
    b[o + 2] = 0; // src_len
    b[o + 3] = 0; // tos
    b[o + 4] = table < 256 ? table : 0;
    b[o + 5] = del ? 0 : RTPROT_BOOT;
    b[o + 6] = del ? RT_SCOPE_NOWHERE : gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    b[o + 7] = del ? 0 : RTN_UNICAST;
    b.writeUInt32LE(!del && route.onlink ? RTNH_F_ONLINK : 0, o + 8);
    this.off += 12;
    this.u32(RTA_TABLE, table);
    if (prefix > 0) this.attr(RTA_DST, dstAddr);
    if (gw) this.attr(RTA_GATEWAY, gw);
    this.u32(RTA_OIF, checkIfindex(route.ifindex));
    if (metric !== undefined) this.u32(RTA_PRIORITY, metric);
    if (!del && src) this.attr(RTA_PREFSRC, src);
    return del ? RTM_DELROUTE : RTM_NEWROUTE;
  }

  /** RTM_NEWNEIGH / RTM_DELNEIGH: a permanent neighbour, or (fdb) a vxlan FDB entry (AF_BRIDGE, NTF_SELF). */
  private neigh(del: boolean, fdb: boolean, ifindex: number, dst: Buffer, lladdr: Buffer | undefined): number {
    if (!del && !lladdr) throw new NetlinkInputError('mac', undefined, 'required');
    const b = this.buf;
    const o = this.off;
    b[o] = fdb ? AF_BRIDGE : afOf(dst.length === 4 ? 4 : 6);
    b[o + 1] = 0;
    b.writeUInt16LE(0, o + 2);
    b.writeInt32LE(checkIfindex(ifindex), o + 4);
    b.writeUInt16LE(NUD_PERMANENT, o + 8);
    b[o + 10] = fdb ? NTF_SELF : 0;
    b[o + 11] = 0; // ndm_type
    this.off += 12;
    if (fdb) {
      this.attr(NDA_LLADDR, lladdr!);
      this.attr(NDA_DST, dst);
    } else {
      this.attr(NDA_DST, dst);
      if (lladdr) this.attr(NDA_LLADDR, lladdr);
    }
    return del ? RTM_DELNEIGH : RTM_NEWNEIGH;
  }
}

function checkIfindex(v: number): number {
  if (!Number.isInteger(v) || v < 1 || v > 0x7fffffff) throw new NetlinkInputError('ifindex', v, 'a batch write needs the device as an ifindex');
  return v;
}

/** One NLMSG_ERROR in a datagram from the kernel: the sequence number it answers and its errno (0: ACK). */
export interface WireReply {
  readonly seq: number;
  readonly errno: number;
}

/** The NLMSG_ERROR messages of one datagram (other message types, never sent for writes, are skipped). */
export function parseReplies(buf: Buffer): WireReply[] {
  const out: WireReply[] = [];
  let o = 0;
  while (o + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(o);
    if (len < NLMSG_HDRLEN || o + len > buf.length) break;
    if (buf.readUInt16LE(o + 4) === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4) {
      out.push({ seq: buf.readUInt32LE(o + 8), errno: -buf.readInt32LE(o + NLMSG_HDRLEN) | 0 });
    }
    o += align4(len);
  }
  return out;
}
