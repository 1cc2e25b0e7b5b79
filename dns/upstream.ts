// Queries to the upstream resolvers: over UDP from one socket per address family, each upstream in
// the resolv.conf order until one answers within its timeout; an answer with TC set is asked again of
// the same server over TCP. Every wait is bounded; with no answer at all the caller gets undefined
// (and answers SERVFAIL). Each query goes out under an id of its own, so concurrent askers never
// receive one another's answers.
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { isIPv6 } from 'node:net';
import { errorMessage, type Logger } from '../common/index.js';

export interface Upstream {
  readonly address: string;
  readonly port: number;
}

interface Pending {
  readonly server: Upstream;
  readonly resolve: (b: Buffer | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

export class Forwarder {
  private readonly sockets = new Map<4 | 6, Socket>();
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(
    private readonly servers: readonly Upstream[],
    private readonly o: { readonly timeoutMs: number; readonly log: Logger },
  ) {}

  get upstreams(): readonly Upstream[] {
    return this.servers;
  }

  /** The upstream's answer to the query (the caller's id in it), or undefined when none answered. */
  async query(raw: Buffer): Promise<Buffer | undefined> {
    if (raw.length < 12) return undefined;
    const id = raw.readUInt16BE(0);
    for (const s of this.servers) {
      if (this.closed) return undefined;
      let b = await this.udp(s, raw);
      if (b && b.length >= 12 && b[2]! & 0x02) b = await this.tcp(s, raw);
      if (b && b.length >= 12) {
        const out = Buffer.from(b);
        out.writeUInt16BE(id, 0);
        return out;
      }
    }
    return undefined;
  }

  close(): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve(undefined);
      this.pending.delete(id);
    }
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private socket(family: 4 | 6): Socket {
    let s = this.sockets.get(family);
    if (s) return s;
    s = createSocket(family === 6 ? 'udp6' : 'udp4');
    s.on('message', (msg, rinfo) => {
      if (msg.length < 12) return;
      const p = this.pending.get(msg.readUInt16BE(0));
      // Only the server asked may answer (a stray or spoofed datagram is dropped).
      if (!p || p.server.port !== rinfo.port || p.server.address.replace(/%.*$/, '') !== rinfo.address.replace(/%.*$/, '')) return;
      this.pending.delete(msg.readUInt16BE(0));
      clearTimeout(p.timer);
      p.resolve(msg);
    });
    s.on('error', (e) => this.o.log.warn({ err: errorMessage(e) }, 'upstream socket error'));
    s.unref();
    this.sockets.set(family, s);
    return s;
  }

  private freeId(): number {
    for (let i = 0; i < 100; i++) {
      const id = Math.floor(Math.random() * 65536);
      if (!this.pending.has(id)) return id;
    }
    return -1;
  }

  private udp(server: Upstream, raw: Buffer): Promise<Buffer | undefined> {
    const id = this.freeId();
    if (id < 0) return Promise.resolve(undefined);
    const msg = Buffer.from(raw);
    msg.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, this.o.timeoutMs);
      this.pending.set(id, { server, resolve, timer });
      this.socket(isIPv6(server.address.replace(/%.*$/, '')) ? 6 : 4).send(msg, server.port, server.address, (e) => {
        if (!e) return;
        this.o.log.debug({ upstream: `${server.address}:${server.port}`, err: errorMessage(e) }, 'cannot send to the upstream');
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(undefined);
      });
    });
  }

  private tcp(server: Upstream, raw: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = connect({ host: server.address, port: server.port });
      let buf = Buffer.alloc(0);
      const done = (b: Buffer | undefined): void => {
        clearTimeout(timer);
        sock.destroy();
        resolve(b);
      };
      const timer = setTimeout(() => done(undefined), this.o.timeoutMs);
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(raw.length);
        sock.write(Buffer.concat([len, raw]));
      });
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
      sock.on('error', () => done(undefined));
      sock.on('close', () => done(undefined));
    });
  }
}
