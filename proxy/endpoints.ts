// What the etcd-mode endpoints maintainer writes for a Service (on the API, kube-controller-manager's
// endpoints controller writes them): the same computation, from the controller's pure logic.
import type { Endpoints, Service } from '../cluster/index.js';
import { endpointSubsets, type PodRef, repackSubsets } from '../controllers/endpoints/index.js';

export { selectorMatches, selectorOf, type PodRef } from '../controllers/endpoints/index.js';

/** The Endpoints object for a service with a selector, from the candidate pods (any namespace; filtered there). */
export function computeEndpoints(namespace: string, name: string, svc: Service, pods: Iterable<PodRef>): Endpoints & { subsets: NonNullable<Endpoints['subsets']> } {
  return { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace }, subsets: endpointSubsets(namespace, svc, pods) };
}

/** Two Endpoints objects carry the same addresses and ports (metadata and order aside). */
export function sameEndpoints(a: Endpoints | undefined, b: Endpoints | undefined): boolean {
  return JSON.stringify(repackSubsets(a?.subsets ?? [])) === JSON.stringify(repackSubsets(b?.subsets ?? []));
}
