// Authentication: client certificates (CN the user, O the groups) verified against --client-ca-file,
// bearer tokens from --token-auth-file (kube-apiserver's CSV: token,user,uid,"g1,g2"), and bearer tokens
// that are service-account JWTs (checked by the token authenticator given, which reads storage: async).
// A certificate that does not verify, or a token not in the file, is a 401; with the AlwaysAllow
// authorizer there are no anonymous requests (as kube-apiserver resets --anonymous-auth then).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { FlannelError } from '../core/index.js';

export interface UserInfo {
  readonly name: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  /** user.Info's extra: Impersonate-Extra-* headers; authentication.kubernetes.io/pod-name, ... (service-account tokens bound to a pod). */
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** A bearer-token authenticator beside the token file: a user, a refusal, or undefined when the token is not its kind. */
export interface TokenAuthenticator {
  authenticate(token: string, audiences?: readonly string[]): Promise<{ readonly user: UserInfo; readonly audiences: readonly string[] } | { readonly failure: string } | undefined>;
}

/** A TokenReview's answer: the user and the audiences the token is good for, or why it is refused. */
export type TokenReviewResult = { readonly ok: true; readonly user: UserInfo; readonly audiences: readonly string[] } | { readonly ok: false; readonly reason: string };

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

  constructor(
    private readonly tokens: ReadonlyMap<string, UserInfo>,
    private readonly jwt?: TokenAuthenticator,
    /** --api-audiences: the token file's tokens are good for these (they carry no audience of their own). */
    private readonly apiAudiences: readonly string[] = [],
  ) {}

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

  async authenticate(req: IncomingMessage): Promise<AuthResult> {
    const id = this.certIdentity(req.socket as Partial<TLSSocket>);
    if (id && 'user' in id) return { ok: true, user: id.user };
    const certFailure = id?.failure;
    const h = req.headers.authorization;
    if (h && /^bearer\s+/i.test(h)) {
      const r = await this.authenticateToken(h.replace(/^bearer\s+/i, '').trim());
      return r.ok ? { ok: true, user: r.user } : r;
    }
    return { ok: false, reason: certFailure ?? NO_CREDENTIALS };
  }

  /**
   * A bearer token (a request's, or a TokenReview's with its audiences, the API's when none): the token file
   * first (a map lookup), then the service-account tokens. The token file's are good for the API's audiences only.
   */
  async authenticateToken(token: string, audiences?: readonly string[]): Promise<TokenReviewResult> {
    const user = this.tokens.get(token);
    if (user) {
      const auds = audiences === undefined ? [...this.apiAudiences] : audiences.filter((a) => this.apiAudiences.includes(a));
      if (audiences !== undefined && auds.length === 0) return { ok: false, reason: 'token audiences is invalid for the target audiences' };
      return { ok: true, user: { ...user, groups: [...user.groups, 'system:authenticated'] }, audiences: auds };
    }
    const r = await this.jwt?.authenticate(token, audiences);
    if (r && 'user' in r) return { ok: true, user: r.user, audiences: r.audiences };
    return { ok: false, reason: r?.failure ?? 'invalid bearer token' };
  }
}
