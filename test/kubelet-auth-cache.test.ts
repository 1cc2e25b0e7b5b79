// The kubelet server's delegated authentication and authorization caches, as the kubelet keeps them: a
// TokenReview answer per token for --authentication-token-webhook-cache-ttl, a SubjectAccessReview answer
// per user and attributes for --authorization-webhook-cache-authorized-ttl (allowed) or -unauthorized-ttl
// (denied); a failed review is not cached. The reviews go to a counting fake of the apiserver's answers.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { KubeletAuth, nodeAttributes, type ReviewClient, runningContainer, LookupError, type User } from '../kubelet/server/index.js';
import type { Pod } from '../cluster/index.js';

type Obj = Record<string, unknown>;

/** Answers TokenReviews and SubjectAccessReviews by `decide`, counting them. */
function reviews(decide: (body: Obj) => Obj): ReviewClient & { calls: Obj[] } {
  const calls: Obj[] = [];
  return {
    calls,
    request(_method: string, _path: string, o: { body: unknown }): Promise<unknown> {
      calls.push(o.body as Obj);
      try {
        return Promise.resolve(decide(o.body as Obj));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    },
  };
}

const bearer = (token: string): IncomingMessage => ({ headers: { authorization: `Bearer ${token}` }, socket: {} }) as unknown as IncomingMessage;
const ALICE: User = { name: 'alice', groups: ['system:authenticated'] };
const BOB: User = { name: 'bob', groups: ['system:authenticated'] };
const TTL = { tokenTtlMs: 120_000, allowedTtlMs: 300_000, deniedTtlMs: 30_000 };

describe("the kubelet's token review cache", () => {
  it('reviews a token once for its TTL, and again after', async () => {
    let now = 0;
    const api = reviews((b) => ({ status: { authenticated: true, user: { username: `user-of-${String((b.spec as Obj).token)}`, groups: ['g'] } } }));
    const auth = new KubeletAuth({ anonymous: false, tokenReviews: api, ...TTL, now: () => now });
    expect(await auth.authenticate(bearer('t1'))).toEqual({ user: { name: 'user-of-t1', groups: ['g'] } });
    now += 119_999;
    expect(await auth.authenticate(bearer('t1'))).toEqual({ user: { name: 'user-of-t1', groups: ['g'] } });
    expect(api.calls).toHaveLength(1);
    // Another token is its own entry.
    await auth.authenticate(bearer('t2'));
    expect(api.calls).toHaveLength(2);
    now += 1;
    await auth.authenticate(bearer('t1'));
    expect(api.calls).toHaveLength(3);
  });

  it('caches a refusal as a verdict, but asks again after a failed review', async () => {
    let fail = true;
    const api = reviews(() => {
      if (fail) throw new Error('apiserver down');
      return { status: { authenticated: false, error: 'token expired' } };
    });
    const auth = new KubeletAuth({ anonymous: false, tokenReviews: api, ...TTL, now: () => 0 });
    await expect(auth.authenticate(bearer('t'))).rejects.toThrow(/apiserver down/);
    fail = false;
    expect(await auth.authenticate(bearer('t'))).toEqual({ failure: 'token expired' });
    expect(await auth.authenticate(bearer('t'))).toEqual({ failure: 'token expired' });
    expect(api.calls).toHaveLength(2);
  });
});

describe("the kubelet's access review cache", () => {
  const exec = nodeAttributes('POST', '/exec/default/web/c', 'node-a');
  const logs = nodeAttributes('GET', '/containerLogs/default/web/c', 'node-a');

  it('keeps an allowed answer per user and attributes for the authorized TTL', async () => {
    let now = 0;
    const api = reviews(() => ({ status: { allowed: true } }));
    const auth = new KubeletAuth({ anonymous: false, accessReviews: api, ...TTL, now: () => now });
    expect(await auth.authorize(ALICE, exec)).toEqual({ allowed: true });
    expect(await auth.authorize(ALICE, exec)).toEqual({ allowed: true });
    expect(api.calls).toHaveLength(1);
    // Other attributes, another user, other groups: each its own review.
    await auth.authorize(ALICE, logs);
    await auth.authorize(BOB, exec);
    await auth.authorize({ ...ALICE, groups: ['system:masters'] }, exec);
    expect(api.calls).toHaveLength(4);
    now += 299_999;
    await auth.authorize(ALICE, exec);
    expect(api.calls).toHaveLength(4);
    now += 1;
    await auth.authorize(ALICE, exec);
    expect(api.calls).toHaveLength(5);
    const spec = api.calls[0]!.spec as Obj;
    expect(spec.user).toBe('alice');
    expect(spec.resourceAttributes).toEqual({ verb: 'create', group: '', version: 'v1', resource: 'nodes', subresource: 'proxy', name: 'node-a' });
  });

  it('keeps a denial for the unauthorized TTL only, and does not cache a failed review', async () => {
    let now = 0;
    let answer: 'deny' | 'allow' | 'fail' = 'fail';
    const api = reviews(() => {
      if (answer === 'fail') throw new Error('webhook unreachable');
      return { status: { allowed: answer === 'allow', ...(answer === 'deny' && { reason: 'no RBAC rule' }) } };
    });
    const auth = new KubeletAuth({ anonymous: false, accessReviews: api, ...TTL, now: () => now });
    await expect(auth.authorize(ALICE, logs)).rejects.toThrow(/webhook unreachable/);
    answer = 'deny';
    expect(await auth.authorize(ALICE, logs)).toEqual({ allowed: false, reason: 'no RBAC rule' });
    expect(api.calls).toHaveLength(2);
    answer = 'allow';
    now += 29_999;
    expect(await auth.authorize(ALICE, logs)).toEqual({ allowed: false, reason: 'no RBAC rule' });
    expect(api.calls).toHaveLength(2);
    now += 1;
    expect(await auth.authorize(ALICE, logs)).toEqual({ allowed: true });
    expect(api.calls).toHaveLength(3);
  });
});

describe("exec's container among the pod's running ones", () => {
  const pod = { metadata: { name: 'web', namespace: 'default', uid: 'u1' }, spec: { containers: [{ name: 'c' }, { name: 'side' }] } } as unknown as Pod;
  const running = [
    { id: 'new', name: 'c', restartCount: 2, created: 20 },
    { id: 'old', name: 'c', restartCount: 1, created: 10 },
  ];

  it('is the newest instance of the named container', () => {
    expect(runningContainer(pod, running, 'c').id).toBe('new');
  });

  it("is the kubelet's 400 when the container is not running, 404 when the pod has no such container", () => {
    expect(() => runningContainer(pod, running, 'side')).toThrow(new LookupError(400, 'container "side" in pod "web" is not running'));
    expect(() => runningContainer(pod, running, 'nope')).toThrow(LookupError);
    try {
      runningContainer(pod, running, 'nope');
    } catch (e) {
      expect((e as LookupError).status).toBe(404);
    }
  });
});
