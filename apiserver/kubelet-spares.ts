// One connected, unused connection per kubelet, dialled once a stream proxied to it has ended and kept a short
// while: the next exec, attach or port-forward to that kubelet (a script's execs, kubectl in a loop) writes its
// request at once instead of after TCP's and TLS's handshakes. An idle spare that the kubelet closes, or writes
// anything on (it has been asked nothing), is dropped; one not taken within its time is closed, and none is
// dialled again until the kubelet is used again, so an idle apiserver holds no connections.
import type { Duplex } from 'node:stream';

/** Well inside the idle limits of a kubelet's server (Node's 60 s for a request's headers, Go's longer ones). */
export const SPARE_TTL_MS = 10_000;
const MAX_SPARES = 256;

/** A connection this pool can hold: a net or TLS socket (unref'd while held: a spare keeps no process alive). */
export type SpareSocket = Duplex & { ref(): unknown; unref(): unknown };

interface Held<S extends SpareSocket> {
  socket: S;
  release: () => void;
}

export class SpareConnections<S extends SpareSocket = SpareSocket> {
  private readonly held = new Map<string, Held<S>>();
  private closed = false;

  constructor(
    private readonly ttlMs = SPARE_TTL_MS,
    private readonly max = MAX_SPARES,
  ) {}

  has(key: string): boolean {
    return this.held.has(key);
  }

  get size(): number {
    return this.held.size;
  }

  /** The spare for key, if one is held and alive: it is the caller's now, paused, with none of this pool's listeners. */
  take(key: string): S | undefined {
    const h = this.held.get(key);
    if (!h) return undefined;
    h.release();
    h.socket.ref();
    if (h.socket.destroyed || h.socket.readableEnded || h.socket.writableEnded) {
      h.socket.destroy();
      return undefined;
    }
    return h.socket;
  }

  /** Holds socket as key's spare (a connected one); closes it instead when key has one or the pool is full. */
  offer(key: string, socket: S): void {
    if (this.closed || this.held.has(key) || this.held.size >= this.max || socket.destroyed) {
      socket.destroy();
      return;
    }
    const drop = (): void => {
      release();
      socket.destroy();
    };
    const timer = setTimeout(drop, this.ttlMs);
    timer.unref();
    socket.unref();
    // Flowing, so that the kubelet's close (or a stray answer) is seen while nobody reads.
    socket.on('data', drop);
    socket.once('end', drop);
    socket.once('close', drop);
    socket.once('error', drop);
    const release = (): void => {
      clearTimeout(timer);
      socket.off('data', drop);
      socket.off('end', drop);
      socket.off('close', drop);
      socket.off('error', drop);
      socket.pause();
      if (this.held.get(key)?.socket === socket) this.held.delete(key);
    };
    this.held.set(key, { socket, release });
  }

  /** Closes every spare, and each offered after. */
  close(): void {
    this.closed = true;
    for (const h of [...this.held.values()]) {
      h.release();
      h.socket.destroy();
    }
  }
}
