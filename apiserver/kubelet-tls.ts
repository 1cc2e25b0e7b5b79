// The apiserver's TLS to the kubelets: one SecureContext for every dial (the PEMs parsed and the CA loaded
// once, not per connection), and the newest TLS session each kubelet (host:port) issued offered again on the
// next dial, so that an exec, attach or port-forward (each its own connection) resumes instead of repeating
// the full handshake with both certificates signed and verified. A kubelet that refuses the session (it
// restarted, its tickets expired) gets a full handshake, as without the cache; the kubelet still sees the
// client certificate of a resumed session (the session holds it and its verification).
import type { Socket } from 'node:net';
import { type ConnectionOptions, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';

/** Node's TLS server keeps a session (and honours its tickets) for 300 s by default; older ones are not offered. */
export const SESSION_TTL_MS = 300_000;
const MAX_SESSIONS = 1024;

/** The newest session per key, each for ttlMs; bounded (the oldest key goes first). Pure apart from now(). */
export class TlsSessionCache {
  private readonly m = new Map<string, { session: Buffer; until: number }>();
  constructor(
    private readonly ttlMs = SESSION_TTL_MS,
    private readonly now: () => number = Date.now,
    private readonly max = MAX_SESSIONS,
  ) {}

  get(key: string): Buffer | undefined {
    const e = this.m.get(key);
    if (!e) return undefined;
    if (e.until > this.now()) return e.session;
    this.m.delete(key);
    return undefined;
  }

  set(key: string, session: Buffer): void {
    this.m.delete(key);
    if (this.m.size >= this.max) this.m.delete(this.m.keys().next().value!);
    this.m.set(key, { session, until: this.now() + this.ttlMs });
  }

  delete(key: string): void {
    this.m.delete(key);
  }

  get size(): number {
    return this.m.size;
  }
}

export interface KubeletTlsConfig {
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly ca?: Buffer;
}

export class KubeletTls {
  private readonly context: SecureContext;
  private readonly sessions: TlsSessionCache;

  constructor(
    private readonly c: KubeletTlsConfig,
    sessions = new TlsSessionCache(),
  ) {
    this.context = createSecureContext({ ...(c.cert && { cert: c.cert }), ...(c.key && { key: c.key }), ...(c.ca && { ca: c.ca }) });
    this.sessions = sessions;
  }

  /** tls.connect / https.request options for a dial to host:port (the cached session offered, if any). */
  options(host: string, port: number): ConnectionOptions {
    const session = this.sessions.get(`${host}:${port}`);
    return {
      secureContext: this.context,
      ...(this.c.ca ? { rejectUnauthorized: true } : { rejectUnauthorized: false }),
      ...(isIP(host) === 0 && { servername: host }),
      ...(session && { session }),
    };
  }

  /** Keeps each session the kubelet issues on `socket` for the next dial; forgets it when the handshake fails. */
  track(socket: TLSSocket | Socket, host: string, port: number): void {
    const key = `${host}:${port}`;
    let secure = false;
    socket.once('secureConnect', () => (secure = true));
    socket.on('session', (s: Buffer) => this.sessions.set(key, s));
    socket.once('error', () => {
      if (!secure) this.sessions.delete(key);
    });
  }
}
