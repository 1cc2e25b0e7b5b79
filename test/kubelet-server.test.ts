// The pure parts of the kubelet's server and of the apiserver's way to it: paths to authorization
// attributes and routes, the log query, Docker's stream framing, the review bodies, the kubelet's address
// from a Node, the container a request is about, the kubelet paths the apiserver asks.
import { describe, expect, it } from 'vitest';
import { accessReviewBody, ByteBudget, dialInNetns, dockerLogsQuery, forbiddenText, FrameDemuxer, logContainer, LookupError, nodeAttributes, parseLogQuery, routeOf, runCommand, tokenReviewUser } from '../kubelet/server/index.js';
import { containerOf, kubeletAddress, kubeletConnectPath, kubeletLogQuery, nodeOf, nodeProxyRest, parseAddressTypes, podKubelet, specNodeName } from '../apiserver/kubelet-proxy.js';
import { ApiError } from '../apiserver/index.js';
import type { Pod } from '../cluster/index.js';
import type { RuntimePod } from '../kubelet/index.js';

const frame = (stream: number, text: string): Buffer => {
  const body = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
};

describe('kubelet paths', () => {
  it('maps paths to nodes/<subresource> as the kubelet authorizes them, the verb from the method', () => {
    expect(nodeAttributes('GET', '/containerLogs/default/p/c', 'a')).toEqual({ verb: 'get', resource: 'nodes', name: 'a', subresources: ['proxy'], path: '/containerLogs/default/p/c' });
    expect(nodeAttributes('POST', '/exec/default/p/c', 'a').verb).toBe('create');
    expect(nodeAttributes('GET', '/stats/summary', 'a').subresources).toEqual(['stats']);
    expect(nodeAttributes('GET', '/metrics/cadvisor', 'a').subresources).toEqual(['metrics']);
    expect(nodeAttributes('GET', '/logs/', 'a').subresources).toEqual(['log']);
    expect(nodeAttributes('GET', '/pods', 'a').subresources).toEqual(['pods', 'proxy']);
    expect(nodeAttributes('GET', '/healthz', 'a').subresources).toEqual(['healthz', 'proxy']);
    // Not below /stats: a prefix of the name is not a subpath.
    expect(nodeAttributes('GET', '/statsfoo', 'a').subresources).toEqual(['proxy']);
    expect(nodeAttributes('DELETE', '/pods', 'a').verb).toBe('delete');
  });

  it('routes the endpoints, with and without the pod UID, and nothing else', () => {
    expect(routeOf('/healthz')).toEqual({ kind: 'healthz' });
    expect(routeOf('/pods')).toEqual({ kind: 'pods' });
    expect(routeOf('/containerLogs/ns/p/c')).toEqual({ kind: 'containerLogs', namespace: 'ns', pod: 'p', container: 'c' });
    expect(routeOf('/exec/ns/p/c')).toEqual({ kind: 'exec', namespace: 'ns', pod: 'p', container: 'c' });
    expect(routeOf('/attach/ns/p/uid-1/c')).toEqual({ kind: 'attach', namespace: 'ns', pod: 'p', uid: 'uid-1', container: 'c' });
    expect(routeOf('/portForward/ns/p')).toEqual({ kind: 'portForward', namespace: 'ns', pod: 'p' });
    expect(routeOf('/run/ns/p/c')).toEqual({ kind: 'run', namespace: 'ns', pod: 'p', container: 'c' });
    expect(routeOf('/containerLogs/ns/p')).toBeUndefined();
    expect(routeOf('/exec/ns/p/%zz')).toBeUndefined();
    expect(routeOf('/nope')).toBeUndefined();
    expect(runCommand(new URLSearchParams('cmd=echo  hello   world'))).toEqual(['echo', 'hello', 'world']);
  });
});

describe('log query', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads PodLogOptions and turns them into the Docker logs query', () => {
    const o = parseLogQuery(new URLSearchParams('follow=true&tailLines=5&timestamps=1&sinceSeconds=60&limitBytes=100'), now);
    expect(o).toEqual({ follow: true, previous: false, timestamps: true, tailLines: 5, sinceMs: now - 60_000, limitBytes: 100 });
    expect(dockerLogsQuery(o)).toEqual({ stdout: 1, stderr: 1, follow: 1, timestamps: 1, tail: 5, since: String((now - 60_000) / 1000) + '.000' });
    expect(dockerLogsQuery(parseLogQuery(new URLSearchParams(''), now))).toEqual({ stdout: 1, stderr: 1, follow: 0, timestamps: 0, tail: 'all' });
    expect(parseLogQuery(new URLSearchParams('sinceTime=2025-12-31T23:59:00Z&previous=true'), now)).toMatchObject({ previous: true, sinceMs: now - 60_000 });
  });

  it('refuses what Kubernetes refuses, naming the field', () => {
    expect(() => parseLogQuery(new URLSearchParams('tailLines=-1'), now)).toThrow('tailLines: Invalid value: -1: must be greater than or equal to 0');
    expect(() => parseLogQuery(new URLSearchParams('limitBytes=0'), now)).toThrow('limitBytes: Invalid value: 0: must be greater than 0');
    expect(() => parseLogQuery(new URLSearchParams('sinceSeconds=0'), now)).toThrow('sinceSeconds: Invalid value: 0');
    expect(() => parseLogQuery(new URLSearchParams('sinceSeconds=5&sinceTime=2025-12-31T23:59:00Z'), now)).toThrow('at most one of `sinceTime` or `sinceSeconds`');
    expect(() => parseLogQuery(new URLSearchParams('tailLines=abc'), now)).toThrow('tailLines: Invalid value: "abc"');
    expect(() => parseLogQuery(new URLSearchParams('sinceTime=yesterday'), now)).toThrow('sinceTime');
  });
});

describe("Docker's stream framing", () => {
  it('splits frames however the chunks cut them', () => {
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'oops'), frame(1, 'world\n')]);
    for (const cut of [1, 3, 8, 9, 13, all.length - 1]) {
      const d = new FrameDemuxer();
      const frames = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
      const of = (s: number): string => Buffer.concat(frames.filter((f) => f.stream === s).map((f) => f.data)).toString();
      expect(of(1)).toBe('hello world\n');
      expect(of(2)).toBe('oops');
    }
  });

  it('hands out a long payload as it arrives, before its frame is whole', () => {
    const d = new FrameDemuxer();
    const f = frame(1, 'abcdefgh');
    expect(d.push(f.subarray(0, 11)).map((x) => x.data.toString())).toEqual(['abc']);
    expect(d.push(f.subarray(11)).map((x) => x.data.toString())).toEqual(['defgh']);
  });

  it('limitBytes cuts the output at the limit', () => {
    const b = new ByteBudget(5);
    expect(b.take(Buffer.from('abc'))).toEqual({ data: Buffer.from('abc'), done: false });
    expect(b.take(Buffer.from('defg'))).toEqual({ data: Buffer.from('de'), done: true });
    expect(new ByteBudget(undefined).take(Buffer.from('x')).done).toBe(false);
  });
});

describe('kubelet authentication and authorization bodies', () => {
  it('reads a TokenReview answer', () => {
    expect(tokenReviewUser({ status: { authenticated: true, user: { username: 'bob', uid: '1', groups: ['g', 'system:authenticated'], extra: { k: ['v'] } } } })).toEqual({ user: { name: 'bob', uid: '1', groups: ['g', 'system:authenticated'], extra: { k: ['v'] } } });
    expect(tokenReviewUser({ status: { authenticated: false, error: 'invalid bearer token' } })).toEqual({ failure: 'invalid bearer token' });
    expect(tokenReviewUser({})).toEqual({ failure: 'token not authenticated' });
  });

  it('asks a SubjectAccessReview for the verb on nodes/<subresource> named this node', () => {
    const a = nodeAttributes('POST', '/exec/default/p/c', 'node-a');
    expect(accessReviewBody({ name: 'kube-apiserver-kubelet-client', groups: ['system:authenticated'] }, a, 'proxy')).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: 'kube-apiserver-kubelet-client', groups: ['system:authenticated'], resourceAttributes: { verb: 'create', group: '', version: 'v1', resource: 'nodes', subresource: 'proxy', name: 'node-a' } },
    });
    expect(forbiddenText({ name: 'bob', groups: [] }, a)).toBe('Forbidden (user=bob, verb=create, resource=nodes, subresource(s)=[proxy])\n');
  });
});

describe('the container of a logs request on the kubelet', () => {
  const pod = { metadata: { name: 'p', namespace: 'default', uid: 'u' }, spec: { containers: [{ name: 'c', image: 'i' }] } } as unknown as Pod;
  const rec = (id: string, restartCount: number, running: boolean) => ({ id, name: 'c', restartCount, running }) as unknown as RuntimePod['containers'][number];
  const rt = { containers: [rec('new', 1, true), rec('old', 0, false)] } as unknown as RuntimePod;
  it('is the newest instance, or the one before it with previous', () => {
    expect(logContainer(pod, rt, 'c', false).id).toBe('new');
    expect(logContainer(pod, rt, 'c', true).id).toBe('old');
  });
  it('is refused with the kubelet messages when there is none', () => {
    expect(() => logContainer(pod, { containers: [rec('new', 0, true)] } as unknown as RuntimePod, 'c', true)).toThrow('previous terminated container "c" in pod "p" not found');
    expect(() => logContainer(pod, undefined, 'c', false)).toThrow('is waiting to start');
    try {
      logContainer(pod, rt, 'x', false);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(LookupError);
      expect((e as LookupError).status).toBe(404);
    }
  });
});

describe("the apiserver's way to the kubelet", () => {
  const node = { metadata: { name: 'a' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.2' }, { type: 'Hostname', address: 'a' }], daemonEndpoints: { kubeletEndpoint: { Port: 10250 } } } };
  it('finds the address by the preferred types and the port from daemonEndpoints', () => {
    expect(kubeletAddress(node, ['InternalIP', 'Hostname'])).toEqual({ host: '10.0.0.2', port: 10250 });
    expect(kubeletAddress(node, ['Hostname', 'InternalIP'])).toEqual({ host: 'a', port: 10250 });
    expect(kubeletAddress({ status: { addresses: [{ type: 'InternalIP', address: '10.0.0.3' }] } }, ['InternalIP'])).toEqual({ host: '10.0.0.3', port: 10250 });
    expect(kubeletAddress({ ...node, status: { ...node.status, daemonEndpoints: { kubeletEndpoint: { Port: 10350 } } } }, ['InternalIP']).port).toBe(10350);
    expect(() => kubeletAddress(node, ['ExternalIP'])).toThrow('no preferred addresses found; known addresses: [{InternalIP 10.0.0.2} {Hostname a}]');
    expect(parseAddressTypes('InternalIP, Hostname')).toEqual(['InternalIP', 'Hostname']);
    expect(() => parseAddressTypes('InternalIP,Bogus')).toThrow('unknown address type "Bogus"');
  });

  it('picks the container as kube-apiserver does, with its 400s', () => {
    const one = { metadata: { name: 'p' }, spec: { nodeName: 'a', containers: [{ name: 'c' }] } };
    const two = { metadata: { name: 'q' }, spec: { containers: [{ name: 'x' }, { name: 'y' }], initContainers: [{ name: 'i' }] } };
    expect(containerOf(one, null)).toBe('c');
    expect(containerOf(two, 'y')).toBe('y');
    expect(containerOf(two, 'i')).toBe('i');
    expect(containerOf({ ...two, metadata: { name: 'q', annotations: { 'kubectl.kubernetes.io/default-container': 'y' } } }, null)).toBe('y');
    expect(() => containerOf(two, null)).toThrow('a container name must be specified for pod q, choose one of: [x y] or one of the init containers: [i]');
    expect(() => containerOf(one, 'z')).toThrow('container z is not valid for pod p');
    expect(nodeOf(one)).toBe('a');
    expect(() => nodeOf(two)).toThrow(ApiError);
    expect(() => nodeOf(two)).toThrow('pod q does not have a host assigned');
  });

  it("reads the pod and, beside it, the Node the watch cache last saw it on; another node's after the pod when that was stale", async () => {
    const nodes: Record<string, unknown> = { a: node, b: { ...node, metadata: { name: 'b' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.9' }] } } };
    const order: string[] = [];
    let podOn = 'a';
    const deps = (hint: string | undefined): Parameters<typeof podKubelet>[0] => ({
      getPod: async (ns, name) => {
        order.push(`pod ${ns}/${name}`);
        await new Promise((r) => setTimeout(r, 5));
        order.push('pod read');
        return { metadata: { name }, spec: { nodeName: podOn } };
      },
      getNode: (name) => {
        order.push(`node ${name}`);
        return nodes[name] ? Promise.resolve(nodes[name] as Record<string, unknown>) : Promise.reject(new Error(`nodes "${name}" not found`));
      },
      nodeNameHint: () => hint,
    });
    expect((await podKubelet(deps('a'), ['InternalIP'], 'default', 'p')).target).toEqual({ host: '10.0.0.2', port: 10250 });
    // The Node is asked for before the pod's read has come back: the two round trips overlap.
    expect(order).toEqual(['node a', 'pod default/p', 'pod read']);
    order.length = 0;
    podOn = 'b';
    expect((await podKubelet(deps('a'), ['InternalIP'], 'default', 'p')).target).toEqual({ host: '10.0.0.9', port: 10250 });
    expect(order).toEqual(['node a', 'pod default/p', 'pod read', 'node b']);
    order.length = 0;
    expect((await podKubelet(deps(undefined), ['InternalIP'], 'default', 'p')).target.host).toBe('10.0.0.9');
    expect(order).toEqual(['pod default/p', 'pod read', 'node b']);
    // A pod on a Node that does not exist: the error is the read's after the pod's, not the early one's.
    podOn = 'gone';
    await expect(podKubelet(deps('gone'), ['InternalIP'], 'default', 'p')).rejects.toThrow('nodes "gone" not found');
    expect(specNodeName({ spec: { nodeName: 'a' } })).toBe('a');
    expect(specNodeName({ spec: {} })).toBeUndefined();
    expect(specNodeName(undefined)).toBeUndefined();
  });

  it('asks the kubelet paths with the query passed through', () => {
    expect(kubeletLogQuery(new URLSearchParams('container=c&follow=true&tailLines=2&pretty=true')).toString()).toBe('follow=true&tailLines=2');
    expect(kubeletConnectPath('exec', 'default', 'p', 'c', new URLSearchParams('command=sh&command=-c&command=exit+3&container=c&stdin=true&stdout=true&stderr=false'))).toBe('/exec/default/p/c?command=sh&command=-c&command=exit+3&input=1&output=1');
    expect(kubeletConnectPath('attach', 'default', 'p', 'c', new URLSearchParams('container=c&stdout=1&tty=true'))).toBe('/attach/default/p/c?output=1&tty=1');
    expect(kubeletConnectPath('portforward', 'default', 'p', undefined, new URLSearchParams('ports=80&ports=8080'))).toBe('/portForward/default/p?port=80&port=8080');
    expect(nodeProxyRest('/api/v1/nodes/a/proxy/pods')).toBe('/pods');
    expect(nodeProxyRest('/api/v1/nodes/a/proxy')).toBe('/');
  });
});

describe.skipIf(process.getuid?.() !== 0)("port-forward's dial inside a network namespace (nsenter, here this process's own)", () => {
  it('relays both ways with half-closes kept, and reports a refused port', async () => {
    const { createServer } = await import('node:net');
    const srv = createServer({ allowHalfOpen: true }, (c) => {
      let got = '';
      c.on('data', (d: Buffer) => (got += d.toString()));
      c.on('end', () => c.end(`echo:${got}`));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    try {
      const d = await dialInNetns(process.pid, port);
      let answer = '';
      d.on('data', (b: Buffer) => (answer += b.toString()));
      d.end('ping');
      await new Promise<void>((r) => d.once('end', () => r()));
      expect(answer).toBe('echo:ping');
      d.destroy();
    } finally {
      srv.close();
    }
    await expect(dialInNetns(process.pid, port)).rejects.toThrow(/ECONNREFUSED/);
  }, 20_000);
});
