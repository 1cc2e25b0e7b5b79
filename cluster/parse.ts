// Parsing the objects read from /registry (STYLE 3.14): each kind has one parser that checks the
// shape its type in types.ts promises and returns the object itself, so unknown fields are kept as
// they are and a rewrite loses nothing. A bad field is an InvalidObjectError naming its path
// (`spec.ports[0].port`) and the value; ObjectStore adds the key and reports the object as corrupt
// instead of handing it over. Parsers check types, not policy: what a consumer cannot use although it
// is well-formed (an SCTP port for the proxy, an unknown volume type for the kubelet) is the
// consumer's to refuse, with its own message. Pure; no I/O.
import { FlannelError } from '../common/index.js';
import type { ConfigMap, Endpoints, Node, Pod, Secret, Service } from './types.js';

export class InvalidObjectError extends FlannelError {
  readonly code = 'INVALID_OBJECT';
  constructor(
    /** The field's path inside the object ('' for the object itself). */
    readonly path: string,
    readonly value: unknown,
    readonly reason: string,
    /** The etcd key, when known. */
    readonly key?: string,
  ) {
    super(`${key ? `${key}: ` : ''}${path || 'the object'} ${reason} (got ${preview(value)})`);
  }
}

function preview(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Checks `v` and returns it typed; throws InvalidObjectError. */
export type Parser<T> = (v: unknown) => T;

/**
 * A check of one value; `T` is what the value is once it passed. A check returns undefined when the
 * value is fine, else where and why it is not: nothing is allocated on the way when it is fine (a
 * listing parses thousands of objects), and the path is built only for a failure.
 */
export interface Schema<T> {
  readonly check: (v: unknown) => Failure | undefined;
  /** Phantom: the type the check guarantees. */
  readonly _type?: T;
}
interface Optional<T> extends Schema<T> {
  readonly optional: true;
}
/** Path segments innermost first (`.name`, `[0]`, `["app"]`), each parent appending its own. */
interface Failure {
  readonly segments: string[];
  readonly value: unknown;
  readonly reason: string;
}

type Infer<S> = S extends Schema<infer T> ? T : never;
type OptionalKeys<S> = { [K in keyof S]: S[K] extends Optional<unknown> ? K : never }[keyof S];
type ObjectOf<S> = { -readonly [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { -readonly [K in OptionalKeys<S>]?: Infer<S[K]> } & { [k: string]: unknown };

const failure = (value: unknown, reason: string): Failure => ({ segments: [], value, reason });
const under = (f: Failure | undefined, segment: string): Failure | undefined => {
  f?.segments.push(segment);
  return f;
};
export const isJsonObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const str: Schema<string> = { check: (v) => (typeof v === 'string' ? undefined : failure(v, 'must be a string')) };
export const num: Schema<number> = { check: (v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : failure(v, 'must be a number')) };
export const bool: Schema<boolean> = { check: (v) => (typeof v === 'boolean' ? undefined : failure(v, 'must be true or false')) };
/** Any JSON object (its fields unchecked). */
export const anyObject: Schema<Record<string, unknown>> = { check: (v) => (isJsonObject(v) ? undefined : failure(v, 'must be an object')) };

export function oneOf<L extends string>(...values: readonly L[]): Schema<L> {
  const reason = `must be ${values.length > 1 ? `one of ${values.join(', ')}` : values[0]}`;
  return { check: (v) => (values.includes(v as L) ? undefined : failure(v, reason)) };
}

export function opt<T>(s: Schema<T>): Optional<T> {
  return { optional: true, check: (v) => (v === undefined ? undefined : s.check(v)) };
}

export function orNull<T>(s: Schema<T>): Schema<T | null> {
  return { check: (v) => (v === null ? undefined : s.check(v)) };
}

export function either<A, B>(a: Schema<A>, b: Schema<B>, reason: string): Schema<A | B> {
  return { check: (v) => (a.check(v) === undefined || b.check(v) === undefined ? undefined : failure(v, reason)) };
}

export function list<T>(s: Schema<T>): Schema<T[]> {
  return {
    check: (v) => {
      if (!Array.isArray(v)) return failure(v, 'must be a list');
      for (let i = 0; i < v.length; i++) {
        const f = s.check(v[i]);
        if (f) return under(f, `[${i}]`);
      }
      return undefined;
    },
  };
}

/** A map of string keys (label keys hold dots and slashes, so the path quotes them). */
export function mapOf<T>(s: Schema<T>): Schema<Record<string, T>> {
  return {
    check: (v) => {
      if (!isJsonObject(v)) return failure(v, 'must be an object');
      for (const k in v) {
        const f = s.check(v[k]);
        if (f) return under(f, `[${JSON.stringify(k)}]`);
      }
      return undefined;
    },
  };
}

/** An object with these fields (others are allowed and kept). */
export function object<S extends Record<string, Schema<unknown>>>(shape: S): Schema<ObjectOf<S>> {
  const fields = Object.entries(shape).map(([k, s]) => ({ k, s, required: !('optional' in s) }));
  return {
    check: (v) => {
      if (!isJsonObject(v)) return failure(v, 'must be an object');
      for (const { k, s, required } of fields) {
        const x = v[k];
        const f = x === undefined ? (required ? failure(undefined, 'is required') : undefined) : s.check(x);
        if (f) return under(f, `.${k}`);
      }
      return undefined;
    },
  };
}

/** The parser of a schema: checks, then returns the very value (the one place it is typed). */
export function parserOf<T>(s: Schema<T>): Parser<T> {
  return (v) => {
    const f = s.check(v);
    if (f) throw new InvalidObjectError(f.segments.reverse().join('').replace(/^\./, ''), f.value, f.reason);
    return v as T;
  };
}

// ---------------------------------------------------------------- the kinds

const strings = mapOf(str);

const objectMeta = object({
  name: str,
  namespace: opt(str),
  uid: opt(str),
  labels: opt(strings),
  annotations: opt(strings),
  creationTimestamp: opt(str),
  deletionTimestamp: opt(str),
  resourceVersion: opt(str),
});

const intOrString = either(num, str, 'must be a number or a string');
const keyRef = opt(object({ name: str, key: str, optional: opt(bool) }));

const probe = object({
  httpGet: opt(object({ path: opt(str), port: intOrString, host: opt(str), scheme: opt(oneOf('HTTP')) })),
  tcpSocket: opt(object({ port: intOrString, host: opt(str) })),
  exec: opt(object({ command: list(str) })),
  initialDelaySeconds: opt(num),
  periodSeconds: opt(num),
  timeoutSeconds: opt(num),
  failureThreshold: opt(num),
  successThreshold: opt(num),
});

const quantities = opt(object({ cpu: opt(either(str, num, 'must be a quantity')), memory: opt(either(str, num, 'must be a quantity')) }));

const container = object({
  name: str,
  image: str,
  imagePullPolicy: opt(oneOf('Always', 'IfNotPresent', 'Never')),
  command: opt(list(str)),
  args: opt(list(str)),
  env: opt(list(object({ name: str, value: opt(str), valueFrom: opt(object({ secretKeyRef: keyRef, configMapKeyRef: keyRef })) }))),
  ports: opt(list(object({ name: opt(str), containerPort: num, protocol: opt(oneOf('TCP', 'UDP', 'SCTP')), hostPort: opt(num) }))),
  workingDir: opt(str),
  resources: opt(object({ limits: quantities, requests: quantities })),
  volumeMounts: opt(list(object({ name: str, mountPath: str, readOnly: opt(bool) }))),
  livenessProbe: opt(probe),
  readinessProbe: opt(probe),
});

const containerState = object({
  waiting: opt(object({ reason: opt(str), message: opt(str) })),
  running: opt(object({ startedAt: opt(str) })),
  terminated: opt(object({ exitCode: num, reason: opt(str), message: opt(str), startedAt: opt(str), finishedAt: opt(str) })),
});

const conditionStatus = oneOf('True', 'False', 'Unknown');

const pod = object({
  apiVersion: opt(oneOf('v1')),
  kind: opt(oneOf('Pod')),
  metadata: objectMeta,
  spec: object({
    nodeName: opt(str),
    containers: list(container),
    volumes: opt(list(object({ name: str, emptyDir: opt(anyObject), hostPath: opt(object({ path: str, type: opt(str) })) }))),
    restartPolicy: opt(oneOf('Always', 'OnFailure', 'Never')),
    terminationGracePeriodSeconds: opt(num),
  }),
  status: opt(
    object({
      phase: opt(oneOf('Pending', 'Running', 'Succeeded', 'Failed', 'Unknown')),
      conditions: opt(list(object({ type: str, status: conditionStatus, reason: opt(str), message: opt(str), lastTransitionTime: opt(str), lastProbeTime: opt(orNull(str)) }))),
      message: opt(str),
      reason: opt(str),
      hostIP: opt(str),
      podIP: opt(str),
      podIPs: opt(list(object({ ip: str }))),
      startTime: opt(str),
      containerStatuses: opt(
        list(
          object({
            name: str,
            ready: bool,
            started: opt(bool),
            restartCount: num,
            image: str,
            imageID: opt(str),
            containerID: opt(str),
            state: containerState,
            lastState: opt(containerState),
          }),
        ),
      ),
    }),
  ),
});

const protocol = opt(oneOf('TCP', 'UDP', 'SCTP'));

const service = object({
  apiVersion: opt(oneOf('v1')),
  kind: opt(oneOf('Service')),
  metadata: objectMeta,
  spec: object({
    type: opt(oneOf('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName')),
    selector: opt(strings),
    ports: list(object({ name: opt(str), protocol, port: num, targetPort: opt(intOrString), nodePort: opt(num) })),
    clusterIP: opt(str),
    sessionAffinity: opt(oneOf('None', 'ClientIP')),
    sessionAffinityConfig: opt(object({ clientIP: opt(object({ timeoutSeconds: opt(num) })) })),
  }),
  status: opt(anyObject),
});

const endpointAddress = object({
  ip: str,
  nodeName: opt(str),
  targetRef: opt(object({ kind: str, namespace: str, name: str, uid: opt(str) })),
});

const endpoints = object({
  apiVersion: opt(oneOf('v1')),
  kind: opt(oneOf('Endpoints')),
  metadata: objectMeta,
  subsets: opt(list(object({ addresses: opt(list(endpointAddress)), notReadyAddresses: opt(list(endpointAddress)), ports: opt(list(object({ name: opt(str), port: num, protocol }))) }))),
});

const node = object({
  apiVersion: opt(oneOf('v1')),
  kind: opt(oneOf('Node')),
  metadata: objectMeta,
  spec: object({ podCIDR: opt(str), podCIDRs: opt(list(str)) }),
  status: object({
    addresses: opt(list(object({ type: str, address: str }))),
    capacity: opt(strings),
    allocatable: opt(strings),
    conditions: opt(list(object({ type: str, status: conditionStatus, reason: opt(str), message: opt(str), lastHeartbeatTime: opt(str), lastTransitionTime: opt(str) }))),
    nodeInfo: opt(strings),
  }),
});

const secret = object({ apiVersion: opt(oneOf('v1')), kind: opt(oneOf('Secret')), metadata: objectMeta, data: opt(strings), stringData: opt(strings), type: opt(str) });
const configMap = object({ apiVersion: opt(oneOf('v1')), kind: opt(oneOf('ConfigMap')), metadata: objectMeta, data: opt(strings) });

export const parsePodObject: Parser<Pod> = parserOf(pod);
export const parseServiceObject: Parser<Service> = parserOf(service);
export const parseEndpointsObject: Parser<Endpoints> = parserOf(endpoints);
export const parseNodeObject: Parser<Node> = parserOf(node);
export const parseSecretObject: Parser<Secret> = parserOf(secret);
export const parseConfigMapObject: Parser<ConfigMap> = parserOf(configMap);
/** Any JSON object, fields unchecked: for code that validates on its own (the kubelet's pods) or rewrites raw. */
export const parseJsonObject: Parser<Record<string, unknown>> = parserOf(anyObject);
