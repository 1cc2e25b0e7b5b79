// npm `netlink`, required rather than imported (as netlink/pkg.ts does, for the same load-time reason):
// only its raw socket is used here, of protocol NETLINK_NETFILTER.
import { createRequire } from 'node:module';
import type * as Netlink from 'netlink';

const pkg = createRequire(import.meta.url)('netlink') as typeof Netlink;

export const { RawNetlinkSocket } = pkg;
export type RawNetlinkSocket = Netlink.RawNetlinkSocket;
export const NETLINK_NETFILTER = 12;
