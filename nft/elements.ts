// Set element changes as nf_tables netlink messages, pure. `nft` itself fetches the whole ruleset
// before every transaction (nft 1.0.6 dumps every table, chain and set, and the elements of every
// anonymous interval set, even for one `add element`): ~25 ms for a table of thousands of chains and
// sets, against well under a millisecond for the kernel to apply a few elements. A change that names
// its set and elements needs none of that cache, so it can be sent as one nfnetlink batch (BATCH_BEGIN,
// NEWSETELEM / DELSETELEM per set, BATCH_END): all of it applies or none. Only plain (non-interval)
// sets and verdict maps of address, protocol and port keys are encoded; anything else is left to nft.
import { constants } from 'node:os';
import { parseReplies, type WireReply } from '../netlink/index.js';

export interface ElementChange {
  readonly verb: 'add' | 'delete';
  /** nft's family name: `inet`, `ip`, `ip6`, … */
  readonly family: string;
  readonly table: string;
  readonly set: string;
  /** The set's declaration as written for nft, e.g. `type ipv4_addr . inet_service ;` or `type ipv4_addr : verdict ;`. */
  readonly decl: string;
  /** Key and value in nft's syntax (`10.0.0.1 . tcp . 80`, `goto in-ab12`); the value is '' in a set (and ignored on delete). */
  readonly elements: readonly (readonly [string, string])[];
}

/** The change cannot be written as netlink (a type, flag or value this encoder does not know): nft writes it. */
export class ElementEncodeError extends Error {}

type Field = 'ipv4_addr' | 'ipv6_addr' | 'inet_proto' | 'inet_service';
const FIELD_LEN: Record<Field, number> = { ipv4_addr: 4, ipv6_addr: 16, inet_proto: 1, inet_service: 2 };

export interface SetType {
  readonly key: readonly Field[];
  readonly verdict: boolean;
}

/** The key fields of a declaration and whether it maps to verdicts; throws ElementEncodeError for anything else. */
export function parseDecl(decl: string): SetType {
  const parts = decl.split(';').map((s) => s.trim()).filter(Boolean);
  let type: string | undefined;
  for (const p of parts) {
    const m = /^type\s+(.+)$/.exec(p);
    if (m) type = m[1]!.trim();
    // flags (interval, timeout, …), size, policy, typeof, elements: not for this encoder
    else throw new ElementEncodeError(`set declaration part not supported: ${p}`);
  }
  if (!type) throw new ElementEncodeError(`set declaration names no type: ${decl}`);
  const [keyText, dataText, ...more] = type.split(':').map((s) => s.trim());
  if (more.length || (dataText !== undefined && dataText !== 'verdict')) throw new ElementEncodeError(`map data type not supported: ${type}`);
  const key = keyText!.split('.').map((s) => s.trim());
  for (const f of key) if (!(f in FIELD_LEN)) throw new ElementEncodeError(`key type not supported: ${f}`);
  return { key: key as Field[], verdict: dataText === 'verdict' };
}

const PROTO: Record<string, number> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, ipv6: 41, gre: 47, esp: 50, ah: 51, 'ipv6-icmp': 58, icmpv6: 58, sctp: 132, udplite: 136 };

function ipv4(s: string): Buffer {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  const b = m ? m.slice(1).map(Number) : [];
  if (b.length !== 4 || b.some((x) => x > 255)) throw new ElementEncodeError(`not an IPv4 address: ${s}`);
  return Buffer.from(b);
}

function ipv6(s: string): Buffer {
  // Hex groups only; the rare embedded-IPv4 form (::ffff:1.2.3.4) is left to nft.
  const halves = s.split('::');
  const group = (h: string): number[] => (h ? h.split(':').map((g) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new ElementEncodeError(`not an IPv6 address (or one nft must write): ${s}`);
    return parseInt(g, 16);
  }) : []);
  if (halves.length > 2) throw new ElementEncodeError(`not an IPv6 address: ${s}`);
  const head = group(halves[0]!);
  const tail = halves.length === 2 ? group(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) throw new ElementEncodeError(`not an IPv6 address: ${s}`);
  const out = Buffer.alloc(16);
  [...head, ...Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail].forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

function number(s: string, max: number, what: string): number {
  if (!/^\d+$/.test(s) || Number(s) > max) throw new ElementEncodeError(`not ${what}: ${s}`);
  return Number(s);
}

/** One key as the kernel stores it: each field in network order, padded to 4 bytes (as nft concatenates). */
export function encodeKey(t: SetType, key: string): Buffer {
  const vals = key.split(' . ').map((s) => s.trim());
  if (vals.length !== t.key.length) throw new ElementEncodeError(`key ${key} has ${vals.length} fields, the set ${t.key.length}`);
  const parts = t.key.map((f, i) => {
    const v = vals[i]!;
    let b: Buffer;
    if (f === 'ipv4_addr') b = ipv4(v);
    else if (f === 'ipv6_addr') b = ipv6(v);
    else if (f === 'inet_proto') b = Buffer.from([PROTO[v] ?? number(v, 255, 'a protocol')]);
    else {
      b = Buffer.alloc(2);
      b.writeUInt16BE(number(v, 65535, 'a port'));
    }
    // A lone field is sent at its own length; in a concatenation each is padded to 4 bytes.
    return t.key.length === 1 ? b : Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  });
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------- netlink framing

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_CREATE = 0x400;
const NLA_F_NESTED = 0x8000;
const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
const FAMILY: Record<string, number> = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 };
const VERDICT: Record<string, number> = { drop: 0, accept: 1, continue: -1, return: -5 };
const NFT_JUMP = -3;
const NFT_GOTO = -4;

const pad4 = (n: number): number => (n + 3) & ~3;

function attr(type: number, payload: Buffer, nested = false): Buffer {
  const out = Buffer.alloc(pad4(4 + payload.length));
  if (4 + payload.length > 0xffff) throw new ElementEncodeError('attribute too long');
  out.writeUInt16LE(4 + payload.length, 0);
  out.writeUInt16LE(type | (nested ? NLA_F_NESTED : 0), 2);
  payload.copy(out, 4);
  return out;
}
const str = (type: number, s: string): Buffer => attr(type, Buffer.from(`${s}\0`));
const u32be = (type: number, v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return attr(type, b);
};

function verdictAttr(v: string): Buffer {
  const m = /^(jump|goto)\s+(\S+)$/.exec(v.trim());
  if (m) return attr(2, Buffer.concat([u32be(1, m[1] === 'jump' ? NFT_JUMP : NFT_GOTO), str(2, m[2]!)]), true);
  const code = VERDICT[v.trim()];
  if (code === undefined) throw new ElementEncodeError(`not a verdict: ${v}`);
  return attr(2, u32be(1, code), true);
}

/** One element: NFTA_LIST_ELEM { KEY { DATA_VALUE }, [DATA { VERDICT { CODE, CHAIN } }] }. */
function elementAttr(t: SetType, verb: 'add' | 'delete', key: string, value: string): Buffer {
  const parts = [attr(1, attr(1, encodeKey(t, key)), true)];
  if (t.verdict && verb === 'add') parts.push(attr(2, verdictAttr(value), true));
  return attr(1, Buffer.concat(parts), true);
}

function message(type: number, flags: number, seq: number, family: number, resId: number, body: Buffer): Buffer {
  const out = Buffer.alloc(20 + body.length);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(0, 12);
  out.writeUInt8(family, 16);
  out.writeUInt8(0, 17); // NFNETLINK_V0
  out.writeUInt16BE(resId, 18);
  body.copy(out, 20);
  return out;
}

/** Bytes of elements per message: the element list is one attribute, whose length is 16 bits. */
const LIST_BYTES = 32 << 10;

export interface ElementBatch {
  readonly bytes: Buffer;
  /** Sequence numbers: the batch's begin and end, and each element message's (each asks for an ACK). */
  readonly begin: number;
  readonly end: number;
  readonly messages: readonly { readonly seq: number; readonly change: ElementChange }[];
}

/** The changes as one nfnetlink batch, sequence numbers from `seq` on; throws ElementEncodeError. */
export function encodeElementBatch(changes: readonly ElementChange[], seq: number): ElementBatch {
  const msgs: Buffer[] = [];
  const messages: { seq: number; change: ElementChange }[] = [];
  const begin = seq;
  let s = seq + 1;
  for (const c of changes) {
    const family = FAMILY[c.family];
    if (family === undefined) throw new ElementEncodeError(`family not supported: ${c.family}`);
    if (!c.table || !c.set) throw new ElementEncodeError('a change names no table or set');
    const t = parseDecl(c.decl);
    const type = (NFNL_SUBSYS_NFTABLES << 8) | (c.verb === 'add' ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
    const flags = NLM_F_REQUEST | NLM_F_ACK | (c.verb === 'add' ? NLM_F_CREATE : 0);
    let list: Buffer[] = [];
    let size = 0;
    const flush = (): void => {
      if (!list.length) return;
      const body = Buffer.concat([str(1, c.table), str(2, c.set), attr(3, Buffer.concat(list), true)]);
      msgs.push(message(type, flags, s, family, 0, body));
      messages.push({ seq: s++, change: c });
      list = [];
      size = 0;
    };
    for (const [k, v] of c.elements) {
      const e = elementAttr(t, c.verb, k, v);
      if (size + e.length > LIST_BYTES) flush();
      list.push(e);
      size += e.length;
    }
    flush();
  }
  const head = message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, begin, 0, NFNL_SUBSYS_NFTABLES, Buffer.alloc(0));
  const tail = message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, s, 0, NFNL_SUBSYS_NFTABLES, Buffer.alloc(0));
  return { bytes: Buffer.concat([head, ...msgs, tail]), begin, end: s, messages };
}

// ---------------------------------------------------------------- replies

/** An ACK (errno 0) or error answering one message of a batch: netlink's NLMSG_ERROR, read as rtnetlink's are. */
export type Ack = WireReply;

/** The NLMSG_ERROR messages (ACKs and errors) of one datagram; other messages are skipped. */
export const parseAcks: (buf: Buffer) => Ack[] = parseReplies;

export type BatchOutcome = { readonly done: false } | { readonly done: true; readonly errors: readonly { readonly seq: number; readonly errno: number; readonly change?: ElementChange }[] };

/**
 * Whether the batch is answered: every element message ACKed or refused (the kernel answers them all
 * after applying or aborting the whole batch), or the batch itself refused (an error on its begin or
 * end: a failed commit, a malformed batch).
 */
export function batchOutcome(b: ElementBatch, acks: readonly Ack[]): BatchOutcome {
  const bySeq = new Map(acks.map((a) => [a.seq, a.errno]));
  const whole = [b.begin, b.end].flatMap((s) => (bySeq.get(s) ? [{ seq: s, errno: bySeq.get(s)! }] : []));
  if (whole.length) return { done: true, errors: whole };
  if (!b.messages.every((m) => bySeq.has(m.seq))) return { done: false };
  return { done: true, errors: b.messages.flatMap((m) => (bySeq.get(m.seq) ? [{ seq: m.seq, errno: bySeq.get(m.seq)!, change: m.change }] : [])) };
}

const ERRNO_NAME = new Map(Object.entries(constants.errno).map(([k, v]) => [v, k]));
export const errnoName = (n: number): string => ERRNO_NAME.get(n) ?? `errno ${n}`;

/** What a refused batch says, for the log and the error. */
export function describeErrors(errors: Extract<BatchOutcome, { done: true }>['errors']): string {
  return errors
    .map((e) => (e.change ? `${e.change.verb} element ${e.change.family} ${e.change.table} ${e.change.set}: ${errnoName(e.errno)}` : `batch: ${errnoName(e.errno)}`))
    .join('; ');
}
