// The receiving side of SPDY header compression: one zlib context for the whole connection, primed with
// the SPDY/3 dictionary, fed one frame's header block at a time with a sync flush. Node's streaming inflate
// runs on the thread pool: a hop per SYN_STREAM, and kubectl waits for each SYN_REPLY before it opens the
// next stream. Node has no synchronous streaming inflate, so while the connection's header bytes are few
// (an exec's handful of streams) each block is inflated synchronously together with those before it (the
// context they left) and only the new output kept; past SYNC_LIMIT bytes a streaming inflate takes over,
// fed the history once.
import { constants, createInflate, type Inflate, inflateSync } from 'node:zlib';
import { SPDY3_DICTIONARY } from './spdy-dictionary.js';
import { SpdyProtocolError } from './spdy-frame.js';

/** The most a peer's header block may inflate to; kubectl's are a few hundred bytes. */
const MAX_INFLATED = 1 << 20;
/** Compressed header bytes re-inflated synchronously at most (each block costs the history's length again). */
export const SYNC_LIMIT = 8 * 1024;

export class HeaderDecompressor {
  private inflate: Inflate | undefined;
  private history: Buffer[] = [];
  private historyBytes = 0;
  /** What the history has inflated to so far: the part of each re-inflation already handed out. */
  private produced = 0;
  private chunks: Buffer[] = [];
  private failure: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** The pending block's rejection: a zlib error ends the stream and its flush never calls back. */
  private rejectPending: ((err: Error) => void) | undefined;

  constructor(private readonly syncLimit = SYNC_LIMIT) {}

  /** Inflates one header block; calls are served in order, each sees the context the last one left. */
  decompress(block: Buffer): Promise<Buffer> {
    const next = this.queue.then(() => this.one(block));
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.inflate?.close();
  }

  private one(block: Buffer): Buffer | Promise<Buffer> {
    if (this.failure) throw new SpdyProtocolError(`header decompression failed earlier: ${this.failure.message}`);
    if (!this.inflate && this.historyBytes + block.length <= this.syncLimit) return this.oneSync(block);
    return this.oneStreaming(block);
  }

  private oneSync(block: Buffer): Buffer {
    this.history.push(block);
    this.historyBytes += block.length;
    let out: Buffer;
    try {
      out = inflateSync(Buffer.concat(this.history), { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: this.produced + MAX_INFLATED });
    } catch (err) {
      this.failure = err as Error;
      throw new SpdyProtocolError(`header decompression failed: ${(err as Error).message}`);
    }
    const fresh = out.subarray(this.produced);
    this.produced = out.length;
    return fresh;
  }

  private oneStreaming(block: Buffer): Promise<Buffer> {
    let input = block;
    let skip = 0;
    if (!this.inflate) {
      const inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
      inflate.on('data', (c: Buffer) => this.chunks.push(c));
      inflate.on('error', (err: Error) => {
        this.failure = err;
        this.rejectPending?.(new SpdyProtocolError(`header decompression failed: ${err.message}`));
      });
      this.inflate = inflate;
      // The context the earlier blocks left: they go in again; what they inflate to was handed out already.
      input = Buffer.concat([...this.history, block]);
      skip = this.produced;
      this.history = [];
    }
    const inflate = this.inflate;
    return new Promise((resolve, reject) => {
      this.rejectPending = reject;
      this.chunks = [];
      inflate.write(input);
      inflate.flush(constants.Z_SYNC_FLUSH, () => {
        if (this.failure) {
          reject(new SpdyProtocolError(`header decompression failed: ${this.failure.message}`));
          return;
        }
        const out = Buffer.concat(this.chunks).subarray(skip);
        if (out.length > MAX_INFLATED) reject(new SpdyProtocolError(`header block inflates past ${MAX_INFLATED} bytes`));
        else resolve(out);
      });
    });
  }
}
