// NetworkPolicy enforced by netpol-agent on both nodes of a lab cluster, as sig-network's netpol e2e checks
// it: kube-apiserver (Node,RBAC), kube-controller-manager and two nodes (flanneld vxlan, then host-gw, then udp; dockerd, kubelet,
// kube-proxy, netpol-agent under an identity of its own bound to a ClusterRole), policies applied as YAML
// with the real kubectl. Three namespaces x, y, z (labelled ns=<name>) × three pods a, b, c (labelled
// pod=<name>, spread over the nodes, so a probe is bridged on one node or crosses to the other) serving TCP 80,
// 81 and UDP 80; every pod probes every pod on each port (bounded, in parallel) and the observed truth
// table is compared with the one the policies imply, printed on failure. Then: a ClusterIP judged against
// the pod it reaches, the seed's registry policy, a connection open while a policy is added and removed,
// and a policy the agent cannot program in full (an event, and nothing opened).
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeUserKubeconfig } from '../../apiserver/index.js';
import { REPO, waitFor } from './flannel.js';
import { FAST_FLAGS, KubeLab, NETWORK } from './kubelet.js';
import type { Host, Proc } from './lab.js';
import { cell, control, formatTruth, type LabPod, podId, podYaml, PROBE_PORTS, SERVER_JS, type Truth } from './netpol-pods.js';
import { startProxy } from './proxy.js';
import { SECURE_APISERVER_ARGS, SEED_003_NETWORK_POLICY, writeDaemonKubeconfig } from '../harness/index.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const AGENT = path.join(REPO, 'dist', 'netpol', 'main.js');
const SECURE = 6443;
const PROBE_MS = 1500;

const NSS = ['x', 'y', 'z'];
const PODS: LabPod[] = NSS.flatMap((ns, i) => ['a', 'b', 'c'].map((name, j) => ({ ns, name, node: (i * 3 + j) % 2 === 0 ? 'a' : 'b', labels: { pod: name } })));

// The agent's rights, as kube-network-policies' manifest grants them.
const AGENT_RBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: netpol-agent}
rules:
- {apiGroups: [""], resources: [pods, namespaces], verbs: [get, list, watch]}
- {apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [get, list, watch]}
- {apiGroups: ["", events.k8s.io], resources: [events], verbs: [create, patch, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: netpol-agent}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: netpol-agent}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:netpol-agent"}
`;

type Expect = (from: LabPod, to: LabPod, port: string) => boolean;
const open: Expect = () => true;

// One cluster: the whole file over vxlan, then flanneld restarted on both nodes over host-gw (a pod's
// packets routed, not encapsulated, to the other node) and over udp (through flannel0 and flanneld's
// userspace loop) with the same control plane and pods, and the matrix cases run again on each: what
// differs between the backends is the path a probe takes.
const BACKENDS = ['vxlan', 'host-gw', 'udp'] as const;
type Backend = (typeof BACKENDS)[number];
/** The device a's route to a pod on b goes out of. */
const ROUTE_DEV: Record<Backend, string> = { vxlan: 'flannel.1', 'host-gw': 'eth0', udp: 'flannel0' };

describe.skipIf(!existsSync(KUBECTL))('NetworkPolicy: netpol-agent on two nodes, the conformance matrix over vxlan, host-gw and udp', () => {
  let k: KubeLab;
  let apiserver: Proc | undefined;
  let cm: Proc | undefined;
  const daemons: Proc[] = [];
  const agents = new Map<string, Proc>();
  let apiDir: string;
  let ctlDir: string;
  let kubeconfig: string;
  let hostA: Host;
  const daemonConfigs = new Map<string, string>();
  const ips = new Map<string, string>();

  const kubectlResult = (args: readonly string[], input?: string) =>
    hostA.exec([KUBECTL, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: apiDir }, ...(input !== undefined && { input }) });
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await kubectlResult(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const apply = (yaml: string, ...flags: string[]) => kubectl(['apply', ...flags, '-f', '-'], yaml);
  const agentLogs = (): string => [...agents].map(([n, p]) => `--- agent ${n}\n${(p.stderr() + p.stdout()).split('\n').slice(-15).join('\n')}`).join('\n');

  /** Every pod probes every pod on every port; sources in parallel. */
  async function observe(pods: readonly LabPod[] = PODS, ports: readonly string[] = PROBE_PORTS): Promise<Truth> {
    const t: Truth = new Map();
    await Promise.all(pods.map(async (from) => {
      const targets = pods.flatMap((to) => ports.map((p) => [ips.get(podId(to))!, p.split('/')[0]!, Number(p.split('/')[1])]));
      const r = await control<{ results: boolean[] }>(ctlDir, from, { probe: targets, timeoutMs: PROBE_MS });
      let i = 0;
      for (const to of pods) for (const p of ports) t.set(cell(podId(from), podId(to), p), r.results[i++]!);
    }));
    return t;
  }

  const expected = (e: Expect, pods: readonly LabPod[] = PODS, ports: readonly string[] = PROBE_PORTS): Truth => {
    const t: Truth = new Map();
    // A pod reaching itself is always allowed.
    for (const f of pods) for (const to of pods) for (const p of ports) t.set(cell(podId(f), podId(to), p), podId(f) === podId(to) || e(f, to, p));
    return t;
  };

  /** Polls the matrix until it is the expected one (the agents sync within a second); fails with both tables. */
  async function expectMatrix(what: string, e: Expect, pods: readonly LabPod[] = PODS, ports: readonly string[] = PROBE_PORTS): Promise<void> {
    const want = expected(e, pods, ports);
    let got: Truth = new Map();
    const same = (): boolean => [...want].every(([c, v]) => got.get(c) === v);
    const t0 = Date.now();
    for (let i = 0; i < 15; i++) {
      got = await observe(pods, ports);
      if (same()) break;
      if (Date.now() - t0 > 30_000) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    if (!same()) throw new Error(`${what}: the truth table differs\n${formatTruth(pods.map(podId), ports, got, want)}\n${agentLogs()}`);
  }

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a', 'b'],
      backend: 'vxlan',
      kubeletArgs: FAST_FLAGS,
      beforeKubelets: async (kl) => {
        const a = kl.lab.host('a');
        hostA = a;
        apiDir = path.join(a.dir, 'apiserver');
        ctlDir = path.join(kl.lab.dir, 'netpol-ctl');
        kubeconfig = path.join(apiDir, 'admin.kubeconfig');
        await mkdir(apiDir, { recursive: true });
        await mkdir(ctlDir, { recursive: true });
        await writeFile(path.join(ctlDir, 'server.js'), SERVER_JS);
        apiserver = a.spawn(
          [process.execPath, APISERVER, `--etcd-servers=${kl.etcd.endpoint}`, `--bind-address=${a.ip}`, `--advertise-address=${a.ip}`, `--secure-port=${SECURE}`, `--cert-dir=${path.join(apiDir, 'certs')}`, `--write-kubeconfig=${kubeconfig}`, ...SECURE_APISERVER_ARGS],
          { logFile: path.join(apiDir, 'apiserver.log') },
        );
        let last = '';
        const ok = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 30_000, 250).catch(() => false);
        if (!ok) throw new Error(`the apiserver did not become ready: ${last}\n${apiserver.stderr()}`.slice(0, 4000));
        const server = `https://${a.ip}:${SECURE}`;
        const certs = path.join(apiDir, 'certs');
        for (const h of kl.lab.hosts) daemonConfigs.set(h.name, await writeDaemonKubeconfig(certs, server, apiDir, 'kubelet', h.name));
        for (const d of ['kube-proxy', 'kube-controller-manager'] as const) daemonConfigs.set(d, await writeDaemonKubeconfig(certs, server, apiDir, d));
        const agentConfig = path.join(apiDir, 'netpol-agent.kubeconfig');
        await writeUserKubeconfig({ certDir: certs, server, file: agentConfig, user: 'system:netpol-agent', groups: [] });
        daemonConfigs.set('netpol-agent', agentConfig);
        await apply(AGENT_RBAC);
        cm = a.spawn([process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${daemonConfigs.get('kube-controller-manager')!}`, '--secure-port=0'], { logFile: path.join(apiDir, 'controller-manager.log') });
      },
      storeArgs: (n) => [`--kubeconfig=${daemonConfigs.get(n.host.name)!}`],
    });
    for (const h of k.lab.hosts) {
      daemons.push(startProxy(h, k.etcd, { tag: 'api', storeArgs: [`--kubeconfig=${daemonConfigs.get('kube-proxy')!}`], args: ['--cluster-cidr=10.5.0.0/16', '--min-sync-period=200ms'] }));
      // --sync-period out of the way: both agents' periodic full syncs came at once and took in a relabel
      // that the element-only test expects as its own netlink batch.
      agents.set(h.name, h.spawn([process.execPath, AGENT, `--kubeconfig=${daemonConfigs.get('netpol-agent')!}`, `--hostname-override=${h.name}`, '--min-sync-period=100ms', '--sync-period=1h'], { logFile: path.join(h.dir, 'netpol-agent.log') }));
    }
    for (const ns of NSS) await apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: "${ns}", labels: {ns: "${ns}"}}\n`);
    for (const ns of NSS) await waitFor(`the default ServiceAccount in ${ns}`, async () => (await kubectlResult(['get', 'serviceaccount', 'default', '-n', ns])).code === 0, 90_000, 500);
    await apply(PODS.map((p) => podYaml(p, ctlDir)).join('---\n'));
    for (const p of PODS) {
      const ip = await waitFor(`${podId(p)} Running with an IP`, async () => {
        const j = JSON.parse(await kubectl(['get', 'pod', p.name, '-n', p.ns, '-o', 'json'])) as { status?: { phase?: string; podIP?: string } };
        return j.status?.phase === 'Running' && j.status.podIP ? j.status.podIP : undefined;
      }, 120_000, 500);
      ips.set(podId(p), ip);
      await waitFor(`${podId(p)}'s probe server`, () => existsSync(path.join(ctlDir, `${p.ns}.${p.name}.sock`)), 30_000, 250).catch(async (e: unknown) => {
        throw new Error(`${String(e)}\n${await kubectl(['logs', p.name, '-n', p.ns]).catch(String)}\n${await kubectl(['describe', 'pod', p.name, '-n', p.ns]).catch(String)}`);
      });
    }
    for (const [n, a] of agents) await waitFor(`the agent on ${n} synced`, () => /rules synced/.test(a.stdout() + a.stderr()), 30_000, 250);
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled([...agents.values(), ...daemons].map((p) => p.stop(5_000)));
    await k?.destroy();
    await cm?.stop(5_000);
    await apiserver?.stop(5_000);
  }, 90_000);

  const policy = (name: string, ns: string, spec: string): string => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: "${ns}"}\nspec:\n${spec}`;
  const cleanup = async (): Promise<void> => {
    for (const ns of [...NSS, 'scratch']) await kubectlResult(['delete', 'networkpolicies', '--all', '-n', ns]);
  };

  const routeDev = async (): Promise<string | undefined> => {
    const onB = ips.get(podId(PODS.find((p) => p.node === 'b')!))!;
    return (JSON.parse(await hostA.ipCmd(['-j', 'route', 'get', onB])) as { dev?: string }[])[0]?.dev;
  };

  /** flanneld restarted on both nodes on another backend (the same leases), until a's route to b's pods is its. */
  async function switchTo(backend: Backend): Promise<void> {
    await k.net.putConfig(JSON.stringify({ Network: NETWORK, Backend: { Type: backend } }));
    for (const h of k.lab.hosts) await k.net.startFlanneld(h, { tag: backend, timeoutMs: 30_000 });
    await waitFor(`a's route to b's pods through ${ROUTE_DEV[backend]}`, async () => (await routeDev()) === ROUTE_DEV[backend], 30_000, 250);
  }

  const matrixCases = (backend: Backend): void => {
    it(`a's route to b's pods is ${backend}'s (${ROUTE_DEV[backend]})`, async () => {
      expect(await routeDev()).toBe(ROUTE_DEV[backend]);
    });

    it('no policy: every pod reaches every pod on every port', async () => {
      await expectMatrix('no policy', open);
    });

    it('deny-all ingress in x', async () => {
      await apply(policy('deny-all', 'x', '  podSelector: {}\n  policyTypes: [Ingress]\n'));
      await expectMatrix('deny-all ingress', (_f, to) => to.ns !== 'x');
      await cleanup();
    });

    it('allow from a podSelector, a namespaceSelector, and both in one peer', async () => {
      await apply(policy('from-b', 'x', '  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]\n'));
      await expectMatrix('podSelector', (f, to) => podId(to) !== 'x/a' || podId(f) === 'x/b');
      await apply(policy('from-b', 'x', '  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]}]\n'));
      await expectMatrix('namespaceSelector', (f, to) => podId(to) !== 'x/a' || f.ns === 'y');
      await apply(policy('from-b', 'x', '  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: c}}}]}]\n'));
      await expectMatrix('both in one peer', (f, to) => podId(to) !== 'x/a' || podId(f) === 'y/c');
      await cleanup();
    });

    it('ports by number, by name and a range (endPort); TCP and UDP apart', async () => {
      await apply(policy('ports', 'x', '  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{port: 80, protocol: TCP}]}]\n'));
      await expectMatrix('port 80/TCP', (_f, to, p) => podId(to) !== 'x/a' || p === 'tcp/80');
      await apply(policy('ports', 'x', '  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{port: serve-81-tcp}, {port: serve-80-udp, protocol: UDP}]}]\n'));
      await expectMatrix('named ports', (_f, to, p) => podId(to) !== 'x/a' || p === 'tcp/81' || p === 'udp/80');
      await apply(policy('ports', 'x', '  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{port: 80, endPort: 81, protocol: TCP}]}]\n'));
      await expectMatrix('endPort', (_f, to, p) => podId(to) !== 'x/a' || p !== 'udp/80');
      await cleanup();
    });

    it('egress: deny all, then allow to an ipBlock with an except', async () => {
      await apply(policy('eg', 'x', '  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n'));
      await expectMatrix('egress deny', (f) => podId(f) !== 'x/a');
      const except = ips.get('y/b')!;
      await apply(policy('eg', 'x', `  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{to: [{ipBlock: {cidr: 10.5.0.0/16, except: [${except}/32]}}]}]\n`));
      await expectMatrix('egress to an ipBlock with except', (f, to) => podId(f) !== 'x/a' || podId(to) !== 'y/b');
      await cleanup();
    });

    it('allow-all beside deny-all: the union of the policies, everything open', async () => {
      await apply(policy('deny-all', 'x', '  podSelector: {}\n  policyTypes: [Ingress, Egress]\n'));
      await expectMatrix('deny-all both ways', (f, to) => f.ns !== 'x' && to.ns !== 'x');
      await apply(policy('allow-all', 'x', '  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  ingress: [{}]\n  egress: [{}]\n'));
      await expectMatrix('allow-all', open);
      await cleanup();
      await expectMatrix('policies deleted', open);
    });
  };

  describe('over vxlan', () => {
    matrixCases('vxlan');

    it("traffic to a ClusterIP is judged against the pod it reaches", async () => {
      await apply('apiVersion: v1\nkind: Service\nmetadata: {name: xa, namespace: x}\nspec:\n  selector: {pod: a}\n  ports: [{port: 8080, targetPort: 80}]\n');
      const vip = (await kubectl(['get', 'service', 'xa', '-n', 'x', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
      await apply(policy('from-b', 'x', '  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}], ports: [{port: 80}]}]\n'));
      const reach = async (from: string): Promise<boolean> => (await control<{ results: boolean[] }>(ctlDir, PODS.find((p) => podId(p) === from)!, { probe: [[vip, 'tcp', 8080]], timeoutMs: PROBE_MS })).results[0]!;
      const got = await waitFor('x/b through the ClusterIP, x/c and y/b not', async () => {
        const r = [await reach('x/b'), await reach('x/c'), await reach('y/b')];
        return r[0] && !r[1] && !r[2] ? r : undefined;
      }, 30_000, 500).catch(async (e: unknown) => {
        throw new Error(`${String(e)}: ${JSON.stringify([await reach('x/b'), await reach('x/c'), await reach('y/b')])}\n${agentLogs()}`);
      });
      expect(got).toEqual([true, false, false]);
      await cleanup();
    });

    it("the seed's registry policy through kubectl: as printed (ports dropped) and as meant (TCP 5000, 5001)", async () => {
      await apply('apiVersion: v1\nkind: Namespace\nmetadata: {name: scratch}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: kube-ingress, labels: {name: kube-ingress}}\n');
      for (const ns of ['scratch', 'kube-ingress']) await waitFor(`the default ServiceAccount in ${ns}`, async () => (await kubectlResult(['get', 'serviceaccount', 'default', '-n', ns])).code === 0, 90_000, 500);
      const seedPods: LabPod[] = [
        { ns: 'scratch', name: 'registry', node: 'a', labels: { app: 'registry', tier: 'registry' } },
        { ns: 'scratch', name: 'portus', node: 'b', labels: { app: 'portus', tier: 'registry' } },
        { ns: 'scratch', name: 'other', node: 'b', labels: { app: 'portus', tier: 'web' } },
        { ns: 'kube-ingress', name: 'ingress', node: 'b', labels: { app: 'nginx' } },
      ];
      await apply(seedPods.map((p) => podYaml(p, ctlDir)).join('---\n'));
      for (const p of seedPods) {
        ips.set(podId(p), await waitFor(`${podId(p)} Running`, async () => {
          const j = JSON.parse(await kubectl(['get', 'pod', p.name, '-n', p.ns, '-o', 'json'])) as { status?: { phase?: string; podIP?: string } };
          return j.status?.phase === 'Running' && j.status.podIP ? j.status.podIP : undefined;
        }, 120_000, 500));
        await waitFor(`${podId(p)}'s probe server`, () => existsSync(path.join(ctlDir, `${p.ns}.${p.name}.sock`)), 30_000, 250);
      }
      const pods = [...seedPods, PODS[0]!];
      const admitted = (f: LabPod): boolean => f.ns === 'kube-ingress' || podId(f) === 'scratch/portus';
      const refused = await kubectlResult(['apply', '-f', '-'], SEED_003_NETWORK_POLICY);
      expect(refused.code).not.toBe(0);
      await apply(SEED_003_NETWORK_POLICY, '--validate=false');
      const ports = ['tcp/80', 'tcp/5000', 'tcp/5001'];
      await expectMatrix('the seed policy as printed', (f, to) => podId(to) !== 'scratch/registry' || admitted(f), pods, ports);
      const meant = SEED_003_NETWORK_POLICY.replace('apiVersion: extensions/v1beta1', 'apiVersion: networking.k8s.io/v1').replace('\n  ports:\n', '\n      ports:\n').replace(/\n {4}- protocol: TCP\n {6}port: (\d+)/g, '\n      - protocol: TCP\n        port: $1');
      await apply(meant);
      await expectMatrix('the seed policy as meant', (f, to, p) => podId(to) !== 'scratch/registry' || (admitted(f) && p !== 'tcp/80'), pods, ports);
      await cleanup();
    });

    it('a connection open while a deny-all is added stays open (Kubernetes leaves it), new ones are refused; removed, new ones pass', async () => {
      const xb = PODS[1]!;
      expect((await control<{ ok: boolean }>(ctlDir, xb, { hold: [ips.get('x/a')!, 81] })).ok).toBe(true);
      await apply(policy('deny-all', 'x', '  podSelector: {}\n  policyTypes: [Ingress]\n'));
      await waitFor('new connections to x/a refused', async () => !(await control<{ results: boolean[] }>(ctlDir, xb, { probe: [[ips.get('x/a')!, 'tcp', 81]], timeoutMs: PROBE_MS })).results[0], 30_000, 300);
      expect((await control<{ ok: boolean }>(ctlDir, xb, { held: true })).ok).toBe(true);
      await cleanup();
      await waitFor('new connections to x/a pass again', async () => (await control<{ results: boolean[] }>(ctlDir, xb, { probe: [[ips.get('x/a')!, 'tcp', 81]], timeoutMs: PROBE_MS })).results[0], 30_000, 300);
      expect((await control<{ ok: boolean }>(ctlDir, xb, { held: true })).ok).toBe(true);
    });

    it('a pod relabelled into and out of a peer selector: element-only changes, each one netlink batch', async () => {
      await apply(policy('from-client', 'x', '  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {role: client}}}]}]\n'));
      await expectMatrix('no client yet', (_f, to) => podId(to) !== 'x/a');
      const before = [...agents.values()].map((p) => (p.stdout() + p.stderr()).split('\n').length);
      await kubectl(['label', 'pod', 'b', '-n', 'y', 'role=client']);
      await expectMatrix('y/b labelled a client', (f, to) => podId(to) !== 'x/a' || podId(f) === 'y/b');
      await kubectl(['label', 'pod', 'b', '-n', 'y', 'role-']);
      await expectMatrix('y/b no longer a client', (_f, to) => podId(to) !== 'x/a');
      // Every sync since the policy was in was elements only (the pod's address in the policy's peer set):
      // one netlink batch each, none through nft.
      const synced = [...agents.values()].flatMap((p, i) => (p.stdout() + p.stderr()).split('\n').slice(before[i]).filter((l) => l.includes('"rules synced"')));
      expect(synced.filter((l) => l.includes('"via":"netlink"')).length, synced.join('\n')).toBeGreaterThanOrEqual(2);
      expect(synced.filter((l) => l.includes('"changedElements"') && !l.includes('"full":true') && !l.includes('"via":"netlink"')), synced.join('\n')).toEqual([]);
      expect(agentLogs()).not.toMatch(/netfilter netlink/);
      await cleanup();
    });

    it('a policy the agent cannot program in full: an event on it, and what it closes stays closed', async () => {
      const r = await apply(policy('bad', 'x', '  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{ipBlock: {cidr: 10.5.0.0/33}}]}]\n'));
      expect(r).toMatch(/networkpolicy.networking.k8s.io\/bad (created|configured)/);
      const ev = await waitFor('the PolicyNotProgrammed event', async () => {
        const out = await kubectl(['get', 'events', '-n', 'x', '--field-selector', 'reason=PolicyNotProgrammed', '-o', 'jsonpath={range .items[*]}{.involvedObject.name} {.source.component} {.message}{"\\n"}{end}']);
        return out.trim() ? out : undefined;
      }, 30_000, 500);
      expect(ev).toMatch(/^bad netpol-agent spec\.ingress\[0\]\.from\[0\]\.ipBlock: .*10\.5\.0\.0\/33/m);
      await expectMatrix('the bad policy isolates x/a, allowing nothing', (_f, to) => podId(to) !== 'x/a');
      await cleanup();
    });
  });

  for (const backend of BACKENDS.slice(1)) {
    describe(`over ${backend}: flanneld restarted on it, the same pods`, () => {
      beforeAll(() => switchTo(backend), 90_000);
      matrixCases(backend);
    });
  }
});
