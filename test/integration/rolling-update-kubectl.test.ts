// `kubectl rolling-update` as the seeds ran it, through the plugin kubectl-rolling_update installed by
// scripts/install, run by the real kubectl 1.20 and a newer one against a real etcd, kube-apiserver and
// kube-controller-manager (all from dist/). No kubelets: the test plays them, marking each pod Ready
// through pods/status as it appears, and samples the pods throughout: never fewer than 2 ready, never
// more than 3 in all. Then an update killed after its first step and resumed, and one killed and taken
// back with --rollback.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APISERVER_BIN, ApiServerProc, EtcdServer, freePort, kubectlBinaries, runCommandResult, type CommandResult } from '../harness/index.js';

type Obj = Record<string, any>;

const REPO = path.dirname(path.dirname(APISERVER_BIN));
const CM_BIN = path.join(REPO, 'controllers', 'main.js');
const ROOT = path.dirname(REPO);
const KUBECTLS = [kubectlBinaries().find((b) => b.version === '1.20')!, kubectlBinaries().filter((b) => b.version !== '1.20' && b.present).pop() ?? kubectlBinaries().at(-1)!];

const webRc = (image: string) => `apiVersion: v1
kind: ReplicationController
metadata:
  name: webapp-controller
  labels:
    name: webapp
spec:
  replicas: 2
  selector:
    name: webapp
  template:
    metadata:
      labels:
        name: webapp
    spec:
      containers:
      - name: webapp
        image: ${image}
        ports:
        - containerPort: 80
`;

let dir: string;
let bindir: string;
let etcd: EtcdServer | undefined;
let srv: ApiServerProc | undefined;
let cm: ChildProcess | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until `ok` holds (bounded: 200 tries within `ms`); the last value. */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  for (let i = 0; i < 200 && !ok(v) && Date.now() < deadline; i++) {
    await sleep(100);
    v = await fn();
  }
  return v;
}

const env = (): NodeJS.ProcessEnv => ({ PATH: `${bindir}:${process.env.PATH ?? ''}`, HOME: path.join(dir, 'home'), KUBECONFIG: srv!.kubeconfig });
const kubectl = (bin: string, args: string[], timeoutMs = 90_000): Promise<CommandResult> => runCommandResult(bin, args, { env: env(), timeoutMs });

const isReady = (p: Obj) => (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
async function pods(ns: string, selector = 'name=webapp'): Promise<Obj[]> {
  const r = await srv!.request('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`);
  return ((r.json as Obj).items as Obj[]).filter((p) => !p.metadata.deletionTimestamp);
}
const rc = async (ns: string, name: string): Promise<Obj | undefined> => {
  const r = await srv!.request('GET', `/api/v1/namespaces/${ns}/replicationcontrollers/${name}`);
  return r.status === 200 ? (r.json as Obj) : undefined;
};
/**
 * The RC names once only one is left: a v1 RC is deleted with the `orphan` finalizer by default (as
 * kubectl's rolling-update deletes it), so it stays listed until the garbage collector takes it off.
 */
const goneToOne = (ns: string): Promise<string[]> => until(() => rcNames(ns), (names) => names.length <= 1);
const rcNames = async (ns: string): Promise<string[]> => (((await srv!.request('GET', `/api/v1/namespaces/${ns}/replicationcontrollers`)).json as Obj).items as Obj[]).map((r) => r.metadata.name as string).sort();

/**
 * The kubelets' part, in one bounded loop: every pod of the namespace that is not Ready is marked
 * Running and Ready through pods/status; each round also samples the web pods (before marking).
 */
class FakeKubelets {
  minReady = Infinity;
  maxTotal = 0;
  samples = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(private readonly ns: string) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    for (let i = 0; i < 6_000 && !this.stopped; i++) {
      try {
        const ps = await pods(this.ns, 'name=webapp');
        this.samples++;
        this.minReady = Math.min(this.minReady, ps.filter(isReady).length);
        this.maxTotal = Math.max(this.maxTotal, ps.length);
        for (const p of ps.filter((q) => !isReady(q))) {
          const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
          p.status = { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] };
          await srv!.request('PUT', `/api/v1/namespaces/${this.ns}/pods/${p.metadata.name}/status`, p); // a conflict is retried next round
        }
      } catch {
        // the apiserver busy: the next round looks again
      }
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** kubectl rolling-update started in its own process group, its output collected; killed (the group) when asked. */
function startUpdate(bin: string, args: string[]): { out: () => string; waitFor: (re: RegExp) => Promise<boolean>; kill: () => Promise<void> } {
  const p = spawn(bin, ['rolling-update', ...args], { env: env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (c: Buffer) => (out += c.toString()));
  p.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  return {
    out: () => out,
    waitFor: async (re) => (await until(async () => out, (o) => re.test(o) || p.exitCode !== null, 60_000), re.test(out)),
    kill: async () => {
      if (p.exitCode === null && p.signalCode === null) process.kill(-p.pid!, 'SIGKILL');
      await Promise.race([exited, sleep(5_000)]);
    },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rollupd-'));
  bindir = path.join(dir, 'tree', 'bin');
  const t = path.join(dir, 'tree');
  const inst = await runCommandResult('bash', [path.join(ROOT, 'scripts', 'install'), '--bindir', bindir, '--libexecdir', path.join(t, 'libexec'), '--unitdir', path.join(t, 'systemd'), '--sysconfdir', path.join(t, 'etc'), '--no-reload'], { timeoutMs: 30_000 });
  expect(inst.code, inst.stderr).toBe(0);
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir);
  const log = createWriteStream(path.join(dir, 'kcm.log'));
  cm = spawn(process.execPath, [CM_BIN, `--kubeconfig=${srv.kubeconfig}`, '--bind-address=127.0.0.1', `--secure-port=${await freePort()}`, `--cert-dir=${path.join(dir, 'kcm-certs')}`, '--leader-elect=false'], { stdio: ['ignore', 'pipe', 'pipe'] });
  cm.stdout?.pipe(log);
  cm.stderr?.pipe(log);
  await writeFile(path.join(dir, 'web-rc.yaml'), webRc('takama/webapp:0.1'));
  await writeFile(
    path.join(dir, 'web-v5.yaml'),
    webRc('takama/webapp:0.5')
      .replace('name: webapp-controller', 'name: webapp-v5')
      .replace(/selector:\n    name: webapp/, 'selector:\n    name: webapp\n    deployment: v5')
      .replace(/labels:\n        name: webapp/, 'labels:\n        name: webapp\n        deployment: v5'),
  );
  await writeFile(path.join(dir, 'pod.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox\n');
}, 90_000);

afterAll(async () => {
  if (cm && cm.exitCode === null && cm.signalCode === null) {
    const exited = new Promise((r) => cm!.once('exit', r));
    cm.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
    if (cm.exitCode === null && cm.signalCode === null) cm.kill('SIGKILL');
  }
  if (process.env.ROLLUPD_TEST_LOG) process.stderr.write(await readFile(path.join(dir, 'kcm.log'), 'utf8').catch(() => ''));
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const HASHED = /^webapp-controller-[0-9a-f]{32}$/;

for (const k of KUBECTLS) {
  const ns = `ru-${k.version.replace('.', '')}`;
  describe.skipIf(!k.present)(`kubectl ${k.version} rolling-update`, () => {
    let kubelets: FakeKubelets;

    beforeAll(async () => {
      kubelets = new FakeKubelets(ns);
    });
    afterAll(async () => {
      await kubelets?.stop();
    });

    it('finds the plugin on the PATH', async () => {
      const r = await kubectl(k.path, ['plugin', 'list']);
      expect(r.stdout).toContain(path.join(bindir, 'kubectl-rolling_update'));
      const help = await kubectl(k.path, ['rolling-update', '--help']);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toContain('kubectl rolling-update OLD_CONTROLLER_NAME');
    });

    it("rolls the seed's web RC to a new image one pod at a time, printing the seed's lines, and keeps its name", async () => {
      expect((await kubectl(k.path, ['create', 'namespace', ns])).code).toBe(0);
      const c = await kubectl(k.path, ['create', '-f', path.join(dir, 'web-rc.yaml'), '-n', ns]);
      expect(c.code, c.stderr).toBe(0);
      await until(() => pods(ns), (ps) => ps.length === 2 && ps.every(isReady));
      kubelets.minReady = Infinity;
      kubelets.maxTotal = 0;
      const samplesBefore = kubelets.samples;

      const r = await kubectl(k.path, ['rolling-update', 'webapp-controller', '-image=takama/webapp:0.2', '--update-period=1s', '--poll-interval=200ms', '-n', ns]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      const hashed = lines[0]!.replace(/^Created /, '');
      expect(hashed).toMatch(HASHED);
      expect(lines).toEqual([
        `Created ${hashed}`,
        `Scaling up ${hashed} from 0 to 2, scaling down webapp-controller from 2 to 0 (keep 2 pods available, don't exceed 3 pods)`,
        `Scaling ${hashed} up to 1`,
        'Scaling webapp-controller down to 1',
        `Scaling ${hashed} up to 2`,
        'Scaling webapp-controller down to 0',
        'Update succeeded. Deleting old controller: webapp-controller',
        `Renaming ${hashed} to webapp-controller`,
        'replicationcontroller "webapp-controller" rolling updated',
      ]);
      expect(kubelets.samples - samplesBefore).toBeGreaterThan(5);
      expect(kubelets.minReady).toBeGreaterThanOrEqual(2);
      expect(kubelets.maxTotal).toBeLessThanOrEqual(3);

      expect(await goneToOne(ns)).toEqual(['webapp-controller']);
      const now = (await rc(ns, 'webapp-controller'))!;
      const hash = hashed.slice('webapp-controller-'.length);
      expect(now.spec.template.spec.containers[0].image).toBe('takama/webapp:0.2');
      expect(now.spec.selector).toEqual({ name: 'webapp', deployment: hash });
      expect(now.metadata.annotations ?? {}).not.toHaveProperty(['kubectl.kubernetes.io/desired-replicas']);
      // The renamed controller adopts the new pods; it makes none of its own.
      const owned = await until(
        () => pods(ns),
        (ps) => ps.length === 2 && ps.every((p) => p.metadata.ownerReferences?.[0]?.uid === now.metadata.uid),
      );
      expect(owned.map((p) => [p.spec.containers[0].image, p.metadata.labels.deployment])).toEqual([
        ['takama/webapp:0.2', hash],
        ['takama/webapp:0.2', hash],
      ]);
      await sleep(1_000);
      expect(await pods(ns)).toHaveLength(2);
    });

    it('refuses the same image again, and an RC that does not exist, as kubectl did', async () => {
      const same = await kubectl(k.path, ['rolling-update', 'webapp-controller', '--image=takama/webapp:0.2', '-n', ns]);
      expect(same).toMatchObject({ code: 1, stdout: '', stderr: 'error: Specified --image must be distinct from existing container image\n' });
      const none = await kubectl(k.path, ['rolling-update', 'nope', '--image=x', `--namespace=${ns}`]);
      expect(none).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): replicationcontrollers "nope" not found\n' });
      const two = await kubectl(k.path, ['rolling-update', 'nope', 'nope-v2', '--image=x', `--namespace=${ns}`]);
      expect(two).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): replicationcontrollers "nope" not found\n' });
      const usage = await kubectl(k.path, ['rolling-update', 'webapp-controller']);
      expect(usage.code).toBe(1);
      expect(usage.stderr).toBe("error: Must specify --filename or --image for new controller\nSee 'kubectl rolling-update -h' for help and examples\n");
    });

    it('continues an update killed after its first step', async () => {
      kubelets.minReady = Infinity;
      kubelets.maxTotal = 0;
      // --kubeconfig after the plugin's name, as kubectl users type it, instead of KUBECONFIG.
      const first = startUpdate(k.path, ['webapp-controller', '--image=takama/webapp:0.3', '--update-period=60s', '--poll-interval=200ms', '-n', ns, `--kubeconfig=${srv!.kubeconfig}`]);
      try {
        expect(await first.waitFor(/Scaling webapp-controller-[0-9a-f]{32} up to 1\n/), first.out()).toBe(true);
        const hashed = /Created (\S+)/.exec(first.out())![1]!;
        // The scale-up reached the server (the updater now waits out its update period).
        const scaled = await until(() => rc(ns, hashed), (r) => r?.spec.replicas === 1 && r.status?.replicas === 1);
        expect(scaled?.spec.replicas).toBe(1);
      } finally {
        await first.kill();
      }
      const hashed = /Created (\S+)/.exec(first.out())![1]!;
      expect(first.out()).not.toContain('down to');
      await until(() => pods(ns), (ps) => ps.length === 3 && ps.every(isReady));

      const r = await kubectl(k.path, ['rolling-update', 'webapp-controller', '--image=takama/webapp:0.3', '--update-period=1s', '--poll-interval=200ms', '-n', ns]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual([
        `Found existing update in progress (${hashed}), resuming.`,
        `Continuing update with existing controller ${hashed}.`,
        `Scaling up ${hashed} from 1 to 2, scaling down webapp-controller from 2 to 0 (keep 2 pods available, don't exceed 3 pods)`,
        'Scaling webapp-controller down to 1',
        `Scaling ${hashed} up to 2`,
        'Scaling webapp-controller down to 0',
        'Update succeeded. Deleting old controller: webapp-controller',
        `Renaming ${hashed} to webapp-controller`,
        'replicationcontroller "webapp-controller" rolling updated',
      ]);
      expect(kubelets.minReady).toBeGreaterThanOrEqual(2);
      expect(kubelets.maxTotal).toBeLessThanOrEqual(3);
      expect(await goneToOne(ns)).toEqual(['webapp-controller']);
      expect((await rc(ns, 'webapp-controller'))!.spec.template.spec.containers[0].image).toBe('takama/webapp:0.3');
      const ps = await until(() => pods(ns), (p) => p.length === 2 && p.every((q) => q.spec.containers[0].image === 'takama/webapp:0.3'));
      expect(ps.map((p) => p.spec.containers[0].image)).toEqual(['takama/webapp:0.3', 'takama/webapp:0.3']);
    });

    it('takes an update killed midway back with --rollback, as the seed does with two names', async () => {
      kubelets.minReady = Infinity;
      kubelets.maxTotal = 0;
      const first = startUpdate(k.path, ['webapp-controller', 'webapp-controller-v2', '-image=takama/webapp:0.4', '--update-period=60s', '--poll-interval=200ms', '-n', ns]);
      try {
        expect(await first.waitFor(/Scaling webapp-controller-v2 up to 1\n/), first.out()).toBe(true);
        expect(first.out()).toContain('Created webapp-controller-v2\n');
        await until(() => rc(ns, 'webapp-controller-v2'), (r) => r?.status?.replicas === 1);
      } finally {
        await first.kill();
      }
      await until(() => pods(ns), (ps) => ps.length === 3 && ps.every(isReady));

      const r = await kubectl(k.path, ['rolling-update', 'webapp-controller', 'webapp-controller-v2', '--rollback', '--update-period=1s', '--poll-interval=200ms', '-n', ns]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual([
        'Setting "webapp-controller" replicas to 2',
        'Continuing update with existing controller webapp-controller.',
        "Scaling up webapp-controller from 2 to 2, scaling down webapp-controller-v2 from 1 to 0 (keep 2 pods available, don't exceed 3 pods)",
        'Scaling webapp-controller-v2 down to 0',
        'Update succeeded. Deleting webapp-controller-v2',
        'replicationcontroller "webapp-controller" rolled back',
      ]);
      expect(kubelets.minReady).toBeGreaterThanOrEqual(2);
      expect(kubelets.maxTotal).toBeLessThanOrEqual(3);
      expect(await goneToOne(ns)).toEqual(['webapp-controller']);
      const back = (await rc(ns, 'webapp-controller'))!;
      expect(back.spec.replicas).toBe(2);
      expect(back.spec.template.spec.containers[0].image).toBe('takama/webapp:0.3');
      const ps = await until(() => pods(ns), (p) => p.length === 2);
      expect(ps.map((p) => p.spec.containers[0].image)).toEqual(['takama/webapp:0.3', 'takama/webapp:0.3']);
    });

    it('rolls to the controller of a -f manifest and renames it to the old name', async () => {
      const pod = await kubectl(k.path, ['rolling-update', 'webapp-controller', '-f', path.join(dir, 'pod.yaml'), '-n', ns]);
      expect(pod).toMatchObject({ code: 1, stderr: `error: ${path.join(dir, 'pod.yaml')} contains a /v1, Kind=Pod not a ReplicationController\n` });
      kubelets.minReady = Infinity;
      kubelets.maxTotal = 0;
      const r = await kubectl(k.path, ['rolling-update', 'webapp-controller', '-f', path.join(dir, 'web-v5.yaml'), '--update-period=1s', '--poll-interval=200ms', '-n', ns]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual([
        'Created webapp-v5',
        "Scaling up webapp-v5 from 0 to 2, scaling down webapp-controller from 2 to 0 (keep 2 pods available, don't exceed 3 pods)",
        'Scaling webapp-v5 up to 1',
        'Scaling webapp-controller down to 1',
        'Scaling webapp-v5 up to 2',
        'Scaling webapp-controller down to 0',
        'Update succeeded. Deleting old controller: webapp-controller',
        'Renaming webapp-v5 to webapp-controller',
        'replicationcontroller "webapp-controller" rolling updated',
      ]);
      expect(kubelets.minReady).toBeGreaterThanOrEqual(2);
      expect(kubelets.maxTotal).toBeLessThanOrEqual(3);
      expect(await goneToOne(ns)).toEqual(['webapp-controller']);
      const now = (await rc(ns, 'webapp-controller'))!;
      expect(now.spec.selector).toEqual({ name: 'webapp', deployment: 'v5' });
      const ps = await until(() => pods(ns), (p) => p.length === 2 && p.every((q) => q.metadata.ownerReferences?.[0]?.uid === now.metadata.uid));
      expect(ps.map((p) => p.spec.containers[0].image)).toEqual(['takama/webapp:0.5', 'takama/webapp:0.5']);
    });
  });
}
