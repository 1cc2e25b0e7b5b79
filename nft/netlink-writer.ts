// Element changes written over NETLINK_NETFILTER, one batch per call, with no ruleset fetched first
// (what makes `nft` slow on a big table; see elements.ts). The socket is opened in this process when it
// runs in the target namespace (`prefix` empty), or in a long-lived relay started under `prefix`
// (`nsenter --net=… --`) when the caller aims at another namespace. One batch at a time; a batch the
// kernel refuses changed nothing (NftError naming the set and errno); a relay or socket that fails or
// does not answer in time is reported as NetlinkLinkError and replaced on the next call.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Ack, batchOutcome, describeErrors, type ElementBatch, type ElementChange, encodeElementBatch, parseAcks } from './elements.js';
import { NftError } from './errors.js';
import { frame, takeFrames } from './frames.js';
import { NETLINK_NETFILTER, RawNetlinkSocket } from './netlink-pkg.js';

/** The socket or relay failed; whether the batch was applied is not known. */
export class NetlinkLinkError extends Error {}

export interface NetlinkElementWriterOptions {
  /** Command prefix that enters the target namespace; undefined: open the socket in this process. */
  readonly prefix?: readonly string[];
  /** Bound on one batch's answer. Default 10 s. */
  readonly timeoutMs?: number;
}

interface Link {
  send(b: Buffer): void;
  close(): void;
}

/** The built relay, whether this module runs from dist/ or from the source tree (tests, after the build). */
export const RELAY = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5 && !existsSync(path.join(dir, 'package.json')); i++) dir = path.dirname(dir);
  return path.join(dir, 'dist/nft/netlink-relay.js');
})();

/**
 * Batches larger than this go to nft. A refused message comes back whole inside its error, and an
 * overflow of the receive buffer (SO_RCVBUF is capped by net.core.rmem_max, 208 KiB by default) aborts
 * the process with npm `netlink` 0.3.0; 64 KiB of echoes stays well inside it. The agent's element syncs
 * are a few hundred bytes.
 */
export const MAX_BATCH_BYTES = 64 << 10;

export class NetlinkElementWriter {
  private readonly prefix: readonly string[] | undefined;
  private readonly timeoutMs: number;
  private link: Link | undefined;
  private seq = (Date.now() & 0xffff) << 8;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting: { batch: ElementBatch; acks: Ack[]; done: (e?: Error) => void } | undefined;
  /** Links opened (relay processes started, or in-process sockets). */
  opens = 0;

  constructor(o: NetlinkElementWriterOptions = {}) {
    this.prefix = o.prefix;
    this.timeoutMs = o.timeoutMs ?? 10_000;
  }

  /** Encodes the changes (throws ElementEncodeError before anything is sent) and applies them as one batch. */
  apply(changes: readonly ElementChange[]): Promise<void> {
    const batch = encodeElementBatch(changes, this.seq);
    this.seq = (batch.end + 1) % 0x7fffffff;
    if (!batch.messages.length) return Promise.resolve();
    if (batch.bytes.length > MAX_BATCH_BYTES) return Promise.reject(new RangeError(`batch of ${batch.bytes.length} bytes is over ${MAX_BATCH_BYTES}`));
    const r = this.queue.then(() => this.applyOne(batch));
    this.queue = r.catch(() => undefined);
    return r;
  }

  /** Opens the socket or starts the relay now (if not open), so that the next batch does not wait for it. */
  warm(): void {
    if (this.link) return;
    try {
      this.open();
    } catch {
      // the next apply reports it
    }
  }

  close(): void {
    this.drop(new NetlinkLinkError('closed'));
  }

  private applyOne(batch: ElementBatch): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let link: Link;
      try {
        link = this.link ?? this.open();
      } catch (e) {
        reject(new NetlinkLinkError(`cannot open a netfilter netlink socket: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
        return;
      }
      const timer = setTimeout(() => this.drop(new NetlinkLinkError(`no answer to the element batch within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiting = {
        batch,
        acks: [],
        done: (e) => {
          clearTimeout(timer);
          this.waiting = undefined;
          if (e) reject(e);
          else resolve();
        },
      };
      link.send(batch.bytes);
    });
  }

  private onDatagram(d: Buffer): void {
    const w = this.waiting;
    if (!w) return;
    w.acks.push(...parseAcks(d));
    const o = batchOutcome(w.batch, w.acks);
    if (!o.done) return;
    if (!o.errors.length) return w.done();
    const text = describeErrors(o.errors);
    w.done(new NftError(undefined, [], `netlink: ${text}`));
  }

  private drop(e: Error): void {
    const l = this.link;
    this.link = undefined;
    l?.close();
    this.waiting?.done(e);
  }

  private open(): Link {
    this.opens++;
    const link = this.prefix ? this.openRelay(this.prefix) : this.openSocket();
    this.link = link;
    return link;
  }

  private openSocket(): Link {
    const sock = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    sock.unref(); // an idle writer does not keep the daemon's event loop alive
    const link: Link = {
      send: (b) => sock.send(b, {}, (e) => e && this.link === link && this.drop(new NetlinkLinkError(`netlink send: ${e.message}`))),
      close: () => sock.close(),
    };
    sock.on('message', (m: Buffer) => this.link === link && this.onDatagram(m));
    sock.on('error', (e: Error) => this.link === link && this.drop(new NetlinkLinkError(`netlink: ${e.message}`)));
    return link;
  }

  private openRelay(prefix: readonly string[]): Link {
    const argv = [...prefix, process.execPath, RELAY];
    const child: ChildProcessWithoutNullStreams = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let buf: Buffer = Buffer.alloc(0);
    let err = '';
    const link: Link = {
      send: (b) => child.stdin.write(frame(b)),
      close: () => {
        child.stdin.end();
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    };
    child.stdout.on('data', (d: Buffer) => {
      const r = takeFrames(Buffer.concat([buf, d]));
      buf = Buffer.from(r.rest);
      for (const f of r.frames) if (this.link === link) this.onDatagram(f);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (err = (err + d).slice(-2000)));
    child.stdin.on('error', () => undefined); // reported by 'exit'
    child.on('error', (e) => this.link === link && this.drop(new NetlinkLinkError(`netlink relay: ${e.message}`)));
    child.on('exit', (code, signal) => this.link === link && this.drop(new NetlinkLinkError(`netlink relay exited (${signal ?? `code ${code}`})${err ? `: ${err.trim()}` : ''}`)));
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    return link;
  }
}
