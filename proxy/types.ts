// The proxy's own model of services and endpoints, translated once from the v1 objects in etcd
// (kube-proxy's ServicePort / Endpoint), plus the errors that cross the proxy's module boundaries.
import { FlannelError } from '../common/index.js';

export type Protocol = 'tcp' | 'udp';

/** `<namespace>/<name>` of a Service (and of its Endpoints). */
export type ServiceName = string;
/** `<namespace>/<name>:<port name>`: one port of one service; the unit the proxy programs. */
export type ServicePortKey = string;

export interface ServicePortInfo {
  readonly key: ServicePortKey;
  readonly service: ServiceName;
  /** The port's name ('' when the service has one unnamed port). */
  readonly portName: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** Undefined for a headless service and for one whose IP is not allocated yet. */
  readonly clusterIP?: string;
  readonly nodePort?: number;
  /** spec.externalIPs: frontends on these addresses too, at `port`, masqueraded like node ports. */
  readonly externalIPs?: readonly string[];
  /** status.loadBalancer.ingress[].ip (type LoadBalancer): frontends as the external IPs. */
  readonly loadBalancerIPs?: readonly string[];
  /** spec.loadBalancerSourceRanges: who may reach the LoadBalancer addresses (all when absent). */
  readonly sourceRanges?: readonly string[];
  /** externalTrafficPolicy Local: outside traffic to node ports and external addresses goes to this node's endpoints, unmasqueraded. */
  readonly externalLocal?: boolean;
  /** internalTrafficPolicy Local: the ClusterIP goes to this node's endpoints only. */
  readonly internalLocal?: boolean;
  /** spec.healthCheckNodePort (LoadBalancer with externalTrafficPolicy Local). */
  readonly healthCheckNodePort?: number;
  /** Seconds, when sessionAffinity is ClientIP. */
  readonly affinityTimeout?: number;
  /** Orders services that claim the same IP:port or node port: the oldest wins, on every node alike. */
  readonly createdAt: string;
}

export interface EndpointInfo {
  readonly ip: string;
  readonly port: number;
  /** The pod runs on this node (hairpin masquerade is only needed for these). */
  readonly local: boolean;
}

/** Thrown at the parse boundary for a Service or Endpoints object the proxy cannot use. */
export class ObjectSpecError extends FlannelError {
  readonly code = 'OBJECT_SPEC';
  constructor(
    readonly key: string,
    readonly path: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`${key}: ${path} ${reason} (got ${JSON.stringify(value)})`);
  }
}

export { NftError } from '../nft/index.js';

/** A ClusterIP or node port range has nothing left, or a reservation kept losing races. */
export class AllocationError extends FlannelError {
  readonly code = 'ALLOCATION';
  constructor(
    readonly service: ServiceName,
    readonly what: 'clusterIP' | 'nodePort',
    readonly reason: string,
    override readonly transient: boolean,
  ) {
    super(`${service}: cannot allocate a ${what}: ${reason}`);
  }
}

