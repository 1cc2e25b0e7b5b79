// The kubelet with --network-plugin=cni against real plugins: Debian's bridge (containernetworking-plugins
// in /usr/lib/cni) with the project's host-local (dist/cni) for IPAM, on a bridge and a range of the lab's
// own, apart from the flannel subnet that Docker's bridge holds, and the firewall plugin after it (its
// FORWARD rules let the bridged pods through Docker's DROP policy; it reads the bridge's result as
// prevResult on ADD and the cached one on DEL). Checked: without a config the node is
// NotReady with the kubelet's message and an ordinary pod gets no sandbox while a host-network pod runs;
// once a conflist appears the node turns Ready, pods get addresses from the range (NetworkMode none,
// libcni's cache entry written) and reach each other; a restarted kubelet reads them back (no second
// ADD); an ADD that fails (the range exhausted) gives FailedCreatePodSandBox with the plugin's error and
// leaks nothing (no sandbox, no veth, no address); a deleted pod's DEL frees its address, which the
// failing pod then gets on a retry.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pod, keys, parseJsonObject } from '../../cluster/index.js';
import { BUSYBOX_IMAGE } from './docker.js';
import { REPO, hasLog, ipJson, waitFor } from './flannel.js';
import { FAST_FLAGS, KubeLab, pod, running } from './kubelet.js';

const NOT_READY = 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:docker: network plugin is not ready: cni config uninitialized';
const BRIDGE = 'cnik0';
const SUBNET = '10.88.7.0/24';
const NET = 'kcni-lab';

describe.skipIf(!existsSync('/usr/lib/cni/bridge'))('kubelet: --network-plugin=cni with the bridge and host-local plugins', () => {
  let k: KubeLab;
  let dir: string;
  let confDir: string;
  let cacheDir: string;
  let ipamDir: string;
  const cniFlags = (): string[] => ['--network-plugin=cni', `--cni-conf-dir=${confDir}`, `--cni-bin-dir=${path.join(REPO, 'dist', 'cni')},/usr/lib/cni`, `--cni-cache-dir=${cacheDir}`];
  /** The lab's conflist: the range is .10–.12, three addresses, so a fourth pod's ADD fails. */
  const conflist = (): string => JSON.stringify({
    cniVersion: '1.0.0',
    name: NET,
    plugins: [{ type: 'bridge', bridge: BRIDGE, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET, rangeStart: '10.88.7.10', rangeEnd: '10.88.7.12', gateway: '10.88.7.1' }]], dataDir: ipamDir } }, { type: 'firewall' }],
  });

  const busybox = (name: string, extra: Partial<Pod['spec']> = {}): Pod => pod(name, 'a', { containers: [{ name: 'c', image: BUSYBOX_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] }], ...extra });
  const nodeReady = async (): Promise<{ status?: string; message?: string } | undefined> => {
    const s = await k.store.get(keys.node('a'), parseJsonObject);
    const conds = s && 'obj' in s ? ((s.obj.status as { conditions?: { type: string; status: string; message?: string }[] } | undefined)?.conditions ?? []) : [];
    return conds.find((c) => c.type === 'Ready');
  };
  const addresses = async (): Promise<string[]> => (await readdir(path.join(ipamDir, NET)).catch(() => [] as string[])).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort();
  const veths = async (): Promise<string[]> => (await ipJson<{ ifname: string }[]>(k.lab.host('a'), ['link', 'show', 'master', BRIDGE]).catch(() => [])).map((l) => l.ifname);
  const cacheFiles = async (): Promise<string[]> => (await readdir(path.join(cacheDir, 'results')).catch(() => [] as string[])).sort();
  const events = async (name: string): Promise<{ reason: string; message: string; count?: number }[]> =>
    (await k.store.list(keys.events('default'), parseJsonObject)).items
      .map((i) => i.obj as { reason: string; message: string; count?: number; involvedObject: { name: string } })
      .filter((e) => e.involvedObject.name === name);
  const kubeletLog = (): string => k.node('a').kubelet.stderr();

  beforeAll(async () => {
    k = await KubeLab.start({ hosts: ['a'], kubeletArgs: FAST_FLAGS });
    dir = path.join(k.lab.host('a').dir, 'cni');
    confDir = path.join(dir, 'net.d');
    cacheDir = path.join(dir, 'cache');
    ipamDir = path.join(dir, 'networks');
    await mkdir(confDir, { recursive: true });
    // Started as a CNI kubelet with an empty conf dir (KubeLab's own start is Docker's bridge, which is Ready).
    await k.restartKubelet('a', cniFlags());
  }, 180_000);
  afterAll(async () => {
    await k?.destroy();
  }, 60_000);

  it("without a config: the node is NotReady with the kubelet's message; an ordinary pod gets no sandbox, a host-network pod runs", async () => {
    const r = await waitFor('Ready False with the CNI message', async () => {
      const c = await nodeReady();
      return c?.status === 'False' && c.message === NOT_READY ? c : undefined;
    }, 30_000, 250);
    expect(r.message).toBe(NOT_READY);
    await k.putPod(busybox('early'));
    await k.putPod(busybox('hostnet', { hostNetwork: true }));
    const h = await k.waitPod('hostnet', 'Running', running, 60_000);
    expect(h.status?.podIP).toBe(k.lab.host('a').ip);
    const e = await waitFor('the NetworkNotReady event', async () => (await events('early')).find((x) => x.reason === 'NetworkNotReady'), 20_000, 250);
    expect(e.message).toBe(`network is not ready: ${NOT_READY}`);
    expect(await k.containers('a', 'early')).toEqual([]);
    const p = await k.getPod('default', 'early');
    expect(p?.status?.phase ?? 'Pending').toBe('Pending');
    // A bad file before the good one is skipped with a log line naming it.
    await writeFile(path.join(confDir, '00-broken.conflist'), '{"name": "x", "plugins": [');
  }, 90_000);

  const ips = new Map<string, string>();

  it('once a conflist appears the node turns Ready, and pods get addresses from it through the plugins', async () => {
    await writeFile(path.join(confDir, `10-${NET}.conflist`), conflist());
    await waitFor('the node Ready', async () => (await nodeReady())?.status === 'True', 30_000, 250);
    expect(hasLog(k.node('a').kubelet, 'skipping a CNI config file', { file: path.join(confDir, '00-broken.conflist') })).toBe(true);
    const early = await k.waitPod('early', 'Running with an IP', running, 60_000);
    await k.putPod(busybox('second'));
    const second = await k.waitPod('second', 'Running with an IP', running, 60_000);
    for (const p of [early, second]) {
      expect(p.status!.podIP).toMatch(/^10\.88\.7\.1[0-2]$/);
      ips.set(p.metadata.name, p.status!.podIP!);
    }
    expect(ips.get('early')).not.toBe(ips.get('second'));
    expect(await addresses()).toEqual([...ips.values()].sort());
    expect((await veths()).length).toBe(2);
    // The sandbox is on NetworkMode none; the interface and address are the plugins'.
    const [sb] = (await k.containers('a', 'early', 'POD')).filter((c) => c.state === 'running');
    const mode = (await k.node('a').dockerd.docker(['inspect', '--format', '{{.HostConfig.NetworkMode}}', sb!.id])).trim();
    expect(mode).toBe('none');
    // libcni's cache entry of the attachment.
    const file = path.join(cacheDir, 'results', `${NET}-${sb!.id}-eth0`);
    const entry = JSON.parse(await readFile(file, 'utf8')) as { kind: string; containerId: string; networkName: string; ifName: string; config: string; cniArgs: string[][]; result: { ips: { address: string }[] } };
    expect(entry).toMatchObject({ kind: 'cniCacheV1', containerId: sb!.id, networkName: NET, ifName: 'eth0' });
    expect(JSON.parse(Buffer.from(entry.config, 'base64').toString('utf8'))).toMatchObject({ name: NET });
    expect(entry.cniArgs).toEqual([['IgnoreUnknown', '1'], ['K8S_POD_NAMESPACE', 'default'], ['K8S_POD_NAME', 'early'], ['K8S_POD_INFRA_CONTAINER_ID', sb!.id]]);
    expect(entry.result.ips.map((i) => i.address)).toContain(`${ips.get('early')}/24`);
    // The pods reach each other over the bridge, and the pod's loopback is up.
    const ping = await k.execIn('a', 'early', 'c', ['ping', '-c', '2', '-W', '2', ips.get('second')!]);
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);
    const lo = await k.execIn('a', 'early', 'c', ['ping', '-c', '1', '-W', '2', '127.0.0.1']);
    expect(lo.code, lo.stdout + lo.stderr).toBe(0);
  }, 150_000);

  it('a restarted kubelet reads the addresses back from the cache and adds nothing', async () => {
    const before = await cacheFiles();
    const mtimes = await Promise.all(before.map(async (f) => (await stat(path.join(cacheDir, 'results', f))).mtimeMs));
    await k.restartKubelet('a', cniFlags());
    await waitFor('the new kubelet syncing', () => hasLog(k.node('a').kubelet, 'CNI results read back from the cache'), 30_000, 250);
    // A few syncs of both pods.
    await new Promise((r) => setTimeout(r, 5_000));
    for (const name of ['early', 'second']) {
      const p = await k.waitPod(name, 'Running', running, 20_000);
      expect(p.status?.podIP).toBe(ips.get(name));
    }
    expect(hasLog(k.node('a').kubelet, 'pod network set up')).toBe(false);
    expect(await cacheFiles()).toEqual(before);
    expect(await Promise.all(before.map(async (f) => (await stat(path.join(cacheDir, 'results', f))).mtimeMs))).toEqual(mtimes);
    expect(await addresses()).toEqual([...ips.values()].sort());
    expect((await veths()).length).toBe(2);
  }, 90_000);

  it("a failing ADD gives FailedCreatePodSandBox with the plugin's error, leaks nothing, and is retried: the address a deleted pod frees is the retry's", async () => {
    await k.putPod(busybox('third'));
    const third = await k.waitPod('third', 'Running', running, 60_000);
    ips.set('third', third.status!.podIP!);
    expect(await addresses()).toHaveLength(3);
    await k.putPod(busybox('fourth'));
    const e = await waitFor('FailedCreatePodSandBox', async () => (await events('fourth')).find((x) => x.reason === 'FailedCreatePodSandBox'), 30_000, 250);
    expect(e.message).toMatch(/^Failed to create pod sandbox: failed to set up sandbox container "[0-9a-f]{64}" network for pod "fourth": networkPlugin cni failed to set up pod "fourth_default" network: /);
    expect(e.message).toMatch(/no IP addresses available in range set/);
    // Torn down again: no sandbox of fourth, no fourth veth, the three addresses only.
    await waitFor('no sandbox of fourth left', async () => (await k.containers('a', 'fourth')).length === 0, 10_000, 200);
    expect((await veths()).length).toBe(3);
    expect(await addresses()).toHaveLength(3);
    expect((await cacheFiles()).length).toBe(3);
    const p = await k.getPod('default', 'fourth');
    expect(p?.status?.containerStatuses?.[0]?.state).toMatchObject({ waiting: { reason: 'ContainerCreating' } });
    expect(hasLog(k.node('a').kubelet, 'cannot create the pod sandbox')).toBe(true);
    expect(k.node('a').kubelet.running).toBe(true);

    // Deleting a pod runs DEL: its address, veth and cache entry go; fourth gets the address on a retry.
    await k.store.delete(keys.pod('default', 'second'));
    const fourth = await k.waitPod('fourth', 'Running with the freed address', running, 60_000);
    expect(fourth.status?.podIP).toBe(ips.get('second'));
    expect((await events('fourth')).find((x) => x.reason === 'FailedCreatePodSandBox')).toBeDefined();
    expect((await veths()).length).toBe(3);
    expect(await addresses()).toEqual([ips.get('early')!, ips.get('second')!, ips.get('third')!].sort());
    expect((await cacheFiles()).length).toBe(3);
    expect(kubeletLog()).toContain('pod network torn down');
  }, 150_000);

  it('without any config again, the node goes NotReady; running pods keep their network', async () => {
    await rm(path.join(confDir, `10-${NET}.conflist`));
    await waitFor('NotReady again', async () => (await nodeReady())?.message === NOT_READY, 30_000, 250);
    const ping = await k.execIn('a', 'early', 'c', ['ping', '-c', '1', '-W', '2', ips.get('third')!]);
    expect(ping.code).toBe(0);
    // DEL replays the cached config: a pod deleted now still frees its address.
    await k.store.delete(keys.pod('default', 'third'));
    await waitFor("third's address released", async () => !(await addresses()).includes(ips.get('third')!), 30_000, 250);
    expect((await cacheFiles()).length).toBe(2);
    // The firewall plugin's DEL (it found the address in the cached prevResult) took its rules away.
    const rules = await k.lab.host('a').run(['iptables-save', '-t', 'filter']);
    expect(rules).toContain(`${ips.get('early')}/32`);
    expect(rules).not.toContain(`${ips.get('third')}/32`);
  }, 90_000);
});
