// The wire format between the CNI exec shim (cni/shim.c) and the CNI daemon (daemon-server.ts), on
// a unix stream socket. Hand-written rather than JSON or protobuf because the C side must stay a few
// dozen lines with no library: length-prefixed little-endian frames, strings as u32 length + bytes.
//
//   shim -> daemon  request   u32 length of the rest | "FCNI" | u8 version | u64 netns dev | u64 netns ino
//                             | u64 mntns dev | u64 mntns ino | str plugin | u32 n | n x str "K=V" | str stdin
//   daemon -> shim  1 byte    'R' (ready: I will run it if you say go) or 'D' (declined: run it yourself)
//   shim -> daemon  1 byte    'G' (go: from here the shim never runs the plugin itself)
//   daemon -> shim  response  u32 length of the rest | i32 exit code | str stdout | str stderr
//
// The two-step 'R'/'G' is what makes the fallback safe: a shim that gives up before 'G' may run the
// plugin itself because the daemon will not; after 'G' it reports a lost answer as an error instead.
export const MAGIC = 'FCNI';
export const PROTOCOL_VERSION = 1;
export const READY = 0x52; // 'R'
export const DECLINE = 0x44; // 'D'
export const GO = 0x47; // 'G'
/** Bigger frames are refused: a network config and an environment are a few KiB. */
export const MAX_FRAME = 16 * 1024 * 1024;

/** A namespace's identity: the device and inode of /proc/self/ns/<kind>. */
export interface NsId {
  readonly dev: bigint;
  readonly ino: bigint;
}

export interface ShimRequest {
  readonly netns: NsId;
  readonly mntns: NsId;
  /** The plugin the shim stands for (its executable's name at build time). */
  readonly plugin: string;
  /** The shim's whole environment, in order, as it would reach the plugin. */
  readonly env: readonly (readonly [string, string])[];
  readonly stdin: Buffer;
}

export interface ShimResponse {
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

class Writer {
  private readonly parts: Buffer[] = [];
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.parts.push(b);
    return this;
  }
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer | string): this {
    const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
    this.u32(buf.length);
    this.parts.push(buf);
    return this;
  }
  raw(s: string): this {
    this.parts.push(Buffer.from(s, 'latin1'));
    return this;
  }
  /** The frame: the body prefixed with its length. */
  frame(): Buffer {
    const body = Buffer.concat(this.parts);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length);
    return Buffer.concat([head, body]);
  }
}

class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  private need(n: number, what: string): void {
    if (this.at + n > this.b.length) throw new FrameError(`truncated frame: ${what} needs ${n} bytes at offset ${this.at}, ${this.b.length - this.at} left`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.b.readUInt8(this.at++);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.b.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.b.readInt32LE(this.at);
    this.at += 4;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.b.readBigUInt64LE(this.at);
    this.at += 8;
    return v;
  }
  bytes(what: string): Buffer {
    const n = this.u32(`${what} length`);
    this.need(n, what);
    const v = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  raw(n: number, what: string): string {
    this.need(n, what);
    const v = this.b.toString('latin1', this.at, this.at + n);
    this.at += n;
    return v;
  }
  end(): void {
    if (this.at !== this.b.length) throw new FrameError(`${this.b.length - this.at} unexpected bytes after the frame's last field`);
  }
}

export function encodeRequest(r: ShimRequest): Buffer {
  const w = new Writer().raw(MAGIC).u8(PROTOCOL_VERSION).u64(r.netns.dev).u64(r.netns.ino).u64(r.mntns.dev).u64(r.mntns.ino).bytes(r.plugin).u32(r.env.length);
  for (const [k, v] of r.env) w.bytes(`${k}=${v}`);
  return w.bytes(r.stdin).frame();
}

/** Decodes a request frame's body (without its length prefix). */
export function decodeRequest(body: Buffer): ShimRequest {
  const r = new Reader(body);
  const magic = r.raw(4, 'magic');
  if (magic !== MAGIC) throw new FrameError(`bad magic ${JSON.stringify(magic)}, want ${MAGIC}`);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new FrameError(`protocol version ${version}, this daemon speaks ${PROTOCOL_VERSION}`);
  const netns = { dev: r.u64('netns dev'), ino: r.u64('netns ino') };
  const mntns = { dev: r.u64('mntns dev'), ino: r.u64('mntns ino') };
  const plugin = r.bytes('plugin').toString('utf8');
  const n = r.u32('environment count');
  const env: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const kv = r.bytes(`environment entry ${i}`).toString('utf8');
    const eq = kv.indexOf('=');
    // execve accepts entries without '=', getenv never returns them: drop them as the plugin would not see them.
    if (eq > 0) env.push([kv.slice(0, eq), kv.slice(eq + 1)]);
  }
  const stdin = Buffer.from(r.bytes('stdin'));
  r.end();
  return { netns, mntns, plugin, env, stdin };
}

export function encodeResponse(r: ShimResponse): Buffer {
  return new Writer().i32(r.exitCode).bytes(r.stdout).bytes(r.stderr).frame();
}

export function decodeResponse(body: Buffer): ShimResponse {
  const r = new Reader(body);
  const exitCode = r.i32('exit code');
  const stdout = Buffer.from(r.bytes('stdout'));
  const stderr = Buffer.from(r.bytes('stderr'));
  r.end();
  return { exitCode, stdout, stderr };
}

/**
 * Splits one length-prefixed frame off the front of `buf`: the body and what follows it, or
 * undefined while the frame is incomplete. Throws on a frame larger than MAX_FRAME.
 */
export function takeFrame(buf: Buffer): { readonly body: Buffer; readonly rest: Buffer } | undefined {
  if (buf.length < 4) return undefined;
  const n = buf.readUInt32LE(0);
  if (n > MAX_FRAME) throw new FrameError(`frame of ${n} bytes is over the ${MAX_FRAME}-byte limit`);
  if (buf.length < 4 + n) return undefined;
  return { body: buf.subarray(4, 4 + n), rest: buf.subarray(4 + n) };
}

/** Whether a request comes from the namespaces the daemon runs in (else its paths and links are not ours). */
export const sameNamespaces = (r: Pick<ShimRequest, 'netns' | 'mntns'>, own: { readonly netns: NsId; readonly mntns: NsId }): boolean =>
  r.netns.dev === own.netns.dev && r.netns.ino === own.netns.ino && r.mntns.dev === own.mntns.dev && r.mntns.ino === own.mntns.ino;
