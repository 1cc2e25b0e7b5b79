// The nf_tables ruleset generation of this network namespace, over netlink (NFT_MSG_GETGEN): a number
// the kernel bumps on every committed ruleset change, by anyone. Reading it is one datagram each way,
// no process and no listing, so a daemon can tell "nothing changed since my last write" for almost
// nothing, so a daemon can poll it every few seconds to notice another program's change.
import type * as Netlink from 'netlink';
import { FlannelError } from '../common/index.js';
import { Protocol, RawNetlinkSocket } from './pkg.js';

export class NftGenerationError extends FlannelError {
  readonly code = 'NFT_GENERATION';
  override readonly transient = true;
}

const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWGEN = 15;
const NFT_MSG_GETGEN = 16;
const NFTA_GEN_ID = 1;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 1;
const HEADER = 16;
const NFGENMSG = 4;

/** Pure: a GETGEN request (nlmsghdr + nfgenmsg, AF_UNSPEC). */
export function encodeGetGen(seq: number): Buffer {
  const b = Buffer.alloc(HEADER + NFGENMSG);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, 4);
  b.writeUInt16LE(NLM_F_REQUEST, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  return b;
}

export type GenReply = { readonly seq: number; readonly gen: number } | { readonly seq: number; readonly errno: number };

/** Pure: the NEWGEN answers (and netlink errors) in one datagram; anything else in it is skipped. */
export function parseGenReplies(buf: Buffer): GenReply[] {
  const out: GenReply[] = [];
  for (let off = 0; off + HEADER <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    if (len < HEADER || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 4);
    const seq = buf.readUInt32LE(off + 8);
    if (type === NLMSG_ERROR && len >= HEADER + 4) {
      const errno = -buf.readInt32LE(off + HEADER);
      if (errno !== 0) out.push({ seq, errno });
    } else if (type === ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) {
      for (let a = off + HEADER + NFGENMSG; a + 4 <= off + len; ) {
        const alen = buf.readUInt16LE(a);
        if (alen < 4 || a + alen > off + len) break;
        if ((buf.readUInt16LE(a + 2) & 0x3fff) === NFTA_GEN_ID && alen >= 8) {
          out.push({ seq, gen: buf.readUInt32BE(a + 4) });
          break;
        }
        a += (alen + 3) & ~3;
      }
    }
    off += (len + 3) & ~3;
  }
  return out;
}

/** The generation of the caller's network namespace, and its change announcements. */
export class NftGeneration {
  private sock: Netlink.RawNetlinkSocket | undefined;
  private seq = Math.floor(Math.random() * 0x7fff_ffff);
  private readonly waiting = new Map<number, { resolve: (g: number) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly timeoutMs = 2_000) {}

  /** The current generation; rejects with NftGenerationError (no nf_tables, no answer within the timeout). */
  read(): Promise<number> {
    const sock = this.socket();
    const seq = (this.seq = (this.seq + 1) >>> 0);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        reject(new NftGenerationError(`no nf_tables generation answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiting.set(seq, { resolve, reject, timer });
      sock.send(encodeGetGen(seq), {}, (err) => {
        if (err) this.settle(seq, new NftGenerationError(`nf_tables generation request: ${err.message}`));
      });
    });
  }

  /**
   * Calls `onChange` after a ruleset change in this namespace (or when the generation cannot be read), found by
   * reading the generation every `pollMs`; returns the stop. Polled, not announced: NFNLGRP_NFTABLES sends a
   * message per rule and element of every commit, and a full sync of thousands of services overflows any socket
   * buffer; npm netlink 0.3.0 aborts the process on that ENOBUFS even with an error listener.
   */
  watch(onChange: () => void, pollMs = 2_000): () => void {
    let last: number | undefined;
    let busy = false;
    const poll = (): void => {
      if (busy) return;
      busy = true;
      this.read()
        .then(
          (g) => {
            if (last !== undefined && g !== last) onChange();
            last = g;
          },
          () => {
            last = undefined;
            onChange();
          },
        )
        .finally(() => {
          busy = false;
        });
    };
    // The baseline is read now, not a period later: a change between the caller's first write and the
    // first poll would otherwise be taken for the starting point.
    poll();
    const timer = setInterval(poll, pollMs);
    timer.unref(); // a watch never keeps the daemon alive by itself
    return () => clearInterval(timer);
  }

  close(): void {
    for (const seq of [...this.waiting.keys()]) this.settle(seq, new NftGenerationError('closed'));
    this.sock?.close();
    this.sock = undefined;
  }

  private socket(): Netlink.RawNetlinkSocket {
    if (this.sock) return this.sock;
    const sock = new RawNetlinkSocket(Protocol.NETFILTER, { recvBufferSize: 1 << 16, sendBufferSize: 1 << 12 });
    sock.unref();
    sock.on('message', (msg: Buffer) => {
      for (const r of parseGenReplies(msg)) this.settle(r.seq, 'gen' in r ? r.gen : new NftGenerationError(`nf_tables generation: errno ${r.errno}`));
    });
    sock.on('error', (err) => {
      for (const seq of [...this.waiting.keys()]) this.settle(seq, new NftGenerationError(`nf_tables generation socket: ${err.message}`));
    });
    this.sock = sock;
    return sock;
  }

  private settle(seq: number, v: number | Error): void {
    const w = this.waiting.get(seq);
    if (!w) return;
    this.waiting.delete(seq);
    clearTimeout(w.timer);
    if (typeof v === 'number') w.resolve(v);
    else w.reject(v);
  }
}
