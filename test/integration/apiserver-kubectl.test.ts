// kube-apiserver against real kubectl: Debian's 1.20 (scripts/setup unpacks it into .cache/) and the
// machine's 1.27 … 1.33, each by path (a version that is absent is skipped, and named so in the
// summary). The apiserver runs from dist/ on 127.0.0.1 over a real etcd; kubectl gets a kubeconfig and
// a cache dir of the test's. `kubectl create -f` runs with validation on: kubectl reads /openapi/v2
// (protobuf for 1.20) or /openapi/v3 from the apiserver.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APISERVER_BIN, ApiServerProc, DB_RC, EtcdServer, freePort, kubectl, kubectlBinaries, makeTestCerts, type TestCerts, writeClientKubeconfig } from '../harness/index.js';

const DB_SERVICE = `apiVersion: v1
kind: Service
metadata:
  labels:
    name: db
  name: db-service
spec:
  ports:
  - port: 3306
  selector:
    name: db
`;
const FRONT_RC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: front
spec:
  replicas: 1
  selector:
    app: front
  template:
    metadata:
      labels:
        app: front
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
      - name: side
        image: busybox:1.36
`;
const WEB_POD = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
    tier: front
spec:
  containers:
  - name: web
    image: nginx:1.25
    ports:
    - containerPort: 80
`;

let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;
let certs: TestCerts;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apisrv-'));
  etcd = await EtcdServer.start();
  certs = await makeTestCerts(path.join(dir, 'foreign'));
  await writeFile(path.join(dir, 'tokens.csv'), 'good-token,alice,1001,"dev,ops"\n');
  for (const f of ['db-rc.yaml', 'db-service.yaml', 'web-pod.yaml']) await writeFile(path.join(dir, f), { 'db-rc.yaml': DB_RC, 'db-service.yaml': DB_SERVICE, 'web-pod.yaml': WEB_POD }[f]!);
  srv = await ApiServerProc.start(etcd.endpoint, dir, [`--token-auth-file=${path.join(dir, 'tokens.csv')}`]);
});

afterAll(async () => {
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const FULL = new Set(['1.20', '1.33']);

for (const b of kubectlBinaries()) {
  describe.skipIf(!b.present)(`kubectl ${b.version}${b.present ? '' : ` (absent: ${b.path})`}`, () => {
    const ns = `kc-${b.version.replace('.', '-')}`;
    const k = async (...args: string[]) => {
      const cache = path.join(dir, `cache-${b.version}`);
      await mkdir(cache, { recursive: true });
      return kubectl(b.path, srv.kubeconfig, cache, args);
    };
    const ok = async (...args: string[]) => {
      const r = await k(...args);
      expect(r.stderr + (r.code === 0 ? '' : ` (exit ${r.code})`)).not.toMatch(/exit|error/i);
      return r.stdout;
    };

    it('version shows the server as v1.32', async () => {
      const out = await ok('version');
      expect(out).toMatch(/Server Version: (version\.Info\{Major:"1", Minor:"32", GitVersion:"v1\.32\.0"|v1\.32\.0)/);
    });

    it('api-resources lists the kinds with their short names', async () => {
      const out = await ok('api-resources');
      expect(out).toMatch(/^pods\s+po\s+v1\s+true\s+Pod$/m);
      expect(out).toMatch(/^services\s+svc\s+v1\s+true\s+Service$/m);
      expect(out).toMatch(/^replicationcontrollers\s+rc\s+v1\s+true\s+ReplicationController$/m);
      expect(out).toMatch(/^nodes\s+no\s+v1\s+false\s+Node$/m);
    });

    it('creates the seeds\' objects and lists them as tables, wide, JSON and YAML', async () => {
      await ok('create', 'namespace', ns);
      const created = await ok('create', '-n', ns, '-f', path.join(dir, 'db-service.yaml'), '-f', path.join(dir, 'db-rc.yaml'), '-f', path.join(dir, 'web-pod.yaml'));
      expect(created).toContain('service/db-service created');
      expect(created).toContain('replicationcontroller/db-controller created');
      expect(created).toContain('pod/web created');
      const pods = await ok('get', 'pods', '-n', ns);
      expect(pods).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
      expect(pods).toMatch(/^web\s+0\/1\s+Pending\s+0\s+\d+s$/m);
      const wide = await ok('get', 'pods', '-n', ns, '-o', 'wide');
      expect(wide).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\n/);
      const svcs = await ok('get', 'services', '-n', ns);
      expect(svcs).toMatch(/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\n/);
      expect(svcs).toMatch(/^db-service\s+ClusterIP\s+10\.254\.\d+\.\d+\s+<none>\s+3306\/TCP\s+\d+s$/m);
      const rc = await ok('get', 'rc', '-n', ns, '-o', 'wide');
      expect(rc).toMatch(/^db-controller\s+2\s+0\s+0\s+\d+s\s+db\s+dbforweb\s+selectorname=db$/m);
      const json = JSON.parse(await ok('get', 'pod', 'web', '-n', ns, '-o', 'json')) as { kind: string; metadata: Record<string, unknown>; spec: Record<string, unknown>; status: Record<string, unknown> };
      expect(json.kind).toBe('Pod');
      expect(json.metadata).toMatchObject({ name: 'web', namespace: ns, uid: expect.stringMatching(/^[0-9a-f-]{36}$/), resourceVersion: expect.stringMatching(/^\d+$/), creationTimestamp: expect.stringMatching(/Z$/) });
      expect(json.spec).toMatchObject({ restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', terminationGracePeriodSeconds: 30, containers: [{ imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log' }] });
      expect(json.status).toMatchObject({ phase: 'Pending' });
      const yaml = await ok('get', 'svc', 'db-service', '-n', ns, '-o', 'yaml');
      expect(yaml).toMatch(/^kind: Service$/m);
      expect(yaml).toMatch(/^ {2}sessionAffinity: None$/m);
      expect(yaml).toMatch(/^ {4}targetPort: 3306$/m);
      const again = await k('create', '-n', ns, '-f', path.join(dir, 'web-pod.yaml'));
      expect(again.code).not.toBe(0);
      expect(again.stderr).toContain('(AlreadyExists)');
      expect(again.stderr).toContain('pods "web" already exists');
    });

    it.runIf(b.version === '1.20')('validates a manifest against /openapi/v2 before sending it', async () => {
      await writeFile(path.join(dir, 'typo.yaml'), WEB_POD.replace('name: web\n', 'name: typo\n').replace('image: nginx', 'imagee: nginx'));
      const r = await k('create', '-n', ns, '-f', path.join(dir, 'typo.yaml'));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('unknown field "imagee" in io.k8s.api.core.v1.Container');
      expect((await k('get', 'pod', 'typo', '-n', ns)).stderr).toContain('pods "typo" not found');
    });

    it('explains a field from the served OpenAPI document', async () => {
      const out = await ok('explain', 'pods.spec.containers.ports');
      expect(out).toMatch(/containerPort\s+<(integer|int32)> -required-/);
    });

    it('selects by label, by field, and across namespaces', async () => {
      expect(await ok('get', 'pods', '-n', ns, '-l', 'app=web,tier in (front,back)', '-o', 'name')).toBe('pod/web\n');
      expect(await ok('get', 'pods', '-n', ns, '-l', '!app', '-o', 'name')).toBe('');
      expect(await ok('get', 'pods', '-n', ns, '--field-selector', 'metadata.name=web', '-o', 'name')).toBe('pod/web\n');
      expect(await ok('get', 'pods', '-n', ns, '--field-selector', 'status.phase!=Pending', '-o', 'name')).toBe('');
      const all = await ok('get', 'services', '-A');
      expect(all).toMatch(/^NAMESPACE\s+NAME\s+TYPE/);
      expect(all).toMatch(/^default\s+kubernetes\s+ClusterIP\s+10\.254\.0\.1\s+<none>\s+443\/TCP/m);
      expect(all).toMatch(new RegExp(`^${ns}\\s+db-service\\s+ClusterIP`, 'm'));
      if (FULL.has(b.version)) {
        // describe reads the pod, then its events by involvedObject field selectors.
        const d = await ok('describe', 'pod', 'web', '-n', ns);
        expect(d).toMatch(/^Name:\s+web$/m);
        expect(d).toMatch(/^Namespace:\s+kc-/m);
        expect(d).toMatch(/^Status:\s+Pending$/m);
      }
      const bad = await k('get', 'pods', '-n', ns, '--field-selector', 'spec.nope=x');
      expect(bad.stderr).toContain('field label not supported: spec.nope');
    });

    it.runIf(FULL.has(b.version))('get -w sees a change and the deletion; delete waits until the object is gone', async () => {
      const cache = path.join(dir, `cache-${b.version}`);
      const watch = kubectl(b.path, srv.kubeconfig, cache, ['get', 'pods', '-n', ns, '-w', '--request-timeout=5s'], 15_000);
      await new Promise((r) => setTimeout(r, 1_500));
      await ok('label', 'pod', 'web', '-n', ns, 'stage=two');
      const del = await ok('delete', 'pod', 'web', '-n', ns);
      expect(del).toContain('"web" deleted');
      const w = await watch;
      const rows = w.stdout.split('\n').filter((l) => l.startsWith('web '));
      expect(rows.length).toBeGreaterThanOrEqual(3); // listed, labelled, deleted
      const gone = await k('get', 'pod', 'web', '-n', ns);
      expect(gone.stderr).toContain('Error from server (NotFound): pods "web" not found');
    });

    it.runIf(FULL.has(b.version))('creates config maps and secrets from literals (protobuf bodies from kubectl 1.31 on)', async () => {
      await ok('create', 'configmap', 'settings', '-n', ns, '--from-literal=mode=fast');
      await ok('create', 'secret', 'generic', 'pw', '-n', ns, '--from-literal=password=hunter2');
      expect(await ok('get', 'configmap', 'settings', '-n', ns, '-o', 'jsonpath={.data.mode}')).toBe('fast');
      expect(await ok('get', 'secret', 'pw', '-n', ns, '-o', 'jsonpath={.data.password}')).toBe(Buffer.from('hunter2').toString('base64'));
      expect(await ok('get', 'secrets', '-n', ns)).toMatch(/^pw\s+Opaque\s+1\s+\d+s$/m);
      // Secret values never reach the log.
      expect(await readFile(path.join(dir, `apiserver-${srv.port}.log`), 'utf8')).not.toContain('hunter2');
      expect(await readFile(path.join(dir, `apiserver-${srv.port}.log`), 'utf8')).not.toContain(Buffer.from('hunter2').toString('base64'));
    });

    it.runIf(FULL.has(b.version))('labels and annotates (merge patches)', async () => {
      await ok('label', 'rc', 'db-controller', '-n', ns, 'tier=db');
      await ok('annotate', 'rc', 'db-controller', '-n', ns, 'note=seed');
      const json = JSON.parse(await ok('get', 'rc', 'db-controller', '-n', ns, '-o', 'json')) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
      expect(json.metadata.labels).toEqual({ name: 'db-controller', tier: 'db' });
      expect(json.metadata.annotations).toEqual({ note: 'seed' });
    });

    it.runIf(FULL.has(b.version))('patches with each --type, applies twice and a changed manifest, sets an image, edits', async () => {
      const rc = async () => JSON.parse(await ok('get', 'rc', 'db-controller', '-n', ns, '-o', 'json')) as { metadata: { labels: Record<string, string> }; spec: { replicas: number; template: { spec: { containers: { name: string; image: string; args?: string[] }[] } } } };
      expect(await ok('patch', 'rc', 'db-controller', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":3}}')).toContain('patched');
      expect((await rc()).spec.replicas).toBe(3);
      await ok('patch', 'rc', 'db-controller', '-n', ns, '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":3},{"op":"replace","path":"/spec/replicas","value":4}]');
      expect((await rc()).spec.replicas).toBe(4);
      // Strategic: the container is merged by name, its other fields kept.
      await ok('patch', 'rc', 'db-controller', '-n', ns, '--type=strategic', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"db","image":"dbforweb:2"}]}}}}');
      expect((await rc()).spec.template.spec.containers).toEqual([expect.objectContaining({ name: 'db', image: 'dbforweb:2', args: ['--basedir=/usr'] })]);
      const failed = await k('patch', 'rc', 'db-controller', '-n', ns, '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":9}]');
      expect(failed.code).not.toBe(0);
      // kubectl 1.20 prints a 422 without causes as the bare reason; later versions add the message.
      expect(failed.stderr).toMatch(/^(error: )?The request is invalid(: testing value \/spec\/replicas failed)?/m);
      expect((await rc()).spec.replicas).toBe(4);

      const file = path.join(dir, `front-${b.version}.yaml`);
      await writeFile(file, FRONT_RC);
      expect(await ok('apply', '-n', ns, '-f', file)).toBe('replicationcontroller/front created\n');
      expect(await ok('apply', '-n', ns, '-f', file)).toBe('replicationcontroller/front unchanged\n');
      await writeFile(file, FRONT_RC.replace('replicas: 1', 'replicas: 2').replace('      - name: side\n        image: busybox:1.36\n', ''));
      expect(await ok('apply', '-n', ns, '-f', file)).toBe('replicationcontroller/front configured\n');
      const front = async () => JSON.parse(await ok('get', 'rc', 'front', '-n', ns, '-o', 'json')) as { spec: { replicas: number; template: { spec: { containers: { name: string; image: string; ports?: unknown[] }[] } } } };
      let f = await front();
      expect(f.spec.replicas).toBe(2);
      expect(f.spec.template.spec.containers.map((c) => c.name)).toEqual(['web']);
      expect(await ok('set', 'image', 'rc/front', '-n', ns, 'web=nginx:1.26')).toContain('image updated');
      f = await front();
      expect(f.spec.template.spec.containers).toEqual([expect.objectContaining({ name: 'web', image: 'nginx:1.26', ports: [expect.objectContaining({ containerPort: 80 })] })]);
      const editor = path.join(dir, 'editor.sh');
      await writeFile(editor, "#!/bin/sh\nsed -i 's/replicas: 2/replicas: 5/' \"$1\"\n", { mode: 0o755 });
      const cache = path.join(dir, `cache-${b.version}`);
      const edited = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(b.path, [`--kubeconfig=${srv.kubeconfig}`, `--cache-dir=${cache}`, 'edit', 'rc', 'front', '-n', ns], { timeout: 30_000, env: { PATH: process.env.PATH ?? '', HOME: cache, KUBE_EDITOR: editor } }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
        );
      });
      expect([edited.code, edited.stderr]).toEqual([0, '']);
      expect(edited.stdout).toBe('replicationcontroller/front edited\n');
      expect((await front()).spec.replicas).toBe(5);
      // The last applied configuration is the manifest's, so a re-apply puts replicas back.
      expect(await ok('apply', '-n', ns, '-f', file)).toBe('replicationcontroller/front configured\n');
      expect((await front()).spec.replicas).toBe(2);
    });

    it('checks but writes nothing with --dry-run=server: create, apply, scale, delete', async () => {
      const pods = async () => (await ok('get', 'pods', '-n', ns, '-o', 'name')).split('\n').filter(Boolean).sort();
      const before = await pods();
      const dry = path.join(dir, `dry-${b.version}.yaml`);
      await writeFile(dry, WEB_POD.replace('name: web\n', 'name: dry-web\n'));
      expect(await ok('create', '-n', ns, '-f', dry, '--dry-run=server')).toBe('pod/dry-web created (server dry run)\n');
      expect(await ok('apply', '-n', ns, '-f', dry, '--dry-run=server')).toBe('pod/dry-web created (server dry run)\n');
      expect(await pods()).toEqual(before);
      // Validation still runs: an invalid object is refused as without --dry-run.
      await writeFile(dry, WEB_POD.replace('name: web\n', 'name: Dry_Web\n'));
      const bad = await k('create', '-n', ns, '-f', dry, '--dry-run=server');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('Invalid value: "Dry_Web"');
      const rc = async () => JSON.parse(await ok('get', 'rc', 'db-controller', '-n', ns, '-o', 'json')) as { spec: { replicas: number }; metadata: { resourceVersion: string } };
      const was = await rc();
      await ok('scale', 'rc', 'db-controller', '-n', ns, '--replicas=7', '--dry-run=server');
      expect(await ok('delete', 'rc', 'db-controller', '-n', ns, '--dry-run=server')).toBe('replicationcontroller "db-controller" deleted (server dry run)\n');
      expect(await rc()).toEqual(was);
      expect(await pods()).toEqual(before);
    });

    it('deletes the namespace and everything in it', async () => {
      await ok('delete', 'namespace', ns);
      const left = await k('get', 'namespace', ns);
      expect(left.stderr).toContain(`namespaces "${ns}" not found`);
      expect(await ok('get', 'rc,svc', '-n', ns, '-o', 'name')).toBe('');
    });
  });
}

describe('the API as clients see it', () => {
  it('answers the real apiserver\'s Status for 404, 409, 422, 400, 413, and refuses a missing namespace', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    expect((await srv.request('POST', '/api/v1/namespaces/default/pods', pod)).status).toBe(201);
    const dup = await srv.request('POST', '/api/v1/namespaces/default/pods', pod);
    expect(dup.status).toBe(409);
    expect(dup.json).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'pods "p1" already exists', reason: 'AlreadyExists', details: { name: 'p1', kind: 'pods' }, code: 409 });
    const missing = await srv.request('GET', '/api/v1/namespaces/default/pods/nope');
    expect(missing.json).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'pods "nope" not found', reason: 'NotFound', details: { name: 'nope', kind: 'pods' }, code: 404 });
    const got = (await srv.request('GET', '/api/v1/namespaces/default/pods/p1')).json as { metadata: { resourceVersion: string } };
    const stale = { ...pod, metadata: { name: 'p1', resourceVersion: got.metadata.resourceVersion, labels: { a: 'b' } } };
    expect((await srv.request('PUT', '/api/v1/namespaces/default/pods/p1', stale)).status).toBe(200);
    const conflict = await srv.request('PUT', '/api/v1/namespaces/default/pods/p1', stale);
    expect(conflict.status).toBe(409);
    expect(conflict.json).toMatchObject({ reason: 'Conflict', message: 'Operation cannot be fulfilled on pods "p1": the object has been modified; please apply your changes to the latest version and try again', details: { name: 'p1', kind: 'pods' } });
    const invalid = await srv.request('POST', '/api/v1/namespaces/default/pods', { ...pod, metadata: { name: 'Bad_Name' }, spec: { containers: [{ name: 'c' }] } });
    expect(invalid.status).toBe(422);
    expect(invalid.json).toMatchObject({ reason: 'Invalid', details: { name: 'Bad_Name', kind: 'Pod', causes: [{ reason: 'FieldValueInvalid', field: 'metadata.name' }, { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' }] } });
    expect((invalid.json as { message: string }).message).toMatch(/^Pod "Bad_Name" is invalid: \[metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain .*, spec\.containers\[0\]\.image: Required value\]$/);
    const notJson = await srv.request('POST', '/api/v1/namespaces/default/pods', '{not json');
    expect(notJson.status).toBe(400);
    expect(notJson.json).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
    const wrongKind = await srv.request('POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } });
    expect(wrongKind.status).toBe(400);
    const big = await srv.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'big' }, data: { x: 'y'.repeat(3 * 1024 * 1024 + 1) } });
    expect(big.status).toBe(413);
    expect((await srv.request('GET', '/api/v1/namespaces/default/configmaps/big')).status).toBe(404);
    const noNs = await srv.request('POST', '/api/v1/namespaces/nowhere/pods', pod);
    expect(noNs.json).toMatchObject({ code: 404, reason: 'NotFound', message: 'namespaces "nowhere" not found', details: { name: 'nowhere', kind: 'namespaces' } });
    const badPath = await srv.request('GET', '/api/v1/widgets');
    expect(badPath.json).toMatchObject({ code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' });
    expect((await srv.request('DELETE', '/api/v1/namespaces/default')).json).toMatchObject({ code: 403, reason: 'Forbidden' });
    const taken = await srv.request('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'taken' }, spec: { clusterIP: '10.254.0.1', ports: [{ port: 80 }] } });
    expect(taken.json).toMatchObject({ code: 422, reason: 'Invalid', details: { causes: [{ field: 'spec.clusterIPs', message: expect.stringContaining('provided IP is already allocated') }] } });
    const outside = await srv.request('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'outside' }, spec: { clusterIP: '192.168.0.1', ports: [{ port: 80 }] } });
    expect(outside.json).toMatchObject({ code: 422, details: { causes: [{ field: 'spec.clusterIPs', message: expect.stringContaining('The range of valid IPs is 10.254.0.0/16') }] } });
    const created = (await srv.request('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'np' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } })).json as { spec: { clusterIP: string; ports: { nodePort: number }[] } };
    expect(created.spec.ports[0]!.nodePort).toBeGreaterThanOrEqual(30000);
    const moved = await srv.request('PUT', '/api/v1/namespaces/default/services/np', { metadata: { name: 'np' }, spec: { type: 'NodePort', clusterIP: '10.254.9.9', ports: [{ port: 80 }] } });
    expect(moved.json).toMatchObject({ code: 422, details: { causes: [{ field: 'spec.clusterIPs[0]', message: 'Invalid value: []string{"10.254.9.9"}: may not change once set' }] } });
    // kubectl apply sends no clusterIP: the stored one and the node port are kept.
    const kept = (await srv.request('PUT', '/api/v1/namespaces/default/services/np', { metadata: { name: 'np' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } })).json as typeof created;
    expect(kept.spec).toMatchObject({ clusterIP: created.spec.clusterIP, ports: [{ nodePort: created.spec.ports[0]!.nodePort }] });
    expect(await etcd.ctl(['get', '--keys-only', `/registry/ranges/servicenodeports/${created.spec.ports[0]!.nodePort}`])).toContain('servicenodeports');
    expect((await srv.request('DELETE', '/api/v1/namespaces/default/services/np')).status).toBe(200);
    expect(await etcd.ctl(['get', '--keys-only', `/registry/ranges/serviceips/${created.spec.clusterIP}`])).toBe('');
  });

  it('serves /openapi/v2 as JSON and protobuf, and /openapi/v3 with its group-version documents', async () => {
    const json = await srv.request('GET', '/openapi/v2', undefined, srv.admin, { Accept: 'application/json' });
    expect([json.status, json.headers['content-type']]).toEqual([200, 'application/json']);
    expect(json.json).toMatchObject({ swagger: '2.0', definitions: { 'io.k8s.api.core.v1.Pod': expect.any(Object) } });
    const pb = await srv.request('GET', '/openapi/v2', undefined, srv.admin, { Accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' });
    expect([pb.status, pb.headers['content-type']]).toEqual([200, 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf']);
    const etag = String(json.headers.etag);
    expect((await srv.request('GET', '/openapi/v2', undefined, srv.admin, { Accept: 'application/json', 'If-None-Match': etag })).status).toBe(304);
    const root = (await srv.request('GET', '/openapi/v3')).json as { paths: Record<string, { serverRelativeURL: string }> };
    const core = root.paths['api/v1']!.serverRelativeURL;
    expect(core).toMatch(/^\/openapi\/v3\/api\/v1\?hash=/);
    const v3 = await srv.request('GET', core);
    expect(v3.status).toBe(200);
    expect(v3.json).toMatchObject({ openapi: expect.stringMatching(/^3\./), components: { schemas: { 'io.k8s.api.core.v1.Pod': expect.any(Object) } } });
    expect((await srv.request('GET', '/openapi/v3/apis/nope/v1')).status).toBe(404);
    expect((await srv.request('GET', '/openapi/v2', undefined, { ca: srv.admin.ca! })).status).toBe(401);
  });

  it('answers PATCH of each type, and the real Status when a patch does not apply', async () => {
    expect((await srv.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'pt' }, data: { a: '1' } })).status).toBe(201);
    const patch = (type: string, body: unknown) => srv.request('PATCH', '/api/v1/namespaces/default/configmaps/pt', body, srv.admin, { 'Content-Type': type });
    expect((await patch('application/merge-patch+json', { data: { b: '2' } })).json).toMatchObject({ data: { a: '1', b: '2' } });
    expect((await patch('application/json-patch+json', [{ op: 'remove', path: '/data/a' }])).json).toMatchObject({ data: { b: '2' } });
    expect((await patch('application/strategic-merge-patch+json', { data: { c: '3' } })).json).toMatchObject({ data: { b: '2', c: '3' } });
    const failed = await patch('application/json-patch+json', [{ op: 'remove', path: '/data/nope' }]);
    expect(failed.json).toMatchObject({ kind: 'Status', status: 'Failure', code: 422, reason: 'Invalid' });
    const malformed = await patch('application/json-patch+json', { op: 'remove' });
    expect(malformed.json).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest' });
    const apply = await patch('application/apply-patch+yaml', { data: {} });
    expect(apply.json).toMatchObject({ code: 415, reason: 'UnsupportedMediaType', message: expect.stringContaining('application/strategic-merge-patch+json') });
    const got = (await srv.request('GET', '/api/v1/namespaces/default/configmaps/pt')).json as { metadata: { resourceVersion: string } };
    expect((await patch('application/merge-patch+json', { metadata: { resourceVersion: '1' }, data: { d: '4' } })).json).toMatchObject({ code: 409, reason: 'Conflict' });
    expect((await patch('application/merge-patch+json', { metadata: { resourceVersion: got.metadata.resourceVersion }, data: { d: '4' } })).status).toBe(200);
  });

  it('authenticates by client certificate and token: a wrong token or a certificate of another CA is a 401', async () => {
    const unauthorized = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 };
    const ca = srv.admin.ca!;
    expect((await srv.request('GET', '/api/v1/namespaces', undefined, { ca, token: 'good-token' })).status).toBe(200);
    const wrong = await srv.request('GET', '/api/v1/namespaces', undefined, { ca, token: 'bad-token' });
    expect([wrong.status, wrong.json]).toEqual([401, unauthorized]);
    const foreign = await srv.request('GET', '/api/v1/namespaces', undefined, { ca, cert: certs.foreignClient.cert, key: certs.foreignClient.key });
    expect([foreign.status, foreign.json]).toEqual([401, unauthorized]);
    expect((await srv.request('GET', '/api/v1/namespaces', undefined, { ca })).status).toBe(401);
    for (const p of ['/healthz', '/livez', '/readyz', '/version']) expect((await srv.request('GET', p, undefined, { ca })).status).toBe(200);
    const bin = kubectlBinaries().find((b) => b.present);
    if (!bin) return;
    const cache = path.join(dir, 'cache-auth');
    await writeClientKubeconfig(path.join(dir, 'token.kubeconfig'), srv.url, ca, { token: 'bad-token' });
    const r = await kubectl(bin.path, path.join(dir, 'token.kubeconfig'), cache, ['get', 'pods']);
    // kubectl 1.20 prints the Status's "Unauthorized"; 1.27+ its own text for a 401.
    const refused = /Unauthorized|the server has asked for the client to provide credentials/;
    expect(r.stderr).toMatch(refused);
    await writeClientKubeconfig(path.join(dir, 'foreign.kubeconfig'), srv.url, ca, { cert: certs.foreignClient.cert, key: certs.foreignClient.key });
    expect((await kubectl(bin.path, path.join(dir, 'foreign.kubeconfig'), cache, ['get', 'pods'])).stderr).toMatch(refused);
    await writeClientKubeconfig(path.join(dir, 'good.kubeconfig'), srv.url, ca, { token: 'good-token' });
    expect((await kubectl(bin.path, path.join(dir, 'good.kubeconfig'), cache, ['get', 'ns', 'default', '-o', 'name'])).stdout).toBe('namespace/default\n');
  });

  it('serves what the kubelet writes to etcd today, at early Kubernetes\' keys', async () => {
    const node = { kind: 'Node', apiVersion: 'v1', metadata: { name: 'node9', creationTimestamp: new Date().toISOString() }, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v0.1.0' } } };
    await etcd.ctl(['put', '/registry/minions/node9', JSON.stringify(node)]);
    const bin = kubectlBinaries().find((b) => b.present);
    if (!bin) return;
    const out = await kubectl(bin.path, srv.kubeconfig, path.join(dir, 'cache-nodes'), ['get', 'nodes']);
    expect(out.stdout).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\nnode9\s+Ready\s+<none>\s+\d+s\s+v0\.1\.0\n$/);
    // And what the apiserver writes is where the kubelet and kube-proxy read it.
    const keys = await etcd.ctl(['get', '--prefix', '--keys-only', '/registry/services/specs/default/']);
    expect(keys).toContain('/registry/services/specs/default/kubernetes');
    expect(await etcd.ctl(['get', '--keys-only', '/registry/ranges/serviceips/10.254.0.1'])).toContain('/registry/ranges/serviceips/10.254.0.1');
  });

  it('pages a list with limit and continue, at one revision', async () => {
    for (let i = 0; i < 5; i++) expect((await srv.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: `page-${i}` }, data: { i: String(i) } })).status).toBe(201);
    const names: string[] = [];
    let cont = '';
    let rv = '';
    for (let round = 0; round < 10; round++) {
      const r = (await srv.request('GET', `/api/v1/namespaces/default/configmaps?limit=2${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`)).json as { metadata: { continue?: string; resourceVersion: string }; items: { metadata: { name: string } }[] };
      expect(r.items.length).toBeLessThanOrEqual(2);
      if (rv) expect(r.metadata.resourceVersion).toBe(rv);
      rv = r.metadata.resourceVersion;
      names.push(...r.items.map((i) => i.metadata.name));
      if (!r.metadata.continue) break;
      cont = r.metadata.continue;
    }
    expect(names.filter((n) => n.startsWith('page-'))).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
  });

  it('ends a watch from a compacted revision with an ERROR event holding 410 Expired', async () => {
    const created = (await srv.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'old' } })).json as { metadata: { resourceVersion: string } };
    for (let i = 0; i < 3; i++) await srv.request('PATCH', '/api/v1/namespaces/default/configmaps/old', { data: { i: String(i) } }, srv.admin, { 'Content-Type': 'application/merge-patch+json' });
    const head = (await srv.request('GET', '/api/v1/namespaces/default/configmaps')).json as { metadata: { resourceVersion: string } };
    await etcd.ctl(['compact', head.metadata.resourceVersion]);
    const r = await srv.request('GET', `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${created.metadata.resourceVersion}&timeoutSeconds=5`);
    const events = r.text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: Record<string, unknown> });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 } });
  });

  it('deletes a bound pod gracefully, as the kubelet expects: marked, and gone once the kubelet removes its key', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bound' }, spec: { nodeName: 'node9', terminationGracePeriodSeconds: 7, containers: [{ name: 'c', image: 'busybox' }] } };
    expect((await srv.request('POST', '/api/v1/namespaces/default/pods', pod)).status).toBe(201);
    const del = await srv.request('DELETE', '/api/v1/namespaces/default/pods/bound');
    expect(del.status).toBe(202);
    expect(del.json).toMatchObject({ kind: 'Pod', metadata: { name: 'bound', deletionGracePeriodSeconds: 7, deletionTimestamp: expect.stringMatching(/Z$/) } });
    const stored = JSON.parse((await etcd.ctl(['get', '--print-value-only', '/registry/pods/default/bound'])).trim()) as { metadata: Record<string, unknown> };
    expect(stored.metadata).toMatchObject({ deletionGracePeriodSeconds: 7 });
    // A watcher (kubectl delete waits with one) sees the kubelet's removal as DELETED.
    const watch = srv.request('GET', `/api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name%3Dbound&resourceVersion=${(del.json as { metadata: { resourceVersion: string } }).metadata.resourceVersion}&timeoutSeconds=3`);
    await new Promise((r) => setTimeout(r, 500));
    await etcd.ctl(['del', '/registry/pods/default/bound']);
    const events = (await watch).text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
    expect(events.map((e) => [e.type, e.object.metadata.name])).toEqual([['DELETED', 'bound']]);
    // --grace-period=0 --force removes at once.
    expect((await srv.request('POST', '/api/v1/namespaces/default/pods', { ...pod, metadata: { name: 'forced' } })).status).toBe(201);
    expect((await srv.request('DELETE', '/api/v1/namespaces/default/pods/forced', { gracePeriodSeconds: 0 })).status).toBe(200);
    expect((await srv.request('GET', '/api/v1/namespaces/default/pods/forced')).status).toBe(404);
  });

  it('names objects from generateName, and refuses objects in a terminating namespace until it is gone', async () => {
    const g = (await srv.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { generateName: 'gen-' } })).json as { metadata: { name: string } };
    expect(g.metadata.name).toMatch(/^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect((await srv.request('POST', '/api/v1/namespaces', { metadata: { name: 'doomed' } })).status).toBe(201);
    const pod = { metadata: { name: 'slow' }, spec: { nodeName: 'node9', containers: [{ name: 'c', image: 'busybox' }] } };
    expect((await srv.request('POST', '/api/v1/namespaces/doomed/pods', pod)).status).toBe(201);
    expect((await srv.request('DELETE', '/api/v1/namespaces/doomed')).json).toMatchObject({ status: { phase: 'Terminating' } });
    const refused = await srv.request('POST', '/api/v1/namespaces/doomed/configmaps', { metadata: { name: 'late' } });
    expect(refused.json).toMatchObject({ code: 403, reason: 'Forbidden', message: 'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated' });
    // The kubelet finishes the pod; the apiserver's sweep then removes the namespace.
    await etcd.ctl(['del', '/registry/pods/doomed/slow']);
    let status = 0;
    for (let i = 0; i < 40 && status !== 404; i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await srv.request('GET', '/api/v1/namespaces/doomed')).status;
    }
    expect(status).toBe(404);
  });

  it('binds a pod to a node once, through pods/binding', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'tobind' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    expect((await srv.request('POST', '/api/v1/namespaces/default/pods', pod)).status).toBe(201);
    const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'tobind' }, target: { apiVersion: 'v1', kind: 'Node', name: 'node9' } };
    expect((await srv.request('POST', '/api/v1/namespaces/default/pods/tobind/binding', binding)).status).toBe(201);
    expect((await srv.request('GET', '/api/v1/namespaces/default/pods/tobind')).json).toMatchObject({ spec: { nodeName: 'node9' } });
    expect((await srv.request('POST', '/api/v1/namespaces/default/pods/tobind/binding', binding)).json).toMatchObject({ code: 409, reason: 'Conflict' });
  });

  it('is stateless: a second apiserver on the same etcd serves the same objects and watches', async () => {
    const dir2 = path.join(dir, 'second');
    await mkdir(dir2, { recursive: true });
    const second = await ApiServerProc.start(etcd.endpoint, dir2, ['--insecure-port=0']);
    try {
      const watch = second.request('GET', '/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Dshared&timeoutSeconds=3');
      await new Promise((r) => setTimeout(r, 500));
      expect((await srv.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'shared' }, data: { a: '1' } })).status).toBe(201);
      const events = (await watch).text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { data: unknown } });
      expect(events).toEqual([{ type: 'ADDED', object: expect.objectContaining({ data: { a: '1' } }) }]);
      expect((await second.request('GET', '/api/v1/namespaces/default/configmaps/shared')).json).toMatchObject({ data: { a: '1' } });
      // Both keep the one default/kubernetes service, at the first address.
      expect((await second.request('GET', '/api/v1/namespaces/default/services/kubernetes')).json).toMatchObject({ spec: { clusterIP: '10.254.0.1' } });
    } finally {
      await second.stop();
    }
  });
});

describe('the command', () => {
  it('serves plain HTTP on --insecure-port, and refuses an authorization mode it does not have', async () => {
    const d = path.join(dir, 'insecure');
    await mkdir(d, { recursive: true });
    const port = await freePort();
    const s = await ApiServerProc.start(etcd.endpoint, d, [`--insecure-port=${port}`, '--insecure-bind-address=127.0.0.1']);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/default/services/kubernetes`);
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ kind: 'Service', metadata: { name: 'kubernetes' } });
    } finally {
      await s.stop();
    }
    const out = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, [APISERVER_BIN, `--etcd-servers=${etcd.endpoint}`, '--authorization-mode=Webhook,RBAC', `--cert-dir=${path.join(d, 'c2')}`, '--secure-port=0'], { timeout: 20_000 }, (err, _o, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stderr }));
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('--authorization-mode=Webhook,RBAC: authorization-mode "Webhook" is not supported by this apiserver yet (supported: AlwaysAllow, AlwaysDeny, Node, RBAC)');
    // pflag spelling, as the seeds' unit files write flags: underscores, `--flag value`.
    const version = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, [APISERVER_BIN, '--etcd_servers', etcd.endpoint, '--secure_port=0', '--version'], { timeout: 20_000 }, (err, stdout) => resolve({ code: err ? -1 : 0, stdout }));
    });
    expect(version).toEqual({ code: 0, stdout: 'v1.32.0\n' });
  });
});

