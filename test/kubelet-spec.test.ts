// The kubelet's boundary: pod validation (the path of the bad field), quantities, durations, Docker
// resources, the container spec hash, service environment variables and env resolution.
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import type { Container, Pod, Service } from '../cluster/index.js';
import {
  ContainerConfigError,
  InvalidPodError,
  containerHash,
  dockerResources,
  expand,
  flagDuration,
  parseQuantity,
  probeSettings,
  resolveContainerEnv,
  resolvePort,
  secretData,
  serviceEnv,
  validatePod,
} from '../kubelet/index.js';

const base = (over: Record<string, unknown> = {}, c: Record<string, unknown> = {}): Record<string, unknown> => ({
  metadata: { name: 'p', namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'busybox', ...c }], ...over },
});

function invalid(raw: unknown): InvalidPodError {
  try {
    validatePod(raw);
  } catch (e) {
    if (e instanceof InvalidPodError) return e;
    throw e;
  }
  throw new Error('expected an InvalidPodError');
}

describe('quantities and durations', () => {
  it('parses Kubernetes quantities in base units', () => {
    expect(parseQuantity('128Mi')).toBe(128 * 2 ** 20);
    expect(parseQuantity('1Gi')).toBe(2 ** 30);
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity('1.5')).toBe(1.5);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('100M')).toBe(1e8);
    expect(parseQuantity('12k')).toBe(12_000);
    expect(parseQuantity(3)).toBe(3);
    for (const bad of ['', 'Mi', '1Xi', '-1', '1 Mi', 'abc']) expect(parseQuantity(bad), bad).toBeUndefined();
  });

  it('parses Go-style durations for flags, and bare seconds as the kubelet always has', () => {
    expect(flagDuration('10s')).toBe(10_000);
    expect(flagDuration('500ms')).toBe(500);
    expect(flagDuration('1m30s')).toBe(90_000);
    expect(flagDuration('2h')).toBe(7_200_000);
    expect(flagDuration('1.5h')).toBe(5_400_000);
    expect(flagDuration(' 10s ')).toBe(10_000);
    expect(flagDuration('5')).toBe(5_000);
    expect(flagDuration('0.5')).toBe(500);
    expect(flagDuration('0')).toBe(0);
    for (const bad of ['', 's', '10x', '1m 30s', '-1s', '.s']) expect(() => flagDuration(bad), bad).toThrow(InvalidArgumentError);
    expect(() => flagDuration('10x')).toThrow(/unknown unit "x"/);
  });

  it('maps limits to Docker: memory bytes, CPU quota over 100 ms, shares from requests', () => {
    const c = (resources: Container['resources']): Container => ({ name: 'c', image: 'i', resources });
    expect(dockerResources(c({ limits: { memory: '64Mi', cpu: '500m' } }))).toEqual({ Memory: 64 * 2 ** 20, CpuPeriod: 100_000, CpuQuota: 50_000, CpuShares: 512 });
    expect(dockerResources(c({ limits: { cpu: '2' }, requests: { cpu: '250m' } }))).toEqual({ CpuPeriod: 100_000, CpuQuota: 200_000, CpuShares: 256 });
    expect(dockerResources(c({ limits: { cpu: '1m' } }))).toMatchObject({ CpuQuota: 1000, CpuShares: 2 });
    expect(dockerResources(c(undefined))).toEqual({});
  });
});

describe('validatePod', () => {
  it('accepts a full pod and returns it as is (unknown fields kept)', () => {
    const raw = base(
      { volumes: [{ name: 'v', emptyDir: {} }, { name: 'h', hostPath: { path: '/srv', type: 'DirectoryOrCreate' } }], restartPolicy: 'OnFailure', custom: 1 },
      {
        ports: [{ name: 'http', containerPort: 80 }],
        env: [{ name: 'A', value: 'x' }, { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }, { name: 'C', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
        volumeMounts: [{ name: 'v', mountPath: '/v' }],
        resources: { limits: { cpu: '1', memory: '1Gi' } },
        livenessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 2 },
        readinessProbe: { exec: { command: ['true'] } },
      },
    );
    expect(validatePod(raw)).toBe(raw);
  });

  it('names the path of the first bad field', () => {
    const cases: [unknown, string][] = [
      ['nope', ''],
      [{ spec: {} }, 'metadata'],
      [base({ containers: [] }), 'spec.containers'],
      [base({}, { image: '' }), 'spec.containers[0].image'],
      [base({}, { name: 'Bad_Name' }), 'spec.containers[0].name'],
      [base({ restartPolicy: 'Sometimes' }), 'spec.restartPolicy'],
      [base({}, { command: 'sleep 1' }), 'spec.containers[0].command'],
      [base({}, { ports: [{ containerPort: 70000 }] }), 'spec.containers[0].ports[0].containerPort'],
      [base({}, { env: [{ name: 'X', valueFrom: { resourceFieldRef: {} } }] }), 'spec.containers[0].env[0].valueFrom.resourceFieldRef'],
      [base({}, { resources: { limits: { memory: 'lots' } } }), 'spec.containers[0].resources.limits.memory'],
      [base({}, { volumeMounts: [{ name: 'missing', mountPath: '/x' }] }), 'spec.containers[0].volumeMounts[0].name'],
      [base({ volumes: [{ name: 'n', nfs: { server: 'x' } }] }), 'spec.volumes[0]'],
      [base({}, { livenessProbe: { tcpSocket: { port: 'nope' } } }), 'spec.containers[0].livenessProbe.tcpSocket.port'],
      [base({}, { readinessProbe: { exec: { command: ['x'] }, httpGet: { port: 1 } } }), 'spec.containers[0].readinessProbe'],
      [{ metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }, { name: 'c', image: 'i' }] } }, 'spec.containers[1].name'],
    ];
    for (const [raw, path] of cases) expect(invalid(raw).path, JSON.stringify(raw)).toBe(path);
    expect(invalid(base({}, { image: 3 })).message).toBe('spec.containers[0].image: required (got 3)');
  });
});

describe('container hash, ports, probe defaults', () => {
  it('hashes the spec independently of key order, and changes with the spec', () => {
    const a: Container = { name: 'c', image: 'i', command: ['a'], env: [{ name: 'X', value: '1' }] };
    const b = JSON.parse('{"env":[{"value":"1","name":"X"}],"command":["a"],"image":"i","name":"c"}') as Container;
    expect(containerHash(a)).toBe(containerHash(b));
    expect(containerHash({ ...a, command: ['b'] })).not.toBe(containerHash(a));
    expect(containerHash(a)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('resolves named ports and fills probe defaults', () => {
    const c: Container = { name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 8080 }] };
    expect(resolvePort(c, 'http')).toBe(8080);
    expect(resolvePort(c, 81)).toBe(81);
    expect(resolvePort(c, 'grpc')).toBeUndefined();
    expect(probeSettings({ exec: { command: ['x'] } })).toEqual({ initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, failureThreshold: 3, successThreshold: 1 });
  });
});

describe('environment', () => {
  const svc = (name: string, ip: string | undefined, ports: Service['spec']['ports']): Service => ({ metadata: { name, namespace: 'default' }, spec: { ...(ip !== undefined && { clusterIP: ip }), ports } });

  it("makes Kubernetes' service variables, Docker-link style included", () => {
    const env = serviceEnv([
      svc('redis-master', '10.0.0.11', [{ port: 6379, protocol: 'TCP' }]),
      svc('dns', '10.0.0.10', [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }]),
      svc('headless', 'None', [{ port: 80 }]),
      svc('pending', undefined, [{ port: 80 }]),
    ]);
    expect(Object.fromEntries(env)).toEqual({
      DNS_SERVICE_HOST: '10.0.0.10',
      DNS_SERVICE_PORT: '53',
      DNS_SERVICE_PORT_DNS: '53',
      DNS_SERVICE_PORT_DNS_TCP: '53',
      DNS_PORT: 'udp://10.0.0.10:53',
      DNS_PORT_53_UDP: 'udp://10.0.0.10:53',
      DNS_PORT_53_UDP_PROTO: 'udp',
      DNS_PORT_53_UDP_PORT: '53',
      DNS_PORT_53_UDP_ADDR: '10.0.0.10',
      DNS_PORT_53_TCP: 'tcp://10.0.0.10:53',
      DNS_PORT_53_TCP_PROTO: 'tcp',
      DNS_PORT_53_TCP_PORT: '53',
      DNS_PORT_53_TCP_ADDR: '10.0.0.10',
      REDIS_MASTER_SERVICE_HOST: '10.0.0.11',
      REDIS_MASTER_SERVICE_PORT: '6379',
      REDIS_MASTER_PORT: 'tcp://10.0.0.11:6379',
      REDIS_MASTER_PORT_6379_TCP: 'tcp://10.0.0.11:6379',
      REDIS_MASTER_PORT_6379_TCP_PROTO: 'tcp',
      REDIS_MASTER_PORT_6379_TCP_PORT: '6379',
      REDIS_MASTER_PORT_6379_TCP_ADDR: '10.0.0.11',
    });
  });

  it('expands $(VAR) as Kubernetes does', () => {
    const vars: Record<string, string> = { A: 'x', B: 'y' };
    const look = (n: string): string | undefined => vars[n];
    expect(expand('$(A)-$(B)', look)).toBe('x-y');
    expect(expand('$(MISSING)', look)).toBe('$(MISSING)');
    expect(expand('$$(A)', look)).toBe('$(A)');
    expect(expand('cost $5 $', look)).toBe('cost $5 $');
    expect(expand('$(A', look)).toBe('$(A');
  });

  it('resolves literals, secrets, config maps, fields and services; the container wins; a missing secret is a config error', async () => {
    const pod: Pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { nodeName: 'n1', containers: [] } };
    const src = {
      secret: async (ns: string, n: string) => (ns === 'ns' && n === 's' ? secretData({ data: { k: Buffer.from('secret').toString('base64') } }) : undefined),
      configMap: async (_ns: string, n: string) => (n === 'cm' ? { mode: 'fast' } : undefined),
      services: () => [svc('web', '10.96.0.5', [{ port: 80 }])],
      podIP: '10.5.1.2',
      hostIP: '192.0.2.11',
    };
    const c: Container = {
      name: 'c',
      image: 'i',
      command: ['echo', '$(MODE)'],
      args: ['$(WEB_SERVICE_HOST)', '$(NONE)'],
      env: [
        { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'cm', key: 'mode' } } },
        { name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        { name: 'OPT', valueFrom: { secretKeyRef: { name: 'absent', key: 'k', optional: true } } },
        { name: 'WEB_SERVICE_PORT', value: 'mine' },
        { name: 'URL', value: 'http://$(WEB_SERVICE_HOST)/$(MODE)' },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } } as never,
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } } as never,
      ],
    };
    const r = await resolveContainerEnv(pod, c, src);
    const env = Object.fromEntries(r.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    expect(env).toMatchObject({ MODE: 'fast', PW: 'secret', WEB_SERVICE_PORT: 'mine', URL: 'http://10.96.0.5/fast', IP: '10.5.1.2', NODE: 'n1', WEB_SERVICE_HOST: '10.96.0.5' });
    expect(env.OPT).toBeUndefined();
    expect(r.command).toEqual(['echo', 'fast']);
    expect(r.args).toEqual(['10.96.0.5', '$(NONE)']);
    await expect(resolveContainerEnv(pod, { name: 'c', image: 'i', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } }] }, src)).rejects.toThrow(new ContainerConfigError('c', 'secret "gone" not found'));
    await expect(resolveContainerEnv(pod, { name: 'c', image: 'i', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'nokey' } } }] }, src)).rejects.toThrow("couldn't find key nokey in ConfigMap ns/cm");
    const noLinks = await resolveContainerEnv({ ...pod, spec: { ...pod.spec, enableServiceLinks: false } }, { name: 'c', image: 'i' }, src);
    expect(noLinks.env).toEqual([]);
  });

  it('decodes secrets: base64 data, stringData winning', () => {
    expect(secretData({ data: { a: Buffer.from('1').toString('base64'), b: Buffer.from('2').toString('base64') }, stringData: { b: 'two' } })).toEqual({ a: '1', b: 'two' });
  });
});
