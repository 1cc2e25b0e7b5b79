// DNS for tests: a tiny authoritative server (dns-packet, UDP and TCP on one port) that a test runs on
// loopback or in a lab's namespace as kube-dns's upstream, and a client for single queries over UDP or
// TCP. Every wait is bounded.
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { type Answer, decode, type DecodedPacket, encode, type Packet } from 'dns-packet';

/** Answers from a fixed table: name (lower case, no trailing dot) → records; NXDOMAIN otherwise. */
export class TinyDns {
  queries = 0;
  private constructor(
    private readonly udp: Socket,
    private readonly tcp: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(records: Record<string, Answer[]>, host = '127.0.0.1', port = 0): Promise<TinyDns> {
    const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => resolve());
    });
    const bound = udp.address().port;
    const answer = (raw: Buffer, limit: number): Buffer | undefined => {
      let q: DecodedPacket;
      try {
        q = decode(raw);
      } catch {
        return undefined;
      }
      srv.queries++;
      const qq = q.questions?.[0];
      const recs = qq ? records[qq.name.toLowerCase().replace(/\.$/, '')] : undefined;
      const answers = (recs ?? []).filter((r) => qq && (r.type === qq.type || r.type === 'CNAME')).map((r) => ({ ...r, name: qq!.name }));
      const p: Packet = { type: 'response', id: q.id, flags: (1 << 10) | ((q.flags ?? 0) & 0x100) | (recs ? 0 : 3), questions: q.questions, answers, authorities: recs ? [] : [{ name: 'test', type: 'SOA', ttl: 60, data: { mname: 'ns.test', rname: 'h.test', minimum: 5 } }] };
      const out = encode(p);
      return out.length > limit ? encode({ ...p, flags: (p.flags ?? 0) | (1 << 9), answers: [] }) : out;
    };
    udp.on('message', (m, r) => {
      const out = answer(m, 512);
      if (out) udp.send(out, r.port, r.address);
    });
    const tcp = createServer((s) => {
      let buf = Buffer.alloc(0);
      s.on('error', () => s.destroy());
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const out = answer(buf.subarray(2, 2 + buf.readUInt16BE(0)), 65535);
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          if (!out) continue;
          const h = Buffer.alloc(2);
          h.writeUInt16BE(out.length);
          s.write(Buffer.concat([h, out]));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(bound, host, () => resolve());
    });
    const srv = new TinyDns(udp, tcp, host, bound);
    return srv;
  }

  async close(): Promise<void> {
    this.udp.close();
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }
}

/** One raw UDP exchange: the first datagram back, or undefined after `timeoutMs`. */
export function dnsUdpRaw(host: string, port: number, msg: Buffer, timeoutMs = 3000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const done = (b: Buffer | undefined): void => {
      clearTimeout(t);
      s.close();
      resolve(b);
    };
    const t = setTimeout(() => done(undefined), timeoutMs);
    s.on('message', (m) => done(m));
    s.on('error', () => done(undefined));
    s.send(msg, port, host);
  });
}

/** One query over UDP or TCP, decoded; throws on no answer within `timeoutMs`. */
export async function dnsQuery(host: string, port: number, p: Packet, transport: 'udp' | 'tcp', timeoutMs = 3000): Promise<DecodedPacket> {
  const msg = encode({ type: 'query', id: 1 + Math.floor(Math.random() * 60000), ...p });
  if (transport === 'udp') {
    const b = await dnsUdpRaw(host, port, msg, timeoutMs);
    if (!b) throw new Error(`no UDP answer from ${host}:${port} within ${timeoutMs} ms`);
    return decode(b);
  }
  const b = await new Promise<Buffer>((resolve, reject) => {
    const s = connect({ host, port });
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no TCP answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('connect', () => {
      const h = Buffer.alloc(2);
      h.writeUInt16BE(msg.length);
      s.write(Buffer.concat([h, msg]));
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(t);
        s.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
  return decode(b);
}
