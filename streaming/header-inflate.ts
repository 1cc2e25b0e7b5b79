// The receiving side of SPDY header compression: one zlib inflate context for the whole connection,
// primed with the SPDY/3 dictionary, fed one frame's header block at a time with a sync flush.
import { constants, createInflate, type Inflate } from 'node:zlib';
import { SPDY3_DICTIONARY } from './spdy-dictionary.js';
import { SpdyProtocolError } from './spdy-frame.js';

/** The most a peer's header block may inflate to; kubectl's are a few hundred bytes. */
const MAX_INFLATED = 1 << 20;

export class HeaderDecompressor {
  private inflate: Inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
  private chunks: Buffer[] = [];
  private failure: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** The pending block's rejection: a zlib error ends the stream and its flush never calls back. */
  private rejectPending: ((err: Error) => void) | undefined;

  constructor() {
    this.inflate.on('data', (c: Buffer) => this.chunks.push(c));
    this.inflate.on('error', (err: Error) => {
      this.failure = err;
      this.rejectPending?.(new SpdyProtocolError(`header decompression failed: ${err.message}`));
    });
  }

  /** Inflates one header block; calls are served in order, each sees the context the last one left. */
  decompress(block: Buffer): Promise<Buffer> {
    const next = this.queue.then(() => this.one(block));
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.inflate.close();
  }

  private one(block: Buffer): Promise<Buffer> {
    if (this.failure) return Promise.reject(new SpdyProtocolError(`header decompression failed earlier: ${this.failure.message}`));
    return new Promise((resolve, reject) => {
      this.rejectPending = reject;
      this.chunks = [];
      this.inflate.write(block);
      this.inflate.flush(constants.Z_SYNC_FLUSH, () => {
        if (this.failure) {
          reject(new SpdyProtocolError(`header decompression failed: ${this.failure.message}`));
          return;
        }
        const out = Buffer.concat(this.chunks);
        if (out.length > MAX_INFLATED) reject(new SpdyProtocolError(`header block inflates past ${MAX_INFLATED} bytes`));
        else resolve(out);
      });
    });
  }
}
