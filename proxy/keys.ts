// Keys the proxy adds under /registry, next to cluster/keys.ts (which it leaves as it is):
// one key per allocated ClusterIP and node port (the reservation, created only if absent, in the
// same transaction that writes the service), and the endpoints maintainer's election key.
import { REGISTRY, object, opt, type Parser, parserOf, str } from '../cluster/index.js';

export const proxyKeys = {
  serviceIp: (ip: string) => `${REGISTRY}/ranges/serviceips/${ip}`,
  serviceIps: () => `${REGISTRY}/ranges/serviceips/`,
  nodePort: (port: number) => `${REGISTRY}/ranges/servicenodeports/${port}`,
  nodePorts: () => `${REGISTRY}/ranges/servicenodeports/`,
  leader: () => `${REGISTRY}/leases/kube-system/kube-proxy-endpoints`,
} as const;

/** What a reservation key holds: the service that owns the IP or port. */
export interface RangeOwner {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export const parseRangeOwner: Parser<RangeOwner> = parserOf(object({ namespace: str, name: str, uid: opt(str) }));
