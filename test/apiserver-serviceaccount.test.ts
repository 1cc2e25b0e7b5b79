// Service-account tokens (JWT make/verify, Kubernetes' claims, the authenticator's object checks), the
// TokenRequest spec, and the ServiceAccount admission plugin's mutation.
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../apiserver/auth.js';
import { ApiError } from '../apiserver/errors.js';
import { checkClaims, decodeJwt, keyId, loadServiceAccountKeys, makeClaims, publicKeysOf, ServiceAccountTokenAuthenticator, signJwt, TokenIssuer, tokenRequestSpec, verifyJwtSignature, type UidLookup } from '../apiserver/serviceaccount/index.js';
import { mountApiAccess, serviceAccountAdmission, TOKEN_MOUNT_PATH } from '../apiserver/admission/index.js';
import type { AdmissionAttributes } from '../apiserver/admission/index.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ISS = 'https://kubernetes.default.svc.cluster.local';
const binding = { namespace: 'ns1', serviceAccount: { name: 'sa1', uid: 'sa-uid' }, pod: { name: 'p1', uid: 'pod-uid' } };

describe('JWT', () => {
  it('signs RS256 with the kid of the public key, verifies with it, and refuses another key or a changed payload', () => {
    const t = signJwt({ sub: 'x', n: 1 }, privateKey);
    const d = decodeJwt(t)!;
    expect(d.header).toEqual({ alg: 'RS256', kid: keyId(publicKey) });
    expect(keyId(privateKey)).toBe(keyId(publicKey));
    expect(d.payload).toEqual({ sub: 'x', n: 1 });
    expect(verifyJwtSignature(d, [publicKey])).toBe(true);
    expect(verifyJwtSignature(d, [other.publicKey])).toBe(false);
    expect(verifyJwtSignature(d, [other.publicKey, publicKey])).toBe(true);
    const [h, , s] = t.split('.');
    const forged = decodeJwt(`${h}.${Buffer.from(JSON.stringify({ sub: 'admin', n: 1 })).toString('base64url')}.${s}`)!;
    expect(verifyJwtSignature(forged, [publicKey])).toBe(false);
  });

  it('refuses alg none and texts that are not a JWS', () => {
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`;
    expect(verifyJwtSignature(decodeJwt(none)!, [publicKey])).toBe(false);
    for (const bad of ['', 'abc', 'a.b', 'a.b.c.d', '!!.!!.!!', `${Buffer.from('[1]').toString('base64url')}.e30.x`]) expect(decodeJwt(bad)).toBeUndefined();
  });
});

describe('claims', () => {
  const claims = makeClaims({ issuer: ISS, audiences: ['api', 'vault'], binding, nowSec: 1000, expirationSeconds: 3600, jti: 'j1' });
  it('are the ones Kubernetes writes', () => {
    expect(claims).toEqual({
      aud: ['api', 'vault'],
      exp: 4600,
      iat: 1000,
      iss: ISS,
      jti: 'j1',
      nbf: 1000,
      sub: 'system:serviceaccount:ns1:sa1',
      'kubernetes.io': { namespace: 'ns1', pod: { name: 'p1', uid: 'pod-uid' }, serviceaccount: { name: 'sa1', uid: 'sa-uid' } },
    });
  });
  it('check issuer, time (with a minute of leeway), audience and subject', () => {
    const ok = checkClaims(claims, { issuers: [ISS], audiences: ['api'], nowSec: 2000 });
    expect(ok).toEqual({ ok: true, binding, audiences: ['api'], jti: 'j1' });
    expect(checkClaims(claims, { issuers: ['https://other'], audiences: ['api'], nowSec: 2000 }).ok).toBe(false);
    expect(checkClaims(claims, { issuers: [ISS], audiences: ['api'], nowSec: 4650 }).ok).toBe(true);
    expect(checkClaims(claims, { issuers: [ISS], audiences: ['api'], nowSec: 4661 })).toEqual({ ok: false, reason: 'token has expired' });
    expect(checkClaims(claims, { issuers: [ISS], audiences: ['api'], nowSec: 900 })).toEqual({ ok: false, reason: 'token is not valid yet' });
    expect(checkClaims(claims, { issuers: [ISS], audiences: ['other'], nowSec: 2000 })).toMatchObject({ ok: false, reason: expect.stringMatching(/audience/) });
    expect(checkClaims({ ...claims, sub: 'system:serviceaccount:ns1:admin' }, { issuers: [ISS], audiences: ['api'], nowSec: 2000 }).ok).toBe(false);
  });
});

describe('the service-account token authenticator', () => {
  const objects = new Map<string, string>([['serviceaccounts/ns1/sa1', 'sa-uid'], ['pods/ns1/p1', 'pod-uid']]);
  let now = 1_000_000;
  const lookup: UidLookup = async (r, ns, n) => objects.get(`${r}/${ns}/${n}`);
  const cfg = { issuers: [ISS], apiAudiences: [ISS] };
  const issuer = new TokenIssuer(privateKey, cfg, () => now);
  const authn = new ServiceAccountTokenAuthenticator([publicKey], cfg, lookup, () => now);

  it('authenticates a bound token as the account, with the pod as extra', async () => {
    const { token, expiresAt } = issuer.issue(binding, [ISS], 3600);
    expect(expiresAt.getTime()).toBe(now + 3600_000);
    const got = await authn.authenticate(token);
    expect(got).toMatchObject({
      user: {
        name: 'system:serviceaccount:ns1:sa1',
        uid: 'sa-uid',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:ns1', 'system:authenticated'],
        extra: { 'authentication.kubernetes.io/pod-name': ['p1'], 'authentication.kubernetes.io/pod-uid': ['pod-uid'], 'authentication.kubernetes.io/credential-id': [expect.stringMatching(/^JTI=/)] },
      },
      audiences: [ISS],
    });
  });

  it('refuses it once the pod or account is gone or replaced (after the lookup cache expires), or once expired', async () => {
    const { token } = issuer.issue(binding, [ISS], 3600);
    expect(await authn.authenticate(token)).toHaveProperty('user');
    objects.set('pods/ns1/p1', 'new-pod-uid');
    now += 5_000;
    expect(await authn.authenticate(token)).toEqual({ failure: expect.stringMatching(/pod ns1\/p1 uid/) });
    objects.delete('pods/ns1/p1');
    now += 5_000;
    expect(await authn.authenticate(token)).toEqual({ failure: expect.stringMatching(/pod ns1\/p1 has been deleted/) });
    objects.set('pods/ns1/p1', 'pod-uid');
    objects.delete('serviceaccounts/ns1/sa1');
    now += 5_000;
    expect(await authn.authenticate(token)).toEqual({ failure: expect.stringMatching(/serviceaccount ns1\/sa1 has been deleted/) });
    objects.set('serviceaccounts/ns1/sa1', 'sa-uid');
    expect(await authn.authenticate(token)).toHaveProperty('user');
    now += 3600_000 + 61_000;
    expect(await authn.authenticate(token)).toEqual({ failure: 'invalid bearer token, token has expired' });
  });

  it('refuses a token signed by another key or for another audience; another issuer is not its business', async () => {
    const { token } = new TokenIssuer(other.privateKey, cfg, () => now).issue(binding, [ISS], 3600);
    expect(await authn.authenticate(token)).toEqual({ failure: expect.stringMatching(/invalid bearer token/) });
    const { token: vault } = issuer.issue(binding, ['vault'], 3600);
    expect(await authn.authenticate(vault)).toEqual({ failure: expect.stringMatching(/audiences/) });
    expect(await authn.authenticate(vault, ['vault'])).toMatchObject({ audiences: ['vault'] });
    expect(await authn.authenticate(signJwt({ iss: 'https://elsewhere' }, privateKey))).toBeUndefined();
    expect(await authn.authenticate('not-a-jwt')).toBeUndefined();
  });

  it('behind the Authenticator: the token file first, then the JWTs; the file is good for the API audiences only', async () => {
    const a = new Authenticator(new Map([['secret', { name: 'alice', groups: ['dev'] }]]), authn, [ISS]);
    expect(await a.authenticateToken('secret')).toEqual({ ok: true, user: { name: 'alice', groups: ['dev', 'system:authenticated'] }, audiences: [ISS] });
    expect(await a.authenticateToken('secret', ['vault'])).toMatchObject({ ok: false });
    expect(await a.authenticateToken('nope')).toEqual({ ok: false, reason: 'invalid bearer token' });
    const { token } = issuer.issue(binding, [ISS], 3600);
    expect(await a.authenticateToken(token)).toMatchObject({ ok: true, user: { name: 'system:serviceaccount:ns1:sa1' } });
  });
});

describe('TokenRequest spec', () => {
  it('defaults audiences to the API and the lifetime to an hour, capped by the maximum', () => {
    expect(tokenRequestSpec({ spec: { audiences: null, expirationSeconds: null } }, ['api'], 0)).toEqual({ spec: { audiences: ['api'], expirationSeconds: 3600 } });
    expect(tokenRequestSpec({ spec: { audiences: ['x'], expirationSeconds: 86400 } }, ['api'], 7200)).toEqual({ spec: { audiences: ['x'], expirationSeconds: 7200 } });
  });
  it('refuses less than 10 minutes and binds only pods and secrets', () => {
    expect(tokenRequestSpec({ spec: { expirationSeconds: 599 } }, ['api'], 0)).toEqual({ problems: [{ field: 'spec.expirationSeconds', value: 599, detail: 'may not specify a duration less than 10 minutes' }] });
    expect(tokenRequestSpec({ spec: { boundObjectRef: { kind: 'Deployment', apiVersion: 'apps/v1', name: 'd' } } }, ['api'], 0)).toEqual({ badRequest: 'cannot bind token to object of type apps/v1, Kind=Deployment' });
    expect(tokenRequestSpec({ spec: { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p', uid: 'u' } } }, ['api'], 0)).toEqual({
      spec: { audiences: ['api'], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p', uid: 'u' } },
    });
  });
});

describe('service-account keys', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sa-keys-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  it('are made once in --cert-dir (the private key 0600) and kept', async () => {
    const a = await loadServiceAccountKeys(dir, undefined, []);
    expect((await stat(path.join(dir, 'sa.key'))).mode & 0o777).toBe(0o600);
    const b = await loadServiceAccountKeys(dir, undefined, []);
    expect(keyId(b.signing)).toBe(keyId(a.signing));
    expect(b.verifying.map(keyId)).toEqual([keyId(a.signing)]);
    expect(publicKeysOf(await readFile(path.join(dir, 'sa.pub'), 'utf8'), 'sa.pub').map(keyId)).toEqual([keyId(a.signing)]);
  });
  it('verify with every key of the key files; a file with no key, or a non-RSA signing key, is an error naming it', async () => {
    const f = path.join(dir, 'both.pem');
    await writeFile(f, `${publicKey.export({ type: 'spki', format: 'pem' }).toString()}\n${other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()}`);
    const k = await loadServiceAccountKeys(dir, undefined, [f]);
    expect(k.verifying.map(keyId)).toEqual([keyId(publicKey), keyId(createPublicKey(other.privateKey))]);
    await writeFile(path.join(dir, 'empty.pem'), 'nothing here');
    await expect(loadServiceAccountKeys(dir, undefined, [path.join(dir, 'empty.pem')])).rejects.toThrow(/empty\.pem: no public keys found/);
    const ec = path.join(dir, 'ec.key');
    await writeFile(ec, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    await expect(loadServiceAccountKeys(dir, ec, [])).rejects.toThrow(/ec\.key: the signing key is ec; .*RSA/);
  });
});

describe('ServiceAccount admission', () => {
  const accounts = new Map<string, Record<string, unknown>>([
    ['ns1/default', { metadata: { name: 'default' } }],
    ['ns1/quiet', { metadata: { name: 'quiet' }, automountServiceAccountToken: false }],
  ]);
  const plugin = serviceAccountAdmission(async (ns, n) => accounts.get(`${ns}/${n}`), () => 'abcde');
  const attrs = (object: Record<string, unknown>, resource = 'pods'): AdmissionAttributes => ({
    operation: 'CREATE',
    resource: { group: '', version: 'v1', resource, kind: 'Pod', namespaced: true },
    subresource: '',
    namespace: 'ns1',
    name: 'p',
    user: { name: 'u', groups: [] },
    dryRun: false,
    object,
    oldObject: undefined,
  });

  it('gives a pod the default account and the kube-api-access volume, mounted read-only in every container', async () => {
    const pod = { metadata: { name: 'p' }, spec: { initContainers: [{ name: 'i' }], containers: [{ name: 'a' }, { name: 'b', volumeMounts: [{ name: 'x', mountPath: '/x' }] }], volumes: [{ name: 'x', emptyDir: {} }] } };
    await plugin.admit!(attrs(pod));
    const mount = { name: 'kube-api-access-abcde', readOnly: true, mountPath: TOKEN_MOUNT_PATH };
    expect(pod.spec).toEqual({
      serviceAccountName: 'default',
      serviceAccount: 'default',
      initContainers: [{ name: 'i', volumeMounts: [mount] }],
      containers: [{ name: 'a', volumeMounts: [mount] }, { name: 'b', volumeMounts: [{ name: 'x', mountPath: '/x' }, mount] }],
      volumes: [
        { name: 'x', emptyDir: {} },
        {
          name: 'kube-api-access-abcde',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
      ],
    });
  });

  it('refuses a pod naming a missing account with 403, as Kubernetes words it', async () => {
    const e = await plugin.admit!(attrs({ metadata: { name: 'p' }, spec: { serviceAccountName: 'ghost', containers: [{ name: 'a' }] } }))?.then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).httpStatus).toBe(403);
    expect((e as ApiError).message).toBe('pods "p" is forbidden: error looking up service account ns1/ghost: serviceaccount "ghost" not found');
  });

  it('mounts nothing when the pod or the account turns automount off, or a container mounts the path itself', async () => {
    const off = { metadata: {}, spec: { automountServiceAccountToken: false, containers: [{ name: 'a' }] } };
    await plugin.admit!(attrs(off));
    expect(off.spec).toEqual({ automountServiceAccountToken: false, serviceAccountName: 'default', serviceAccount: 'default', containers: [{ name: 'a' }] });
    const quiet = { metadata: {}, spec: { serviceAccountName: 'quiet', containers: [{ name: 'a' }] } };
    await plugin.admit!(attrs(quiet));
    expect(quiet.spec).not.toHaveProperty('volumes');
    const own = { containers: [{ name: 'a', volumeMounts: [{ name: 'mine', mountPath: TOKEN_MOUNT_PATH }] }], volumes: [{ name: 'mine', emptyDir: {} }] };
    expect(mountApiAccess(own)).toBe(false);
    expect(own.volumes).toHaveLength(1);
  });

  it('leaves mirror pods and other kinds alone, and refuses a mirror pod naming an account', async () => {
    const mirror = { metadata: { annotations: { 'kubernetes.io/config.mirror': 'h' } }, spec: { containers: [{ name: 'a' }] } };
    await plugin.admit!(attrs(mirror));
    expect(mirror.spec).toEqual({ containers: [{ name: 'a' }] });
    await expect(plugin.admit!(attrs({ metadata: { annotations: { 'kubernetes.io/config.mirror': 'h' } }, spec: { serviceAccountName: 'default', containers: [] } }))).rejects.toThrow(/a mirror pod may not reference service accounts/);
    const rc = { metadata: {}, spec: { containers: [{ name: 'a' }] } };
    await plugin.admit!(attrs(rc, 'replicationcontrollers'));
    expect(rc.spec).toEqual({ containers: [{ name: 'a' }] });
  });
});
