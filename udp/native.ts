// The typed edge over the native addon (udp/native, built by `npm run build` and by the install):
// the TUN device, the UDP socket and the two forwarding threads live in C; TypeScript feeds the
// peer table and reads the counters. The addon is loaded on first use, so nothing else in flanneld
// depends on it being built.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlannelError } from '../common/index.js';
import { encodePeerTable, type PeerTable } from './peers.js';

/** Counters of the data path since the device was opened. */
export interface UdpCounters {
  /** Packets read from the TUN and sent to a peer; bytes are the inner packets'. */
  readonly txPackets: number;
  readonly txBytes: number;
  /** TUN packets dropped: not a full IPv4 header, not IPv4, total length ≠ packet length. */
  readonly txDropTruncated: number;
  readonly txDropNotIPv4: number;
  readonly txDropBadLength: number;
  /** For our own subnet (it belongs on the pod bridge, not in the tunnel). */
  readonly txDropLocal: number;
  /** For a subnet no peer holds. */
  readonly txDropUnknown: number;
  readonly txDropSendError: number;
  /** Datagrams received and written to the TUN. */
  readonly rxPackets: number;
  readonly rxBytes: number;
  readonly rxDropTruncated: number;
  readonly rxDropNotIPv4: number;
  readonly rxDropBadLength: number;
  /** The inner destination is not in our subnet. */
  readonly rxDropNotLocal: number;
  readonly rxDropWriteError: number;
  readonly rxRecvErrors: number;
  /** Peer tables taken over by the forwarding thread. */
  readonly tableSwaps: number;
}

export const COUNTER_NAMES: readonly (keyof UdpCounters)[] = [
  'txPackets', 'txBytes', 'txDropTruncated', 'txDropNotIPv4', 'txDropBadLength', 'txDropLocal', 'txDropUnknown',
  'txDropSendError', 'rxPackets', 'rxBytes', 'rxDropTruncated', 'rxDropNotIPv4', 'rxDropBadLength', 'rxDropNotLocal',
  'rxDropWriteError', 'rxRecvErrors', 'tableSwaps',
];

export interface DataPathStats extends UdpCounters {
  readonly tableEntries: number;
  /** Both threads are forwarding. False after close() or a fatal error (see the errnos). */
  readonly running: boolean;
  /** The error that ended the TUN thread (e.g. the device was deleted), else 0. */
  readonly tunErrno: number;
  readonly sockErrno: number;
  /** UDP segmentation offload on send / GRO on receive in use (the datagrams on the wire are the same). */
  readonly gso: boolean;
  readonly gro: boolean;
  /**
   * The TUN has offloads on (IFF_VNET_HDR + TUNSETOFFLOAD): the kernel hands over TCP super-packets,
   * which the loop cuts into MSS-sized packets itself (one per datagram, as flannel's wire has it).
   */
  readonly offload?: boolean;
}

/** The forwarding loop as the backend sees it (the native one, or a fake in tests). */
export interface DataPath {
  /** The TUN device's name as the kernel gave it. */
  readonly device: string;
  /** Swaps in a new peer table without stopping the loop; returns its number of entries. */
  setTable(t: PeerTable): number;
  stats(): DataPathStats;
  /** Stops both threads and closes the fds (the kernel then removes the device); idempotent. */
  close(): void;
}

export interface DataPathOptions {
  readonly device: string;
  /** Address the UDP socket binds to (the external interface's). */
  readonly bindIp: string;
  readonly port: number;
  /** Ask for TUN offloads (default true); without kernel support the loop runs without them. */
  readonly offload?: boolean;
}

export type OpenDataPath = (o: DataPathOptions) => DataPath;

export type Verdict = 'forward' | 'truncated' | 'notIPv4' | 'badLength' | 'local' | 'unknown' | 'notLocal';

interface Addon {
  open(name: string, bindIp: string, port: number, offload?: boolean): { handle: object; name: string };
  setTable(handle: object, words: Uint32Array): number;
  stats(handle: object): DataPathStats;
  close(handle: object): void;
  classify(direction: 'tx' | 'rx', packet: Uint8Array, words: Uint32Array): { verdict: Verdict; peer?: string };
}

export class NativeAddonError extends FlannelError {
  readonly code = 'UDP_NATIVE_ADDON';
  constructor(
    readonly file: string,
    o?: ErrorOptions,
  ) {
    super(`the udp backend's native addon ${file} could not be loaded; build it with \`npm run build\``, o);
  }
}

/** Opening the TUN device or the UDP socket failed: `errno` is the kernel's (EADDRINUSE, EPERM, ...). */
export class DataPathError extends FlannelError {
  readonly code = 'UDP_DATAPATH';
  override readonly transient = true;
  constructor(
    readonly syscall: string,
    readonly errno: string,
    message: string,
    o?: ErrorOptions,
  ) {
    super(message, o);
  }
}

/** A target of the native build (udp/native/binding.gyp): <repo>/udp/native/build/Release/<target>.node, from the source tree (tests) or dist/. */
export function nativeAddonPath(target: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5 && !existsSync(path.join(dir, 'package.json')); i++) dir = path.dirname(dir);
  return path.join(dir, `udp/native/build/Release/${target}.node`);
}

/** The packet loop's addon. */
export const ADDON_FILE = nativeAddonPath('flannel_udp');

let addon: Addon | undefined;

function load(): Addon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_FILE) as Addon;
  } catch (e) {
    throw new NativeAddonError(ADDON_FILE, { cause: e });
  }
  return addon;
}

export const openNativeDataPath: OpenDataPath = (o) => {
  const a = load();
  let opened: { handle: object; name: string };
  try {
    opened = a.open(o.device, o.bindIp, o.port, o.offload ?? true);
  } catch (e) {
    const err = e as { code?: unknown; syscall?: unknown; message?: unknown };
    throw new DataPathError(String(err.syscall ?? 'open'), String(err.code ?? 'EUNKNOWN'), String(err.message ?? e), { cause: e });
  }
  const { handle, name } = opened;
  return {
    device: name,
    setTable: (t) => a.setTable(handle, encodePeerTable(t)),
    stats: () => a.stats(handle),
    close: () => a.close(handle),
  };
};

/** The loop's own classifier and longest-prefix lookup on one packet (tests; no device needed). */
export function classifyPacket(direction: 'tx' | 'rx', packet: Uint8Array, table: PeerTable): { verdict: Verdict; peer?: string } {
  return load().classify(direction, packet, encodePeerTable(table));
}
