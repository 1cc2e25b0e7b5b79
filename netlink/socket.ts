// The I/O edge: one rtnetlink request socket in the network namespace of the calling process.
//
// The socket belongs to the namespace of the process that opens it; the daemon is started inside its
// namespace (nsenter) and never switches namespaces in-process.
//
// We use npm `netlink`'s NetlinkSocket (createNetlink) rather than the typed methods of RtNetlinkSocket:
// those turn a kernel NLMSG_ERROR into `Error('Request rejected: EEXIST')` and drop the message type of
// notifications. Here every request is sent with `checkError: false` and the errno is read from the
// NLMSG_ERROR payload (parseError), so nothing parses message text. Requests are serialised: the kernel
// runs one dump per socket at a time and the library reassembles one multipart reply at a time.
import { Flags, MessageType as NlMessageType, Protocol, RawNetlinkSocket, createNetlink, parseError, rt, type NetlinkMessage, type NetlinkSocket } from './pkg.js';
import { silentLogger, type Logger } from '../common/index.js';
import { AF_BRIDGE, AF_UNSPEC, afOf, canonicalIp, canonicalMac } from './addr.js';
import {
  addrReq, canonicalRoute, describeAddr, describeFdb, describeLink, describeNeigh, describeRoute, describeVxlan, dumpReq,
  encodeBody, fdbReq, kindLinkInfo, linkCreateReq, linkDelReq, linkGetReq, linkSetReq, neighReq, parseAddr, parseFdb,
  parseLink, parseNeigh, parseRoute, routeDiff, routeKey, routeReq, vxlanIncompat, vxlanLinkInfo, vxlanWant, type Request,
} from './codec.js';
import { E, LinkIncompatError, NetlinkError, toNetlinkError, type NetlinkOp } from './errors.js';
import {
  TABLE_MAIN, type Addr, type AddrSpec, type BridgeSpec, type DevFilter, type DevRef, type Fdb, type FdbSpec, type Link,
  type LinkChange, type Neigh, type NeighSpec, type Netlink, type NetlinkEvent, type Route, type RouteFilter,
  type VxlanOptions, type VxlanSpec, type WatchOptions,
} from './types.js';
import { LITTLE_ENDIAN, parseLinkLite } from './link-lite.js';
import { NetlinkWatch } from './watch.js';
import { WireEncoder, parseReplies, type NetlinkWrite } from './wire.js';

export interface NetlinkOptions {
  readonly log?: Logger;
  /** Bound on every request; default 10 s. */
  readonly timeoutMs?: number;
  /** SO_RCVBUF of watch sockets (capped by net.core.rmem_max); default 4 MiB. */
  readonly watchRecvBuffer?: number;
}

/** Opens an rtnetlink socket in the current network namespace. It does not hold the event loop when idle. */
export function openNetlink(opts: NetlinkOptions = {}): Netlink {
  return new RtnlClient(opts);
}

const DUMP_ATTEMPTS = 3;
/**
 * Messages per sendmsg of a batch. Each write is also announced to every notification socket (our
 * own drift watch among them), and npm `netlink` reads at most 32 datagrams per socket per loop
 * turn: bigger chunks than that, sent back to back, outrun a watch until its receive buffer
 * overflows, and an ENOBUFS on a socket of npm `netlink` 0.3.0 aborts the process ("Error in native
 * callback"). So: 32 per chunk, and a loop turn between chunks (one for the ACK, one setImmediate),
 * which leaves every watch two reads of 32 per 32 writes. The replies (each write may come back as
 * an NLMSG_ERROR) then fit the batch socket's own buffer with room to spare.
 */
const BATCH_MESSAGES = 32;
const BATCH_BYTES = 16 << 10;
/**
 * A batch this long is a bulk write (a start onto an empty kernel: 15,000 entries for 5,000 peers):
 * this client's watches leave their groups for its duration (then report an overflow, so their
 * consumers resync for what others changed meanwhile), and with no watch to outrun the chunks grow
 * and follow each other without a loop turn between them. The pacing above cost a fifth of such a
 * start in loop turns. Bulk chunks stay small enough that every message's error reply (when all of
 * them fail: the device gone) fits the batch socket's default receive buffer.
 */
const BULK_WRITES = 512;
const BULK_MESSAGES = 128;
const BULK_BYTES = 64 << 10;

/** The chunk of a batch waiting for its replies. */
interface PendingChunk {
  readonly first: number;
  readonly last: number;
  reply(seq: number, errno: number): void;
  fail(errno: number): void;
}

const RTM_NEWLINK = 16;
const parseFull = (m: NetlinkMessage): rt.Message => rt.parseMessage(m.type, m.data);
/** Links read for what a Link holds (link-lite.ts), on the little-endian hosts it reads; the package's full parse elsewhere. */
const parseLinkReply = (m: NetlinkMessage): rt.Message => (m.type === RTM_NEWLINK && LITTLE_ENDIAN ? parseLinkLite(m.data) : parseFull(m));

const isErrno = (e: unknown, ...errnos: number[]): e is NetlinkError => e instanceof NetlinkError && errnos.includes(e.errno);

class RtnlClient implements Netlink {
  private readonly sock: NetlinkSocket;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Settles when close() is called, so an in-flight request fails at once instead of at its timeout. */
  private readonly closedSignal = new AbortController();
  /** The socket of batched writes (writeBatch), opened on first use; its replies are read by wire.ts. */
  private batchSock: RawNetlinkSocket | undefined;
  private encoder = new WireEncoder();
  private batchSeq = 1;
  private pending: PendingChunk | undefined;
  /** This client's open watches, paused during a bulk write. */
  private readonly watches = new Set<NetlinkWatch>();

  constructor(private readonly opts: NetlinkOptions) {
    this.log = (opts.log ?? silentLogger).child({ component: 'netlink' });
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.sock = createNetlink(Protocol.ROUTE, { ref: false, recvBufferSize: 0, sendBufferSize: 0 });
    // Without a listener an 'error' event would throw; request failures reach their callers on their own.
    this.sock.on('error', (err) => this.log.warn({ err }, 'netlink socket error'));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closedSignal.abort();
    this.sock.close();
    this.pending?.fail(E.EBADF);
    this.batchSock?.close();
  }

  // ------------------------------------------------------------ request plumbing

  /** Runs requests one at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Sends one request and returns the reply messages (none for an ACK); kernel errors become NetlinkError. */
  private request(op: NetlinkOp, object: string, req: Request): Promise<NetlinkMessage[]> {
    return this.serial(async () => {
      const closedError = (): NetlinkError => new NetlinkError(op, object, E.EBADF, { detail: 'netlink socket closed' });
      if (this.closed) throw closedError();
      const onClose = (): void => rejectClosed(closedError());
      let rejectClosed: (e: NetlinkError) => void = () => undefined;
      const closed = new Promise<never>((_, reject) => (rejectClosed = reject));
      this.closedSignal.signal.addEventListener('abort', onClose, { once: true });
      try {
        const reply = this.sock.request(req.type, encodeBody(req.body), {
          flags: req.flags,
          checkError: false,
          timeout: this.timeoutMs,
        });
        reply.catch(() => undefined); // may settle after close() has already failed the request
        const [msgs] = await Promise.race([reply, closed]);
        const first = msgs[0];
        if (first?.type !== NlMessageType.ERROR) return msgs;
        const { errno } = parseError(first.data, first.flags);
        if (errno !== 0) throw new NetlinkError(op, object, -errno);
        return [];
      } catch (e) {
        throw toNetlinkError(op, object, e);
      } finally {
        this.closedSignal.signal.removeEventListener('abort', onClose);
      }
    });
  }

  /** A dump, parsed; retried when the kernel flags it as interrupted by a concurrent change. */
  private async dump<T>(op: NetlinkOp, object: string, req: Request, pick: (m: rt.Message) => T | undefined, parse: (m: NetlinkMessage) => rt.Message = parseFull): Promise<T[]> {
    for (let attempt = 1; ; attempt++) {
      const msgs = await this.request(op, object, req);
      if (msgs.some((m) => m.flags & Flags.DUMP_INTR) && attempt < DUMP_ATTEMPTS) continue;
      if (msgs.some((m) => m.flags & Flags.DUMP_INTR)) {
        throw new NetlinkError(op, object, E.EINTR, { detail: 'dump kept being interrupted by concurrent changes' });
      }
      const out: T[] = [];
      for (const m of msgs) {
        let v: T | undefined;
        try {
          v = pick(parse(m));
        } catch (e) {
          throw toNetlinkError(op, object, e);
        }
        if (v !== undefined) out.push(v);
      }
      return out;
    }
  }

  /** The ifindex of a device reference; a missing device is ENODEV for `op` on `object`. */
  private async ifindex(op: NetlinkOp, object: string, dev: DevRef): Promise<number> {
    if (typeof dev === 'number') return dev;
    const link = await this.getLink(dev);
    if (!link) throw new NetlinkError(op, object, E.ENODEV, { detail: `no device named ${dev}` });
    return link.index;
  }

  /** Like ifindex, but undefined when the device is gone (for deletes, where absent means done). */
  private async ifindexIfPresent(op: NetlinkOp, object: string, dev: DevRef): Promise<number | undefined> {
    try {
      return await this.ifindex(op, object, dev);
    } catch (e) {
      if (isErrno(e, E.ENODEV)) return undefined;
      throw e;
    }
  }

  // ------------------------------------------------------------ batched writes

  private batchSocket(): RawNetlinkSocket {
    if (this.batchSock) return this.batchSock;
    const sock = new RawNetlinkSocket(Protocol.ROUTE, { recvBufferSize: 1 << 20, sendBufferSize: 0 });
    sock.unref();
    sock.on('message', (buf: Buffer) => {
      const p = this.pending;
      if (!p) return;
      for (const r of parseReplies(buf)) if (r.seq >= p.first && r.seq <= p.last) p.reply(r.seq, r.errno);
    });
    // ENOBUFS: some replies were dropped, so the chunk's silent messages can no longer be taken as done.
    sock.on('error', (err) => {
      if (err.errno !== E.ENOBUFS) this.log.warn({ err }, 'netlink batch socket error');
      this.pending?.fail(err.errno || E.ENOBUFS);
    });
    this.batchSock = sock;
    return sock;
  }

  writeBatch(writes: readonly NetlinkWrite[]): Promise<number[]> {
    return this.serial(async () => {
      const out = new Array<number>(writes.length).fill(0);
      if (this.closed) return out.fill(E.EBADF);
      const sock = this.batchSocket();
      const bulk = writes.length >= BULK_WRITES;
      const maxMessages = bulk ? BULK_MESSAGES : BATCH_MESSAGES;
      const maxBytes = bulk ? BULK_BYTES : BATCH_BYTES;
      const paused = bulk ? [...this.watches] : [];
      for (const w of paused) w.pause();
      try {
        await this.writeChunks(sock, writes, out, maxMessages, maxBytes, !bulk);
      } finally {
        for (const w of paused) w.resume();
      }
      return out;
    });
  }

  private async writeChunks(sock: RawNetlinkSocket, writes: readonly NetlinkWrite[], out: number[], maxMessages: number, maxBytes: number, paced: boolean): Promise<void> {
    for (let i = 0; i < writes.length; ) {
      const enc = this.encoder;
      enc.reset();
      if (this.batchSeq > 0x7fff0000) this.batchSeq = 1;
      const first = this.batchSeq;
      const index: number[] = [];
      for (; i < writes.length && index.length < maxMessages && enc.length < maxBytes; i++) {
        try {
          enc.append(writes[i]!, first + index.length);
          index.push(i);
        } catch {
          out[i] = E.EINVAL; // refused before sending; the caller's single write names the field
        }
      }
      if (index.length === 0) continue;
      enc.ackLast();
      const last = first + index.length - 1;
      this.batchSeq = last + 1;
      for (const k of index) out[k] = -1; // unanswered so far
      const ok = await new Promise<boolean>((resolve) => {
        const settle = (errno: number): void => {
          clearTimeout(timer);
          this.pending = undefined;
          for (const k of index) if (out[k] === -1) out[k] = errno;
          sock.unref();
          resolve(errno === 0);
        };
        const timer = setTimeout(() => settle(E.ETIMEDOUT), this.timeoutMs);
        this.pending = {
          first,
          last,
          reply: (seq, errno) => {
            out[index[seq - first]!] = errno;
            if (seq === last) settle(0);
          },
          fail: settle,
        };
        sock.ref();
        sock.send(enc.bytes(), {}, (err) => err && this.pending?.fail(err.errno || E.EPROTO));
      });
      // The native send may still hold the old buffer after a failure: never write into it again.
      if (!ok) this.encoder = new WireEncoder();
      if (this.closed) break;
      if (paced && i < writes.length) await new Promise<void>((r) => setImmediate(r));
    }
  }

  // ------------------------------------------------------------ links

  async ensureVxlan(spec: VxlanSpec, opts: VxlanOptions = {}): Promise<Link> {
    const devIndex = spec.dev === undefined ? undefined : await this.ifindex('createLink', `vxlan ${spec.name}`, spec.dev);
    const want = vxlanWant(spec, devIndex);
    const req = linkCreateReq(spec.name, vxlanLinkInfo(want), spec);
    return this.ensureLink(spec.name, describeVxlan(want), req, (have) => vxlanIncompat(want, have), opts.onIncompat ?? 'fail');
  }

  async ensureBridge(spec: BridgeSpec): Promise<Link> {
    const req = linkCreateReq(spec.name, kindLinkInfo('bridge'), spec);
    const incompat = (have: Link): string | undefined => (have.kind === 'bridge' ? undefined : `kind bridge != ${have.kind ?? 'none'}`);
    return this.ensureLink(spec.name, `bridge ${spec.name}`, req, incompat, 'fail');
  }

  /** Create; on EEXIST accept a compatible device, else fail or recreate it. */
  private async ensureLink(
    name: string,
    object: string,
    req: Request,
    incompat: (have: Link) => string | undefined,
    onIncompat: 'fail' | 'recreate',
  ): Promise<Link> {
    try {
      await this.request('createLink', object, req);
    } catch (e) {
      if (!isErrno(e, E.EEXIST)) throw e;
      const have = await this.getLink(name);
      // EEXIST without a device of that name: another device holds the identity (e.g. the same VNI and port).
      if (!have) throw e;
      const diff = incompat(have);
      if (diff === undefined) return have;
      if (onIncompat === 'fail') throw new LinkIncompatError(name, diff);
      this.log.warn({ dev: name, diff }, 'recreating incompatible link');
      await this.deleteLink(have.index);
      await this.request('createLink', object, req);
    }
    const link = await this.getLink(name);
    if (!link) throw new NetlinkError('createLink', object, E.ENODEV, { detail: 'device vanished after creation' });
    return link;
  }

  async setLink(dev: DevRef, change: LinkChange): Promise<void> {
    const parts = [describeLink(dev)];
    if (change.mac !== undefined) parts.push(`address ${change.mac}`);
    if (change.mtu !== undefined) parts.push(`mtu ${change.mtu}`);
    if (change.up !== undefined) parts.push(change.up ? 'up' : 'down');
    await this.request('setLink', parts.join(' '), linkSetReq(dev, change));
  }

  async deleteLink(dev: DevRef): Promise<boolean> {
    try {
      await this.request('deleteLink', describeLink(dev), linkDelReq(dev));
      return true;
    } catch (e) {
      if (isErrno(e, E.ENODEV)) return false;
      throw e;
    }
  }

  async getLink(dev: DevRef): Promise<Link | undefined> {
    const object = describeLink(dev);
    let msgs: NetlinkMessage[];
    try {
      msgs = await this.request('getLink', object, linkGetReq(dev));
    } catch (e) {
      if (isErrno(e, E.ENODEV)) return undefined;
      throw e;
    }
    try {
      for (const m of msgs) {
        const parsed = parseLinkReply(m);
        if (parsed.kind === 'link') return parseLink(parsed);
      }
    } catch (e) {
      throw toNetlinkError('getLink', object, e);
    }
    return undefined;
  }

  dumpLinks(): Promise<Link[]> {
    return this.dump('dumpLinks', 'links', dumpReq('link'), (m) => (m.kind === 'link' ? parseLink(m) : undefined), parseLinkReply);
  }

  // ------------------------------------------------------------ addresses

  async addAddr(a: AddrSpec): Promise<void> {
    const object = describeAddr(a.cidr, a.dev);
    const ifindex = await this.ifindex('addAddr', object, a.dev);
    try {
      await this.request('addAddr', object, addrReq('add', a.cidr, ifindex));
    } catch (e) {
      if (!isErrno(e, E.EEXIST)) throw e; // the same address and prefix length on the same device
    }
  }

  async deleteAddr(a: AddrSpec): Promise<boolean> {
    const object = describeAddr(a.cidr, a.dev);
    const ifindex = await this.ifindexIfPresent('deleteAddr', object, a.dev);
    if (ifindex === undefined) return false;
    try {
      await this.request('deleteAddr', object, addrReq('del', a.cidr, ifindex));
      return true;
    } catch (e) {
      if (isErrno(e, E.EADDRNOTAVAIL, E.ENODEV)) return false;
      throw e;
    }
  }

  async dumpAddrs(filter: DevFilter = {}): Promise<Addr[]> {
    const af = filter.family ? afOf(filter.family) : AF_UNSPEC;
    const all = await this.dump('dumpAddrs', 'addresses', dumpReq('address', af), (m) =>
      m.kind === 'address' ? parseAddr(m) : undefined,
    );
    return all.filter((a) => filter.ifindex === undefined || a.ifindex === filter.ifindex);
  }

  // ------------------------------------------------------------ routes

  /** The output device of a route as an ifindex, when it names one. */
  private async routeDev(op: NetlinkOp, r: Route): Promise<number | undefined> {
    if (r.ifindex !== undefined || r.dev === undefined) return r.ifindex;
    return this.ifindex(op, describeRoute(r), r.dev);
  }

  async addRoute(r: Route): Promise<void> {
    const object = describeRoute(r);
    const ifindex = await this.routeDev('addRoute', r);
    const want = { ...canonicalRoute(r), ...(ifindex !== undefined ? { ifindex } : {}) };
    try {
      await this.request('addRoute', object, routeReq('add', r, ifindex));
    } catch (e) {
      if (!isErrno(e, E.EEXIST)) throw e;
      const key = routeKey(want);
      const have = (await this.dumpRoutes({ family: want.family, table: want.table ?? TABLE_MAIN })).find((h) => routeKey(h) === key);
      if (!have) throw e;
      const diff = routeDiff(want, have);
      if (diff !== undefined) throw new NetlinkError('addRoute', object, E.EEXIST, { cause: e, detail: `exists with ${diff}` });
    }
  }

  async replaceRoute(r: Route): Promise<void> {
    const ifindex = await this.routeDev('replaceRoute', r);
    await this.request('replaceRoute', describeRoute(r), routeReq('replace', r, ifindex));
  }

  async deleteRoute(r: Route): Promise<boolean> {
    try {
      const ifindex = await this.routeDev('deleteRoute', r);
      await this.request('deleteRoute', describeRoute(r), routeReq('del', r, ifindex));
      return true;
    } catch (e) {
      // Absent route (ESRCH; ENOENT on some paths) or absent device: either way the route is gone.
      if (isErrno(e, E.ESRCH, E.ENOENT, E.ENODEV)) return false;
      throw e;
    }
  }

  async dumpRoutes(filter: RouteFilter = {}): Promise<Route[]> {
    const af = filter.family ? afOf(filter.family) : AF_UNSPEC;
    const table = filter.table ?? TABLE_MAIN;
    const all = await this.dump('dumpRoutes', 'routes', dumpReq('route', af), (m) => (m.kind === 'route' ? parseRoute(m) : undefined));
    return all.filter(
      (r) =>
        (table === 'all' || (r.table ?? TABLE_MAIN) === table) &&
        (filter.ifindex === undefined || r.ifindex === filter.ifindex),
    );
  }

  // ------------------------------------------------------------ neighbours

  async addNeigh(n: NeighSpec): Promise<void> {
    const object = describeNeigh(n);
    const ifindex = await this.ifindex('addNeigh', object, n.dev);
    try {
      await this.request('addNeigh', object, neighReq('add', { ...n, ifindex }));
    } catch (e) {
      if (!isErrno(e, E.EEXIST)) throw e;
      const ip = canonicalIp(n.ip, 'ip');
      const have = (await this.dumpNeighs({ ifindex })).find((h) => h.ip === ip);
      if (have?.mac === canonicalMac(n.mac) && have.state === 'permanent') return;
      const detail = `exists with lladdr ${have?.mac ?? 'none'} ${have?.state ?? ''}`.trimEnd();
      throw new NetlinkError('addNeigh', object, E.EEXIST, { cause: e, detail });
    }
  }

  async replaceNeigh(n: NeighSpec): Promise<void> {
    const object = describeNeigh(n);
    const ifindex = await this.ifindex('replaceNeigh', object, n.dev);
    await this.request('replaceNeigh', object, neighReq('replace', { ...n, ifindex }));
  }

  async deleteNeigh(n: Pick<NeighSpec, 'ip' | 'dev'>): Promise<boolean> {
    const object = describeNeigh(n);
    const ifindex = await this.ifindexIfPresent('deleteNeigh', object, n.dev);
    if (ifindex === undefined) return false;
    try {
      await this.request('deleteNeigh', object, neighReq('del', { ip: n.ip, ifindex }));
      return true;
    } catch (e) {
      if (isErrno(e, E.ENOENT, E.ENODEV)) return false;
      throw e;
    }
  }

  async dumpNeighs(filter: DevFilter = {}): Promise<Neigh[]> {
    // One dump per family: an AF_UNSPEC neighbour dump would include every bridge FDB as well.
    const out: Neigh[] = [];
    for (const fam of filter.family ? [filter.family] : ([4, 6] as const)) {
      const got = await this.dump('dumpNeighs', `neighbours ipv${fam}`, dumpReq('neighbor', afOf(fam)), (m) =>
        m.kind === 'neighbor' ? parseNeigh(m) : undefined,
      );
      out.push(...got.filter((n) => filter.ifindex === undefined || n.ifindex === filter.ifindex));
    }
    return out;
  }

  // ------------------------------------------------------------ FDB

  async addFdb(f: FdbSpec): Promise<void> {
    const object = describeFdb(f);
    const ifindex = await this.ifindex('addFdb', object, f.dev);
    try {
      await this.request('addFdb', object, fdbReq('add', { ...f, ifindex }));
    } catch (e) {
      if (!isErrno(e, E.EEXIST)) throw e; // the same MAC with the same destination
    }
  }

  async deleteFdb(f: FdbSpec): Promise<boolean> {
    const object = describeFdb(f);
    const ifindex = await this.ifindexIfPresent('deleteFdb', object, f.dev);
    if (ifindex === undefined) return false;
    try {
      await this.request('deleteFdb', object, fdbReq('del', { ...f, ifindex }));
      return true;
    } catch (e) {
      if (isErrno(e, E.ENOENT, E.ENODEV)) return false;
      throw e;
    }
  }

  async dumpFdb(filter: { readonly ifindex?: number } = {}): Promise<Fdb[]> {
    const all = await this.dump('dumpFdb', 'fdb', dumpReq('neighbor', AF_BRIDGE), (m) => (m.kind === 'neighbor' ? parseFdb(m) : undefined));
    return all.filter((f) => filter.ifindex === undefined || f.ifindex === filter.ifindex);
  }

  // ------------------------------------------------------------ notifications

  watch(opts: WatchOptions): AsyncIterable<NetlinkEvent> {
    const object = `groups ${opts.groups.join(',')}`;
    let sock: NetlinkSocket;
    try {
      sock = createNetlink(Protocol.ROUTE, { ref: true, recvBufferSize: this.opts.watchRecvBuffer ?? 4 << 20, sendBufferSize: 0 });
    } catch (e) {
      throw toNetlinkError('watch', object, e);
    }
    const w = new NetlinkWatch(opts, sock, this.log);
    if (!opts.signal.aborted) {
      // (an aborted signal closed it already: nothing to pause, and no onClose would remove it)
      this.watches.add(w);
      w.onClose = () => this.watches.delete(w);
    }
    return w;
  }
}
