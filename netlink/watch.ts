// Link and route change notifications as an async iterable bounded by an AbortSignal.
//
// Each watch owns its own socket, joined to the RTNLGRP_* groups, so notifications never interleave with
// request replies and dumps on the request socket. That socket is created with `ref: true`: npm `netlink`
// otherwise unrefs an idle socket (it only holds the event loop while a request is pending), and a process
// whose only work is waiting for notifications would simply exit. Closing the socket (on abort, on the
// consumer leaving its `for await`, or on a socket error) releases the event loop again.
import { MessageType as NlMessageType, rt, type ErrnoException, type NetlinkMessage } from './pkg.js';
import type { Logger } from '../common/index.js';
import { isNewEntry, parseEvent } from './codec.js';
import { NetlinkError, errnoOf, toNetlinkError } from './errors.js';
import type { NetlinkEvent, WatchGroup, WatchOptions } from './types.js';

const GROUPS: Readonly<Record<WatchGroup, rt.MulticastGroups>> = {
  link: rt.MulticastGroups.LINK,
  'ipv4-route': rt.MulticastGroups.IPV4_ROUTE,
  'ipv6-route': rt.MulticastGroups.IPV6_ROUTE,
  neigh: rt.MulticastGroups.NEIGH,
};

/** What a watch needs of npm `netlink`'s NetlinkSocket (created with `ref: true`). */
export interface WatchSocket {
  on(event: 'message', listener: (msgs: NetlinkMessage[]) => void): unknown;
  on(event: 'error', listener: (err: ErrnoException) => void): unknown;
  addMembership(group: number): void;
  dropMembership(group: number): void;
  close(): void;
}

const OVERFLOW: NetlinkEvent = { kind: 'overflow' };
const ENOBUFS = errnoOf('ENOBUFS');

export class NetlinkWatch implements AsyncIterable<NetlinkEvent> {
  private readonly queue: NetlinkEvent[] = [];
  private readonly max: number;
  private readonly onlyDeletions: boolean;
  private readonly object: string;
  private waiter: (() => void) | undefined;
  private closed = false;
  private iterating = false;
  private failure: Error | undefined;
  private readonly signal: AbortSignal;
  private readonly groups: readonly rt.MulticastGroups[];
  private paused = false;
  /** Called once when the watch closes (its client stops pausing it). */
  onClose: (() => void) | undefined;
  private readonly onAbort = (): void => {
    this.queue.length = 0; // aborting means stop now, not drain
    this.close();
  };

  constructor(
    opts: WatchOptions,
    private readonly sock: WatchSocket,
    private readonly log: Logger,
  ) {
    this.max = Math.max(1, opts.maxQueued ?? 4096);
    this.onlyDeletions = opts.onlyDeletions === true;
    this.object = `groups ${opts.groups.join(',')}`;
    this.signal = opts.signal;
    this.groups = [...new Set(opts.groups)].map((g) => GROUPS[g]);
    sock.on('message', (msgs) => this.receive(msgs));
    sock.on('error', (err) => {
      if (err.errno === ENOBUFS) return this.push(OVERFLOW); // the kernel dropped notifications for us
      this.failure = new NetlinkError('watch', this.object, err.errno, { cause: err });
      this.close();
    });
    if (opts.signal.aborted) {
      this.close();
      return;
    }
    opts.signal.addEventListener('abort', this.onAbort, { once: true });
    try {
      for (const g of this.groups) sock.addMembership(g);
    } catch (e) {
      this.close();
      throw toNetlinkError('watch', this.object, e);
    }
  }

  private receive(msgs: NetlinkMessage[]): void {
    for (const m of msgs) {
      if (m.type === NlMessageType.ERROR || m.type === NlMessageType.DONE || m.type === NlMessageType.NOOP) continue;
      if (this.onlyDeletions && isNewEntry(m.type)) continue;
      let ev: NetlinkEvent | undefined;
      try {
        ev = parseEvent(m.type, m.data);
      } catch (err) {
        this.log.warn({ err, type: m.type }, 'unparsable netlink notification');
        continue;
      }
      if (ev) this.push(ev);
    }
  }

  private push(ev: NetlinkEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.max) {
      // The consumer fell behind: drop what is queued and tell it to resync from a dump.
      this.queue.length = 0;
      this.queue.push(OVERFLOW);
      this.log.warn({ max: this.max }, 'netlink event queue overflow');
    }
    if (ev !== OVERFLOW || this.queue.at(-1) !== OVERFLOW) this.queue.push(ev);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /**
   * Leaves the groups for a while (a bulk write of our own, whose thousands of announcements would
   * outrun this socket); resume() joins them again and reports an overflow, since changes made by
   * others meanwhile went unseen.
   */
  pause(): void {
    if (this.closed || this.paused) return;
    this.paused = true;
    this.setMembership(false);
  }

  resume(): void {
    if (this.closed || !this.paused) return;
    this.paused = false;
    if (this.setMembership(true)) this.push(OVERFLOW);
  }

  /** Joins or leaves every group; a failure ends the watch, whose consumer sees it as the iteration's error. */
  private setMembership(join: boolean): boolean {
    try {
      for (const g of this.groups) {
        if (join) this.sock.addMembership(g);
        else this.sock.dropMembership(g);
      }
      return true;
    } catch (e) {
      this.failure = toNetlinkError('watch', this.object, e);
      this.close();
      return false;
    }
  }

  /** Closes the subscription socket; the iteration ends after the events already queued. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose?.();
    this.signal.removeEventListener('abort', this.onAbort);
    this.sock.close();
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<NetlinkEvent> {
    if (this.iterating) throw new Error('a netlink watch has a single consumer');
    this.iterating = true;
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.closed) {
          if (this.failure) throw this.failure;
          return;
        }
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    } finally {
      this.close();
    }
  }
}
