// The endpoints controller's pure part: pods + service → Endpoints (ready and not-ready addresses,
// named ports resolved per pod, subsets repacked), the labels and trigger-time annotation, and when a
// write is needed.
import { describe, expect, it } from 'vitest';
import type { Pod, Service } from '../cluster/index.js';
import { desiredEndpoints, endpointsChanged, endpointSubsets, podIpsFor, repackSubsets, resolveTargetPort, TRIGGER_TIME_ANNOTATION, TriggerTimeTracker } from '../controllers/index.js';

function pod(
  name: string,
  ip: string,
  labels: Record<string, string>,
  o: { ready?: boolean; node?: string; ports?: { name: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[]; phase?: 'Running' | 'Succeeded'; deleting?: boolean; readySince?: string } = {},
): Pod {
  return {
    metadata: { name, namespace: 'default', labels, uid: `uid-${name}`, ...(o.deleting && { deletionTimestamp: '2024-01-01T00:00:00Z' }) },
    spec: { nodeName: o.node ?? 'a', containers: [{ name: 'c', image: 'x', ports: o.ports ?? [] }] },
    status: { phase: o.phase ?? 'Running', podIP: ip, conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', ...(o.readySince && { lastTransitionTime: o.readySince }) }] },
  };
}
const refs = (pods: Pod[]) => pods.map((p) => ({ namespace: 'default', name: p.metadata.name!, pod: p }));
const web: Service = { metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'metrics', port: 9100 }] } };
const addr = (name: string, ip: string, node = 'a') => ({ ip, nodeName: node, targetRef: { kind: 'Pod', namespace: 'default', name, uid: `uid-${name}` } });

describe('endpoint subsets', () => {
  it('lists matching pods with resolved ports, ready and not ready apart; finished and terminating pods left out', () => {
    const s = endpointSubsets('default', web, refs([
      pod('w2', '10.5.2.3', { app: 'web' }, { node: 'b', ports: [{ name: 'http', containerPort: 8080 }] }),
      pod('w1', '10.5.1.2', { app: 'web', v: '1' }, { ports: [{ name: 'http', containerPort: 8080 }] }),
      pod('w3', '10.5.1.3', { app: 'web' }, { ready: false, ports: [{ name: 'http', containerPort: 8080 }] }),
      pod('db', '10.5.1.4', { app: 'db' }, { ports: [{ name: 'http', containerPort: 8080 }] }),
      pod('old', '10.5.1.5', { app: 'web' }, { phase: 'Succeeded' }),
      pod('bye', '10.5.1.6', { app: 'web' }, { deleting: true, ports: [{ name: 'http', containerPort: 8080 }] }),
    ]));
    expect(s).toEqual([
      {
        addresses: [addr('w1', '10.5.1.2'), addr('w2', '10.5.2.3', 'b')],
        notReadyAddresses: [addr('w3', '10.5.1.3')],
        ports: [
          { name: 'http', port: 8080, protocol: 'TCP' },
          { name: 'metrics', port: 9100, protocol: 'TCP' },
        ],
      },
    ]);
  });

  it('puts pods that serve a named port on different numbers into different subsets, and skips a port a pod lacks', () => {
    const s = endpointSubsets('default', web, refs([
      pod('a', '10.5.1.2', { app: 'web' }, { ports: [{ name: 'http', containerPort: 8080 }] }),
      pod('b', '10.5.1.3', { app: 'web' }, { ports: [{ name: 'http', containerPort: 9090 }] }),
      pod('c', '10.5.1.4', { app: 'web' }),
    ]));
    expect(s.map((x) => [x.addresses?.map((a) => a.ip), x.ports?.map((p) => p.port)])).toEqual([
      [['10.5.1.2'], [8080, 9100]],
      [['10.5.1.3'], [9090, 9100]],
      [['10.5.1.4'], [9100]],
    ]);
  });

  it('with publishNotReadyAddresses lists not-ready and terminating pods as ready addresses', () => {
    const svc: Service = { ...web, spec: { ...web.spec, publishNotReadyAddresses: true, ports: [{ port: 80, targetPort: 8080 }] } };
    const s = endpointSubsets('default', svc, refs([pod('x', '10.5.1.9', { app: 'web' }, { ready: false }), pod('y', '10.5.1.10', { app: 'web' }, { deleting: true })]));
    // Sorted by the IP's text, as Kubernetes compares them.
    expect(s).toEqual([{ addresses: [addr('y', '10.5.1.10'), addr('x', '10.5.1.9')], ports: [{ port: 8080, protocol: 'TCP' }] }]);
  });

  it('a headless service without ports lists the addresses alone; a service without a selector gets nothing', () => {
    const headless: Service = { metadata: { name: 'h', namespace: 'default' }, spec: { clusterIP: 'None', selector: { app: 'web' }, ports: [] } };
    expect(endpointSubsets('default', headless, refs([pod('x', '10.5.1.9', { app: 'web' })]))).toEqual([{ addresses: [addr('x', '10.5.1.9')] }]);
    expect(endpointSubsets('default', { ...web, spec: { ports: web.spec.ports } }, refs([pod('x', '10.5.1.9', { app: 'web' })]))).toEqual([]);
  });

  it('resolves target ports by number, by name and protocol, and defaults to the port', () => {
    const p = pod('x', '10.5.1.2', {}, { ports: [{ name: 'dns', containerPort: 5353, protocol: 'UDP' }, { name: 'dns', containerPort: 5354 }] });
    expect(resolveTargetPort(p, { port: 53, targetPort: 'dns', protocol: 'UDP' })).toBe(5353);
    expect(resolveTargetPort(p, { port: 53, targetPort: 'dns' })).toBe(5354);
    expect(resolveTargetPort(p, { port: 53, targetPort: 8053 })).toBe(8053);
    expect(resolveTargetPort(p, { port: 53 })).toBe(53);
    expect(resolveTargetPort(p, { port: 53, targetPort: 'nope' })).toBeUndefined();
  });

  it('repacks subsets into one per set of ports, whatever order they came in', () => {
    const a = addr('a', '10.0.0.2');
    const b = addr('b', '10.0.0.1');
    const p1 = { name: 'x', port: 1, protocol: 'TCP' as const };
    const p2 = { name: 'y', port: 2, protocol: 'TCP' as const };
    const packed = repackSubsets([{ addresses: [a], ports: [p2] }, { addresses: [b], ports: [p1] }, { addresses: [a], ports: [p1] }, { addresses: [b], ports: [p2] }]);
    expect(packed).toEqual([{ addresses: [b, a], ports: [p1, p2] }]);
    expect(repackSubsets([{ addresses: [b], ports: [p2, p1] }, { addresses: [a], ports: [p1, p2] }])).toEqual(packed);
  });
});

describe('the Endpoints object', () => {
  it('carries the service labels, keeps other annotations, and sets the trigger time when known', () => {
    const cur = { metadata: { name: 'web', namespace: 'default', annotations: { keep: 'me', [TRIGGER_TIME_ANNOTATION]: 'old' } } };
    const e = desiredEndpoints('default', 'web', web, refs([pod('a', '10.5.1.2', { app: 'web' })]), cur, '2026-01-01T00:00:00Z');
    expect(e.metadata).toEqual({ name: 'web', namespace: 'default', labels: { app: 'web' }, annotations: { keep: 'me', [TRIGGER_TIME_ANNOTATION]: '2026-01-01T00:00:00Z' } });
    const none = desiredEndpoints('default', 'web', web, [], cur, undefined);
    expect(none.subsets).toBeUndefined();
    expect(none.metadata.annotations).toEqual({ keep: 'me' });
  });

  it('is rewritten only when its subsets or labels change, not for another trigger time or order', () => {
    const pods = refs([pod('a', '10.5.1.2', { app: 'web' }), pod('b', '10.5.1.3', { app: 'web' })]);
    const e = desiredEndpoints('default', 'web', web, pods, undefined, 't1');
    expect(endpointsChanged(undefined, e)).toBe(true);
    expect(endpointsChanged(e, desiredEndpoints('default', 'web', web, [...pods].reverse(), e, 't2'))).toBe(false);
    expect(endpointsChanged(e, desiredEndpoints('default', 'web', web, pods.slice(0, 1), e, undefined))).toBe(true);
    expect(endpointsChanged(e, desiredEndpoints('default', 'web', { ...web, metadata: { ...web.metadata, labels: { app: 'web2' } } }, pods, e, undefined))).toBe(true);
  });

  it('dates a change by the earliest trigger among what changed since the last sync', () => {
    const t = new TriggerTimeTracker();
    const svc = { ...web, metadata: { ...web.metadata, creationTimestamp: '2026-01-01T00:00:00Z' } };
    const a = pod('a', '10.5.1.2', { app: 'web' }, { readySince: '2026-01-01T00:01:00Z' });
    expect(t.compute('default/web', svc, refs([a]))).toBe('2026-01-01T00:00:00Z');
    expect(t.compute('default/web', svc, refs([a]))).toBeUndefined();
    const b = pod('b', '10.5.1.3', { app: 'web' }, { readySince: '2026-01-01T00:03:00Z' });
    const a2 = pod('a', '10.5.1.2', { app: 'web' }, { ready: false, readySince: '2026-01-01T00:02:00Z' });
    expect(t.compute('default/web', svc, refs([a2, b]))).toBe('2026-01-01T00:02:00Z');
  });
});

describe('dual-stack endpoints', () => {
  const dualPod = (name: string, v4: string, v6: string): Pod => {
    const p = pod(name, v4, { app: 'web' }, { ports: [{ name: 'http', containerPort: 8080 }] });
    p.status!.podIPs = [{ ip: v4 }, { ip: v6 }];
    return p;
  };
  const svc = (spec: Record<string, unknown>): Service => ({ ...web, spec: { ...web.spec, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec } });

  it('carries each family of the service the pods have an address of', () => {
    const pods = refs([dualPod('w1', '10.5.1.2', 'fc00:0:0:1::2'), pod('w2', '10.5.2.3', { app: 'web' }, { node: 'b', ports: [{ name: 'http', containerPort: 8080 }] })]);
    expect(endpointSubsets('default', svc({ ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' }), pods)).toEqual([
      { addresses: [addr('w1', '10.5.1.2'), addr('w2', '10.5.2.3', 'b'), addr('w1', 'fc00:0:0:1::2')], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    ]);
    // Single stack: the service's family only, as Kubernetes' Endpoints.
    expect(endpointSubsets('default', svc({ ipFamilies: ['IPv6'] }), pods)).toEqual([{ addresses: [addr('w1', 'fc00:0:0:1::2')], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }]);
    expect(endpointSubsets('default', svc({ ipFamilies: ['IPv4'] }), pods)[0]!.addresses!.map((a) => a.ip)).toEqual(['10.5.1.2', '10.5.2.3']);
  });

  it('reads the family off the ClusterIP (or a headless service\'s pod) when the service has no ipFamilies', () => {
    const p = dualPod('w1', '10.5.1.2', 'fc00:0:0:1::2');
    expect(podIpsFor(svc({ clusterIP: 'fd00::10' }), p)).toEqual(['fc00:0:0:1::2']);
    expect(podIpsFor(svc({ clusterIP: 'None' }), p)).toEqual(['10.5.1.2']);
    expect(podIpsFor(svc({}), p)).toEqual(['10.5.1.2']);
  });
});
