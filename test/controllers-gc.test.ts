// The garbage collector's pure part (owner states, what to do with a dependent, foreground blocking,
// the patches) and the apiserver's finalizers for a DELETE's propagation policy.
import { describe, expect, it } from 'vitest';
import { deletionFinalizers, defaultPolicy } from '../apiserver/gc-policy.js';
import { blockingDependents, decide, type GraphNode, graphNodeOf, ownerState, removeFinalizerPatch, removeOwnersPatch } from '../controllers/index.js';

const ref = (uid: string, block = true) => ({ apiVersion: 'v1', kind: 'ReplicationController', name: `rc-${uid}`, uid, controller: true, blockOwnerDeletion: block });
const obj = (uid: string, o: { owners?: ReturnType<typeof ref>[]; deleting?: boolean; finalizers?: string[] } = {}) => ({
  metadata: { name: `n-${uid}`, namespace: 'default', uid, ...(o.owners && { ownerReferences: o.owners }), ...(o.deleting && { deletionTimestamp: 'T' }), ...(o.finalizers && { finalizers: o.finalizers }) },
});
const gn = (uid: string, o: Parameters<typeof obj>[1] = {}): GraphNode => graphNodeOf(obj(uid, o), 'v1', 'Pod', '7')!;

describe('garbage collector decisions', () => {
  it('reads a graph node, kind and version from the resource when the object does not say', () => {
    expect(gn('p', { owners: [ref('rc')] })).toEqual({ uid: 'p', apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'n-p', resourceVersion: '7', owners: [ref('rc')], deleting: false, finalizers: [] });
    expect(graphNodeOf({ metadata: { name: 'x' } }, 'v1', 'Pod', '1')).toBeUndefined();
  });

  it('classifies owners: in the graph (waiting when deleted in the foreground), else as the API said', () => {
    const graph = new Map([
      ['rc', gn('rc')],
      ['fg', gn('fg', { deleting: true, finalizers: ['foregroundDeletion'] })],
    ]);
    expect(ownerState(ref('rc'), graph, undefined)).toBe('solid');
    expect(ownerState(ref('fg'), graph, undefined)).toBe('waiting');
    expect(ownerState(ref('gone'), graph, undefined)).toBe('unknown');
    expect(ownerState(ref('gone'), graph, true)).toBe('dangling');
    expect(ownerState(ref('gone'), graph, false)).toBe('solid');
  });

  it('deletes a dependent whose owners are all gone, keeps one with a live owner, and drops dangling references', () => {
    const p = gn('p', { owners: [ref('a'), ref('b')] });
    expect(decide(p, ['dangling', 'dangling'], false)).toEqual({ type: 'delete', policy: 'Background' });
    expect(decide(p, ['solid', 'solid'], false)).toEqual({ type: 'none' });
    expect(decide(p, ['solid', 'dangling'], false)).toEqual({ type: 'removeOwners', uids: ['b'] });
    expect(decide(p, ['waiting', 'solid'], false)).toEqual({ type: 'removeOwners', uids: ['a'] });
    expect(decide(p, ['waiting', 'dangling'], true)).toEqual({ type: 'delete', policy: 'Foreground' });
    expect(decide(p, ['waiting', 'dangling'], false)).toEqual({ type: 'delete', policy: 'Background' });
    expect(decide(p, ['unknown', 'dangling'], false)).toEqual({ type: 'none' });
    expect(decide(gn('q', { owners: [ref('a')], deleting: true }), ['dangling'], false)).toEqual({ type: 'none' });
  });

  it('waits in a foreground deletion only for dependents that block it', () => {
    const owner = gn('rc');
    const deps = [gn('p1', { owners: [ref('rc')] }), gn('p2', { owners: [ref('rc', false)] }), gn('p3', { owners: [ref('other')] })];
    expect(blockingDependents(owner, deps).map((d) => d.uid)).toEqual(['p1']);
  });

  it('patches pinned to the version read', () => {
    const p = gn('p', { owners: [ref('a'), ref('b')], finalizers: ['orphan', 'x/y'] });
    expect(removeOwnersPatch(p, ['a'])).toEqual({ metadata: { resourceVersion: '7', ownerReferences: [ref('b')] } });
    expect(removeFinalizerPatch(p, 'orphan')).toEqual({ metadata: { resourceVersion: '7', finalizers: ['x/y'] } });
  });
});

describe("the apiserver's deletion finalizers", () => {
  const rc = { group: '', version: 'v1', resource: 'replicationcontrollers' };
  const rs = { group: 'apps', version: 'v1', resource: 'replicasets' };
  it('defaults v1 ReplicationControllers and batch/v1 Jobs to orphan, apps/v1 and the rest to background', () => {
    expect(defaultPolicy(rc)).toBe('Orphan');
    expect(defaultPolicy({ group: 'batch', version: 'v1', resource: 'jobs' })).toBe('Orphan');
    expect(defaultPolicy({ group: 'extensions', version: 'v1beta1', resource: 'deployments' })).toBe('Orphan');
    expect(defaultPolicy(rs)).toBe('Background');
    expect(defaultPolicy({ group: 'apps', version: 'v1', resource: 'deployments' })).toBe('Background');
    expect(defaultPolicy({ group: '', version: 'v1', resource: 'pods' })).toBe('Background');
  });

  it('sets the finalizer the policy calls for, replacing the other, and respects one already there', () => {
    expect(deletionFinalizers([], {}, rc)).toEqual(['orphan']);
    expect(deletionFinalizers([], {}, rs)).toEqual([]);
    expect(deletionFinalizers(['x/y'], { propagationPolicy: 'Foreground' }, rs)).toEqual(['x/y', 'foregroundDeletion']);
    expect(deletionFinalizers(['foregroundDeletion'], { propagationPolicy: 'Orphan' }, rs)).toEqual(['orphan']);
    expect(deletionFinalizers(['orphan'], { propagationPolicy: 'Background' }, rc)).toEqual([]);
    expect(deletionFinalizers(['foregroundDeletion'], {}, rc)).toEqual(['foregroundDeletion']);
    expect(deletionFinalizers([], { orphanDependents: true }, rs)).toEqual(['orphan']);
    expect(deletionFinalizers([], { orphanDependents: false }, rc)).toEqual([]);
  });
});
