// Request attributes as kube-apiserver's WithAuthorization filter builds them from the RequestInfo (GET is
// get, list or watch; POST create; PUT update; PATCH patch; DELETE delete or deletecollection) and the
// user, and the message of the 403 it answers when they are denied. Pure.
import { parseFieldSelector } from '../../cluster/index.js';
import type { Attributes, Subject } from './rules.js';

/** What the apiserver's request parser gives (apiserver/request.ts's RequestInfo). */
export type ParsedRequest =
  | { readonly kind: 'resource'; readonly group: string; readonly version: string; readonly resource: string; readonly namespace?: string; readonly name?: string; readonly subresource?: string; readonly verb: string }
  | { readonly kind: 'nonresource'; readonly path: string; readonly verb: string };

export function attributesOf(user: Subject, r: ParsedRequest, query: URLSearchParams): Attributes {
  if (r.kind === 'nonresource') {
    // HEAD is authorized as a get, as the RequestInfoFactory reads it.
    const verb = r.verb === 'head' ? 'get' : r.verb;
    return { user, verb, resourceRequest: false, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '', path: r.path };
  }
  let name = r.name ?? '';
  let fieldSelector: Attributes['fieldSelector'];
  // A list or watch with a metadata.name field selector is about that one object.
  if (r.verb === 'list' || r.verb === 'watch') {
    if (name === '') {
      for (const term of (query.get('fieldSelector') ?? '').split(',')) {
        const m = /^\s*metadata\.name\s*==?\s*(.+?)\s*$/.exec(term);
        if (m) name = m[1]!;
      }
    }
    try {
      fieldSelector = parseFieldSelector(query.get('fieldSelector') ?? '');
    } catch {
      // The list itself answers the 400 for a selector that does not parse.
      fieldSelector = [];
    }
  }
  // /api/v1/namespaces/x is in the namespace x (RequestInfoFactory sets it from the path).
  const namespace = r.resource === 'namespaces' && r.name !== undefined ? r.name : (r.namespace ?? '');
  return { user, verb: r.verb, resourceRequest: true, apiGroup: r.group, apiVersion: r.version, resource: r.resource, subresource: r.subresource ?? '', namespace, name, path: '', ...(fieldSelector?.length && { fieldSelector }) };
}

/** responsewriters.forbiddenMessage. */
export function forbiddenMessage(a: Attributes): string {
  const user = a.user.name;
  if (!a.resourceRequest) return `User ${JSON.stringify(user)} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  if (a.namespace) return `User ${JSON.stringify(user)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} in the namespace ${JSON.stringify(a.namespace)}`;
  return `User ${JSON.stringify(user)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} at the cluster scope`;
}

/**
 * The Status of a denied request (responsewriters.Forbidden, apierrors.NewForbidden): `pods is forbidden: User
 * "bob" cannot list resource "pods" in API group "" in the namespace "default"`, `forbidden: User ... path "/api"`.
 */
export function forbiddenStatus(a: Attributes, reason: string): { message: string; details: { name?: string; group?: string; kind?: string } } {
  const msg = reason ? `${forbiddenMessage(a)}: ${reason}` : forbiddenMessage(a);
  if (!a.resourceRequest || a.resource === '') return { message: `forbidden: ${msg}`, details: {} };
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const details = { ...(a.name && { name: a.name }), ...(a.apiGroup && { group: a.apiGroup }), kind: a.resource };
  return { message: a.name ? `${qualified} ${JSON.stringify(a.name)} is forbidden: ${msg}` : `${qualified} is forbidden: ${msg}`, details };
}
