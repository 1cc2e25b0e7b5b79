// A PodSpec's defaults and validation, shared by Pods and by the pod templates of the workload kinds
// (SetDefaults_PodSpec / SetDefaults_Container, ValidatePodSpec in pkg/apis/core/validation).
import { isObject } from '../../core/index.js';
import { ensure, list, num, obj, objs, setDefault, setDefaultStr, str } from './access.js';
import { duplicate, forbidden, invalid, notFound, notSupported, required, typeInvalid } from './field-errors.js';
import { validateLabels } from './meta.js';
import { inclusiveRangeError, isDns1123Label, isDns1123Subdomain, isValidPortName, isValidPortNum } from './names.js';
import type { FieldError, KubeObject } from './types.js';

/** imagePullPolicy's default: Always for `:latest` or no tag (and no digest), else IfNotPresent. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const at = image.indexOf('@');
  const ref = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.indexOf(':', lastSlash + 1);
  const tag = colon >= 0 ? ref.slice(colon + 1) : at >= 0 ? '' : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultProbe(p: unknown): void {
  if (!isObject(p)) return;
  setDefault(p, 'timeoutSeconds', 1);
  setDefault(p, 'periodSeconds', 10);
  setDefault(p, 'successThreshold', 1);
  setDefault(p, 'failureThreshold', 3);
  const http = obj(p, 'httpGet');
  if (http) {
    setDefaultStr(http, 'path', '/');
    setDefaultStr(http, 'scheme', 'HTTP');
  }
}

function defaultContainer(c: KubeObject, hostNetwork: boolean): void {
  // ParseImageName fails on an empty image, leaving no tag: IfNotPresent (validation then reports the image).
  setDefaultStr(c, 'imagePullPolicy', typeof c.image === 'string' && c.image ? defaultPullPolicy(c.image) : 'IfNotPresent');
  setDefaultStr(c, 'terminationMessagePath', '/dev/termination-log');
  setDefaultStr(c, 'terminationMessagePolicy', 'File');
  for (const p of objs(c, 'ports')) {
    setDefaultStr(p, 'protocol', 'TCP');
    if (hostNetwork && p.hostPort === undefined && typeof p.containerPort === 'number') p.hostPort = p.containerPort;
  }
  for (const e of objs(c, 'env')) {
    const fieldRef = obj(obj(e, 'valueFrom'), 'fieldRef');
    if (fieldRef) setDefaultStr(fieldRef, 'apiVersion', 'v1');
  }
  // SetDefaults_Pod: a limit without a request requests the limit.
  const resources = obj(c, 'resources');
  const limits = obj(resources, 'limits');
  if (resources && limits && Object.keys(limits).length) {
    const requests = ensure(resources, 'requests');
    for (const [k, v] of Object.entries(limits)) setDefault(requests, k, v);
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
}

const VOLUME_SOURCES = [
  'emptyDir', 'hostPath', 'secret', 'configMap', 'persistentVolumeClaim', 'projected', 'downwardAPI', 'nfs', 'iscsi',
  'csi', 'ephemeral', 'gitRepo', 'image', 'awsElasticBlockStore', 'gcePersistentDisk', 'azureDisk', 'azureFile',
  'cephfs', 'rbd', 'cinder', 'fc', 'flocker', 'flexVolume', 'glusterfs', 'photonPersistentDisk', 'portworxVolume',
  'quobyte', 'scaleIO', 'storageos', 'vsphereVolume',
] as const;

/** SetDefaults_PodSpec and the per-container and per-volume defaults. Mutates `spec`. */
export function defaultPodSpec(spec: KubeObject): void {
  setDefaultStr(spec, 'dnsPolicy', 'ClusterFirst');
  setDefaultStr(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefaultStr(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'enableServiceLinks', true);
  if (str(spec, 'serviceAccount') && !str(spec, 'serviceAccountName')) spec.serviceAccountName = spec.serviceAccount;
  const hostNetwork = spec.hostNetwork === true;
  for (const c of objs(spec, 'initContainers')) defaultContainer(c, hostNetwork);
  for (const c of objs(spec, 'containers')) defaultContainer(c, hostNetwork);
  for (const v of objs(spec, 'volumes')) {
    if (!VOLUME_SOURCES.some((s) => v[s] !== undefined)) v.emptyDir = {};
    const hp = obj(v, 'hostPath');
    if (hp) setDefault(hp, 'type', '');
    for (const s of ['secret', 'configMap', 'downwardAPI', 'projected']) {
      const src = obj(v, s);
      if (src) setDefault(src, s === 'projected' ? 'defaultMode' : 'defaultMode', 420);
    }
  }
}

const ENV_NAME_RE = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const ENV_NAME_MSG =
  "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";
const PORT_PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

function validatePortNumOrName(v: unknown, path: string, errs: FieldError[]): void {
  if (typeof v === 'number') for (const m of isValidPortNum(v)) errs.push(invalid(path, v, m));
  else if (typeof v === 'string') for (const m of isValidPortName(v)) errs.push(invalid(path, v, m));
  else errs.push(typeInvalid(path, v, 'must be an integer or a string'));
}

function validateProbe(p: unknown, path: string, errs: FieldError[]): void {
  if (p === undefined || p === null) return;
  if (!isObject(p)) {
    errs.push(typeInvalid(path, p, 'must be an object'));
    return;
  }
  const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((h) => p[h] !== undefined);
  if (handlers.length === 0) errs.push(required(path, 'must specify a handler type'));
  else if (handlers.length > 1) errs.push(forbidden(`${path}.${handlers[1]}`, 'may not specify more than 1 handler type'));
  const http = obj(p, 'httpGet');
  if (http) validatePortNumOrName(http.port, `${path}.httpGet.port`, errs);
  const tcp = obj(p, 'tcpSocket');
  if (tcp) validatePortNumOrName(tcp.port, `${path}.tcpSocket.port`, errs);
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    const v = p[f];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v)) errs.push(typeInvalid(`${path}.${f}`, v, 'must be an integer'));
    else if (v < 0) errs.push(invalid(`${path}.${f}`, v, 'must be greater than or equal to 0'));
  }
}

function validateContainers(
  spec: KubeObject,
  key: 'containers' | 'initContainers',
  path: string,
  volumes: Set<string>,
  names: Set<string>,
  isPod: boolean,
  errs: FieldError[],
): void {
  const raw = spec[key];
  const cpath = `${path}.${key}`;
  if (raw !== undefined && raw !== null && !Array.isArray(raw)) {
    errs.push(typeInvalid(cpath, raw, 'must be a list'));
    return;
  }
  const cs = list(spec, key) ?? [];
  if (key === 'containers' && cs.length === 0) {
    errs.push(required(cpath));
    return;
  }
  cs.forEach((c, i) => {
    const p = `${cpath}[${i}]`;
    if (!isObject(c)) {
      errs.push(typeInvalid(p, c, 'must be an object'));
      return;
    }
    const name = c.name;
    if (typeof name !== 'string' || !name) {
      if (name !== undefined && typeof name !== 'string') errs.push(typeInvalid(`${p}.name`, name, 'must be a string'));
      else errs.push(required(`${p}.name`));
    } else {
      for (const m of isDns1123Label(name)) errs.push(invalid(`${p}.name`, name, m));
      if (names.has(name)) errs.push(duplicate(`${p}.name`, name));
      names.add(name);
    }
    const image = c.image;
    if (image !== undefined && image !== null && typeof image !== 'string') errs.push(typeInvalid(`${p}.image`, image, 'must be a string'));
    else if (!image) errs.push(required(`${p}.image`));
    else if (isPod && image.trim() !== image) errs.push(invalid(`${p}.image`, image, 'must not have leading or trailing whitespace'));
    const pull = c.imagePullPolicy;
    if (pull === undefined || pull === '') errs.push(required(`${p}.imagePullPolicy`));
    else if (pull !== 'Always' && pull !== 'IfNotPresent' && pull !== 'Never') errs.push(notSupported(`${p}.imagePullPolicy`, pull, ['Always', 'IfNotPresent', 'Never']));
    const tmp = c.terminationMessagePolicy;
    if (tmp === undefined || tmp === '') errs.push(required(`${p}.terminationMessagePolicy`));
    else if (tmp !== 'File' && tmp !== 'FallbackToLogsOnError') errs.push(notSupported(`${p}.terminationMessagePolicy`, tmp, ['File', 'FallbackToLogsOnError']));
    for (const f of ['command', 'args']) {
      const v = c[f];
      if (v !== undefined && v !== null && (!Array.isArray(v) || v.some((e) => typeof e !== 'string'))) errs.push(typeInvalid(`${p}.${f}`, v, 'must be a list of strings'));
    }
    const portNames = new Set<string>();
    (list(c, 'ports') ?? []).forEach((port, j) => {
      const pp = `${p}.ports[${j}]`;
      if (!isObject(port)) {
        errs.push(typeInvalid(pp, port, 'must be an object'));
        return;
      }
      const pn = str(port, 'name');
      if (pn) {
        for (const m of isValidPortName(pn)) errs.push(invalid(`${pp}.name`, pn, m));
        if (portNames.has(pn)) errs.push(duplicate(`${pp}.name`, pn));
        portNames.add(pn);
      }
      const cp = port.containerPort;
      if (cp === undefined || cp === 0) errs.push(required(`${pp}.containerPort`));
      else if (typeof cp !== 'number') errs.push(typeInvalid(`${pp}.containerPort`, cp, 'must be an integer'));
      else for (const m of isValidPortNum(cp)) errs.push(invalid(`${pp}.containerPort`, cp, m));
      const hp = port.hostPort;
      if (hp !== undefined && hp !== 0) {
        if (typeof hp !== 'number') errs.push(typeInvalid(`${pp}.hostPort`, hp, 'must be an integer'));
        else for (const m of isValidPortNum(hp)) errs.push(invalid(`${pp}.hostPort`, hp, m));
      }
      const proto = port.protocol;
      if (proto === undefined || proto === '') errs.push(required(`${pp}.protocol`));
      else if (typeof proto !== 'string' || !PORT_PROTOCOLS.includes(proto)) errs.push(notSupported(`${pp}.protocol`, proto, PORT_PROTOCOLS));
    });
    (list(c, 'env') ?? []).forEach((e, j) => {
      const ep = `${p}.env[${j}]`;
      const en = str(e, 'name');
      if (!en) errs.push(required(`${ep}.name`));
      else if (!ENV_NAME_RE.test(en)) errs.push(invalid(`${ep}.name`, en, ENV_NAME_MSG));
      if (isObject(e) && e.value !== undefined && e.valueFrom !== undefined)
        errs.push(invalid(`${ep}.valueFrom`, '', 'may not be specified when `value` is not empty'));
    });
    (list(c, 'volumeMounts') ?? []).forEach((vm, j) => {
      const vp = `${p}.volumeMounts[${j}]`;
      const vn = str(vm, 'name');
      if (!vn) errs.push(required(`${vp}.name`));
      else if (!volumes.has(vn)) errs.push(notFound(`${vp}.name`, vn));
      if (!str(vm, 'mountPath')) errs.push(required(`${vp}.mountPath`));
    });
    validateResources(c, p, errs);
    // An init container without restartPolicy Always (a sidecar) runs to completion: no probes, no hooks.
    const rcp = c.restartPolicy;
    const sidecar = key === 'initContainers' && rcp === 'Always';
    if (rcp !== undefined && rcp !== null) {
      if (key === 'containers') errs.push(forbidden(`${p}.restartPolicy`, 'may not be set for non-init containers'));
      else if (rcp !== 'Always') errs.push(notSupported(`${p}.restartPolicy`, rcp, ['Always']));
    }
    if (key === 'initContainers' && !sidecar) {
      for (const f of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe']) {
        if (c[f] !== undefined && c[f] !== null) errs.push(forbidden(`${p}.${f}`, 'may not be set for init containers without restartPolicy=Always'));
      }
    }
    validateProbe(c.livenessProbe, `${p}.livenessProbe`, errs);
    validateProbe(c.readinessProbe, `${p}.readinessProbe`, errs);
    validateProbe(c.startupProbe, `${p}.startupProbe`, errs);
  });
}

export interface PodSpecRules {
  /** The restart policies allowed here (templates of rc/rs/deploy/ds: Always only; jobs: OnFailure, Never). */
  restartPolicies?: readonly string[];
  /** A Pod itself (not a template): images may not carry surrounding whitespace. */
  isPod?: boolean;
}

/** ValidatePodSpec at `path` (`spec`, `spec.template.spec`). */
export function validatePodSpec(spec: unknown, path: string, rules: PodSpecRules, errs: FieldError[]): void {
  if (!isObject(spec)) {
    if (spec !== undefined && spec !== null) errs.push(typeInvalid(path, spec, 'must be an object'));
    errs.push(required(`${path}.containers`));
    return;
  }
  const volumes = new Set<string>();
  (list(spec, 'volumes') ?? []).forEach((v, i) => {
    const p = `${path}.volumes[${i}]`;
    const name = str(v, 'name');
    if (!name) errs.push(required(`${p}.name`));
    else {
      for (const m of isDns1123Label(name)) errs.push(invalid(`${p}.name`, name, m));
      if (volumes.has(name)) errs.push(duplicate(`${p}.name`, name));
      volumes.add(name);
    }
    const sources = isObject(v) ? VOLUME_SOURCES.filter((s) => v[s] !== undefined && v[s] !== null) : [];
    if (sources.length === 0) errs.push(required(p, 'must specify a volume type'));
    else if (sources.length > 1) errs.push(forbidden(`${p}.${sources[1]}`, 'may not specify more than 1 volume type'));
    const hp = obj(v, 'hostPath');
    if (hp && !str(hp, 'path')) errs.push(required(`${p}.hostPath.path`));
    const pr = obj(v, 'projected');
    if (pr) validateProjected(pr, `${p}.projected`, errs);
  });
  const names = new Set<string>();
  validateContainers(spec, 'initContainers', path, volumes, names, rules.isPod === true, errs);
  validateContainers(spec, 'containers', path, volumes, names, rules.isPod === true, errs);

  const rp = spec.restartPolicy;
  const allowed = rules.restartPolicies ?? ['Always', 'OnFailure', 'Never'];
  if (rp === undefined || rp === '') errs.push(required(`${path}.restartPolicy`));
  else if (typeof rp !== 'string' || !['Always', 'OnFailure', 'Never'].includes(rp)) errs.push(notSupported(`${path}.restartPolicy`, rp, ['Always', 'OnFailure', 'Never']));
  else if (!allowed.includes(rp)) errs.push(notSupported(`${path}.restartPolicy`, rp, allowed));
  const dns = spec.dnsPolicy;
  const dnsPolicies = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'];
  if (dns === undefined || dns === '') errs.push(required(`${path}.dnsPolicy`));
  else if (typeof dns !== 'string' || !dnsPolicies.includes(dns)) errs.push(notSupported(`${path}.dnsPolicy`, dns, dnsPolicies));
  const tgps = spec.terminationGracePeriodSeconds;
  if (tgps !== undefined && tgps !== null) {
    if (typeof tgps !== 'number' || !Number.isInteger(tgps)) errs.push(typeInvalid(`${path}.terminationGracePeriodSeconds`, tgps, 'must be an integer'));
    else if (tgps < 0) errs.push(invalid(`${path}.terminationGracePeriodSeconds`, tgps, 'must be greater than or equal to 0'));
  }
  const ads = spec.activeDeadlineSeconds;
  if (ads !== undefined && ads !== null) {
    if (typeof ads !== 'number' || !Number.isInteger(ads)) errs.push(typeInvalid(`${path}.activeDeadlineSeconds`, ads, 'must be an integer'));
    else if (ads < 1 || ads > 2147483647) errs.push(invalid(`${path}.activeDeadlineSeconds`, ads, inclusiveRangeError(1, 2147483647)));
  }
  for (const key of ['nodeName', 'serviceAccountName']) {
    const v = spec[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') errs.push(typeInvalid(`${path}.${key}`, v, 'must be a string'));
    else for (const m of isDns1123Subdomain(v)) errs.push(invalid(`${path}.${key}`, v, m));
  }
  validateLabels(spec.nodeSelector, `${path}.nodeSelector`, errs);
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC', 'enableServiceLinks']) {
    const v = spec[key];
    if (v !== undefined && v !== null && typeof v !== 'boolean') errs.push(typeInvalid(`${path}.${key}`, v, 'must be a boolean'));
  }
  if (num(spec, 'priority') !== undefined && !Number.isInteger(spec.priority)) errs.push(typeInvalid(`${path}.priority`, spec.priority, 'must be an integer'));
}

const PROJECTED_SOURCES = ['secret', 'downwardAPI', 'configMap', 'serviceAccountToken', 'clusterTrustBundle'];

/** validateProjectedVolumeSource: one kind per source; a token's path set and its lifetime at least 10 minutes. */
function validateProjected(pr: KubeObject, path: string, errs: FieldError[]): void {
  (list(pr, 'sources') ?? []).forEach((src, i) => {
    const p = `${path}.sources[${i}]`;
    const kinds = isObject(src) ? PROJECTED_SOURCES.filter((k) => src[k] !== undefined && src[k] !== null) : [];
    if (kinds.length === 0) errs.push(required(p, 'must specify one of: `secret`, `downwardAPI`, `configMap`, `serviceAccountToken` or `clusterTrustBundle`'));
    else if (kinds.length > 1) errs.push(forbidden(`${p}.${kinds[1]}`, 'may not specify more than 1 volume type per source'));
    const t = obj(src, 'serviceAccountToken');
    if (t) {
      if (!str(t, 'path')) errs.push(required(`${p}.serviceAccountToken.path`));
      const e = t.expirationSeconds;
      if (e !== undefined && e !== null) {
        if (typeof e !== 'number' || !Number.isInteger(e)) errs.push(typeInvalid(`${p}.serviceAccountToken.expirationSeconds`, e, 'must be an integer'));
        else if (e < 600) errs.push(invalid(`${p}.serviceAccountToken.expirationSeconds`, e, 'may not specify a duration less than 10 minutes'));
        else if (e > 2 ** 32) errs.push(invalid(`${p}.serviceAccountToken.expirationSeconds`, e, 'may not specify a duration larger than 2^32 seconds'));
      }
    }
  });
}

const QUANTITY_RE = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const QUANTITY_SUFFIX: Record<string, number> = {
  '': 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
export const QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** A resource.Quantity (`500m`, `128Mi`, `1e3`, 2) as a number; undefined when it is not one. */
export function parseQuantity(q: unknown): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  if (typeof q !== 'string') return undefined;
  const m = QUANTITY_RE.exec(q);
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  if (Number.isNaN(n)) return undefined;
  if (suffix in QUANTITY_SUFFIX) return n * (QUANTITY_SUFFIX[suffix] ?? 1);
  const e = /^[eE]([-+]?[0-9]+)$/.exec(suffix);
  return e ? n * 10 ** Number(e[1]) : undefined;
}

/** ValidateResourceRequirements: quantities well-formed, not negative, requests within limits. */
function validateResources(c: KubeObject, path: string, errs: FieldError[]): void {
  const r = obj(c, 'resources');
  if (!r) return;
  const parsed: Record<'limits' | 'requests', Record<string, number>> = { limits: {}, requests: {} };
  for (const kind of ['limits', 'requests'] as const) {
    for (const [name, q] of Object.entries(obj(r, kind) ?? {})) {
      const p = `${path}.resources.${kind}[${name}]`;
      const v = parseQuantity(q);
      if (v === undefined) errs.push(typeInvalid(p, q, QUANTITY_ERROR));
      else if (v < 0) errs.push(invalid(p, q, 'must be greater than or equal to 0'));
      else parsed[kind][name] = v;
    }
  }
  for (const [name, req] of Object.entries(parsed.requests)) {
    const lim = parsed.limits[name];
    if (lim !== undefined && req > lim) {
      const limText = String(obj(r, 'limits')?.[name]);
      errs.push(invalid(`${path}.resources.requests`, String(obj(r, 'requests')?.[name]), `must be less than or equal to ${name} limit of ${limText}`));
    }
  }
}

/** The QoS class of a pod's containers: BestEffort, Guaranteed or Burstable (qos.GetPodQOS). */
export function qosClass(spec: unknown): 'BestEffort' | 'Guaranteed' | 'Burstable' {
  const cs = [...objs(spec, 'initContainers'), ...objs(spec, 'containers')];
  let any = false;
  let guaranteed = cs.length > 0;
  for (const c of cs) {
    const r = obj(c, 'resources');
    const req = obj(r, 'requests') ?? {};
    const lim = obj(r, 'limits') ?? {};
    for (const k of ['cpu', 'memory']) if (req[k] !== undefined || lim[k] !== undefined) any = true;
    for (const k of ['cpu', 'memory']) if (lim[k] === undefined || parseQuantity(req[k] ?? lim[k]) !== parseQuantity(lim[k])) guaranteed = false;
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}
