// Authentication, first part: client certificates (CN the user, O the groups) verified against
// --client-ca-file, and bearer tokens from --token-auth-file (kube-apiserver's CSV: token,user,uid,"g1,g2").
// A certificate that does not verify, or a token not in the file, is a 401; with the AlwaysAllow
// authorizer there are no anonymous requests (as kube-apiserver resets --anonymous-auth then).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { FlannelError } from '../core/index.js';

export interface UserInfo {
  readonly name: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  /** user.Info's extra (set by impersonation's Impersonate-Extra-* headers). */
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

export class TokenFileError extends FlannelError {
  readonly code = 'TOKEN_FILE';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/** One CSV record as Go's encoding/csv reads it (double quotes, "" for a quote inside them). */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur === '') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** The token file: token → user. Fewer than 3 columns on a line is an error naming the line, as kube-apiserver's. */
export function parseTokenFile(text: string): Map<string, UserInfo> {
  const users = new Map<string, UserInfo>();
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    const rec = parseCsvLine(raw);
    if (rec.length < 3) throw new TokenFileError(i + 1, `token file line ${i + 1}: must have at least 3 columns (token, user name, user uid), found ${rec.length}`);
    const [token, name, uid, groups] = rec as [string, string, string, string | undefined];
    if (token === '' || users.has(token)) return; // kube-apiserver skips these with a warning
    users.set(token, { name, uid, groups: groups ? groups.split(',').filter(Boolean) : [] });
  });
  return users;
}

/** The user of a verified client certificate's subject: CN the name, every O a group. */
export function certUser(subject: Record<string, string | string[] | undefined>): UserInfo | undefined {
  const cn = subject.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (!name) return undefined;
  const o = subject.O;
  return { name, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] };
}

/** The failure reason of a request that carries neither a certificate nor a token (anonymous, when allowed). */
export const NO_CREDENTIALS = 'no credentials';

export type AuthResult = { readonly ok: true; readonly user: UserInfo } | { readonly ok: false; readonly reason: string };

/** What a connection's client certificate says: a user, why it is refused, or nothing (no certificate). */
type CertIdentity = { readonly user: UserInfo } | { readonly failure: string } | undefined;

export class Authenticator {
  // Per TLS connection: its peer certificate is fixed once the handshake is done (the server never
  // renegotiates), and reading it (getPeerCertificate) on every request of a keep-alive connection costs.
  private readonly bySocket = new WeakMap<object, CertIdentity>();

  constructor(private readonly tokens: ReadonlyMap<string, UserInfo>) {}

  private certIdentity(sock: Partial<TLSSocket>): CertIdentity {
    if (typeof sock.getPeerCertificate !== 'function') return undefined;
    if (this.bySocket.has(sock)) return this.bySocket.get(sock);
    let id: CertIdentity;
    const cert = sock.getPeerCertificate();
    if (cert && Object.keys(cert).length > 0) {
      if (sock.authorized) {
        const user = certUser(cert.subject as unknown as Record<string, string | string[]>);
        id = user ? { user: { ...user, groups: [...user.groups, 'system:authenticated'] } } : { failure: 'client certificate has no common name' };
      } else id = { failure: `client certificate not verified: ${String(sock.authorizationError ?? 'unknown authority')}` };
    }
    this.bySocket.set(sock, id);
    return id;
  }

  authenticate(req: IncomingMessage): AuthResult {
    const id = this.certIdentity(req.socket as Partial<TLSSocket>);
    if (id && 'user' in id) return { ok: true, user: id.user };
    const certFailure = id?.failure;
    const h = req.headers.authorization;
    if (h && /^bearer\s+/i.test(h)) {
      const user = this.tokens.get(h.replace(/^bearer\s+/i, '').trim());
      if (user) return { ok: true, user: { ...user, groups: [...user.groups, 'system:authenticated'] } };
      return { ok: false, reason: 'invalid bearer token' };
    }
    return { ok: false, reason: certFailure ?? NO_CREDENTIALS };
  }
}
