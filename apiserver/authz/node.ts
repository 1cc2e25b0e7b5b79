// The Node authorizer (plugin/pkg/auth/authorizer/node, with AuthorizeNodeWithSelectors as Kubernetes now
// runs it): a kubelet's credentials (user system:node:<name> in group system:nodes) read only the secrets,
// config maps, claims and service-account tokens of the pods bound to its node, its own Node, its pods (a
// list or watch only with the spec.nodeName=<name> field selector) and its Lease in kube-node-lease; the
// rest of what nodes do is the static system:node rules. The writes it lets through (Node, pod status,
// mirror pods, Leases on create) are narrowed to the node's own by the NodeRestriction admission plugin.
// A user that is not a node gets no opinion. Pure: the graph is given.
import type { NodeGraph, NodeObjectType } from './node-graph.js';
import type { Decision } from './rbac.js';
import { type Attributes, type PolicyRule, ruleAllows, type Subject } from './rules.js';

export const NODES_GROUP = 'system:nodes';
const NODE_USER_PREFIX = 'system:node:';
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** NodeIdentity: whether the user is a node, and which (an empty name when its user name is just the prefix). */
export function nodeIdentity(user: Subject): { isNode: false } | { isNode: true; nodeName: string } {
  if (!user.name.startsWith(NODE_USER_PREFIX) || !user.groups.includes(NODES_GROUP)) return { isNode: false };
  return { isNode: true, nodeName: user.name.slice(NODE_USER_PREFIX.length) };
}

/** What the authorizer asks of the graph. */
export type NodeRelations = Pick<NodeGraph, 'hasNode' | 'relates'>;

const allow: Decision = { decision: 'allow', reason: '' };
const no = (reason = ''): Decision => ({ decision: 'noOpinion', reason });

/** NodeAuthorizer.Authorize. `rules` are the system:node ClusterRole's (bootstrap's nodeRules()). */
export function nodeAuthorize(graph: NodeRelations, rules: readonly PolicyRule[], a: Attributes): Decision {
  const id = nodeIdentity(a.user);
  if (!id.isNode) return no();
  const node = id.nodeName;
  if (node === '') return no(`unknown node for user ${JSON.stringify(a.user.name)}`);
  if (a.resourceRequest) {
    const g = a.apiGroup;
    if (g === '' && a.resource === 'secrets') return readNamespaced(graph, node, 'secret', a);
    if (g === '' && a.resource === 'configmaps') return readNamespaced(graph, node, 'configmap', a);
    if (g === '' && a.resource === 'persistentvolumeclaims') return a.subresource === 'status' ? statusUpdate(graph, node, a) : getOnly(graph, node, 'persistentvolumeclaim', a);
    if (g === '' && a.resource === 'serviceaccounts') return createToken(graph, node, a);
    if (g === 'coordination.k8s.io' && a.resource === 'leases') return lease(node, a);
    if (g === '' && a.resource === 'nodes') return nodeObject(node, a);
    if (g === '' && a.resource === 'pods') return pod(graph, node, a);
  }
  return rules.some((r) => ruleAllows(a, r)) ? allow : no();
}

function related(graph: NodeRelations, node: string, type: NodeObjectType, a: Attributes): Decision {
  if (a.name === '') return no('No Object name found');
  if (graph.hasNode(node) && graph.relates(node, type, a.namespace, a.name)) return allow;
  return no(`no relationship found between node '${node}' and this object`);
}

function readNamespaced(graph: NodeRelations, node: string, type: NodeObjectType, a: Attributes): Decision {
  if (a.verb !== 'get' && a.verb !== 'list' && a.verb !== 'watch') return no('can only read resources of this type');
  if (a.subresource !== '') return no('cannot read subresource');
  if (a.namespace === '') return no('can only read namespaced object of this type');
  return related(graph, node, type, a);
}

function getOnly(graph: NodeRelations, node: string, type: NodeObjectType, a: Attributes): Decision {
  if (a.verb !== 'get') return no('can only get individual resources of this type');
  if (a.subresource !== '') return no('cannot get subresource');
  return related(graph, node, type, a);
}

function statusUpdate(graph: NodeRelations, node: string, a: Attributes): Decision {
  if (a.verb !== 'update' && a.verb !== 'patch') return no('can only get/update/patch this type');
  return related(graph, node, 'persistentvolumeclaim', a);
}

function createToken(graph: NodeRelations, node: string, a: Attributes): Decision {
  if (a.verb !== 'create' || a.name === '') return no('can only create tokens for individual service accounts');
  if (a.subresource !== 'token') return no('can only create token subresource of serviceaccount');
  return related(graph, node, 'serviceaccount', a);
}

function lease(node: string, a: Attributes): Decision {
  if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) return no('can only get, create, update, patch, or delete a node lease');
  if (a.namespace !== NODE_LEASE_NAMESPACE) return no(`can only access leases in the ${JSON.stringify(NODE_LEASE_NAMESPACE)} system namespace`);
  // A create's name is not known here; NodeRestriction checks it.
  if (a.verb !== 'create' && a.name !== node) return no('can only access node lease with the same name as the requesting node');
  return allow;
}

function nodeObject(node: string, a: Attributes): Decision {
  if (a.subresource === '') {
    // Writes are NodeRestriction's to narrow to the node's own.
    if (a.verb === 'create' || a.verb === 'update' || a.verb === 'patch') return allow;
    if (a.verb === 'get' || a.verb === 'list' || a.verb === 'watch') {
      // By name, not the graph: a kubelet reads its Node before it exists.
      if (a.name === node) return allow;
      if (a.name === '') return no(`node '${node}' cannot read all nodes, only its own Node object`);
      return no(`node '${node}' cannot read '${a.name}', only its own Node object`);
    }
  } else if (a.subresource === 'status' && (a.verb === 'update' || a.verb === 'patch')) return allow;
  return no();
}

function pod(graph: NodeRelations, node: string, a: Attributes): Decision {
  if (a.subresource === '') {
    if (a.verb === 'get') return related(graph, node, 'pod', a);
    if (a.verb === 'list' || a.verb === 'watch') {
      if ((a.fieldSelector ?? []).some((f) => f.field === 'spec.nodeName' && (f.operator === '=' || f.operator === '==') && f.value === node)) return allow;
      if (a.name !== '') return related(graph, node, 'pod', a);
      return no('can only list/watch pods with spec.nodeName field selector');
    }
    // Mirror pods; NodeRestriction keeps them to the node's own.
    if (a.verb === 'create' || a.verb === 'delete') return allow;
  } else if (a.subresource === 'status' && (a.verb === 'update' || a.verb === 'patch')) return allow;
  else if (a.subresource === 'eviction' && a.verb === 'create') return allow;
  return no();
}
