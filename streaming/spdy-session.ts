// The server end of one SPDY/3.1 connection, as kubectl's spdystream peer expects it: the client opens
// the streams (odd ids), the server answers each SYN_STREAM with a SYN_REPLY or a RST_STREAM, either
// side half-closes with FIN, PINGs are echoed, and GOAWAY ends the session.
//
// Flow control: spdystream neither sends WINDOW_UPDATE nor waits for one, so a server that held its
// output to the 64 KiB initial window would stall kubectl after 64 KiB. The session therefore does
// not enforce the peer's window (backpressure comes from TCP, as it does for spdystream); it does
// send WINDOW_UPDATEs for what it consumes, for peers that do count windows.
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import type { Logger } from '../common/index.js';
import {
  FLAG_FIN, FrameReader, FrameType, GoAwayStatus, HeaderCompressor, RstStatus, SPDY_VERSION, SpdyProtocolError,
  decodeGoAway, decodeHeaderBlock, decodePing, decodeRstStream, decodeStreamHeaders, decodeSynStream,
  encodeData, encodeGoAway, encodeHeaderBlock, encodePing, encodeRstStream, encodeSynReply, encodeWindowUpdate,
  headerValue, type ControlFrame, type DataFrame, type Frame, type SpdyHeaders,
} from './spdy-frame.js';
import { HeaderDecompressor } from './header-inflate.js';

/** Outgoing data frames are cut to this size so one stream's burst does not hold up the others long. */
const MAX_DATA_FRAME = 32 * 1024;

export class SpdyStream extends Duplex {
  /** Set once this side has sent FIN (or the stream was reset). */
  localClosed = false;
  /** Set once the peer has sent FIN (or the stream was reset). */
  remoteClosed = false;
  replied = false;
  wasReset = false;

  constructor(private readonly session: SpdySession, readonly id: number, readonly headers: SpdyHeaders) {
    super({ allowHalfOpen: true });
  }

  header(name: string): string | undefined {
    return headerValue(this.headers, name);
  }

  /** Abandons the stream in both directions (RST_STREAM CANCEL). */
  reset(status: number = RstStatus.CANCEL): void {
    this.session.resetStream(this, status);
  }

  override _read(): void {
    this.session.resume(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.session.sendData(this, chunk, false, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.session.sendData(this, Buffer.alloc(0), true, cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!(this.localClosed && this.remoteClosed)) this.session.resetStream(this, RstStatus.CANCEL);
    this.session.forget(this);
    cb(err);
  }
}

/**
 * onStream sees each new stream before it is answered: a string refuses it (the reason is logged and
 * the stream reset, as the kubelet does), anything else accepts it with an empty SYN_REPLY.
 */
export type StreamHandler = (stream: SpdyStream) => string | undefined | void;

export class SpdySession extends EventEmitter {
  private readonly reader = new FrameReader();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly backlog: Frame[] = [];
  private pumping = false;
  private lastRemoteId = 0;
  private goneAway = false;
  private closing = false;
  private finished = false;
  private readonly starved = new Set<SpdyStream>();
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly transport: Duplex, private readonly onStream: StreamHandler, private readonly log: Logger) {
    super();
    transport.on('data', (chunk: Buffer) => this.receive(chunk));
    transport.on('drain', () => {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    });
    transport.on('end', () => this.enqueueEnd());
    transport.on('close', () => this.teardown());
    transport.on('error', (err: Error) => {
      this.log.debug({ err: err.message }, 'spdy transport error');
      this.teardown();
    });
  }

  get isClosed(): boolean {
    return this.finished;
  }

  /** Sends GOAWAY and closes the connection once written (the kubelet's conn.Close()). */
  close(): void {
    if (this.closing || this.finished) return;
    this.closing = true;
    this.write(encodeGoAway(this.lastRemoteId, GoAwayStatus.OK));
    this.transport.end();
    // The peer closes its side on GOAWAY; one that does not must not hold the socket.
    setTimeout(() => this.transport.destroy(), 5_000).unref();
  }

  private receive(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.backlog.push(...frames);
    void this.pump();
  }

  private endMarker = false;
  private enqueueEnd(): void {
    this.endMarker = true;
    void this.pump();
  }

  /** Frames are handled one at a time, in order: header blocks share one inflate context. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.backlog.length && !this.finished) {
        const frame = this.backlog.shift()!;
        if (frame.kind === 'data') this.onData(frame);
        else await this.onControl(frame);
      }
      if (this.endMarker && !this.backlog.length) {
        // The peer is gone for writing: every stream's readable side ends.
        for (const s of this.streams.values()) this.remoteFinish(s);
        // spdystream never half-closes: the end of its bytes is the end of the session.
        if (this.closing) this.transport.destroy();
        else {
          this.transport.end();
          setTimeout(() => this.transport.destroy(), 1_000).unref();
          this.teardown();
        }
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  private async onControl(frame: ControlFrame): Promise<void> {
    if (frame.version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${frame.version}`);
    switch (frame.type) {
      case FrameType.SYN_STREAM: {
        const syn = decodeSynStream(frame.payload);
        const headers = decodeHeaderBlock(await this.decompressor.decompress(syn.headerBlock));
        this.onSynStream(syn.streamId, frame.flags, headers);
        return;
      }
      case FrameType.SYN_REPLY:
      case FrameType.HEADERS: {
        // This server opens no streams, but every header block moves the shared inflate context.
        const { headerBlock } = decodeStreamHeaders(frame.payload, frame.type === FrameType.HEADERS ? 'HEADERS' : 'SYN_REPLY');
        await this.decompressor.decompress(headerBlock);
        return;
      }
      case FrameType.RST_STREAM: {
        const { streamId, status } = decodeRstStream(frame.payload);
        const s = this.streams.get(streamId);
        if (!s) return;
        this.log.debug({ stream: streamId, status }, 'spdy stream reset by peer');
        s.wasReset = true;
        s.localClosed = true;
        this.remoteFinish(s);
        s.emit('reset', status);
        this.forget(s);
        return;
      }
      case FrameType.PING: {
        const id = decodePing(frame.payload);
        // Client pings carry odd ids; an even one would be an answer to a ping this server never sends.
        if (id % 2 === 1) this.write(encodePing(id));
        return;
      }
      case FrameType.GOAWAY: {
        const { status } = decodeGoAway(frame.payload);
        this.log.debug({ status }, 'spdy peer sent GOAWAY');
        this.goneAway = true;
        return;
      }
      default:
        // SETTINGS and WINDOW_UPDATE: see the flow-control note at the top. Unknown types are ignored, as SPDY says.
        return;
    }
  }

  private onSynStream(id: number, flags: number, headers: SpdyHeaders): void {
    if (this.goneAway || this.closing) {
      this.write(encodeRstStream(id, RstStatus.REFUSED_STREAM));
      return;
    }
    if (id === 0 || id % 2 === 0 || id <= this.lastRemoteId) {
      this.write(encodeRstStream(id, RstStatus.PROTOCOL_ERROR));
      return;
    }
    this.lastRemoteId = id;
    const stream = new SpdyStream(this, id, headers);
    this.streams.set(id, stream);
    const refusal = this.onStream(stream);
    if (typeof refusal === 'string') {
      this.log.info({ stream: id, reason: refusal }, 'refusing spdy stream');
      stream.localClosed = stream.remoteClosed = true;
      this.write(encodeRstStream(id, RstStatus.REFUSED_STREAM));
      this.forget(stream);
      stream.destroy();
      return;
    }
    this.reply(stream);
    if (flags & FLAG_FIN) this.remoteFinish(stream);
  }

  private onData(frame: DataFrame): void {
    const s = this.streams.get(frame.streamId);
    // Data for a stream that is gone (reset, or never opened) is dropped, as spdystream drops it.
    if (!s || s.remoteClosed) return;
    if (frame.data.length) {
      this.write(encodeWindowUpdate(s.id, frame.data.length));
      if (!s.push(frame.data)) {
        this.starved.add(s);
        this.transport.pause();
      }
    }
    if (frame.flags & FLAG_FIN) this.remoteFinish(s);
  }

  private remoteFinish(s: SpdyStream): void {
    if (s.remoteClosed && s.readableEnded) return;
    s.remoteClosed = true;
    s.push(null);
    this.maybeForget(s);
  }

  resume(s: SpdyStream): void {
    if (this.starved.delete(s) && this.starved.size === 0 && !this.finished) this.transport.resume();
  }

  private reply(s: SpdyStream): void {
    if (s.replied) return;
    s.replied = true;
    this.write(encodeSynReply(s.id, 0, this.compressor.compress(encodeHeaderBlock([]))));
  }

  sendData(s: SpdyStream, chunk: Buffer, fin: boolean, cb: (err?: Error | null) => void): void {
    if (s.localClosed || this.finished) {
      // The peer reset the stream or the connection is gone: what is left to say goes nowhere.
      cb();
      return;
    }
    this.reply(s);
    let ok = true;
    for (let off = 0; off < chunk.length; off += MAX_DATA_FRAME) {
      const last = off + MAX_DATA_FRAME >= chunk.length;
      ok = this.write(encodeData(s.id, fin && last ? FLAG_FIN : 0, chunk.subarray(off, off + MAX_DATA_FRAME)));
    }
    if (chunk.length === 0 && fin) ok = this.write(encodeData(s.id, FLAG_FIN, chunk));
    if (fin) {
      s.localClosed = true;
      this.maybeForget(s);
    }
    if (ok) cb();
    else this.drainWaiters.push(() => cb());
  }

  resetStream(s: SpdyStream, status: number): void {
    if (!this.streams.has(s.id)) return;
    if (!(s.localClosed && s.remoteClosed)) this.write(encodeRstStream(s.id, status));
    s.localClosed = true;
    s.wasReset = true;
    this.remoteFinish(s);
    this.forget(s);
  }

  forget(s: SpdyStream): void {
    this.streams.delete(s.id);
    this.resume(s);
  }

  private maybeForget(s: SpdyStream): void {
    if (s.localClosed && s.remoteClosed) this.streams.delete(s.id);
  }

  private write(buf: Buffer): boolean {
    if (this.finished || this.transport.destroyed || this.transport.writableEnded) return true;
    return this.transport.write(buf);
  }

  private fail(err: Error): void {
    this.log.info({ err: err.message }, 'spdy protocol error, closing the connection');
    if (!this.finished && !this.transport.writableEnded) this.write(encodeGoAway(this.lastRemoteId, GoAwayStatus.PROTOCOL_ERROR));
    this.transport.end();
    setTimeout(() => this.transport.destroy(), 1_000).unref();
    this.teardown();
  }

  private teardown(): void {
    if (this.finished) return;
    this.finished = true;
    this.decompressor.close();
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
    for (const s of [...this.streams.values()]) {
      s.localClosed = true;
      if (!s.remoteClosed) {
        s.remoteClosed = true;
        s.push(null);
      }
      s.emit('reset', RstStatus.CANCEL);
    }
    this.streams.clear();
    this.emit('close');
  }
}
