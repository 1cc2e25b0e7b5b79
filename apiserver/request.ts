// URL → what a request is about, as the apiserver's RequestInfoFactory reads it: the API group and
// version, the resource, namespace, name and subresource, and the verb (get, list, watch, create,
// update, patch, delete, deletecollection). Pure.

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'proxy';

export interface ResourceRequest {
  readonly kind: 'resource';
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
  readonly verb: Verb;
}

/** Not a resource: discovery (/api, /apis/apps), /version, /healthz, ... with its path parts. */
export interface NonResourceRequest {
  readonly kind: 'nonresource';
  readonly path: string;
  readonly verb: string;
}

export type RequestInfo = ResourceRequest | NonResourceRequest;

// Subresources of a namespace itself, so /api/v1/namespaces/x/status is not a resource "status" in x.
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/** A boolean query parameter as kube-apiserver reads it (Go's strconv.ParseBool): the Python client sends `watch=True`. */
export const queryBool = (v: string | null): boolean => v !== null && ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v);

/** `method` and the URL's path and query. */
export function parseRequest(method: string, path: string, query: URLSearchParams): RequestInfo {
  const m = method.toUpperCase();
  const plain = { kind: 'nonresource' as const, path, verb: m.toLowerCase() };
  const parts = path.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api') {
    if (parts.length < 3) return plain; // /api, /api/v1: discovery
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    if (parts.length < 4) return plain; // /apis, /apis/<g>, /apis/<g>/<v>
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return plain;
  }
  let verb: Verb | undefined;
  // The deprecated /watch/ path prefix, still served.
  if (rest[0] === 'watch') {
    verb = 'watch';
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  if (!resource) return plain;
  if (!verb) {
    switch (m) {
      case 'GET':
      case 'HEAD':
        verb = name ? 'get' : 'list';
        if (queryBool(query.get('watch'))) verb = 'watch';
        break;
      case 'POST':
        verb = 'create';
        break;
      case 'PUT':
        verb = 'update';
        break;
      case 'PATCH':
        verb = 'patch';
        break;
      case 'DELETE':
        verb = name ? 'delete' : 'deletecollection';
        break;
      default:
        verb = 'proxy';
    }
  }
  // /api/v1/namespaces/x is the namespace x itself (its "namespace" is its name).
  const isNamespaceItself = resource === 'namespaces';
  return {
    kind: 'resource',
    group,
    version,
    resource,
    ...(namespace !== undefined && !isNamespaceItself && { namespace }),
    ...(name !== undefined && { name }),
    ...(subresource !== undefined && { subresource }),
    verb,
  };
}
