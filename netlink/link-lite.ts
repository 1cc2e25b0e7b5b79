// An RTM_NEWLINK payload read for the fields a Link is made of (index, flags, name, MTU, address,
// link info), where the package's parser decodes every attribute the kernel sends: the 64- and 32-bit
// counters, per-family statistics, queue and XDP details, with a closure table built per message.
// That full decode of the first link dump was a tenth of a flanneld start; the result, through
// parseLink, is the same Link (test/netlink-lite.test.ts compares both on the kernel's own dumps).
import { endianness } from 'node:os';
import type { rt } from './pkg.js';

/** Netlink's headers and attributes are in host order; this reader is written for little-endian hosts. */
export const LITTLE_ENDIAN = endianness() === 'LE';

const IFINFOMSG_LEN = 16;
const IFF_UP = 0x1;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINKINFO = 18;
const NLA_TYPE_MASK = (1 << 14) - 1;

/** Where a payload is not an RTM_NEWLINK body: names what is wrong, as the package's parser does. */
export class LinkPayloadError extends Error {}

/** The subset of rt.LinkMessage that parseLink reads, from a link message's payload. */
export function parseLinkLite(payload: Buffer): rt.LinkMessage {
  if (payload.length < IFINFOMSG_LEN) throw new LinkPayloadError(`Unexpected Link message length (${payload.length})`);
  const flags = payload.readUInt32LE(8);
  const attrs: rt.LinkMessage['attrs'] = {};
  for (let off = IFINFOMSG_LEN; off + 4 <= payload.length; ) {
    const len = payload.readUInt16LE(off);
    if (len < 4 || off + len > payload.length) throw new LinkPayloadError(`Invalid attribute length (${len})`);
    const type = payload.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    const data = payload.subarray(off + 4, off + len);
    if (type === IFLA_ADDRESS) attrs.address = data;
    else if (type === IFLA_IFNAME) attrs.ifname = cString(data);
    else if (type === IFLA_MTU && data.length === 4) attrs.mtu = data.readUInt32LE(0);
    else if (type === IFLA_LINKINFO) attrs.linkinfo = data;
    off += (len + 3) & ~3;
  }
  return { kind: 'link', data: { index: payload.readInt32LE(4), flags: { up: (flags & IFF_UP) !== 0 } }, attrs } as rt.LinkMessage;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end < 0 ? b.length : end);
}
