// The kubelet server's paths: what a request is about (a route) and what it is authorized as, as the
// kubelet's authorizer attributes getter maps them: every path is the verb of its HTTP method on the
// resource nodes (named this node) with a subresource from the path. /stats, /metrics and /logs are
// stats, metrics and log; /pods, /healthz and /configz are pods, healthz and configz with proxy as the
// fallback (KubeletFineGrainedAuthz, on since 1.33); everything else (exec, attach, portForward,
// containerLogs, run) is proxy. Pure.

export interface NodeAttributes {
  readonly verb: string;
  readonly resource: 'nodes';
  readonly name: string;
  /** Asked in order: the request is allowed when any is. */
  readonly subresources: readonly string[];
  readonly path: string;
}

const VERBS: Readonly<Record<string, string>> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** Whether `path` is `prefix` or below it (isSubpath: /statsfoo is not below /stats). */
const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

export function nodeAttributes(method: string, path: string, nodeName: string): NodeAttributes {
  const verb = VERBS[method.toUpperCase()] ?? '';
  let subresources: string[];
  if (under(path, '/stats')) subresources = ['stats'];
  else if (under(path, '/metrics')) subresources = ['metrics'];
  else if (under(path, '/logs')) subresources = ['log'];
  else if (under(path, '/pods')) subresources = ['pods', 'proxy'];
  else if (under(path, '/healthz')) subresources = ['healthz', 'proxy'];
  else if (under(path, '/configz')) subresources = ['configz', 'proxy'];
  else subresources = ['proxy'];
  return { verb, resource: 'nodes', name: nodeName, subresources, path };
}

export interface PodRef {
  readonly namespace: string;
  readonly pod: string;
  /** The pod's UID when the path names it (/exec/<ns>/<pod>/<uid>/<container>). */
  readonly uid?: string;
}

export type Route =
  | { readonly kind: 'healthz' }
  | { readonly kind: 'pods' }
  | ({ readonly kind: 'containerLogs'; readonly container: string } & PodRef)
  | ({ readonly kind: 'exec' | 'attach' | 'run'; readonly container: string } & PodRef)
  | ({ readonly kind: 'portForward' } & PodRef);

/** The route of a path, or undefined (404). Segments are percent-decoded; a malformed escape is no route. */
export function routeOf(path: string): Route | undefined {
  let parts: string[];
  try {
    parts = path.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
  const [head, ...rest] = parts;
  switch (head) {
    case 'healthz':
      return rest.length === 0 ? { kind: 'healthz' } : undefined;
    case 'pods':
      return rest.length === 0 ? { kind: 'pods' } : undefined;
    case 'containerLogs':
      return rest.length === 3 ? { kind: 'containerLogs', namespace: rest[0]!, pod: rest[1]!, container: rest[2]! } : undefined;
    case 'exec':
    case 'attach':
    case 'run':
      if (rest.length === 3) return { kind: head, namespace: rest[0]!, pod: rest[1]!, container: rest[2]! };
      if (rest.length === 4) return { kind: head, namespace: rest[0]!, pod: rest[1]!, uid: rest[2]!, container: rest[3]! };
      return undefined;
    case 'portForward':
      if (rest.length === 2) return { kind: 'portForward', namespace: rest[0]!, pod: rest[1]! };
      if (rest.length === 3) return { kind: 'portForward', namespace: rest[0]!, pod: rest[1]!, uid: rest[2]! };
      return undefined;
    default:
      return undefined;
  }
}

/** The command of /run: its `cmd` parameter split on blanks, as the kubelet splits it (strings.Fields). */
export function runCommand(q: URLSearchParams): string[] {
  return (q.get('cmd') ?? '').split(/\s+/).filter(Boolean);
}

/** The command of /exec: its `command` parameters, one argument each. */
export const execCommand = (q: URLSearchParams): string[] => q.getAll('command');
