// The real kubectl against our OpenAPI documents: a tiny HTTP server on 127.0.0.1 answers the
// discovery kubectl needs for pods plus /openapi/v2 and /openapi/v3 from apiserver/openapi, and
// records what kubectl asked. kubectl 1.20 (Debian's, unpacked by setup into .cache) validates
// manifests client-side with the protobuf v2 document; the newer kubectl finds in the v3 document
// that the server takes fieldValidation, and sends Strict instead.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_RESOURCES, OPENAPI_V2_PROTOBUF, openApiV2Document, openApiV3Document, openApiV3RootDocument } from '../../apiserver/openapi/index.js';
import { type JsonMap, PatchError, applyPatch, patchTypeOf } from '../../apiserver/patch/index.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const KUBECTL_NEW = '/usr/lib/google-cloud-sdk/bin/kubectl.1.33';
const KUBECTL_OLD = [process.env['KUBECTL_1_20'], path.join(REPO, '.cache/kubernetes-client/usr/bin/kubectl')].find(
  (p): p is string => p !== undefined && p !== '' && existsSync(p),
);

interface Seen {
  method: string;
  url: string;
  accept: string;
  body: string;
}

const podResource = {
  name: 'pods',
  singularName: 'pod',
  namespaced: true,
  kind: 'Pod',
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  shortNames: ['po'],
  categories: ['all'],
};

function handler(seen: Seen[], port: () => number, pods: Map<string, JsonMap>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ method: req.method ?? '', url: req.url ?? '', accept: String(req.headers.accept ?? ''), body: Buffer.concat(chunks).toString() });
      const json = (code: number, v: unknown): void => {
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      const doc = (d: { contentType: string; body: Uint8Array; etag: string } | undefined): void => {
        if (d === undefined) return json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
        res.writeHead(200, { 'Content-Type': d.contentType, ETag: d.etag });
        res.end(d.body);
      };
      const p = url.pathname;
      if (p === '/version') return json(200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
      if (p === '/api') return json(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port()}` }] });
      if (p === '/apis') {
        const groups = [...new Set(OPENAPI_RESOURCES.filter((r) => r.group !== '').map((r) => r.group))].map((name) => ({
          name,
          versions: [{ groupVersion: `${name}/v1`, version: 'v1' }],
          preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' },
        }));
        return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
      }
      const gv = /^\/(?:api\/v1|apis\/([^/]+)\/v1)$/.exec(p);
      if (gv) {
        const group = gv[1] ?? '';
        const resources = OPENAPI_RESOURCES.filter((r) => r.group === group).map((r) =>
          r.resource === 'pods'
            ? podResource
            : { name: r.resource, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: podResource.verbs },
        );
        return json(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group === '' ? 'v1' : `${group}/v1`, resources });
      }
      if (p === '/openapi/v2') return doc(openApiV2Document(req.headers.accept));
      if (p === '/openapi/v3') return doc(openApiV3RootDocument());
      if (p.startsWith('/openapi/v3/')) return doc(openApiV3Document(p.slice('/openapi/v3/'.length)));
      // Pods in memory, enough for kubectl create and apply: GET, POST, PATCH through apiserver/patch.
      const notFound = (name: string): void =>
        json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `pods "${name}" not found`, reason: 'NotFound', details: { name, kind: 'pods' }, code: 404 });
      if (req.method === 'POST' && p === '/api/v1/namespaces/default/pods') {
        const obj = JSON.parse(Buffer.concat(chunks).toString()) as JsonMap;
        const stored = { ...obj, metadata: { ...(obj['metadata'] as JsonMap), namespace: 'default', uid: 'u1', resourceVersion: '1' } };
        pods.set(String((obj['metadata'] as JsonMap)['name']), stored);
        return json(201, stored);
      }
      const item = /^\/api\/v1\/namespaces\/default\/pods\/([^/]+)$/.exec(p);
      if (item) {
        const name = item[1]!;
        const cur = pods.get(name);
        if (cur === undefined) return notFound(name);
        if (req.method === 'GET') return json(200, cur);
        if (req.method === 'PATCH') {
          const type = patchTypeOf(req.headers['content-type']);
          if (type === undefined) return json(415, { kind: 'Status', code: 415 });
          try {
            const next = applyPatch(type, cur, JSON.parse(Buffer.concat(chunks).toString()), 'v1', 'Pod') as JsonMap;
            pods.set(name, next);
            return json(200, next);
          } catch (e) {
            if (e instanceof PatchError) return json(e.status, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: e.message, code: e.status });
            throw e;
          }
        }
      }
      return json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    });
  };
}

const GOOD = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: nginx
    ports:
    - containerPort: 80
    env:
    - {name: A, value: "1"}
    resources: {limits: {cpu: 500m, memory: 128Mi}}
    volumeMounts:
    - {name: data, mountPath: /data}
  volumes:
  - name: data
    emptyDir: {}
  restartPolicy: Always
`;

const BAD = `apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
  - image: nginx
    bogus: 1
`;

const TEMPLATE = `    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        imagePullPolicy: IfNotPresent
        args: [--port, "8080"]
        ports: [{containerPort: 8080, name: http, protocol: TCP}]
        env:
        - {name: MODE, value: prod}
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: creds, key: password}}
        envFrom: [{configMapRef: {name: settings}}]
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 1, memory: 128Mi}}
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 5}
        livenessProbe: {tcpSocket: {port: 8080}, initialDelaySeconds: 3}
        securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true}
        volumeMounts: [{name: cfg, mountPath: /etc/web, readOnly: true}]
      initContainers:
      - {name: init, image: busybox, command: [sh, -c, "true"]}
      volumes:
      - name: cfg
        configMap: {name: settings}
      - name: scratch
        emptyDir: {medium: Memory}
      nodeSelector: {disktype: ssd}
      tolerations: [{key: dedicated, operator: Equal, value: web, effect: NoSchedule}]
      affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: web}}}}]}}
      imagePullSecrets: [{name: regcred}]
      serviceAccountName: web
      terminationGracePeriodSeconds: 10
      dnsPolicy: ClusterFirst
      restartPolicy: Always
`;
const ALL_KINDS = [
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: web, labels: {team: a}}',
  'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {podCIDR: 10.1.1.0/24, podCIDRs: [10.1.1.0/24], unschedulable: false, taints: [{key: k, value: v, effect: NoSchedule}]}',
  'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePort\n  selector: {app: web}\n  sessionAffinity: None\n  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080, protocol: TCP}, {name: alt, port: 81, targetPort: 8081}]',
  'apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: 10.1.1.5, nodeName: n1, targetRef: {kind: Pod, name: web-1, namespace: default}}], ports: [{name: http, port: 8080, protocol: TCP}]}]',
  `apiVersion: v1\nkind: ReplicationController\nmetadata: {name: db}\nspec:\n  replicas: 2\n  selector: {app: web}\n  template:\n${TEMPLATE}`,
  'apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ntype: Opaque\ndata: {password: c2VjcmV0}\nstringData: {user: admin}',
  'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: prod}',
  'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web}\nautomountServiceAccountToken: false\nimagePullSecrets: [{name: regcred}]',
  'apiVersion: v1\nkind: Event\nmetadata: {name: web.1}\ninvolvedObject: {kind: Pod, name: web, namespace: default}\nreason: Started\nmessage: Started container\ntype: Normal\ncount: 1\nsource: {component: kubelet, host: n1}\nfirstTimestamp: "2024-01-01T00:00:00Z"',
  `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {app: web}, annotations: {a: b}}\nspec:\n  replicas: 3\n  revisionHistoryLimit: 5\n  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}}\n  selector: {matchLabels: {app: web}, matchExpressions: [{key: tier, operator: NotIn, values: [db]}]}\n  template:\n${TEMPLATE}`,
  `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-rs}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n${TEMPLATE}`,
  `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  selector: {matchLabels: {app: web}}\n  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}\n  template:\n${TEMPLATE}`,
  `apiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec:\n  backoffLimit: 2\n  completions: 1\n  ttlSecondsAfterFinished: 60\n  template:\n${TEMPLATE.replace('restartPolicy: Always', 'restartPolicy: Never')}`,
  `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  schedule: "0 3 * * *"\n  concurrencyPolicy: Forbid\n  jobTemplate:\n    spec:\n      template:\n${TEMPLATE.replace('restartPolicy: Always', 'restartPolicy: OnFailure').replace(/^/gm, '    ')}`,
  'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]\n  ingress: [{from: [{podSelector: {}}], ports: [{port: 80, protocol: TCP}]}]',
  'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  ingressClassName: nginx\n  rules: [{host: web.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]',
  'apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: n1, namespace: kube-node-lease}\nspec: {holderIdentity: n1, leaseDurationSeconds: 40, renewTime: "2024-01-01T00:00:00.000000Z"}',
].join('\n---\n');

const TYPO = `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, imagee: nginx}]\n`;

describe('real kubectl reads our OpenAPI documents', () => {
  let server: Server;
  let port = 0;
  let dir = '';
  const seen: Seen[] = [];
  const pods = new Map<string, JsonMap>();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'openapi-kubectl-'));
    await writeFile(path.join(dir, 'good.yaml'), GOOD);
    await writeFile(path.join(dir, 'bad.yaml'), BAD);
    await writeFile(path.join(dir, 'all.yaml'), ALL_KINDS);
    await writeFile(path.join(dir, 'typo.yaml'), TYPO);
    await writeFile(path.join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
    server = createServer(handler(seen, () => port, pods));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const kubectl = (bin: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        bin,
        ['--kubeconfig', path.join(dir, 'kubeconfig'), '--server', `http://127.0.0.1:${port}`, '--cache-dir', path.join(dir, `cache-${path.basename(bin)}`), ...args],
        { timeout: 60_000, cwd: dir, env: { PATH: process.env['PATH'] ?? '', HOME: dir } },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
      );
    });

  describe.skipIf(KUBECTL_OLD === undefined)('kubectl 1.20 (protobuf /openapi/v2, client-side validation)', () => {
    it('refuses a container without a name and an unknown field, as against a real server', async () => {
      seen.length = 0;
      const r = await kubectl(KUBECTL_OLD!, 'create', '--dry-run=client', '-f', 'bad.yaml', '-o', 'json');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('missing required field "name" in io.k8s.api.core.v1.Container');
      expect(r.stderr).toContain('unknown field "bogus" in io.k8s.api.core.v1.Container');
      const v2 = seen.filter((s) => s.url.split('?')[0] === '/openapi/v2');
      expect(v2.length).toBeGreaterThan(0);
      expect(v2[0]!.accept).toContain(OPENAPI_V2_PROTOBUF);
    });

    it('accepts a full manifest', async () => {
      const r = await kubectl(KUBECTL_OLD!, 'create', '--dry-run=client', '-f', 'good.yaml', '-o', 'json');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'Pod', metadata: { name: 'web' } });
    });

    it('accepts a realistic manifest of every kind we serve, and refuses a typo in a pod template', async () => {
      const r = await kubectl(KUBECTL_OLD!, 'create', '--dry-run=client', '-f', 'all.yaml', '-o', 'name');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(ALL_KINDS.split('\n---\n').length);
      const typo = await kubectl(KUBECTL_OLD!, 'create', '--dry-run=client', '-f', 'typo.yaml', '-o', 'name');
      expect(typo.code).not.toBe(0);
      expect(typo.stderr).toContain('ValidationError(Deployment.spec.template.spec.containers[0]): unknown field "imagee" in io.k8s.api.core.v1.Container');
    });

    it('explains a field from the document', async () => {
      const r = await kubectl(KUBECTL_OLD!, 'explain', 'pods.spec.containers.ports');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('RESOURCE: ports <[]Object>');
      expect(r.stdout).toMatch(/containerPort\s+<integer> -required-/);
    });
  });

  describe.skipIf(!existsSync(KUBECTL_NEW))('kubectl 1.33 (/openapi/v3)', () => {
    it('sees that the server takes fieldValidation and sends Strict with the create', async () => {
      seen.length = 0;
      const r = await kubectl(KUBECTL_NEW, 'create', '-f', 'good.yaml');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe('pod/web created');
      expect(seen.some((s) => s.url.startsWith('/openapi/v3/api/v1'))).toBe(true);
      const post = seen.find((s) => s.method === 'POST');
      expect(new URL(post!.url, 'http://x').searchParams.get('fieldValidation')).toBe('Strict');
    });

    it('explains from the v3 document, and from v2 when asked', async () => {
      const v3 = await kubectl(KUBECTL_NEW, 'explain', 'pods.spec.containers');
      expect(v3.stderr).toBe('');
      expect(v3.stdout).toContain('KIND:       Pod');
      expect(v3.stdout).toMatch(/name\s+<string> -required-/);
      seen.length = 0;
      const v2 = await kubectl(KUBECTL_NEW, 'explain', 'pods.spec', '--output=plaintext-openapiv2');
      expect(v2.stderr).toBe('');
      expect(v2.stdout).toMatch(/containers\s+<\[\]Object> -required-/);
      expect(seen.some((s) => s.url.split('?')[0] === '/openapi/v2')).toBe(true);
    });
  });

  const APPLIED_2 = GOOD.replace('    image: nginx\n', '    image: nginx:1.25\n').replace('  volumes:\n', '  - name: sidecar\n    image: busybox\n  volumes:\n');

  // kubectl apply computes its strategic merge patch from the OpenAPI document's
  // x-kubernetes-patch-* extensions (falling back to its compiled-in types with a warning if that
  // fails); the server applies it with apiserver/patch.
  for (const [version, bin] of [
    ['1.20', KUBECTL_OLD],
    ['1.33', existsSync(KUBECTL_NEW) ? KUBECTL_NEW : undefined],
  ] as const) {
    it.skipIf(bin === undefined)(`kubectl ${version} apply: create, unchanged, configured (merging containers by name), then a container removed`, async () => {
      pods.clear();
      await writeFile(path.join(dir, 'apply-1.yaml'), GOOD);
      await writeFile(path.join(dir, 'apply-2.yaml'), APPLIED_2);
      const first = await kubectl(bin!, 'apply', '-f', 'apply-1.yaml');
      expect(first).toMatchObject({ code: 0, stderr: '', stdout: 'pod/web created\n' });
      const again = await kubectl(bin!, 'apply', '-f', 'apply-1.yaml');
      expect(again).toMatchObject({ code: 0, stderr: '', stdout: 'pod/web unchanged\n' });
      seen.length = 0;
      const changed = await kubectl(bin!, 'apply', '-f', 'apply-2.yaml');
      expect(changed).toMatchObject({ code: 0, stderr: '', stdout: 'pod/web configured\n' });
      const patch = seen.find((x) => x.method === 'PATCH')!;
      expect(JSON.parse(patch.body)['spec']['$setElementOrder/containers']).toEqual([{ name: 'web' }, { name: 'sidecar' }]);
      const containers = (pods.get('web')!['spec'] as JsonMap)['containers'] as JsonMap[];
      expect(containers.map((c) => [c['name'], c['image']])).toEqual([
        ['web', 'nginx:1.25'],
        ['sidecar', 'busybox'],
      ]);
      expect(containers[0]!['ports']).toEqual([{ containerPort: 80 }]);
      const back = await kubectl(bin!, 'apply', '-f', 'apply-1.yaml');
      expect(back).toMatchObject({ code: 0, stderr: '', stdout: 'pod/web configured\n' });
      expect((((pods.get('web')!['spec'] as JsonMap)['containers']) as JsonMap[]).map((c) => [c['name'], c['image']])).toEqual([['web', 'nginx']]);
    });
  }

  it.skipIf(KUBECTL_OLD !== undefined)('kubectl 1.20 is not unpacked in .cache/kubernetes-client (setup does it): its checks are skipped', () => {
    expect(KUBECTL_OLD).toBeUndefined();
  });
});
