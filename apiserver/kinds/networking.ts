// networking.k8s.io/v1 networkpolicies and ingresses, coordination.k8s.io/v1 leases.
import { isObject } from '../../core/index.js';
import { ensure, list, nameOf, num, obj, objs, setDefaultStr, str } from './access.js';
import { invalid, notSupported, required } from './field-errors.js';
import { formatLabelSelector, loadBalancerIngress } from './humanize.js';
import { age, AGE_COLUMN, col, defineKind, NAME_COLUMN, resourceDef, validateLabels } from './meta.js';
import { isDns1123Subdomain, isValidPortName, isValidPortNum, nameIsDnsSubdomain } from './names.js';
import type { FieldError, ResourceDef } from './types.js';

const def = (group: string, resource: string, kind: string, storage: string, shortNames: string[], subresources: string[] = []): ResourceDef =>
  resourceDef({ group, resource, kind, storage, shortNames, subresources });

function validateSelectorAt(sel: unknown, path: string, errs: FieldError[]): void {
  if (sel === undefined || sel === null) return;
  if (!isObject(sel)) {
    errs.push(invalid(path, sel, 'must be a label selector'));
    return;
  }
  validateLabels(sel.matchLabels, `${path}.matchLabels`, errs);
  (list(sel, 'matchExpressions') ?? []).forEach((e, i) => {
    const op = str(e, 'operator') ?? '';
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(op)) errs.push(invalid(`${path}.matchExpressions[${i}].operator`, op, 'not a valid selector operator'));
  });
}

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
export const networkPolicyStrategy = defineKind({
  def: def('networking.k8s.io', 'networkpolicies', 'NetworkPolicy', 'networkpolicies', ['netpol']),
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    const spec = ensure(o, 'spec');
    for (const dir of ['ingress', 'egress'])
      for (const rule of objs(spec, dir)) for (const p of objs(rule, 'ports')) setDefaultStr(p, 'protocol', 'TCP');
    // SetDefaults_NetworkPolicy: policyTypes from the rules present.
    if (!list(spec, 'policyTypes')) spec.policyTypes = list(spec, 'egress') ? ['Ingress', 'Egress'] : ['Ingress'];
  },
  validate(o, errs) {
    const spec = obj(o, 'spec');
    if (!spec) {
      errs.push(required('spec.podSelector'));
      return;
    }
    validateSelectorAt(spec.podSelector, 'spec.podSelector', errs);
    for (const dir of ['ingress', 'egress'] as const) {
      objs(spec, dir).forEach((rule, i) => {
        objs(rule, 'ports').forEach((p, j) => {
          const pp = `spec.${dir}[${i}].ports[${j}]`;
          const proto = str(p, 'protocol') ?? '';
          if (!PROTOCOLS.includes(proto)) errs.push(notSupported(`${pp}.protocol`, proto, PROTOCOLS));
          const port = p.port;
          if (typeof port === 'number') for (const m of isValidPortNum(port)) errs.push(invalid(`${pp}.port`, port, m));
          else if (typeof port === 'string') for (const m of isValidPortName(port)) errs.push(invalid(`${pp}.port`, port, m));
          const end = num(p, 'endPort');
          if (end !== undefined && (typeof port !== 'number' || end < port)) errs.push(invalid(`${pp}.endPort`, end, 'must be greater than or equal to `port`'));
        });
        objs(rule, dir === 'ingress' ? 'from' : 'to').forEach((peer, j) => {
          const pp = `spec.${dir}[${i}].${dir === 'ingress' ? 'from' : 'to'}[${j}]`;
          const kinds = ['podSelector', 'namespaceSelector', 'ipBlock'].filter((k) => peer[k] !== undefined);
          if (!kinds.length) errs.push(required(pp, 'must specify a peer'));
          validateSelectorAt(peer.podSelector, `${pp}.podSelector`, errs);
          validateSelectorAt(peer.namespaceSelector, `${pp}.namespaceSelector`, errs);
          const ipb = obj(peer, 'ipBlock');
          if (ipb && !str(ipb, 'cidr')) errs.push(required(`${pp}.ipBlock.cidr`));
        });
      });
    }
    const types = list(spec, 'policyTypes') ?? [];
    types.forEach((t, i) => {
      if (t !== 'Ingress' && t !== 'Egress') errs.push(notSupported(`spec.policyTypes[${i}]`, t, ['Ingress', 'Egress']));
    });
  },
  generation: true,
  columns: [NAME_COLUMN, col('Pod-Selector', 'string', 'Selects the pods to which this NetworkPolicy object applies.'), AGE_COLUMN],
  row: (o, now) => [nameOf(o), formatLabelSelector(obj(o.spec, 'podSelector') ?? {}), age(o, now)],
});

function formatHosts(rules: Record<string, unknown>[]): string {
  const out: string[] = [];
  const max = 3;
  let more = false;
  for (const r of rules) {
    if (out.length === max) more = true;
    const host = str(r, 'host');
    if (!more && host) out.push(host);
  }
  if (!out.length) return '*';
  return more ? `${out.join(',')} + ${rules.length - max} more...` : out.join(',');
}

export const ingressStrategy = defineKind({
  def: def('networking.k8s.io', 'ingresses', 'Ingress', 'ingress', ['ing'], ['status']),
  nameCheck: nameIsDnsSubdomain,
  defaults(o) {
    for (const r of objs(o.spec, 'rules')) for (const p of objs(obj(r, 'http'), 'paths')) setDefaultStr(p, 'pathType', 'ImplementationSpecific');
  },
  validate(o, errs) {
    const spec = obj(o, 'spec') ?? {};
    const rules = objs(spec, 'rules');
    if (!rules.length && !obj(spec, 'defaultBackend')) errs.push(invalid('spec', spec, 'either `defaultBackend` or `rules` must be specified'));
    rules.forEach((r, i) => {
      const host = str(r, 'host');
      if (host) {
        const h = host.startsWith('*.') ? host.slice(2) : host;
        for (const m of isDns1123Subdomain(h)) errs.push(invalid(`spec.rules[${i}].host`, host, m));
      }
      const http = obj(r, 'http');
      if (http && !objs(http, 'paths').length) errs.push(required(`spec.rules[${i}].http.paths`));
      objs(http, 'paths').forEach((p, j) => {
        const pp = `spec.rules[${i}].http.paths[${j}]`;
        const pt = str(p, 'pathType') ?? '';
        if (!['Exact', 'Prefix', 'ImplementationSpecific'].includes(pt)) errs.push(notSupported(`${pp}.pathType`, pt, ['Exact', 'ImplementationSpecific', 'Prefix']));
        const path = str(p, 'path') ?? '';
        if ((pt === 'Exact' || pt === 'Prefix') && !path.startsWith('/')) errs.push(invalid(`${pp}.path`, path, 'must be an absolute path'));
        const be = obj(p, 'backend');
        if (!be) errs.push(required(`${pp}.backend`));
        else {
          const svc = obj(be, 'service');
          if (svc && !str(svc, 'name')) errs.push(required(`${pp}.backend.service.name`));
          if (svc && !obj(svc, 'port')) errs.push(required(`${pp}.backend.service.port`));
          if (!svc && !obj(be, 'resource')) errs.push(invalid(`${pp}.backend`, be, 'must specify one of: `resource` or `service`'));
        }
      });
    });
  },
  initialStatus: () => ({ loadBalancer: {} }),
  generation: true,
  columns: [
    NAME_COLUMN,
    col('Class', 'string', 'The name of the IngressClass resource that should be used for ingress.'),
    col('Hosts', 'string', 'Hosts that incoming requests are matched against before the ingress rule'),
    col('Address', 'string', 'Address is a list containing ingress points for the load-balancer'),
    col('Ports', 'string', 'Ports of TLS configurations that open'),
    AGE_COLUMN,
  ],
  row(o, now) {
    const spec = obj(o, 'spec') ?? {};
    return [nameOf(o), str(spec, 'ingressClassName') ?? '<none>', formatHosts(objs(spec, 'rules')), loadBalancerIngress(o.status), objs(spec, 'tls').length ? '80, 443' : '80', age(o, now)];
  },
});

export const leaseStrategy = defineKind({
  def: def('coordination.k8s.io', 'leases', 'Lease', 'leases', []),
  nameCheck: nameIsDnsSubdomain,
  validate(o, errs) {
    const spec = obj(o, 'spec') ?? {};
    for (const f of ['leaseDurationSeconds', 'leaseTransitions']) {
      const v = num(spec, f);
      if (v !== undefined && (f === 'leaseDurationSeconds' ? v <= 0 : v < 0))
        errs.push(invalid(`spec.${f}`, v, f === 'leaseDurationSeconds' ? 'must be greater than 0' : 'must be greater than or equal to 0'));
    }
  },
  columns: [NAME_COLUMN, col('Holder', 'string', 'holderIdentity contains the identity of the holder of a current lease.'), AGE_COLUMN],
  row: (o, now) => [nameOf(o), str(o.spec, 'holderIdentity') ?? '', age(o, now)],
});
