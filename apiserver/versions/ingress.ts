// extensions/v1beta1 Ingresses over the stored networking.k8s.io/v1 ones: a backend names its Service by
// `serviceName` and `servicePort` (a number or a port name) where v1 has `service.name` and
// `service.port.number|name`, and the default backend is `backend`, not `defaultBackend`.
import { ingressStrategy } from '../kinds/index.js';
import { isObj, type Obj } from '../object.js';
import type { VersionView } from './types.js';
import { defineView } from './view.js';

/** Every backend of an Ingress spec (the default one and each path's), replaced by `fn`'s result. */
function mapBackends(spec: Obj, from: string, to: string, fn: (b: Obj) => Obj): void {
  if (isObj(spec[from])) {
    const b = fn(spec[from]);
    delete spec[from];
    spec[to] = b;
  }
  for (const rule of Array.isArray(spec.rules) ? spec.rules : []) {
    const paths = isObj(rule) && isObj(rule.http) && Array.isArray(rule.http.paths) ? rule.http.paths : [];
    for (const p of paths) if (isObj(p) && isObj(p.backend)) p.backend = fn(p.backend);
  }
}

/**
 * v1beta1 → v1: a backend that names a Service (or a port; a string port even when empty) gets
 * `service`; `resource` is the same in both.
 */
export function backendToV1(b: Obj): Obj {
  const { serviceName, servicePort, ...rest } = b;
  const name = typeof serviceName === 'string' ? serviceName : '';
  const namesService = name !== '' || (typeof servicePort === 'number' && servicePort !== 0) || typeof servicePort === 'string';
  if (!namesService) return rest;
  const port = typeof servicePort === 'string' ? (servicePort ? { name: servicePort } : {}) : typeof servicePort === 'number' && servicePort !== 0 ? { number: servicePort } : {};
  return { service: { name, port }, ...rest };
}

/** v1 → v1beta1: the port's name when it has one, else its number (0 when neither, as the Go conversion writes). */
export function backendToV1beta1(b: Obj): Obj {
  const { service, ...rest } = b;
  if (!isObj(service)) return rest;
  const port = isObj(service.port) ? service.port : {};
  const servicePort = typeof port.name === 'string' && port.name !== '' ? port.name : typeof port.number === 'number' ? port.number : 0;
  return { serviceName: typeof service.name === 'string' ? service.name : '', servicePort, ...rest };
}

export const extensionsV1beta1Ingress: VersionView = defineView(ingressStrategy, {
  group: 'extensions',
  version: 'v1beta1',
  deprecated: [14, 22],
  defaults(o) {
    // SetDefaults_HTTPIngressPath (1.18+): a path without a type matches as the controller decides.
    const spec = isObj(o.spec) ? o.spec : {};
    for (const rule of Array.isArray(spec.rules) ? spec.rules : []) {
      const paths = isObj(rule) && isObj(rule.http) && Array.isArray(rule.http.paths) ? rule.http.paths : [];
      for (const p of paths) if (isObj(p) && (p.pathType === undefined || p.pathType === null || p.pathType === '')) p.pathType = 'ImplementationSpecific';
    }
  },
  toCurrent(o) {
    if (isObj(o.spec)) mapBackends(o.spec, 'backend', 'defaultBackend', backendToV1);
  },
  fromCurrent(o) {
    if (isObj(o.spec)) mapBackends(o.spec, 'defaultBackend', 'backend', backendToV1beta1);
  },
});
