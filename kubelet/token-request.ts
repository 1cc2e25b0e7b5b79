// The kubelet's TokenRequest: a token for the pod's service account, bound to the pod, asked of the API
// server (POST .../serviceaccounts/<name>/token), as the kubelet's token manager does.
import type { ApiClient } from '../cluster/index.js';
import type { IssuedToken, TokenRequestArgs } from './projected.js';

type Obj = Record<string, unknown>;

/** The TokenRequest body for one projection. Pure. */
export function tokenRequestBody(r: TokenRequestArgs): Obj {
  return {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: {
      audiences: r.audience ? [r.audience] : [],
      expirationSeconds: r.expirationSeconds,
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: r.podName, uid: r.podUid },
    },
  };
}

export function apiTokenRequester(client: ApiClient): (r: TokenRequestArgs) => Promise<IssuedToken> {
  return async (r) => {
    const path = `/api/v1/namespaces/${encodeURIComponent(r.namespace)}/serviceaccounts/${encodeURIComponent(r.serviceAccount)}/token`;
    const got = (await client.request('POST', path, { body: tokenRequestBody(r), attempts: 2 })) as Obj;
    const status = typeof got.status === 'object' && got.status !== null ? (got.status as Obj) : {};
    const token = typeof status.token === 'string' ? status.token : '';
    const exp = Date.parse(typeof status.expirationTimestamp === 'string' ? status.expirationTimestamp : '');
    if (!token || Number.isNaN(exp)) throw new Error(`the TokenRequest for ${r.namespace}/${r.serviceAccount} was answered without a token and its expiry`);
    return { token, expiresAtMs: exp };
  };
}
