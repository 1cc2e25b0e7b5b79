// What a pod's spec asks of Docker beyond resources: a host-network pod's sandbox shares the node's network
// namespace (dockershim's NetworkMode "host", no hostname or port bindings of its own, the node's address as
// the pod's), and a container's securityContext becomes Docker's Privileged, CapAdd and CapDrop (the names
// with CAP_ prefixed, as dockershim passed them; Docker accepts both spellings).
import type { Container, Pod } from '../cluster/index.js';

export const isHostNetwork = (pod: Pod): boolean => pod.spec.hostNetwork === true;

export interface DockerSecurity {
  Privileged?: boolean;
  CapAdd?: string[];
  CapDrop?: string[];
}

const capName = (c: string): string => (/^(CAP_|ALL$)/i.test(c) ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

/** Pure: the container's securityContext (privileged, capabilities.add/drop) as Docker HostConfig fields. */
export function dockerSecurity(c: Container): DockerSecurity {
  const sc = c.securityContext;
  if (typeof sc !== 'object' || sc === null) return {};
  const s = sc as { privileged?: unknown; capabilities?: { add?: unknown; drop?: unknown } };
  const out: DockerSecurity = {};
  if (s.privileged === true) out.Privileged = true;
  const add = strings(s.capabilities?.add).map(capName);
  const drop = strings(s.capabilities?.drop).map(capName);
  if (add.length) out.CapAdd = add;
  if (drop.length) out.CapDrop = drop;
  return out;
}
