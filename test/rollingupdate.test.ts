// kubectl-rolling_update's pure parts: the command line (pflag's grammar, the seeds' one-dash `-image=`,
// kubectl's defaults and refusals), the scaling steps against kubectl 1.17's own test table and the seeds'
// output, the new controller's name and labels, the kubeconfig merge, and the error lines.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiStatusError, ApiUnreachableError, parseKubeconfig } from '../cluster/index.js';
import {
  ANNOTATIONS,
  applyOverrides,
  DEFAULTS,
  fenceposts,
  FlagError,
  formatError,
  hashObject,
  isPodAvailable,
  kubeconfigCandidates,
  LINES,
  mergeKubeconfigs,
  newControllerFrom,
  parseArgs,
  readControllerFile,
  renameSourceOf,
  RollingUpdateError,
  scaleDownTo,
  scaleUpTo,
  selectorsDiffer,
  UsageError,
  type RollingUpdateArgs,
} from '../rollingupdate/index.js';

const args = (...a: string[]): RollingUpdateArgs => {
  const p = parseArgs(a);
  if (p.help) throw new Error('help');
  return p.args;
};

describe('rolling-update arguments', () => {
  it("reads the seeds' one-dash -image= and the defaults kubectl had", () => {
    const a = args('webapp-controller', '-image=takama/webapp:0.2');
    expect(a).toMatchObject({ oldName: 'webapp-controller', image: 'takama/webapp:0.2', deploymentKey: 'deployment', rollback: false, updatePeriodMs: 60_000, pollIntervalMs: 3_000, timeoutMs: 300_000 });
    expect(a.newName).toBeUndefined();
    expect(DEFAULTS).toMatchObject({ updatePeriodMs: 60_000, pollIntervalMs: 3_000, timeoutMs: 300_000 });
  });

  it('reads two names, Go durations, interspersed flags and the global connection flags', () => {
    const a = args('--update-period=1s', 'web', '--poll-interval', '200ms', 'web-v2', '--image', 'nginx:2', '--timeout=1m30s', '-n', 'prod', '--kubeconfig=/k', '--context=c', '-s', 'http://m:8080', '--token=t', '--insecure-skip-tls-verify', '--deployment_label_key=track', '--container=app');
    expect(a).toMatchObject({ oldName: 'web', newName: 'web-v2', image: 'nginx:2', updatePeriodMs: 1_000, pollIntervalMs: 200, timeoutMs: 90_000, deploymentKey: 'track', container: 'app' });
    expect(a.conn).toEqual({ kubeconfig: '/k', context: 'c', namespace: 'prod', server: 'http://m:8080', token: 't', insecureSkipTlsVerify: true });
    expect(args('web', '-image=x', '-nprod').conn.namespace).toBe('prod');
    expect(args('web', '-image=x', '-n=prod').conn.namespace).toBe('prod');
    expect(args('web', '-f', 'new.yaml').filename).toBe('new.yaml');
    expect(args('web', '-rollback', 'web-v2').rollback).toBe(true);
    expect(args('web', '--rollback=false', '--image=x').rollback).toBe(false);
    expect(args('web', '--image=x', '-v=6').verbosity).toBe(6);
    expect(parseArgs(['-h'])).toEqual({ help: true });
    expect(parseArgs(['web', '--help'])).toEqual({ help: true });
  });

  it('refuses bad flags as pflag does', () => {
    expect(() => parseArgs(['web', '--imag=x'])).toThrow(new FlagError('unknown flag: --imag'));
    expect(() => parseArgs(['web', '-x'])).toThrow(new FlagError("unknown shorthand flag: 'x' in -x"));
    expect(() => parseArgs(['web', '--image'])).toThrow(new FlagError('flag needs an argument: --image'));
    expect(() => parseArgs(['web', '-n'])).toThrow(new FlagError("flag needs an argument: 'n' in -n"));
    expect(() => parseArgs(['web', '--image=x', '--timeout=5'])).toThrow(new FlagError('invalid argument "5" for "--timeout" flag: time: missing unit in duration "5"'));
    expect(() => parseArgs(['web', '--image=x', '--rollback=maybe'])).toThrow(/invalid argument "maybe" for "--rollback" flag: strconv.ParseBool/);
  });

  it("refuses what kubectl's validateArguments refused, every problem at once", () => {
    const problems = (...a: string[]) => {
      try {
        parseArgs(a);
      } catch (e) {
        if (e instanceof UsageError) return e.problems;
        throw e;
      }
      return [];
    };
    expect(problems('web')).toEqual(['Must specify --filename or --image for new controller']);
    expect(problems('web', '--image=x', '-f', 'f.yaml')).toEqual(['--filename and --image can not both be specified']);
    expect(problems('web', '--rollback', '--image=x')).toEqual(["Don't specify --filename or --image on rollback"]);
    expect(problems('--image=x')).toEqual(['Must specify the controller to update']);
    expect(problems('web', '--image=x', '--deployment-label-key=')).toEqual(['--deployment-label-key can not be empty']);
    expect(problems('web', 'web-v2', 'extra', '--image=x')).toEqual(['unexpected arguments: extra']);
  });
});

/** Drives the steps as the updater's loop does, with the new pods' availability at each scale-down taken from `ready` (the last value repeats). */
function simulate(o: { desired: number; old: number; new: number; surge: number; unavailable: number; ready?: number[] }): string[] {
  const f = fenceposts(o.desired, o.old, o.surge, o.unavailable);
  const lines = [LINES.plan('foo-v2', o.new, o.desired, 'foo-v1', o.old, f)];
  let [n, old] = [o.new, o.old];
  let r = 0;
  for (let i = 0; i < 100 && (n !== o.desired || old !== 0); i++) {
    const up = scaleUpTo(n, old, o.desired, f.maxSurge);
    if (up !== undefined) {
      lines.push(LINES.up('foo-v2', up));
      n = up;
    }
    if (old !== 0) {
      const ready = o.ready ? Math.min(n, o.ready[Math.min(r++, o.ready.length - 1)]!) : n;
      const down = scaleDownTo(n, old, o.desired, f.minAvailable, ready);
      if (down !== undefined) {
        lines.push(LINES.down('foo-v1', down));
        old = down;
      }
    }
  }
  return lines;
}

describe('rolling-update steps', () => {
  it("prints the seed's update of two replicas: one up, one down, keeping 2 available and at most 3", () => {
    const lines = simulate({ desired: 2, old: 2, new: 0, surge: 1, unavailable: 0 }).map((l) => l.replace(/foo-v2/g, 'webapp-controller-ed8873daf1dc43420f537d3585fdf337').replace(/foo-v1/g, 'webapp-controller'));
    expect(lines).toEqual([
      "Scaling up webapp-controller-ed8873daf1dc43420f537d3585fdf337 from 0 to 2, scaling down webapp-controller from 2 to 0 (keep 2 pods available, don't exceed 3 pods)",
      'Scaling webapp-controller-ed8873daf1dc43420f537d3585fdf337 up to 1',
      'Scaling webapp-controller down to 1',
      'Scaling webapp-controller-ed8873daf1dc43420f537d3585fdf337 up to 2',
      'Scaling webapp-controller down to 0',
    ]);
  });

  it("waits for readiness: a not-ready new pod holds the old one (kubectl's 10->10 0/30 delayed readiness)", () => {
    expect(simulate({ desired: 10, old: 10, new: 0, surge: 3, unavailable: 0, ready: [0, 1, 3, 6, 9, 9, 10] })).toEqual([
      "Scaling up foo-v2 from 0 to 10, scaling down foo-v1 from 10 to 0 (keep 10 pods available, don't exceed 13 pods)",
      'Scaling foo-v2 up to 3',
      'Scaling foo-v1 down to 9',
      'Scaling foo-v2 up to 4',
      'Scaling foo-v1 down to 7',
      'Scaling foo-v2 up to 6',
      'Scaling foo-v1 down to 4',
      'Scaling foo-v2 up to 9',
      'Scaling foo-v1 down to 1',
      'Scaling foo-v2 up to 10',
      'Scaling foo-v1 down to 0',
    ]);
  });

  it("scales down first when unavailability is allowed (kubectl's 10->10 30/0 fast readiness)", () => {
    expect(simulate({ desired: 10, old: 10, new: 0, surge: 0, unavailable: 3 })).toEqual([
      "Scaling up foo-v2 from 0 to 10, scaling down foo-v1 from 10 to 0 (keep 7 pods available, don't exceed 10 pods)",
      'Scaling foo-v1 down to 7',
      'Scaling foo-v2 up to 3',
      'Scaling foo-v1 down to 4',
      'Scaling foo-v2 up to 6',
      'Scaling foo-v1 down to 1',
      'Scaling foo-v2 up to 9',
      'Scaling foo-v1 down to 0',
      'Scaling foo-v2 up to 10',
    ]);
  });

  it("continues an interrupted update from where it stood, as the seed's rollback does", () => {
    expect(simulate({ desired: 2, old: 1, new: 1, surge: 1, unavailable: 0 })).toEqual([
      "Scaling up foo-v2 from 1 to 2, scaling down foo-v1 from 1 to 0 (keep 2 pods available, don't exceed 3 pods)",
      'Scaling foo-v2 up to 2',
      'Scaling foo-v1 down to 0',
    ]);
    // Interrupted after the first scale-up: at the surge limit, the old one goes down first.
    expect(simulate({ desired: 2, old: 2, new: 1, surge: 1, unavailable: 0 }).slice(1)).toEqual(['Scaling foo-v1 down to 1', 'Scaling foo-v2 up to 2', 'Scaling foo-v1 down to 0']);
  });

  it('never goes below the available minimum nor above the surge, whatever the readiness', () => {
    for (const desired of [1, 2, 3, 5]) {
      const f = fenceposts(desired, desired);
      let [n, old] = [0, desired];
      for (let i = 0; i < 50 && (n !== desired || old !== 0); i++) {
        n = scaleUpTo(n, old, desired, f.maxSurge) ?? n;
        expect(n + old).toBeLessThanOrEqual(desired + 1);
        const ready = i % 3 === 0 ? Math.max(0, n - 1) : n; // readiness that lags now and then
        const down = scaleDownTo(n, old, desired, f.minAvailable, ready);
        if (down !== undefined) old = down;
        expect(old + ready).toBeGreaterThanOrEqual(desired);
      }
      expect([n, old]).toEqual([desired, 0]);
    }
    // Scaling to nothing: every old pod may go.
    expect(fenceposts(0, 3)).toEqual({ maxSurge: 1, maxUnavailable: 3, minAvailable: 0 });
    expect(fenceposts(2, 2, 0, 0)).toMatchObject({ maxUnavailable: 1, minAvailable: 1 });
  });

  it('counts a pod available when Ready (for minReadySeconds), not when being deleted', () => {
    const pod = (ready: string, since = '2024-01-01T00:00:00Z', deleting = false) => ({
      metadata: { name: 'p', ...(deleting && { deletionTimestamp: since }) },
      status: { conditions: [{ type: 'Ready', status: ready, lastTransitionTime: since }] },
    });
    const t = Date.parse('2024-01-01T00:00:10Z');
    expect(isPodAvailable(pod('True'), 0, t)).toBe(true);
    expect(isPodAvailable(pod('False'), 0, t)).toBe(false);
    expect(isPodAvailable(pod('True', undefined, true), 0, t)).toBe(false);
    expect(isPodAvailable(pod('True'), 10, t)).toBe(true);
    expect(isPodAvailable(pod('True'), 11, t)).toBe(false);
    expect(isPodAvailable({ status: {} }, 0, t)).toBe(false);
  });
});

const WEB = {
  apiVersion: 'v1',
  kind: 'ReplicationController',
  metadata: { name: 'webapp-controller', namespace: 'default', uid: 'u-1', resourceVersion: '7', generation: 1, creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: { replicas: 2, selector: { name: 'webapp' }, template: { metadata: { labels: { name: 'webapp' } }, spec: { containers: [{ name: 'webapp', image: 'takama/webapp:0.1' }] } } },
  status: { replicas: 2 },
};

describe('the new controller', () => {
  it('is the old one with the new image, named <old>-<md5>, the hash on its selector and template, nothing the server set', () => {
    const { rc, hash } = newControllerFrom(WEB, { image: 'takama/webapp:0.2', deploymentKey: 'deployment' });
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    const changed = structuredClone(WEB);
    changed.spec.template.spec.containers[0]!.image = 'takama/webapp:0.2';
    expect(hash).toBe(hashObject(changed));
    expect(rc).toEqual({
      apiVersion: 'v1',
      kind: 'ReplicationController',
      metadata: { name: `webapp-controller-${hash}`, namespace: 'default' },
      spec: { replicas: 2, selector: { name: 'webapp', deployment: hash }, template: { metadata: { labels: { name: 'webapp', deployment: hash } }, spec: { containers: [{ name: 'webapp', image: 'takama/webapp:0.2' }] } } },
    });
    expect(WEB.spec.template.spec.containers[0]!.image).toBe('takama/webapp:0.1');
    expect(newControllerFrom(WEB, { image: 'x', deploymentKey: 'd', newName: 'web-v2' }).rc.metadata).toEqual({ name: 'web-v2', namespace: 'default' });
    expect(selectorsDiffer({ spec: { selector: { name: 'webapp', deployment: 'a-orig' } } }, rc)).toBe(true);
    expect(selectorsDiffer(WEB, rc)).toBe(false);
  });

  it('needs --container for a pod of several, and one that exists', () => {
    const two = structuredClone(WEB) as typeof WEB;
    two.spec.template.spec.containers.push({ name: 'side', image: 'busybox' });
    expect(() => newControllerFrom(two, { image: 'x', deploymentKey: 'd' })).toThrow(new RollingUpdateError('must specify container to update when updating a multi-container pod'));
    expect(() => newControllerFrom(two, { image: 'x', deploymentKey: 'd', container: 'nope' })).toThrow(new RollingUpdateError('container nope not found in pod'));
    const { rc } = newControllerFrom(two, { image: 'busybox:2', deploymentKey: 'd', container: 'side', pullPolicy: 'Always' });
    expect((rc.spec as typeof WEB.spec).template.spec.containers).toEqual([
      { name: 'webapp', image: 'takama/webapp:0.1' },
      { name: 'side', image: 'busybox:2', imagePullPolicy: 'Always' },
    ]);
  });

  it('is found again when an update was cut off between deleting the old one and the rename', () => {
    const h = 'a'.repeat(32);
    const rcs = [{ metadata: { name: 'web2-' + h } }, { metadata: { name: `web-${h}` } }, { metadata: { name: 'web-v2', annotations: { [ANNOTATIONS.sourceId]: 'webx:u' } } }];
    expect(renameSourceOf(rcs, 'web')).toBe(rcs[1]);
    const annotated = { metadata: { name: 'other', annotations: { [ANNOTATIONS.sourceId]: 'web:u-1' } } };
    expect(renameSourceOf([...rcs, annotated], 'web')).toBe(annotated);
    expect(renameSourceOf(rcs, 'we')).toBeUndefined();
    expect(renameSourceOf([{ metadata: { name: `web-${h}x` } }], 'web')).toBeUndefined();
  });

  it('prints the lines the seeds show', () => {
    expect(LINES.done('webapp-controller')).toBe('replicationcontroller "webapp-controller" rolling updated');
    expect(LINES.done('web', 'web-v2')).toBe('replicationcontroller "web" rolling updated to "web-v2"');
    expect(LINES.settingReplicas('webapp-controller-v2', '2')).toBe('Setting "webapp-controller-v2" replicas to 2');
    expect(LINES.continuing('webapp-controller-v2')).toBe('Continuing update with existing controller webapp-controller-v2.');
    expect(LINES.deletingOld('webapp-controller')).toBe('Update succeeded. Deleting old controller: webapp-controller');
    expect(LINES.deleting('webapp-controller')).toBe('Update succeeded. Deleting webapp-controller');
    expect(ANNOTATIONS.nextController).toBe('kubectl.kubernetes.io/next-controller-id');
  });
});

describe('the -f manifest', () => {
  const rcYaml = 'apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: web-v2\nspec:\n  selector:\n    v: "2"\n';
  const read = (text: string, ns = 'default') => readControllerFile('-', ns, () => Promise.resolve(text));
  it('is one v1 ReplicationController, from stdin with -f -, YAML or JSON', async () => {
    expect(await read(rcYaml)).toMatchObject({ kind: 'ReplicationController', metadata: { name: 'web-v2' } });
    expect(await read(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'x' } }] }))).toMatchObject({ metadata: { name: 'x' } });
  });
  it('is refused as kubectl refused it', async () => {
    await expect(read(`${rcYaml}---\n${rcYaml}`)).rejects.toThrow(new RollingUpdateError('- specifies multiple items'));
    await expect(read('')).rejects.toThrow(new RollingUpdateError('please make sure - exists and is not empty'));
    await expect(read('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n')).rejects.toThrow(new RollingUpdateError('- contains a apps/v1, Kind=Deployment not a ReplicationController'));
    await expect(read(rcYaml.replace('name: web-v2', 'name: web-v2\n  namespace: prod'))).rejects.toThrow(/the namespace from the provided object "prod" does not match the namespace "default"/);
    await expect(read(rcYaml.replace('  name: web-v2\n', '  labels: {}\n'))).rejects.toThrow(new RollingUpdateError('resource name may not be empty'));
    await expect(readControllerFile('/nonexistent/x.yaml', 'default', () => Promise.resolve(''))).rejects.toThrow(new RollingUpdateError('the path "/nonexistent/x.yaml" does not exist'));
  });
});

describe('the connection', () => {
  it('merges KUBECONFIG files as kubectl does: the first value wins, paths against their own file', () => {
    const merged = mergeKubeconfigs([
      { file: '/a/one', doc: { clusters: [{ name: 'c', cluster: { server: 'https://one', 'certificate-authority': 'ca.crt' } }], users: [{ name: 'u', user: { 'client-key': '/abs/k' } }] } },
      { file: '/b/two', doc: { 'current-context': 'ctx', clusters: [{ name: 'c', cluster: { server: 'https://two' } }], contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'prod' } }] } },
      { file: '/c/three', doc: { 'current-context': 'other' } },
    ]);
    expect(merged).toEqual({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'ctx',
      clusters: [{ name: 'c', cluster: { server: 'https://one', 'certificate-authority': path.resolve('/a', 'ca.crt') } }],
      users: [{ name: 'u', user: { 'client-key': '/abs/k' } }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'prod' } }],
    });
  });

  it("takes the namespace from the kubeconfig's context", () => {
    const text = 'clusters:\n- name: c\n  cluster:\n    server: https://m:6443\ncontexts:\n- name: x\n  context:\n    cluster: c\n    namespace: prod\n- name: y\n  context:\n    cluster: c\ncurrent-context: x\n';
    expect(parseKubeconfig(text, '/k').namespace).toBe('prod');
    expect(parseKubeconfig(text, '/k', 'y').namespace).toBeUndefined();
  });

  it('looks for --kubeconfig, else KUBECONFIG, else ~/.kube/config; flags override; no kubeconfig is localhost:8080', () => {
    expect(kubeconfigCandidates('/k', '/a:/b', '/home/u')).toEqual({ files: ['/k'], explicit: true });
    expect(kubeconfigCandidates(undefined, '/a::/b', '/home/u')).toEqual({ files: ['/a', '/b'], explicit: false });
    expect(kubeconfigCandidates(undefined, undefined, '/home/u')).toEqual({ files: ['/home/u/.kube/config'], explicit: false });
    expect(applyOverrides(undefined, {})).toMatchObject({ server: 'http://localhost:8080' });
    const t = applyOverrides({ context: 'c', server: 'https://one', insecureSkipTlsVerify: false, namespace: 'prod', token: 'a' }, { server: 'm:6443/', token: 'b', insecureSkipTlsVerify: true, certificateAuthority: '/ca' });
    expect(t).toEqual({ context: 'c', server: 'https://m:6443', insecureSkipTlsVerify: true, namespace: 'prod', token: 'b', ca: { file: '/ca' } });
  });
});

describe('the error lines', () => {
  it('are what kubectl printed', () => {
    expect(formatError(new ApiStatusError('GET', '/x', 404, 'NotFound', 'replicationcontrollers "web" not found'), undefined)).toBe('Error from server (NotFound): replicationcontrollers "web" not found');
    expect(formatError(new RollingUpdateError('Specified --image must be distinct from existing container image'), undefined)).toBe('error: Specified --image must be distinct from existing container image');
    expect(formatError(new UsageError(['Must specify the controller to update']), undefined)).toBe("error: Must specify the controller to update\nSee 'kubectl rolling-update -h' for help and examples");
    expect(formatError(new FlagError('unknown flag: --x'), undefined)).toBe("error: unknown flag: --x\nSee 'kubectl rolling-update --help' for usage.");
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), { code: 'ECONNREFUSED' });
    expect(formatError(new ApiUnreachableError('GET', 'http://localhost:8080/api', refused), 'http://localhost:8080')).toBe('The connection to the server localhost:8080 was refused - did you specify the right host or port?');
  });
});
