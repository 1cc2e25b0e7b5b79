// Discovery documents as kubectl reads them: /api (APIVersions), /apis (APIGroupList) and
// /api/v1, /apis/<group>/<version> (APIResourceList with short names, categories, verbs and
// subresources). Plain JSON only: kubectl 1.27+ asks for the aggregated apidiscovery.k8s.io/v2 form
// first, and reads the plain documents when the answer's Content-Type is application/json. Pure.
import { groupVersion, type ResourceDef } from './kinds/index.js';

/** What discovery lists of a kind: its ResourceDef (a Strategy, or an older version's view of one). */
export interface Listed {
  readonly def: ResourceDef;
}

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

/** A subresource as discovery lists it: its verbs, and its kind when it is not the parent's. */
interface SubresourceDoc {
  readonly verbs: readonly string[];
  readonly kind?: string;
  /** The group/version of that kind, when it is another group's (autoscaling/v1 Scale). */
  readonly group?: string;
  readonly version?: string;
}

const PROXY_VERBS = ['create', 'delete', 'get', 'patch', 'update'];
/** What kube-apiserver's discovery says of each subresource it serves (the parent's kind unless named). */
const SUBRESOURCES: Readonly<Record<string, SubresourceDoc>> = {
  status: { verbs: ['get', 'patch', 'update'] },
  scale: { verbs: ['get', 'patch', 'update'], kind: 'Scale', group: 'autoscaling', version: 'v1' },
  binding: { verbs: ['create'], kind: 'Binding' },
  log: { verbs: ['get'], kind: 'Pod' },
  exec: { verbs: ['create', 'get'], kind: 'PodExecOptions' },
  attach: { verbs: ['create', 'get'], kind: 'PodAttachOptions' },
  portforward: { verbs: ['create', 'get'], kind: 'PodPortForwardOptions' },
  finalize: { verbs: ['update'] },
  token: { verbs: ['create'], kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1' },
};
const PROXY_KINDS: Readonly<Record<string, string>> = { pods: 'PodProxyOptions', nodes: 'NodeProxyOptions', services: 'ServiceProxyOptions' };

function subresourceDoc(s: Listed, sub: string): SubresourceDoc {
  if (sub === 'proxy') return { verbs: PROXY_VERBS, kind: PROXY_KINDS[s.def.resource] ?? `${s.def.kind}ProxyOptions` };
  return SUBRESOURCES[sub] ?? { verbs: ['get'] };
}

/**
 * The group versions served, core first. autoscaling/v1 is not among them: it appears only as the group of
 * the Scale kind of `.../scale` (kubectl refuses a listed group version that has no resources, and this
 * apiserver serves no HorizontalPodAutoscaler yet).
 */
export function servedGroupVersions(kinds: readonly Listed[]): string[] {
  return [...new Set(kinds.map((k) => groupVersion(k.def)))];
}

const splitGv = (gv: string): [string, string] => (gv.includes('/') ? [gv.slice(0, gv.indexOf('/')), gv.slice(gv.indexOf('/') + 1)] : ['', gv]);

/** The named groups (every group but the core one), each with its versions. */
export function apiGroupList(kinds: readonly Listed[]): Record<string, unknown> {
  const groups = new Map<string, string[]>();
  for (const gv of servedGroupVersions(kinds)) {
    const [group, version] = splitGv(gv);
    if (group === '') continue;
    const vs = groups.get(group) ?? [];
    if (!vs.includes(version)) vs.push(version);
    groups.set(group, vs);
  }
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups].map(([name, vs]) => apiGroup(name, vs)) };
}

function apiGroup(name: string, versions: readonly string[]): Record<string, unknown> {
  const gv = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: gv, preferredVersion: gv[0] };
}

/** /apis/<group>: the group alone, or undefined when it is not served. */
export function apiGroupDoc(kinds: readonly Listed[], group: string): Record<string, unknown> | undefined {
  const vs = servedGroupVersions(kinds)
    .map(splitGv)
    .filter(([g]) => g === group)
    .map(([, v]) => v);
  return vs.length && group !== '' ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, vs) } : undefined;
}

/** /api/v1 or /apis/<group>/<version>, or undefined when that group version is not served. */
export function apiResourceList(kinds: readonly Listed[], group: string, version: string): Record<string, unknown> | undefined {
  const gv = group ? `${group}/${version}` : version;
  if (!servedGroupVersions(kinds).includes(gv)) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const s of kinds.filter((k) => k.def.group === group && k.def.version === version)) {
    const k = s.def;
    resources.push({
      name: k.resource,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: k.verbs,
      ...(k.shortNames.length && { shortNames: k.shortNames }),
      ...(k.categories.length && { categories: k.categories }),
    });
    for (const sub of k.subresources) {
      const d = subresourceDoc(s, sub);
      resources.push({
        name: `${k.resource}/${sub}`,
        singularName: '',
        namespaced: k.namespaced,
        ...(d.group !== undefined && { group: d.group, version: d.version }),
        kind: d.kind ?? k.kind,
        verbs: d.verbs,
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources };
}
