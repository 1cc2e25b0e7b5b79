// The older group versions: each version's defaults (Kubernetes 1.15's), the conversions to and from the
// current version, their round trips, and how discovery lists them beside the current kinds.
import { describe, expect, it } from 'vitest';
import { ALL_STRATEGIES, apiGroupDoc, apiGroupList, apiResourceList, type Obj } from '../apiserver/index.js';
import {
  appsV1beta1Deployment,
  backendToV1,
  backendToV1beta1,
  batchV1beta1CronJob,
  extensionsV1beta1DaemonSet,
  extensionsV1beta1Deployment,
  extensionsV1beta1Ingress,
  extensionsV1beta1NetworkPolicy,
  extensionsV1beta1ReplicaSet,
  OLD_VERSIONS,
  ROLLBACK_TO_ANNOTATION,
  TEMPLATE_GENERATION_ANNOTATION,
  type VersionView,
} from '../apiserver/versions/index.js';

/** What the server does with a body in the old version: that version's defaults, then the conversion. */
const decode = (v: VersionView, o: Obj): Obj => {
  const b = structuredClone(o);
  v.defaults(b);
  return v.toCurrent(b);
};

// Seed 003's Deployment, as its user wrote it.
const seedDeployment = (apiVersion: string): Obj => ({
  apiVersion,
  kind: 'Deployment',
  metadata: { name: 'sise-deploy' },
  spec: {
    replicas: 2,
    template: {
      metadata: { labels: { app: 'sise' } },
      spec: { containers: [{ name: 'sise', image: 'mhausenblas/simple-service:0.5.0', ports: [{ containerPort: 9876 }] }] },
    },
  },
});

describe('apps/v1beta1 Deployment', () => {
  it('defaults the selector and labels from the template, 25%/25%, two old ReplicaSets, 600 s', () => {
    const cur = decode(appsV1beta1Deployment, seedDeployment('apps/v1beta1'));
    expect(cur.apiVersion).toBe('apps/v1');
    expect(cur.metadata).toEqual({ name: 'sise-deploy', labels: { app: 'sise' } });
    expect(cur.spec).toMatchObject({
      replicas: 2,
      selector: { matchLabels: { app: 'sise' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 2,
      progressDeadlineSeconds: 600,
    });
  });

  it('keeps what the manifest sets: its selector, labels, strategy and limits', () => {
    const o = seedDeployment('apps/v1beta1');
    (o.metadata as Obj).labels = { team: 'x' };
    Object.assign(o.spec as Obj, { selector: { matchLabels: { app: 'sise' } }, strategy: { type: 'Recreate' }, revisionHistoryLimit: 5, progressDeadlineSeconds: 60 });
    const cur = decode(appsV1beta1Deployment, o);
    expect((cur.metadata as Obj).labels).toEqual({ team: 'x' });
    expect(cur.spec).toMatchObject({ strategy: { type: 'Recreate' }, revisionHistoryLimit: 5, progressDeadlineSeconds: 60 });
    expect((cur.spec as Obj).strategy).toEqual({ type: 'Recreate' });
  });

  it('leaves the selector unset when the template has no labels (validation then asks for one)', () => {
    const o = seedDeployment('apps/v1beta1');
    delete ((o.spec as Obj).template as { metadata?: unknown }).metadata;
    const cur = decode(appsV1beta1Deployment, o);
    expect((cur.spec as Obj).selector).toBeUndefined();
    expect((cur.metadata as Obj).labels).toBeUndefined();
  });

  it('keeps spec.rollbackTo in an annotation of the apps/v1 object, and back', () => {
    const o = seedDeployment('apps/v1beta1');
    (o.spec as Obj).rollbackTo = { revision: 3 };
    const cur = decode(appsV1beta1Deployment, o);
    expect((cur.spec as Obj).rollbackTo).toBeUndefined();
    expect((cur.metadata as Obj).annotations).toEqual({ [ROLLBACK_TO_ANNOTATION]: '3' });
    const back = appsV1beta1Deployment.fromCurrent(cur);
    expect((back.spec as Obj).rollbackTo).toEqual({ revision: 3 });
    expect((back.metadata as Obj).annotations).toBeUndefined();
    expect(cur.apiVersion).toBe('apps/v1');
  });

  it('round-trips: old → current → old is the defaulted old object, current → old → current is the object', () => {
    const o = seedDeployment('apps/v1beta1');
    const defaulted = structuredClone(o);
    appsV1beta1Deployment.defaults(defaulted);
    expect(appsV1beta1Deployment.fromCurrent(appsV1beta1Deployment.toCurrent(defaulted))).toEqual(defaulted);
    const stored = { ...decode(appsV1beta1Deployment, o), status: { replicas: 2, readyReplicas: 1 }, metadata: { name: 'sise-deploy', annotations: { a: 'b' } } };
    expect(appsV1beta1Deployment.toCurrent(appsV1beta1Deployment.fromCurrent(stored))).toEqual(stored);
  });
});

describe('extensions/v1beta1 Deployment', () => {
  it('defaults one pod over and under, and MaxInt32 history and deadline', () => {
    const cur = decode(extensionsV1beta1Deployment, seedDeployment('extensions/v1beta1'));
    expect(cur.apiVersion).toBe('apps/v1');
    expect(cur.spec).toMatchObject({
      selector: { matchLabels: { app: 'sise' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } },
      revisionHistoryLimit: 2147483647,
      progressDeadlineSeconds: 2147483647,
    });
  });

  it('fills a rollingUpdate given with Recreate too (which validation refuses), as extensions did', () => {
    const o = seedDeployment('extensions/v1beta1');
    (o.spec as Obj).strategy = { type: 'Recreate', rollingUpdate: {} };
    expect(((decode(extensionsV1beta1Deployment, o).spec as Obj).strategy as Obj).rollingUpdate).toEqual({ maxUnavailable: 1, maxSurge: 1 });
    const a = seedDeployment('apps/v1beta1');
    (a.spec as Obj).strategy = { type: 'Recreate', rollingUpdate: {} };
    expect(((decode(appsV1beta1Deployment, a).spec as Obj).strategy as Obj).rollingUpdate).toEqual({});
  });

  it('reads an object created as apps/v1 in extensions/v1beta1, unchanged but for apiVersion', () => {
    const v1: Obj = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', resourceVersion: '7' }, spec: { selector: { matchLabels: { a: 'b' } }, revisionHistoryLimit: 10 } };
    expect(extensionsV1beta1Deployment.fromCurrent(v1)).toEqual({ ...v1, apiVersion: 'extensions/v1beta1' });
    expect(v1.apiVersion).toBe('apps/v1');
  });
});

describe('extensions/v1beta1 Ingress', () => {
  // Seed 003's Ingress.
  const seed: Obj = {
    apiVersion: 'extensions/v1beta1',
    kind: 'Ingress',
    metadata: { name: 'registry', namespace: 'scratch', annotations: { 'kubernetes.io/tls-acme': 'true' } },
    spec: {
      tls: [{ hosts: ['registry.scratch.ioudaas.no'], secretName: 'registry-tls' }],
      rules: [{ host: 'registry.scratch.ioudaas.no', http: { paths: [{ path: '/', backend: { serviceName: 'registry', servicePort: 5000 } }] } }],
    },
  };

  it('converts serviceName/servicePort to service.name and service.port.number, with the default pathType', () => {
    const cur = decode(extensionsV1beta1Ingress, seed);
    expect(cur.apiVersion).toBe('networking.k8s.io/v1');
    expect(cur.spec).toEqual({
      tls: [{ hosts: ['registry.scratch.ioudaas.no'], secretName: 'registry-tls' }],
      rules: [{ host: 'registry.scratch.ioudaas.no', http: { paths: [{ path: '/', pathType: 'ImplementationSpecific', backend: { service: { name: 'registry', port: { number: 5000 } } } }] } }],
    });
  });

  it('converts a named port and the default backend (backend ⇄ defaultBackend)', () => {
    const o: Obj = { apiVersion: 'extensions/v1beta1', kind: 'Ingress', metadata: { name: 'i' }, spec: { backend: { serviceName: 'web', servicePort: 'http' } } };
    const cur = decode(extensionsV1beta1Ingress, o);
    expect(cur.spec).toEqual({ defaultBackend: { service: { name: 'web', port: { name: 'http' } } } });
    expect(extensionsV1beta1Ingress.fromCurrent(cur).spec).toEqual({ backend: { serviceName: 'web', servicePort: 'http' } });
  });

  it('keeps a resource backend, and writes port 0 for a service with no port (as the Go conversion does)', () => {
    const resource = { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'static' };
    expect(backendToV1({ resource })).toEqual({ resource });
    expect(backendToV1beta1({ resource })).toEqual({ resource });
    expect(backendToV1({ serviceName: 'web' })).toEqual({ service: { name: 'web', port: {} } });
    expect(backendToV1beta1({ service: { name: 'web', port: {} } })).toEqual({ serviceName: 'web', servicePort: 0 });
    expect(backendToV1({ serviceName: '', servicePort: 0 })).toEqual({});
  });

  it('round-trips both ways', () => {
    const defaulted = structuredClone(seed);
    extensionsV1beta1Ingress.defaults(defaulted);
    expect(extensionsV1beta1Ingress.fromCurrent(extensionsV1beta1Ingress.toCurrent(defaulted))).toEqual(defaulted);
    const v1: Obj = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'i' },
      spec: {
        ingressClassName: 'nginx',
        defaultBackend: { service: { name: 'd', port: { name: 'web' } } },
        rules: [{ http: { paths: [{ path: '/a', pathType: 'Prefix', backend: { service: { name: 'a', port: { number: 80 } } } }] } }],
      },
      status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } },
    };
    expect(extensionsV1beta1Ingress.toCurrent(extensionsV1beta1Ingress.fromCurrent(v1))).toEqual(v1);
  });
});

describe('the versions of the same shape', () => {
  it('NetworkPolicy and CronJob change only apiVersion, both ways', () => {
    const np: Obj = { apiVersion: 'extensions/v1beta1', kind: 'NetworkPolicy', metadata: { name: 'p' }, spec: { podSelector: { matchLabels: { app: 'registry' } }, ingress: [{ from: [{ podSelector: {} }] }] } };
    expect(decode(extensionsV1beta1NetworkPolicy, np)).toEqual({ ...np, apiVersion: 'networking.k8s.io/v1' });
    const cj: Obj = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'hello' }, spec: { schedule: '*/1 * * * *', jobTemplate: { spec: {} } } };
    expect(batchV1beta1CronJob.fromCurrent(cj)).toEqual({ ...cj, apiVersion: 'batch/v1beta1' });
    expect(batchV1beta1CronJob.toCurrent(batchV1beta1CronJob.fromCurrent(cj))).toEqual(cj);
  });

  it('ReplicaSet defaults its selector from the template; DaemonSet replaces pods OnDelete and keeps templateGeneration in an annotation', () => {
    const tpl = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    const rs = decode(extensionsV1beta1ReplicaSet, { apiVersion: 'extensions/v1beta1', kind: 'ReplicaSet', metadata: { name: 'r' }, spec: { template: tpl } });
    expect(rs).toMatchObject({ apiVersion: 'apps/v1', metadata: { labels: { app: 'x' } }, spec: { replicas: 1, selector: { matchLabels: { app: 'x' } } } });
    const ds = decode(extensionsV1beta1DaemonSet, { apiVersion: 'extensions/v1beta1', kind: 'DaemonSet', metadata: { name: 'd' }, spec: { template: tpl, templateGeneration: 4 } });
    expect(ds).toMatchObject({ apiVersion: 'apps/v1', metadata: { annotations: { [TEMPLATE_GENERATION_ANNOTATION]: '4' } }, spec: { updateStrategy: { type: 'OnDelete' }, revisionHistoryLimit: 10 } });
    expect((ds.spec as Obj).templateGeneration).toBeUndefined();
    const back = extensionsV1beta1DaemonSet.fromCurrent(ds);
    expect((back.spec as Obj).templateGeneration).toBe(4);
    expect((back.metadata as Obj).annotations).toBeUndefined();
  });
});

describe('the deprecation warning', () => {
  it('says, as kube-apiserver did, when the version was deprecated and removed and what replaces it', () => {
    expect(extensionsV1beta1Ingress.deprecation).toBe('extensions/v1beta1 Ingress is deprecated in v1.14+, unavailable in v1.22+; use networking.k8s.io/v1 Ingress');
    expect(appsV1beta1Deployment.deprecation).toBe('apps/v1beta1 Deployment is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 Deployment');
    expect(batchV1beta1CronJob.deprecation).toBe('batch/v1beta1 CronJob is deprecated in v1.21+, unavailable in v1.25+; use batch/v1 CronJob');
  });
});

describe('discovery of the old versions', () => {
  const listed = [...ALL_STRATEGIES, ...OLD_VERSIONS];

  it('lists each group once, its current version preferred, extensions last', () => {
    const groups = (apiGroupList(listed) as { groups: { name: string; versions: { version: string }[]; preferredVersion: { version: string } }[] }).groups;
    const apps = groups.find((g) => g.name === 'apps')!;
    expect(apps.versions.map((v) => v.version)).toEqual(['v1', 'v1beta1']);
    expect(apps.preferredVersion.version).toBe('v1');
    expect(groups.find((g) => g.name === 'batch')!.preferredVersion.version).toBe('v1');
    expect(groups.at(-1)!.name).toBe('extensions');
    expect(apiGroupDoc(listed, 'extensions')).toMatchObject({ name: 'extensions', preferredVersion: { groupVersion: 'extensions/v1beta1', version: 'v1beta1' } });
  });

  it('lists the old resources with status only, and no short names or categories (a short name or `get all` means the current group)', () => {
    const ext = apiResourceList(listed, 'extensions', 'v1beta1') as { resources: Obj[] };
    expect(ext.resources.map((r) => r.name)).toEqual(['deployments', 'deployments/status', 'replicasets', 'replicasets/status', 'daemonsets', 'daemonsets/status', 'networkpolicies', 'ingresses', 'ingresses/status']);
    const deploy = ext.resources.find((r) => r.name === 'deployments')!;
    expect(deploy).toMatchObject({ kind: 'Deployment', namespaced: true, singularName: 'deployment' });
    expect(deploy.shortNames).toBeUndefined();
    expect(deploy.categories).toBeUndefined();
    expect((apiResourceList(listed, 'apps', 'v1beta1') as { resources: Obj[] }).resources.map((r) => r.name)).toEqual(['deployments', 'deployments/status']);
  });
});
