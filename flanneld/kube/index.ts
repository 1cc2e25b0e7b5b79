// flanneld's Kubernetes subnet manager (--kube-subnet-mgr): the Node's podCIDR is the lease, the
// annotated Nodes are the peers.
export {
  DEFAULT_ANNOTATION_PREFIX,
  type AnnotationNames,
  type NodeView,
  AnnotationPrefixError,
  NodeLeaseError,
  annotationNames,
  podCidrsOf,
  leaseSubnets,
  isManaged,
  nodeToLease,
  ownAnnotations,
  networkUpPatch,
} from './annotations.js';
export { KubeNodeRegistry, leaseOfNodeObject, nodeEvent } from './registry.js';
export { KubeLeaser, type KubeLeaserOptions } from './leaser.js';
export { KubeSetupError, type KubeConnectFlags, kubeConnection, resolveNodeName } from './connect.js';
