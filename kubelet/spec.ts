// A pod as the kubelet accepts it: validation at the boundary (one InvalidPodError naming the field
// path and the value), defaults in one place, resource quantities, and the container spec hash that
// decides whether a running container still matches its spec. Pure; no I/O.
import { createHash } from 'node:crypto';
import type { Container, Pod, Probe } from '../cluster/index.js';
import { FlannelError, isObject } from '../common/index.js';

export class InvalidPodError extends FlannelError {
  readonly code = 'INVALID_POD';
  constructor(
    readonly path: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}${value === undefined ? '' : ` (got ${JSON.stringify(value)?.slice(0, 80)})`}`);
  }
}

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_GRACE_SEC = 30;

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
export const restartPolicyOf = (pod: Pod): RestartPolicy => pod.spec.restartPolicy ?? 'Always';
export const namespaceOf = (pod: Pod): string => pod.metadata.namespace || DEFAULT_NAMESPACE;
export const graceOf = (pod: Pod): number => pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SEC;
export const podFullName = (pod: Pod): string => `${namespaceOf(pod)}/${pod.metadata.name}`;

// ---------------------------------------------------------------- quantities

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A Kubernetes resource quantity ("128Mi", "500m", "1.5", "1e3", "2G") in base units; undefined if malformed. */
export function parseQuantity(s: string | number): number | undefined {
  if (typeof s === 'number') return Number.isFinite(s) && s >= 0 ? s : undefined;
  const m = /^([+]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[3] !== undefined) return n * 10 ** Number(m[3]);
  const suf = m[2] ?? '';
  return n * (BINARY[suf] ?? DECIMAL[suf] ?? 1);
}

export interface DockerResources {
  Memory?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuShares?: number;
}

/** limits.memory → Memory; limits.cpu → CFS quota over a 100 ms period; requests.cpu → shares (as dockershim did). */
export function dockerResources(c: Container): DockerResources {
  const out: DockerResources = {};
  const lim = c.resources?.limits;
  const req = c.resources?.requests;
  const mem = lim?.memory !== undefined ? parseQuantity(lim.memory) : undefined;
  if (mem !== undefined && mem > 0) out.Memory = Math.round(mem);
  const cpu = lim?.cpu !== undefined ? parseQuantity(lim.cpu) : undefined;
  if (cpu !== undefined && cpu > 0) {
    out.CpuPeriod = 100_000;
    out.CpuQuota = Math.max(1000, Math.round(cpu * 100_000));
  }
  const reqCpu = req?.cpu !== undefined ? parseQuantity(req.cpu) : cpu;
  if (reqCpu !== undefined && reqCpu > 0) out.CpuShares = Math.max(2, Math.round(reqCpu * 1024));
  return out;
}

// ---------------------------------------------------------------- validation

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

type Json = Record<string, unknown>;

function fail(path: string, value: unknown, reason: string): never {
  throw new InvalidPodError(path, value, reason);
}
function optString(o: Json, k: string, path: string): void {
  if (o[k] !== undefined && typeof o[k] !== 'string') fail(`${path}.${k}`, o[k], 'must be a string');
}
function optStringArray(o: Json, k: string, path: string): void {
  const v = o[k];
  if (v === undefined) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(`${path}.${k}`, v, 'must be a list of strings');
}
function optInt(o: Json, k: string, path: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  const v = o[k];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${path}.${k}`, v, `must be an integer in ${min}..${max}`);
}

/**
 * Checks what the kubelet relies on and returns the pod typed; throws InvalidPodError with the path of
 * the first bad field. Unknown fields are left alone.
 */
export function validatePod(raw: unknown): Pod {
  if (!isObject(raw)) fail('', raw, 'a pod must be a JSON object');
  const meta = raw.metadata;
  if (!isObject(meta)) fail('metadata', meta, 'required');
  if (typeof meta.name !== 'string' || !DNS_SUBDOMAIN.test(meta.name) || meta.name.length > 253) fail('metadata.name', meta.name, 'must be a DNS subdomain');
  if (meta.namespace !== undefined && (typeof meta.namespace !== 'string' || !DNS_LABEL.test(meta.namespace))) fail('metadata.namespace', meta.namespace, 'must be a DNS label');
  optString(meta, 'uid', 'metadata');
  for (const k of ['labels', 'annotations']) {
    const v = meta[k];
    if (v !== undefined && (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string'))) fail(`metadata.${k}`, v, 'must map strings to strings');
  }
  const spec = raw.spec;
  if (!isObject(spec)) fail('spec', spec, 'required');
  optString(spec, 'nodeName', 'spec');
  if (spec.restartPolicy !== undefined && !['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy as string)) fail('spec.restartPolicy', spec.restartPolicy, 'must be Always, OnFailure or Never');
  optInt(spec, 'terminationGracePeriodSeconds', 'spec', 0);

  const volumes = new Set<string>();
  if (spec.volumes !== undefined) {
    if (!Array.isArray(spec.volumes)) fail('spec.volumes', spec.volumes, 'must be a list');
    spec.volumes.forEach((v: unknown, i: number) => {
      const p = `spec.volumes[${i}]`;
      if (!isObject(v)) fail(p, v, 'must be an object');
      if (typeof v.name !== 'string' || !DNS_LABEL.test(v.name)) fail(`${p}.name`, v.name, 'must be a DNS label');
      if (volumes.has(v.name)) fail(`${p}.name`, v.name, 'duplicate volume name');
      volumes.add(v.name);
      const kinds = Object.keys(v).filter((k) => k !== 'name');
      if (kinds.length !== 1) fail(p, kinds, 'must have exactly one volume source');
      if (v.emptyDir !== undefined) {
        if (!isObject(v.emptyDir)) fail(`${p}.emptyDir`, v.emptyDir, 'must be an object');
      } else if (v.hostPath !== undefined) {
        if (!isObject(v.hostPath) || typeof v.hostPath.path !== 'string' || !v.hostPath.path.startsWith('/')) fail(`${p}.hostPath.path`, isObject(v.hostPath) ? v.hostPath.path : v.hostPath, 'must be an absolute path');
        const types = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];
        if (v.hostPath.type !== undefined && !types.includes(v.hostPath.type as string)) fail(`${p}.hostPath.type`, v.hostPath.type, `must be one of ${types.filter(Boolean).join(', ')}`);
      } else if (['projected', 'configMap', 'secret', 'downwardAPI'].includes(kinds[0]!)) {
        if (!isObject(v[kinds[0]!])) fail(`${p}.${kinds[0]}`, v[kinds[0]!], 'must be an object');
      } else {
        fail(p, kinds[0], 'unsupported volume type (emptyDir, hostPath, projected, configMap, secret and downwardAPI are supported)');
      }
    });
  }

  if (!Array.isArray(spec.containers) || spec.containers.length === 0) fail('spec.containers', spec.containers, 'at least one container is required');
  const names = new Set<string>();
  if (spec.initContainers !== undefined && spec.initContainers !== null) {
    if (!Array.isArray(spec.initContainers)) fail('spec.initContainers', spec.initContainers, 'must be a list');
    spec.initContainers.forEach((c: unknown, i: number) => {
      const p = `spec.initContainers[${i}]`;
      validateContainer(c, p, names, volumes);
      const ic = c as Json;
      // Sidecars (restartable init containers) run beside the app containers: this kubelet does not run them yet.
      if (ic.restartPolicy !== undefined) fail(`${p}.restartPolicy`, ic.restartPolicy, 'sidecar containers (restartPolicy on an init container) are not supported by this kubelet');
      for (const k of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe']) if (ic[k] !== undefined) fail(`${p}.${k}`, undefined, 'may not be set for init containers without restartPolicy=Always');
    });
  }
  spec.containers.forEach((c: unknown, i: number) => validateContainer(c, `spec.containers[${i}]`, names, volumes));
  return raw as unknown as Pod;
}

function validateContainer(c: unknown, p: string, names: Set<string>, volumes: ReadonlySet<string>): void {
  if (!isObject(c)) fail(p, c, 'must be an object');
  if (typeof c.name !== 'string' || !DNS_LABEL.test(c.name) || c.name.length > 63) fail(`${p}.name`, c.name, 'must be a DNS label');
  if (names.has(c.name)) fail(`${p}.name`, c.name, 'duplicate container name');
  names.add(c.name);
  if (typeof c.image !== 'string' || c.image.trim() === '') fail(`${p}.image`, c.image, 'required');
  if (c.imagePullPolicy !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(c.imagePullPolicy as string)) fail(`${p}.imagePullPolicy`, c.imagePullPolicy, 'must be Always, IfNotPresent or Never');
  optStringArray(c, 'command', p);
  optStringArray(c, 'args', p);
  optString(c, 'workingDir', p);
  if (typeof c.workingDir === 'string' && c.workingDir !== '' && !c.workingDir.startsWith('/')) fail(`${p}.workingDir`, c.workingDir, 'must be an absolute path');
  const portNames = new Set<string>();
  if (c.ports !== undefined) {
    if (!Array.isArray(c.ports)) fail(`${p}.ports`, c.ports, 'must be a list');
    c.ports.forEach((port: unknown, j: number) => {
      const pp = `${p}.ports[${j}]`;
      if (!isObject(port)) fail(pp, port, 'must be an object');
      optInt(port, 'containerPort', pp, 1, 65535);
      if (port.containerPort === undefined) fail(`${pp}.containerPort`, undefined, 'required');
      optInt(port, 'hostPort', pp, 0, 65535);
      if (port.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(port.protocol as string)) fail(`${pp}.protocol`, port.protocol, 'must be TCP, UDP or SCTP');
      if (port.name !== undefined) {
        if (typeof port.name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(port.name) || port.name.length > 15) fail(`${pp}.name`, port.name, 'must be an IANA service name');
        portNames.add(port.name);
      }
    });
  }
  if (c.env !== undefined) {
    if (!Array.isArray(c.env)) fail(`${p}.env`, c.env, 'must be a list');
    c.env.forEach((e: unknown, j: number) => {
      const ep = `${p}.env[${j}]`;
      if (!isObject(e)) fail(ep, e, 'must be an object');
      if (typeof e.name !== 'string' || !ENV_NAME.test(e.name)) fail(`${ep}.name`, e.name, 'must be a valid environment variable name');
      optString(e, 'value', ep);
      if (e.valueFrom !== undefined) {
        if (e.value !== undefined && e.value !== '') fail(`${ep}.valueFrom`, undefined, 'may not be used with a non-empty value');
        const vf = e.valueFrom;
        if (!isObject(vf)) fail(`${ep}.valueFrom`, vf, 'must be an object');
        const srcs = Object.keys(vf);
        if (srcs.length !== 1) fail(`${ep}.valueFrom`, srcs, 'must have exactly one source');
        const kind = srcs[0]!;
        const ref = vf[kind];
        if (kind === 'secretKeyRef' || kind === 'configMapKeyRef') {
          if (!isObject(ref) || typeof ref.name !== 'string' || typeof ref.key !== 'string') fail(`${ep}.valueFrom.${kind}`, ref, 'needs name and key');
        } else if (kind === 'fieldRef') {
          if (!isObject(ref) || typeof ref.fieldPath !== 'string' || !FIELD_PATHS.has(ref.fieldPath)) fail(`${ep}.valueFrom.fieldRef.fieldPath`, isObject(ref) ? ref.fieldPath : ref, `must be one of ${[...FIELD_PATHS].join(', ')}`);
        } else {
          fail(`${ep}.valueFrom.${kind}`, undefined, 'unsupported (secretKeyRef, configMapKeyRef and fieldRef are supported)');
        }
      }
    });
  }
  const res = c.resources;
  if (res !== undefined) {
    if (!isObject(res)) fail(`${p}.resources`, res, 'must be an object');
    for (const kind of ['limits', 'requests'] as const) {
      const r = res[kind];
      if (r === undefined) continue;
      if (!isObject(r)) fail(`${p}.resources.${kind}`, r, 'must be an object');
      for (const [k, v] of Object.entries(r)) {
        if ((typeof v !== 'string' && typeof v !== 'number') || parseQuantity(v) === undefined) fail(`${p}.resources.${kind}.${k}`, v, 'must be a quantity such as 500m or 128Mi');
      }
    }
  }
  if (c.volumeMounts !== undefined) {
    if (!Array.isArray(c.volumeMounts)) fail(`${p}.volumeMounts`, c.volumeMounts, 'must be a list');
    c.volumeMounts.forEach((m: unknown, j: number) => {
      const mp = `${p}.volumeMounts[${j}]`;
      if (!isObject(m)) fail(mp, m, 'must be an object');
      if (typeof m.name !== 'string' || !volumes.has(m.name)) fail(`${mp}.name`, m.name, 'must name a volume of the pod');
      if (typeof m.mountPath !== 'string' || !m.mountPath.startsWith('/') || m.mountPath.includes(':')) fail(`${mp}.mountPath`, m.mountPath, 'must be an absolute path without ":"');
    });
  }
  for (const kind of ['livenessProbe', 'readinessProbe'] as const) {
    if (c[kind] !== undefined) validateProbe(c[kind], `${p}.${kind}`, portNames);
  }
}

function validateProbe(pr: unknown, p: string, portNames: ReadonlySet<string>): void {
  if (!isObject(pr)) fail(p, pr, 'must be an object');
  const handlers = ['httpGet', 'tcpSocket', 'exec'].filter((k) => pr[k] !== undefined);
  if (handlers.length !== 1) fail(p, handlers, 'must have exactly one of httpGet, tcpSocket, exec');
  for (const k of ['initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'failureThreshold', 'successThreshold']) {
    optInt(pr, k, p, k === 'initialDelaySeconds' ? 0 : 1);
  }
  const checkPort = (port: unknown, pp: string): void => {
    if (typeof port === 'number') {
      if (!Number.isInteger(port) || port < 1 || port > 65535) fail(pp, port, 'must be a port number 1..65535');
    } else if (typeof port !== 'string' || !portNames.has(port)) {
      fail(pp, port, 'must be a port number or the name of a container port');
    }
  };
  if (pr.httpGet !== undefined) {
    const h = pr.httpGet;
    if (!isObject(h)) fail(`${p}.httpGet`, h, 'must be an object');
    checkPort(h.port, `${p}.httpGet.port`);
    optString(h, 'path', `${p}.httpGet`);
    optString(h, 'host', `${p}.httpGet`);
    if (h.scheme !== undefined && h.scheme !== 'HTTP') fail(`${p}.httpGet.scheme`, h.scheme, 'only HTTP is supported');
  } else if (pr.tcpSocket !== undefined) {
    const t = pr.tcpSocket;
    if (!isObject(t)) fail(`${p}.tcpSocket`, t, 'must be an object');
    checkPort(t.port, `${p}.tcpSocket.port`);
    optString(t, 'host', `${p}.tcpSocket`);
  } else {
    const e = pr.exec;
    if (!isObject(e) || !Array.isArray(e.command) || e.command.length === 0 || e.command.some((x) => typeof x !== 'string')) fail(`${p}.exec.command`, isObject(e) ? e.command : e, 'must be a non-empty list of strings');
  }
}

export const FIELD_PATHS: ReadonlySet<string> = new Set(['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'status.podIP', 'status.hostIP']);

// ---------------------------------------------------------------- probes

export interface ProbeSettings {
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly failureThreshold: number;
  readonly successThreshold: number;
}

/** Kubernetes' defaults: period 10 s, timeout 1 s, failure threshold 3, success threshold 1. */
export function probeSettings(p: Probe): ProbeSettings {
  return {
    initialDelayMs: (p.initialDelaySeconds ?? 0) * 1000,
    periodMs: (p.periodSeconds ?? 10) * 1000,
    timeoutMs: (p.timeoutSeconds ?? 1) * 1000,
    failureThreshold: p.failureThreshold ?? 3,
    successThreshold: p.successThreshold ?? 1,
  };
}

/** A probe's port: a number, or a container port's name. */
export function resolvePort(c: Container, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

// ---------------------------------------------------------------- hash

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A short stable hash of a container's spec: a running container whose label differs is replaced. */
export function containerHash(c: Container): string {
  return createHash('sha256').update(canonical(c)).digest('hex').slice(0, 16);
}

/** A stable hash of any JSON value (static pod UIDs, mirror pod annotations). */
export function jsonHash(v: unknown): string {
  return createHash('sha256').update(canonical(v)).digest('hex');
}

/** A UUID-shaped string from a hash, for static pods (stable across kubelet restarts). */
export function uidFromHash(hex: string): string {
  const h = hex.padEnd(32, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
