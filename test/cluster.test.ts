// The parsers of the objects under /registry (cluster/parse.ts) and the store's decoding: a value is
// returned as it is (unknown fields kept) once its shape is checked, or reported corrupt with the
// path of the first bad field.
import { describe, expect, it } from 'vitest';
import {
  InvalidObjectError,
  decodeObject,
  type Parser,
  parseConfigMapObject,
  parseEndpointsObject,
  parseJsonObject,
  parseNodeObject,
  parsePodObject,
  parseSecretObject,
  parseServiceObject,
} from '../cluster/index.js';
import { parseRangeOwner } from '../proxy/index.js';

/** The error a parser throws for `v` (fails the test when it accepts it). */
function rejects(parse: Parser<unknown>, v: unknown): InvalidObjectError {
  try {
    parse(v);
  } catch (e) {
    if (e instanceof InvalidObjectError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(v)}`);
}

const pod = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default', labels: { 'app.kubernetes.io/name': 'web' }, futureField: 1 },
  spec: {
    nodeName: 'a',
    containers: [
      {
        name: 'c',
        image: 'busybox',
        ports: [{ name: 'http', containerPort: 8080, protocol: 'SCTP' }],
        resources: { limits: { cpu: 2, memory: '64Mi' } },
        readinessProbe: { httpGet: { port: 'http' }, periodSeconds: 1 },
        env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
      },
    ],
    dnsPolicy: 'ClusterFirst',
  },
  status: {
    phase: 'Running',
    podIP: '10.5.1.2',
    conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null }],
    containerStatuses: [{ name: 'c', ready: true, restartCount: 0, image: 'busybox', state: { running: { startedAt: 'x' } } }],
  },
});

describe('cluster object parsers', () => {
  it('return the very object, unknown fields kept', () => {
    const p = pod();
    expect(parsePodObject(p)).toBe(p);
    const svc = { metadata: { name: 's' }, spec: { type: 'LoadBalancer', ports: [{ port: 53, protocol: 'UDP', targetPort: 'dns' }], ipFamilies: ['IPv4'] } };
    expect(parseServiceObject(svc)).toBe(svc);
    // Kubernetes omits an empty subsets list.
    expect(parseEndpointsObject({ metadata: { name: 'e' } })).toEqual({ metadata: { name: 'e' } });
    expect(parseNodeObject({ metadata: { name: 'n' }, spec: {}, status: { capacity: { cpu: '2' }, conditions: [{ type: 'Ready', status: 'Unknown' }] } })).toBeTruthy();
    expect(parseSecretObject({ metadata: { name: 's' }, data: { k: 'dg==' }, type: 'Opaque' })).toBeTruthy();
    expect(parseConfigMapObject({ metadata: { name: 'c' }, data: { k: 'v' } })).toBeTruthy();
    expect(parseJsonObject({ anything: [1] })).toEqual({ anything: [1] });
    expect(parseRangeOwner({ namespace: 'default', name: 'web', uid: 'u' })).toEqual({ namespace: 'default', name: 'web', uid: 'u' });
  });

  it('name the first bad field by its path, with the value', () => {
    const cases: [Parser<unknown>, unknown, string, string][] = [
      [parsePodObject, [], '', 'must be an object'],
      [parsePodObject, { ...pod(), metadata: { namespace: 'default' } }, 'metadata.name', 'is required'],
      [parsePodObject, { ...pod(), metadata: { name: 'p', labels: { app: 1 } } }, 'metadata.labels["app"]', 'must be a string'],
      [parsePodObject, { ...pod(), spec: { containers: [{ name: 'a', image: 'i' }, { name: 'b' }] } }, 'spec.containers[1].image', 'is required'],
      [parsePodObject, { ...pod(), spec: { containers: [{ name: 'a', image: 'i', readinessProbe: { tcpSocket: { port: true } } }] } }, 'spec.containers[0].readinessProbe.tcpSocket.port', 'must be a number or a string'],
      [parsePodObject, { ...pod(), status: { conditions: [{ type: 'Ready', status: 'yes' }] } }, 'status.conditions[0].status', 'must be one of True, False, Unknown'],
      [parseServiceObject, { metadata: { name: 's' }, spec: { ports: [{ port: '80' }] } }, 'spec.ports[0].port', 'must be a number'],
      [parseServiceObject, { metadata: { name: 's' }, spec: { type: 'Headless', ports: [] } }, 'spec.type', 'must be one of ClusterIP, NodePort, LoadBalancer, ExternalName'],
      [parseServiceObject, { metadata: { name: 's' }, spec: {} }, 'spec.ports', 'is required'],
      [parseServiceObject, { metadata: { name: 's' }, spec: { ports: {} } }, 'spec.ports', 'must be a list'],
      [parseEndpointsObject, { metadata: { name: 'e' }, subsets: [{ addresses: [{ nodeName: 'a' }] }] }, 'subsets[0].addresses[0].ip', 'is required'],
      [parseNodeObject, { metadata: { name: 'n' }, spec: {} }, 'status', 'is required'],
      [parseSecretObject, { metadata: { name: 's' }, data: { k: 5 } }, 'data["k"]', 'must be a string'],
      [parseConfigMapObject, { metadata: 'c' }, 'metadata', 'must be an object'],
      [parseRangeOwner, { namespace: 'default' }, 'name', 'is required'],
    ];
    for (const [parse, v, path, reason] of cases) {
      const e = rejects(parse, v);
      expect({ path: e.path, reason: e.reason }).toEqual({ path, reason });
    }
    expect(rejects(parseServiceObject, { metadata: { name: 's' }, spec: { ports: [{ port: '80' }] } }).message).toBe('spec.ports[0].port must be a number (got "80")');
    expect(new InvalidObjectError('spec', undefined, 'is required', '/registry/x').message).toBe('/registry/x: spec is required (got nothing)');
  });
});

describe('decodeObject', () => {
  it('gives the typed object, or the reason with the key and the field', () => {
    expect(decodeObject('/k', '{"metadata":{"name":"c"}}', '7', parseConfigMapObject)).toEqual({ key: '/k', obj: { metadata: { name: 'c' } }, modRevision: '7' });
    expect(decodeObject('/k', '{nope', '7', parseConfigMapObject)).toEqual({ key: '/k', reason: expect.stringMatching(/^value is not JSON: /), modRevision: '7' });
    expect(decodeObject('/k', '[1]', '7', parseJsonObject)).toEqual({ key: '/k', reason: 'the object must be an object (got [1])', path: '', modRevision: '7' });
    expect(decodeObject('/k', '{"metadata":{"name":"c"},"data":{"a":[]}}', '8', parseConfigMapObject)).toEqual({
      key: '/k',
      reason: 'data["a"] must be a string (got [])',
      path: 'data["a"]',
      modRevision: '8',
    });
    // A parser that fails otherwise (a bug) still yields a corrupt entry, never an exception in a listing.
    const broken: Parser<never> = () => {
      throw new TypeError('boom');
    };
    expect(decodeObject('/k', '{}', '9', broken)).toEqual({ key: '/k', reason: 'cannot be parsed: boom', modRevision: '9' });
  });
});
