// A container's environment, as the kubelet computes it: service variables for the services of the
// pod's namespace (the `<SVC>_SERVICE_HOST` family and the Docker-link style `<SVC>_PORT_*` family),
// then the container's own env in order, with values from secrets, config maps and pod fields and
// `$(VAR)` references expanded; the container's own variables win. Pure, apart from the injected
// lookups of secrets and config maps.
import type { Container, Pod, Service } from '../cluster/index.js';
import { FlannelError } from '../common/index.js';
import { namespaceOf } from './spec.js';

/** A container cannot be configured yet (Kubernetes' CreateContainerConfigError): a missing secret or key. */
export class ContainerConfigError extends FlannelError {
  readonly code = 'CONTAINER_CONFIG';
  override readonly transient = true;
  constructor(
    readonly container: string,
    message: string,
  ) {
    super(message);
  }
}

const envName = (s: string): string => s.replace(/-/g, '_').toUpperCase();
const isIpSet = (ip: string | undefined): ip is string => ip !== undefined && ip !== '' && ip !== 'None';

/**
 * The variables Kubernetes gives every container for each service with a cluster IP (pkg/kubelet/envvars):
 *   REDIS_SERVICE_HOST=10.0.0.11  REDIS_SERVICE_PORT=6379  REDIS_SERVICE_PORT_<NAME>=6379 (named ports)
 *   REDIS_PORT=tcp://10.0.0.11:6379 (first port)
 *   REDIS_PORT_6379_TCP=tcp://10.0.0.11:6379  …_PROTO=tcp  …_PORT=6379  …_ADDR=10.0.0.11 (every port)
 * Services are taken in name order, so the result does not depend on listing order.
 */
export function serviceEnv(services: readonly Service[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const svc of [...services].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const ip = svc.spec?.clusterIP;
    const ports = svc.spec?.ports ?? [];
    if (!isIpSet(ip) || ports.length === 0) continue;
    const prefix = envName(svc.metadata.name);
    out.set(`${prefix}_SERVICE_HOST`, ip);
    out.set(`${prefix}_SERVICE_PORT`, String(ports[0]!.port));
    for (const p of ports) if (p.name) out.set(`${prefix}_SERVICE_PORT_${envName(p.name)}`, String(p.port));
    const host = ip.includes(':') ? `[${ip}]` : ip;
    ports.forEach((p, i) => {
      const proto = (p.protocol ?? 'TCP').toLowerCase();
      const url = `${proto}://${host}:${p.port}`;
      if (i === 0) out.set(`${prefix}_PORT`, url);
      const pp = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
      out.set(pp, url);
      out.set(`${pp}_PROTO`, proto);
      out.set(`${pp}_PORT`, String(p.port));
      out.set(`${pp}_ADDR`, ip);
    });
  }
  return out;
}

/**
 * Kubernetes' `$(VAR)` expansion: a defined variable is replaced, an undefined one is left as written,
 * `$$` is a literal `$`.
 */
export function expand(s: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch !== '$' || i + 1 >= s.length) {
      out += ch;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const end = s.indexOf(')', i + 2);
      if (end < 0) {
        out += s.slice(i);
        break;
      }
      const name = s.slice(i + 2, end);
      const v = lookup(name);
      out += v ?? `$(${name})`;
      i = end;
    } else {
      out += ch;
    }
  }
  return out;
}

export interface EnvSources {
  /** A secret's decoded data, or undefined if there is no such secret. */
  secret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  configMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Services of the pod's namespace. */
  services(namespace: string): readonly Service[];
  podIP?: string;
  hostIP?: string;
}

export interface ResolvedContainer {
  readonly env: readonly string[];
  readonly command: readonly string[] | undefined;
  readonly args: readonly string[] | undefined;
}

/** The container's `NAME=value` list, command and args; throws ContainerConfigError for a missing secret/key. */
export async function resolveContainerEnv(pod: Pod, c: Container, src: EnvSources): Promise<ResolvedContainer> {
  const ns = namespaceOf(pod);
  // As the kubelet's getServiceEnvVarMap: the namespace's services when service links are on, and always the
  // API's own `kubernetes` Service of the default namespace (so in-cluster clients find the API), unless the
  // namespace has a service of that name.
  const linked = pod.spec.enableServiceLinks === false ? [] : src.services(ns);
  const master = src.services('default').filter((s) => s.metadata.name === 'kubernetes' && !linked.some((l) => l.metadata.name === 'kubernetes'));
  const svcEnv = serviceEnv([...linked, ...master]);
  const env = new Map<string, string>();
  const lookup = (name: string): string | undefined => env.get(name) ?? svcEnv.get(name);
  const secrets = new Map<string, Record<string, string> | undefined>();
  const configMaps = new Map<string, Record<string, string> | undefined>();
  for (const e of c.env ?? []) {
    const vf = e.valueFrom as (typeof e.valueFrom & { fieldRef?: { fieldPath: string } }) | undefined;
    if (!vf) {
      env.set(e.name, expand(e.value ?? '', lookup));
      continue;
    }
    if (vf.secretKeyRef || vf.configMapKeyRef) {
      const isSecret = vf.secretKeyRef !== undefined;
      const ref = (vf.secretKeyRef ?? vf.configMapKeyRef)!;
      const cache = isSecret ? secrets : configMaps;
      if (!cache.has(ref.name)) cache.set(ref.name, await (isSecret ? src.secret(ns, ref.name) : src.configMap(ns, ref.name)));
      const data = cache.get(ref.name);
      const kind = isSecret ? 'secret' : 'configmap';
      if (data === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(c.name, `${kind} "${ref.name}" not found`);
      }
      const v = data[ref.key];
      if (v === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(c.name, `couldn't find key ${ref.key} in ${isSecret ? 'Secret' : 'ConfigMap'} ${ns}/${ref.name}`);
      }
      env.set(e.name, v);
    } else if (vf.fieldRef) {
      env.set(e.name, fieldValue(pod, vf.fieldRef.fieldPath, src));
    }
  }
  for (const [k, v] of svcEnv) if (!env.has(k)) env.set(k, v);
  const final = (name: string): string | undefined => env.get(name);
  return {
    env: [...env].map(([k, v]) => `${k}=${v}`),
    command: c.command?.map((s) => expand(s, final)),
    args: c.args?.map((s) => expand(s, final)),
  };
}

function fieldValue(pod: Pod, path: string, src: EnvSources): string {
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return namespaceOf(pod);
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'status.podIP':
      return src.podIP ?? '';
    case 'status.hostIP':
      return src.hostIP ?? '';
    default:
      return '';
  }
}

/** A secret's values: `data` is base64 (as Kubernetes stores it), `stringData` plain and winning. */
export function secretData(s: { data?: Record<string, string>; stringData?: Record<string, string> }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) if (typeof v === 'string') out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(s.stringData ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
}
