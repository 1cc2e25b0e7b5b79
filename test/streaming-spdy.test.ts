// SPDY/3.1 framing: frames to bytes and back, a byte stream cut anywhere, header blocks through the
// dictionary-primed zlib context in both directions (ours stored, Go's deflated with sync flushes),
// and one session answering a stream the way spdystream expects.
import { constants, createDeflate, inflateSync } from 'node:zlib';
import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../common/index.js';
import {
  FLAG_FIN, FrameReader, FrameType, HeaderCompressor, RstStatus, decodeGoAway, decodeHeaderBlock, decodePing,
  decodeRstStream, decodeSettings, decodeStreamHeaders, decodeSynStream, decodeWindowUpdate, encodeData, encodeGoAway,
  encodeHeaderBlock, encodePing, encodeRstStream, encodeSettings, encodeSynReply, encodeSynStream, encodeWindowUpdate,
  type ControlFrame, type Frame,
} from '../streaming/spdy-frame.js';
import { HeaderDecompressor } from '../streaming/header-inflate.js';
import { SPDY3_DICTIONARY } from '../streaming/spdy-dictionary.js';
import { SpdySession, type SpdyStream } from '../streaming/spdy-session.js';

function only(frames: Frame[]): Frame {
  expect(frames).toHaveLength(1);
  return frames[0]!;
}

function control(frame: Frame): ControlFrame {
  if (frame.kind !== 'control') throw new Error(`expected a control frame, got ${frame.kind}`);
  return frame;
}

/** Go's side of the header compression: one deflate context, primed, sync-flushed per block. */
function goDeflater(): (block: Buffer) => Promise<Buffer> {
  const deflate = createDeflate({ dictionary: SPDY3_DICTIONARY, level: 9 });
  let out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  return (block) => new Promise((resolve) => {
    out = [];
    deflate.write(block);
    deflate.flush(constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(out)));
  });
}

describe('SPDY frames', () => {
  it('encodes a data frame with its stream id, FIN flag and length, and reads it back', () => {
    const bytes = encodeData(5, FLAG_FIN, Buffer.from('hello'));
    expect(bytes.subarray(0, 8).toString('hex')).toBe('0000000501000005');
    const f = only(new FrameReader().push(bytes));
    expect(f).toEqual({ kind: 'data', streamId: 5, flags: FLAG_FIN, data: Buffer.from('hello') });
  });

  it('encodes control frames with version 3 and their type', () => {
    const rst = encodeRstStream(3, RstStatus.CANCEL);
    expect(rst.toString('hex')).toBe('80030003000000080000000300000005');
    const f = control(only(new FrameReader().push(rst)));
    expect(f.version).toBe(3);
    expect(f.type).toBe(FrameType.RST_STREAM);
    expect(decodeRstStream(f.payload)).toEqual({ streamId: 3, status: 5 });

    expect(decodePing(control(only(new FrameReader().push(encodePing(7)))).payload)).toBe(7);
    expect(decodeGoAway(control(only(new FrameReader().push(encodeGoAway(9, 0)))).payload)).toEqual({ lastGoodStreamId: 9, status: 0 });
    expect(decodeWindowUpdate(control(only(new FrameReader().push(encodeWindowUpdate(1, 65536)))).payload)).toEqual({ streamId: 1, delta: 65536 });
    const settings = control(only(new FrameReader().push(encodeSettings([{ id: 7, value: 65536, flags: 1 }]))));
    expect(settings.type).toBe(FrameType.SETTINGS);
    expect(decodeSettings(settings.payload)).toEqual([{ id: 7, value: 65536, flags: 1 }]);
  });

  it('decodes SYN_STREAM and SYN_REPLY fields', () => {
    const syn = control(only(new FrameReader().push(encodeSynStream(1, FLAG_FIN, Buffer.from('hb'), 0, 2))));
    expect(syn.type).toBe(FrameType.SYN_STREAM);
    expect(syn.flags).toBe(FLAG_FIN);
    expect(decodeSynStream(syn.payload)).toEqual({ streamId: 1, associatedId: 0, priority: 2, headerBlock: Buffer.from('hb') });
    const reply = control(only(new FrameReader().push(encodeSynReply(3, 0, Buffer.from('x')))));
    expect(decodeStreamHeaders(reply.payload)).toEqual({ streamId: 3, headerBlock: Buffer.from('x') });
  });

  it('reassembles frames from a byte stream cut at every byte', () => {
    const stream = Buffer.concat([encodeData(1, 0, Buffer.alloc(300, 7)), encodePing(1), encodeData(3, FLAG_FIN, Buffer.alloc(0))]);
    const reader = new FrameReader();
    const frames: Frame[] = [];
    for (let i = 0; i < stream.length; i++) frames.push(...reader.push(stream.subarray(i, i + 1)));
    expect(frames.map((f) => (f.kind === 'data' ? `data ${f.streamId} ${f.data.length} ${f.flags}` : `control ${f.type}`)))
      .toEqual(['data 1 300 0', 'control 6', 'data 3 0 1']);
  });

  it('refuses a truncated control payload with a clear error', () => {
    expect(() => decodeRstStream(Buffer.alloc(3))).toThrow(/RST_STREAM frame too short/);
    expect(() => decodeHeaderBlock(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9]))).toThrow(/header block truncated/);
  });
});

describe('SPDY header blocks', () => {
  const headers: Array<[string, string | string[]]> = [['streamType', 'stdout'], ['Port', '8080'], ['multi', ['a', 'b']]];

  it('round-trips names (lowercased) and NUL-joined values', () => {
    const decoded = decodeHeaderBlock(encodeHeaderBlock(headers));
    expect([...decoded]).toEqual([['streamtype', ['stdout']], ['port', ['8080']], ['multi', ['a', 'b']]]);
  });

  it('writes a zlib stream that a dictionary-primed inflater reads, block after block', async () => {
    const c = new HeaderCompressor();
    const first = c.compress(encodeHeaderBlock(headers));
    const second = c.compress(encodeHeaderBlock([]));
    // The zlib header names the dictionary; each block is one stored deflate block.
    expect(first.subarray(0, 2).toString('hex')).toBe('7820');
    expect(inflateSync(first, { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH }).equals(encodeHeaderBlock(headers))).toBe(true);
    const d = new HeaderDecompressor();
    expect([...decodeHeaderBlock(await d.decompress(first))]).toHaveLength(3);
    expect([...decodeHeaderBlock(await d.decompress(second))]).toEqual([]);
    d.close();
  });

  it('reads Go-style compressed blocks that depend on the context the block before left', async () => {
    const deflate = goDeflater();
    const d = new HeaderDecompressor();
    const a = await deflate(encodeHeaderBlock([['streamtype', 'error']]));
    const b = await deflate(encodeHeaderBlock([['streamtype', 'error']]));
    // The second block is a back-reference into the first: it only inflates in the shared context.
    expect(b.length).toBeLessThan(a.length);
    expect([...decodeHeaderBlock(await d.decompress(a))]).toEqual([['streamtype', ['error']]]);
    expect([...decodeHeaderBlock(await d.decompress(b))]).toEqual([['streamtype', ['error']]]);
    await expect(d.decompress(Buffer.from('garbage'))).rejects.toThrow(/header decompression failed/);
    d.close();
  });

  it('hands the context over from the synchronous inflation to a streaming one past its limit', async () => {
    const deflate = goDeflater();
    const blocks = [];
    for (const t of ['error', 'stdout', 'stderr', 'stdout', 'error']) blocks.push(await deflate(encodeHeaderBlock([['streamtype', t], ['port', '80']])));
    // A limit the first two blocks fit under: the third starts the streaming context, fed the first two again.
    const d = new HeaderDecompressor(blocks[0]!.length + blocks[1]!.length);
    const got = [];
    for (const b of blocks) got.push([...decodeHeaderBlock(await d.decompress(b))]);
    expect(got.map((h) => h[0]![1][0])).toEqual(['error', 'stdout', 'stderr', 'stdout', 'error']);
    expect(got.every((h) => h[1]![1][0] === '80')).toBe(true);
    await expect(d.decompress(Buffer.from('garbage'))).rejects.toThrow(/header decompression failed/);
    d.close();
  });
});

/** Two ends of an in-memory connection. */
function pipePair(): [Duplex, Duplex] {
  const aIn = new PassThrough();
  const bIn = new PassThrough();
  const end = (readable: PassThrough, writable: PassThrough): Duplex => new Duplex({
    read() { readable.resume(); },
    write(chunk: Buffer, _e, cb) { writable.write(chunk, cb); },
    final(cb) { writable.end(); cb(); },
  });
  const a = end(aIn, bIn);
  const b = end(bIn, aIn);
  aIn.on('data', (c: Buffer) => a.push(c));
  aIn.on('end', () => a.push(null));
  bIn.on('data', (c: Buffer) => b.push(c));
  bIn.on('end', () => b.push(null));
  return [a, b];
}

describe('SPDY session', () => {
  it('replies to a stream, echoes pings, delivers data and FIN both ways, refuses bad streams', async () => {
    const [server, client] = pipePair();
    const accepted: SpdyStream[] = [];
    new SpdySession(server, (s) => {
      if (s.header('streamtype') === 'bogus') return 'invalid stream type';
      accepted.push(s);
      s.on('data', (chunk: Buffer) => s.write(Buffer.from(chunk.toString().toUpperCase())));
      s.on('end', () => s.end());
      return undefined;
    }, silentLogger);

    const reader = new FrameReader();
    const received: Frame[] = [];
    client.on('data', (c: Buffer) => received.push(...reader.push(c)));
    const deflate = goDeflater();
    const waitFor = async (pred: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 5));
      expect(pred()).toBe(true);
    };

    client.write(encodeSynStream(1, 0, await deflate(encodeHeaderBlock([['streamtype', 'stdin']]))));
    client.write(encodePing(1));
    client.write(encodeData(1, FLAG_FIN, Buffer.from('shout')));
    client.write(encodeSynStream(3, 0, await deflate(encodeHeaderBlock([['streamtype', 'bogus']]))));
    await waitFor(() => received.some((f) => f.kind === 'control' && f.type === FrameType.RST_STREAM));

    const summary = received.map((f) => (f.kind === 'data'
      ? `data ${f.streamId} ${f.data.toString()}${f.flags & FLAG_FIN ? ' FIN' : ''}`
      : `control ${f.type} ${f.type === FrameType.PING ? decodePing(f.payload) : (f.payload.readUInt32BE(0) & 0x7fffffff)}`));
    expect(summary).toContain(`control ${FrameType.SYN_REPLY} 1`);
    expect(summary).toContain(`control ${FrameType.PING} 1`);
    expect(summary).toContain('data 1 SHOUT');
    expect(summary).toContain('data 1  FIN');
    expect(summary).toContain(`control ${FrameType.RST_STREAM} 3`);
    expect(summary.indexOf(`control ${FrameType.SYN_REPLY} 1`)).toBeLessThan(summary.indexOf('data 1 SHOUT'));
    // The SYN_REPLY's header block inflates (empty) in a fresh dictionary-primed context.
    const reply = received.find((f) => f.kind === 'control' && f.type === FrameType.SYN_REPLY) as ControlFrame;
    const d = new HeaderDecompressor();
    expect([...decodeHeaderBlock(await d.decompress(decodeStreamHeaders(reply.payload).headerBlock))]).toEqual([]);
    d.close();
    expect(accepted.map((s) => s.id)).toEqual([1]);
    client.destroy();
    server.destroy();
  });
});
