// The DNS server's sockets: UDP and TCP (two-byte length framing, several queries per connection)
// on one address and port, every message through respond.ts's decision, the cluster domain from
// memory and the rest from the upstreams through the answer cache. A message that does not decode
// gets FORMERR when its header is there and is dropped otherwise; nothing a client sends can stop it.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { isIPv6 } from 'node:net';
import type { DecodedPacket, Packet } from 'dns-packet';
import { decode, encode, RECURSION_DESIRED } from 'dns-packet';
import { errorMessage, type Logger } from '../common/index.js';
import { AnswerCache } from './cache.js';
import { decide, encodeForUdp, formerrFor, RCODE, refusal, responseTo, udpLimit } from './respond.js';
import type { Forwarder } from './upstream.js';
import type { Zone } from './zone.js';

export interface DnsServerOptions {
  readonly bindAddress: string;
  /** 0: any free port (the same number for UDP and TCP). */
  readonly port: number;
  readonly cacheEntries?: number;
  readonly tcpIdleMs?: number;
  /**
   * False until the zone has been listed from the API: until then names in the cluster domain get
   * SERVFAIL (a resolver tries again) rather than an NXDOMAIN that clients would cache.
   */
  readonly ready?: () => boolean;
  readonly log: Logger;
}

const MEMO_MAX = 20_000;
const TCP_MAX_CONNECTIONS = 1000;

export class DnsServer {
  readonly cache: AnswerCache;
  private udp: Socket | undefined;
  private tcp: Server | undefined;
  private readonly conns = new Set<TcpSocket>();
  /** Encoded local answers by question (and the asker's RD and EDNS size), for the zone's generation they were made in. */
  private readonly memo = new Map<string, Buffer>();
  private memoGeneration = -1;
  private boundPort = 0;

  constructor(
    readonly zone: Zone,
    private readonly forwarder: Forwarder,
    private readonly o: DnsServerOptions,
  ) {
    this.cache = new AnswerCache(o.cacheEntries ?? 10_000);
  }

  get port(): number {
    return this.boundPort;
  }

  async listen(): Promise<number> {
    const udp = createSocket({ type: isIPv6(this.o.bindAddress) ? 'udp6' : 'udp4' });
    udp.on('message', (msg, rinfo) => {
      void this.handle(msg, 'udp').then(
        (out) => {
          if (out) udp.send(out, rinfo.port, rinfo.address);
        },
        (e: unknown) => this.o.log.warn({ err: errorMessage(e) }, 'query failed'),
      );
    });
    udp.on('error', (e) => this.o.log.warn({ err: errorMessage(e) }, 'udp socket error'));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.o.port, this.o.bindAddress, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    this.udp = udp;
    this.boundPort = udp.address().port;
    const tcp = createServer((sock) => this.serveTcp(sock));
    tcp.maxConnections = TCP_MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.boundPort, this.o.bindAddress, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (e) => this.o.log.warn({ err: errorMessage(e) }, 'tcp server error'));
    this.tcp = tcp;
    this.o.log.info({ address: this.o.bindAddress, port: this.boundPort, domain: this.zone.domain, upstreams: this.forwarder.upstreams.map((u) => `${u.address}:${u.port}`) }, 'serving DNS');
    return this.boundPort;
  }

  async close(): Promise<void> {
    this.udp?.close();
    for (const c of this.conns) c.destroy();
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
    this.forwarder.close();
  }

  /** One message in, its answer out (undefined: nothing to send). `transport` sets the size limit. */
  async handle(raw: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let q: DecodedPacket;
    try {
      q = decode(raw);
    } catch {
      return formerrFor(raw);
    }
    const refused = refusal(q);
    if (refused === 'ignore') return undefined;
    if (refused) return encode(refused);
    const limit = transport === 'udp' ? udpLimit(q) : 65535;
    const memoKey = this.memoKey(q, limit);
    const hit = memoKey && this.memo.get(memoKey);
    if (hit) {
      const out = Buffer.from(hit);
      out.writeUInt16BE(q.id ?? 0, 0);
      return out;
    }
    const d = decide(q, this.zone);
    if (d.kind !== 'forward' && this.o.ready && !this.o.ready()) return encodeForUdp(responseTo(q, RCODE.SERVFAIL), limit);
    if (d.kind === 'answer') {
      const out = encodeForUdp(d.packet, limit);
      if (memoKey) this.remember(memoKey, out);
      return out;
    }
    if (d.kind === 'chase') {
      const target = await this.resolveUpstream({ type: 'query', id: Math.floor(Math.random() * 65536), flags: RECURSION_DESIRED, questions: [d.target] });
      const more = target && (target.flags ?? 0) % 16 === RCODE.NOERROR ? (target.answers ?? []) : [];
      return encodeForUdp({ ...d.packet, answers: [...(d.packet.answers ?? []), ...more] }, limit);
    }
    const cached = this.cache.get(q, Date.now());
    if (cached) return encodeForUdp(cached, limit);
    const up = await this.forwarder.query(raw);
    if (!up) return encodeForUdp(responseTo(q, RCODE.SERVFAIL), limit);
    let p: DecodedPacket | undefined;
    try {
      p = decode(up);
    } catch {
      this.o.log.debug({ name: q.questions?.[0]?.name }, 'an upstream answer that does not decode is passed on as it is');
    }
    if (p) this.cache.put(q.questions![0]!, p, Date.now());
    if (up.length <= limit) return up;
    return p ? encodeForUdp(p, limit) : encodeForUdp(responseTo(q, RCODE.SERVFAIL), limit);
  }

  /** An upstream answer to a query of our own (cached like any other). */
  private async resolveUpstream(query: Packet): Promise<Packet | undefined> {
    const now = Date.now();
    const cached = this.cache.get(query, now);
    if (cached) return cached;
    const up = await this.forwarder.query(encode(query));
    if (!up) return undefined;
    try {
      const p = decode(up);
      this.cache.put(query.questions![0]!, p, now);
      return p;
    } catch {
      return undefined;
    }
  }

  private memoKey(q: DecodedPacket, limit: number): string | undefined {
    if (this.memoGeneration !== this.zone.generation) {
      this.memo.clear();
      this.memoGeneration = this.zone.generation;
    }
    const x = q.questions![0]!;
    return `${x.name}\u0000${x.type}\u0000${x.class ?? ''}\u0000${(q.flags ?? 0) & RECURSION_DESIRED}\u0000${q.additionals?.some((a) => a.type === 'OPT') ? 'e' : ''}${limit}`;
  }

  private remember(key: string, out: Buffer): void {
    if (this.memo.size >= MEMO_MAX) this.memo.clear();
    this.memo.set(key, Buffer.from(out));
  }

  private serveTcp(sock: TcpSocket): void {
    this.conns.add(sock);
    sock.setTimeout(this.o.tcpIdleMs ?? 10_000, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        void this.handle(Buffer.from(msg), 'tcp').then(
          (out) => {
            if (!out || sock.destroyed) return;
            const head = Buffer.alloc(2);
            head.writeUInt16BE(out.length);
            sock.write(Buffer.concat([head, out]));
          },
          (e: unknown) => this.o.log.warn({ err: errorMessage(e) }, 'query failed'),
        );
      }
    });
  }
}
