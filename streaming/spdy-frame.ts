// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00, plus 3.1's session WINDOW_UPDATE), hand-written:
// no maintained Node SPDY library exists, and kubectl speaks nothing else to a kubelet up to 1.29.
// Pure: frames to and from bytes, header blocks to and from name/value lists.
import { SPDY3_DICTIONARY } from './spdy-dictionary.js';

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
} as const;

export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

/** The largest payload a frame's 24-bit length can carry. */
export const MAX_FRAME_PAYLOAD = 0xffffff;

export interface DataFrame { kind: 'data'; streamId: number; flags: number; data: Buffer }
export interface ControlFrame { kind: 'control'; version: number; type: number; flags: number; payload: Buffer }
export type Frame = DataFrame | ControlFrame;

export class SpdyProtocolError extends Error {
  override name = 'SpdyProtocolError';
}

function controlHeader(type: number, flags: number, length: number): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`control frame payload of ${length} bytes exceeds 24 bits`);
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(((flags & 0xff) << 24 | length) >>> 0, 4);
  return h;
}

export function encodeControl(type: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([controlHeader(type, flags, payload.length), payload]);
}

export function encodeData(streamId: number, flags: number, data: Buffer): Buffer {
  if (data.length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`data frame of ${data.length} bytes exceeds 24 bits`);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(streamId & 0x7fffffff, 0);
  h.writeUInt32BE(((flags & 0xff) << 24 | data.length) >>> 0, 4);
  return Buffer.concat([h, data]);
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

export function encodeSynStream(streamId: number, flags: number, compressedHeaders: Buffer, associatedId = 0, priority = 0): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId & 0x7fffffff, 0);
  fixed.writeUInt32BE(associatedId & 0x7fffffff, 4);
  fixed.writeUInt8((priority & 0x7) << 5, 8);
  return encodeControl(FrameType.SYN_STREAM, flags, Buffer.concat([fixed, compressedHeaders]));
}

export function encodeSynReply(streamId: number, flags: number, compressedHeaders: Buffer): Buffer {
  return encodeControl(FrameType.SYN_REPLY, flags, Buffer.concat([u32(streamId & 0x7fffffff), compressedHeaders]));
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  return encodeControl(FrameType.RST_STREAM, 0, u32(streamId & 0x7fffffff, status));
}

export function encodePing(id: number): Buffer {
  return encodeControl(FrameType.PING, 0, u32(id));
}

export function encodeGoAway(lastGoodStreamId: number, status: number): Buffer {
  return encodeControl(FrameType.GOAWAY, 0, u32(lastGoodStreamId & 0x7fffffff, status));
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  return encodeControl(FrameType.WINDOW_UPDATE, 0, u32(streamId & 0x7fffffff, delta & 0x7fffffff));
}

export function encodeSettings(entries: Array<{ id: number; value: number; flags?: number }>): Buffer {
  const parts = [u32(entries.length)];
  for (const e of entries) parts.push(u32(((e.flags ?? 0) << 24 | (e.id & 0xffffff)) >>> 0, e.value));
  return encodeControl(FrameType.SETTINGS, 0, Buffer.concat(parts));
}

function need(payload: Buffer, n: number, what: string): void {
  if (payload.length < n) throw new SpdyProtocolError(`${what} frame too short: ${payload.length} bytes, need ${n}`);
}

export interface SynStream { streamId: number; associatedId: number; priority: number; headerBlock: Buffer }
export function decodeSynStream(payload: Buffer): SynStream {
  need(payload, 10, 'SYN_STREAM');
  return {
    streamId: payload.readUInt32BE(0) & 0x7fffffff,
    associatedId: payload.readUInt32BE(4) & 0x7fffffff,
    priority: payload.readUInt8(8) >> 5,
    headerBlock: payload.subarray(10),
  };
}

/** SYN_REPLY and HEADERS share this shape: a stream id and a header block. */
export function decodeStreamHeaders(payload: Buffer, what = 'SYN_REPLY'): { streamId: number; headerBlock: Buffer } {
  need(payload, 4, what);
  return { streamId: payload.readUInt32BE(0) & 0x7fffffff, headerBlock: payload.subarray(4) };
}

export function decodeRstStream(payload: Buffer): { streamId: number; status: number } {
  need(payload, 8, 'RST_STREAM');
  return { streamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.readUInt32BE(4) };
}

export function decodePing(payload: Buffer): number {
  need(payload, 4, 'PING');
  return payload.readUInt32BE(0);
}

export function decodeGoAway(payload: Buffer): { lastGoodStreamId: number; status: number } {
  need(payload, 4, 'GOAWAY');
  return { lastGoodStreamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.length >= 8 ? payload.readUInt32BE(4) : 0 };
}

export function decodeWindowUpdate(payload: Buffer): { streamId: number; delta: number } {
  need(payload, 8, 'WINDOW_UPDATE');
  return { streamId: payload.readUInt32BE(0) & 0x7fffffff, delta: payload.readUInt32BE(4) & 0x7fffffff };
}

export function decodeSettings(payload: Buffer): Array<{ id: number; value: number; flags: number }> {
  need(payload, 4, 'SETTINGS');
  const n = payload.readUInt32BE(0);
  need(payload, 4 + 8 * n, 'SETTINGS');
  const out = [];
  for (let i = 0; i < n; i++) {
    const word = payload.readUInt32BE(4 + 8 * i);
    out.push({ flags: word >>> 24, id: word & 0xffffff, value: payload.readUInt32BE(8 + 8 * i) });
  }
  return out;
}

/** Splits a byte stream into frames; bytes of a frame not yet complete wait for the next push. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Frame[] {
    if (chunk.length) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 8) break;
      const head = this.peek(8);
      const length = head.readUInt32BE(4) & 0xffffff;
      if (this.buffered < 8 + length) break;
      const whole = this.take(8 + length);
      const first = whole.readUInt32BE(0);
      const flags = whole.readUInt8(4);
      const payload = whole.subarray(8);
      if (first & 0x80000000) {
        frames.push({ kind: 'control', version: (first >>> 16) & 0x7fff, type: first & 0xffff, flags, payload });
      } else {
        frames.push({ kind: 'data', streamId: first & 0x7fffffff, flags, data: payload });
      }
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    const head = this.chunks[0]!;
    const out = head.subarray(0, n);
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.buffered -= n;
    return out;
  }
}

/** Header names as SPDY carries them: lowercase, each with one or more values. */
export type SpdyHeaders = Map<string, string[]>;

/** The uncompressed name/value block: a count, then length-prefixed names and NUL-joined values. */
export function encodeHeaderBlock(headers: Iterable<[string, string | string[]]>): Buffer {
  const parts: Buffer[] = [];
  let count = 0;
  for (const [name, value] of headers) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(Array.isArray(value) ? value.join('\0') : value, 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
    count++;
  }
  return Buffer.concat([u32(count), ...parts]);
}

export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = new Map();
  let off = 0;
  const read32 = (what: string): number => {
    if (off + 4 > block.length) throw new SpdyProtocolError(`header block truncated reading ${what}`);
    const v = block.readUInt32BE(off);
    off += 4;
    return v;
  };
  const readBytes = (n: number, what: string): string => {
    if (off + n > block.length) throw new SpdyProtocolError(`header block truncated reading ${what}`);
    const s = block.toString('utf8', off, off + n);
    off += n;
    return s;
  };
  const count = read32('the header count');
  for (let i = 0; i < count; i++) {
    const name = readBytes(read32('a name length'), 'a name').toLowerCase();
    const value = readBytes(read32('a value length'), 'a value');
    const list = headers.get(name) ?? [];
    list.push(...value.split('\0'));
    headers.set(name, list);
  }
  return headers;
}

export function headerValue(headers: SpdyHeaders, name: string): string | undefined {
  return headers.get(name.toLowerCase())?.[0];
}

function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const DICTIONARY_ID = adler32(SPDY3_DICTIONARY);

function storedBlock(piece: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt8(0x00, 0); // BFINAL 0, BTYPE 00 (stored); the stream is byte-aligned after each block
  h.writeUInt16LE(piece.length, 1);
  h.writeUInt16LE(~piece.length & 0xffff, 3);
  return Buffer.concat([h, piece]);
}

/**
 * One direction's header compression context. The blocks go out as stored (uncompressed) deflate
 * blocks of one zlib stream primed with the SPDY dictionary: any peer's inflater reads them, and
 * writing them is synchronous, so a frame's header block is ready in the order the frames go out.
 */
export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      // CMF 0x78 (deflate, 32 KiB window); FLG 0x20 (FDICT set, level 0; 0x7820 is a multiple of 31).
      const zhead = Buffer.alloc(6);
      zhead.writeUInt8(0x78, 0);
      zhead.writeUInt8(0x20, 1);
      zhead.writeUInt32BE(DICTIONARY_ID, 2);
      parts.push(zhead);
      this.started = true;
    }
    for (let off = 0; off < block.length; off += 0xffff) parts.push(storedBlock(block.subarray(off, off + 0xffff)));
    // And an empty stored block, as zlib's sync flush ends: Go's inflater hands a block's bytes over
    // only when it reaches the next block, so without it kubectl would wait for the next frame.
    parts.push(storedBlock(Buffer.alloc(0)));
    return Buffer.concat(parts);
  }
}
