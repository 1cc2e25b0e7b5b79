// JSON Web Tokens signed with RS256 (RFC 7519, 7515), as kube-apiserver's service-account tokens are.
// Written over node:crypto rather than taken from a library: a compact JWS is two base64url JSON parts
// and a crypto.sign over them, and only RS256 is ever made or accepted here. Pure apart from crypto.
import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

export type JwtPayload = Record<string, unknown>;

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** The key id kube-apiserver puts in a token's header: base64url(SHA-256(the public key's DER SubjectPublicKeyInfo)). */
export function keyId(key: KeyObject): string {
  let id = kids.get(key);
  if (id === undefined) {
    const pub = key.type === 'private' ? createPublicKey(key) : key;
    id = b64url(createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest());
    kids.set(key, id);
  }
  return id;
}
// Every token verified asks for the kid of each key: computed once per key.
const kids = new WeakMap<KeyObject, string>();

/** A compact JWS of `payload`, RS256 with `key` (an RSA private key), its kid in the header. */
export function signJwt(payload: JwtPayload, key: KeyObject): string {
  const input = `${b64url(JSON.stringify({ alg: 'RS256', kid: keyId(key) }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
}

export interface DecodedJwt {
  readonly header: Record<string, unknown>;
  readonly payload: JwtPayload;
  readonly signingInput: string;
  readonly signature: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function jsonPart(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The parts of a compact JWS, unverified; undefined when the text is not one (three base64url parts, JSON header and payload). */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return undefined;
  const header = jsonPart(parts[0]!);
  const payload = jsonPart(parts[1]!);
  if (!header || !payload) return undefined;
  return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
}

/**
 * Whether a decoded token's signature is RS256 by one of `keys` (public or private): the key its kid names
 * first, then every other (a key file given without kid bookkeeping). Any other alg is refused.
 */
export function verifyJwtSignature(jwt: DecodedJwt, keys: readonly KeyObject[]): boolean {
  if (jwt.header.alg !== 'RS256') return false;
  const kid = typeof jwt.header.kid === 'string' ? jwt.header.kid : undefined;
  const ordered = kid ? [...keys.filter((k) => keyId(k) === kid), ...keys.filter((k) => keyId(k) !== kid)] : keys;
  const input = Buffer.from(jwt.signingInput);
  return ordered.some((k) => {
    try {
      return verify('sha256', input, k, jwt.signature);
    } catch {
      return false;
    }
  });
}
