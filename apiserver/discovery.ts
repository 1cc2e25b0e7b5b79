// Discovery documents as kubectl reads them: /api (APIVersions), /apis (APIGroupList) and
// /api/v1, /apis/<group>/<version> (APIResourceList with short names, categories, verbs and
// subresources). Plain JSON only: kubectl 1.27+ asks for the aggregated apidiscovery.k8s.io/v2 form
// first, and reads the plain documents when the answer's Content-Type is application/json. Pure.
import type { KindDef } from './registry/index.js';

export const KUBE_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' } as const;

/** /version: what `kubectl version` prints as the server's version. */
export function versionInfo(): Record<string, string> {
  return {
    major: KUBE_VERSION.major,
    minor: KUBE_VERSION.minor,
    gitVersion: KUBE_VERSION.gitVersion,
    gitCommit: '70d3cc986aa8221cd1dfb1121852688902d3bf53',
    gitTreeState: 'clean',
    buildDate: '2024-12-11T17:59:15Z',
    goVersion: 'go1.23.3',
    compiler: 'gc',
    platform: KUBE_VERSION.platform,
  };
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

/** The named groups (every group but the core one), each with its versions. */
export function apiGroupList(kinds: readonly KindDef[]): Record<string, unknown> {
  const groups = new Map<string, string[]>();
  for (const k of kinds) {
    if (k.group === '') continue;
    const vs = groups.get(k.group) ?? [];
    if (!vs.includes(k.version)) vs.push(k.version);
    groups.set(k.group, vs);
  }
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups].map(([name, vs]) => apiGroup(name, vs)) };
}

function apiGroup(name: string, versions: readonly string[]): Record<string, unknown> {
  const gv = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: gv, preferredVersion: gv[0] };
}

/** /apis/<group>: the group alone, or undefined when it is not served. */
export function apiGroupDoc(kinds: readonly KindDef[], group: string): Record<string, unknown> | undefined {
  const vs = [...new Set(kinds.filter((k) => k.group === group).map((k) => k.version))];
  return vs.length && group !== '' ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, vs) } : undefined;
}

/** /api/v1 or /apis/<group>/<version>, or undefined when that group version is not served. */
export function apiResourceList(kinds: readonly KindDef[], group: string, version: string): Record<string, unknown> | undefined {
  const mine = kinds.filter((k) => k.group === group && k.version === version);
  if (mine.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const k of mine) {
    resources.push({
      name: k.resource,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: k.verbs,
      ...(k.shortNames.length && { shortNames: k.shortNames }),
      ...(k.categories.length && { categories: k.categories }),
    });
    for (const s of k.subresources) {
      resources.push({
        name: `${k.resource}/${s.name}`,
        singularName: '',
        namespaced: k.namespaced,
        ...(s.kind && { group: '', version: 'v1' }),
        kind: s.kind ?? k.kind,
        verbs: s.verbs,
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}
