// Service-account tokens: RS256 JWTs (jwt.ts) with Kubernetes' claims (claims.ts), the keys that sign and
// verify them (keys.ts), the TokenRequest subresource's spec (token-request.ts), and the issuer and
// authenticator over them (tokens.ts).
export { decodeJwt, keyId, signJwt, verifyJwtSignature, type DecodedJwt, type JwtPayload } from './jwt.js';
export { checkClaims, LEEWAY_SEC, makeClaims, SA_GROUP, SA_USER_PREFIX, serviceAccountUser, serviceAccountUsername, type ClaimsResult, type TokenBinding } from './claims.js';
export { loadServiceAccountKeys, publicKeysOf, ServiceAccountKeyError, type ServiceAccountKeys } from './keys.js';
export { DEFAULT_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS, tokenRequestAnswer, tokenRequestSpec, type BoundRef, type SpecProblem, type TokenRequestSpec } from './token-request.js';
export { LOOKUP_TTL_MS, ServiceAccountTokenAuthenticator, TokenIssuer, type TokenAnswer, type TokenConfig, type UidLookup } from './tokens.js';
