// The CNI shims with flannel-cni-daemon and without it, in a lab host: our flannel plugin (-> Debian's
// bridge -> our host-local) run ADD, CHECK and DEL through the daemon, then the same again from the
// same clean state with the daemon killed (its socket left behind, so the shims meet a refused
// connection and run the Node plugins themselves). The results, the exit codes and the files in
// host-local's and flannel's data directories must be the same, step by step. Also: a shim in
// another network namespace is declined and still answers; concurrent ADDs through the daemon each
// get their own address.
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CNI_DIST, type CniOutcome, type CniPodNs, Lab, type Proc, addPodNs, runCni, runCommand, spawnCniDaemon } from './index.js';

const FLANNEL = path.join(CNI_DIST, 'flannel');
const BRIDGE_NAME = 'cni0';

let lab: Lab;
let socket: string;
let conf: Record<string, unknown>;
let ipamDir: string;
let flannelDir: string;

beforeAll(async () => {
  lab = await Lab.create({ hosts: ['a'] });
  const a = lab.host('a');
  // The plugin only reads subnet.env: a hand-written one stands in for flanneld's.
  const subnetFile = path.join(a.dir, 'subnet.env');
  await writeFile(subnetFile, 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  socket = path.join(a.dir, 'cni.sock');
  ipamDir = path.join(a.dir, 'ipam');
  flannelDir = path.join(a.dir, 'flannel-cni');
  conf = { cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', subnetFile, dataDir: flannelDir, ipam: { dataDir: ipamDir }, delegate: { hairpinMode: true, isDefaultGateway: true } };
}, 60_000);

afterAll(async () => {
  await lab?.destroy();
});

/** Every file under `dir` (one level of subdirectories, as both stores have) with its content. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    out[path.relative(dir, file)] = await readFile(file, 'utf8');
  }
  return out;
}

/** A result with what differs between any two ADDs (random MACs, the host veth's random name) masked. */
function normalize(o: CniOutcome): unknown {
  return JSON.parse(o.stdout.replace(/"mac": "[0-9a-f:]{17}"/g, '"mac": "MAC"').replace(/"veth[0-9a-f]{8}"/g, '"VETH"'));
}

interface Step {
  readonly code: number | null;
  readonly result: unknown;
  readonly ipam: Record<string, string>;
  readonly flannel: Record<string, string>;
}

async function step(o: CniOutcome): Promise<Step> {
  return { code: o.code, result: o.stdout.trim() === '' ? '' : normalize(o), ipam: await snapshot(ipamDir), flannel: await snapshot(flannelDir) };
}

/** ADD, CHECK (with the ADD's result as prevResult), DEL of one container from a clean state. */
async function cycle(pod: CniPodNs, env: Record<string, string>): Promise<Step[]> {
  const a = lab.host('a');
  await rm(ipamDir, { recursive: true, force: true });
  await rm(flannelDir, { recursive: true, force: true });
  await a.ipCmd(['link', 'del', BRIDGE_NAME]).catch(() => undefined); // a fresh bridge, as on the first ADD
  const call = { containerId: 'same-container', netns: pod.nsPath, conf, env };
  const add = await runCni(a, FLANNEL, { command: 'ADD', ...call });
  expect(add.code, `${add.stdout} ${add.stderr}`).toBe(0);
  const afterAdd = await step(add);
  const afterCheck = await step(await runCni(a, FLANNEL, { command: 'CHECK', ...call, conf: { ...conf, prevResult: add.json } }));
  const del = await runCni(a, FLANNEL, { command: 'DEL', ...call });
  expect(del.code, `${del.stdout} ${del.stderr}`).toBe(0);
  return [afterAdd, afterCheck, await step(del)];
}

const served = (d: Proc, plugin: string, command: string): number =>
  d.stderr().split('\n').filter((l) => l.includes('"request served"') && l.includes(`"plugin":"${plugin}"`) && l.includes(`"command":"${command}"`)).length;

/** The daemon's count of served requests once its log pipe has caught up (bounded: 5 s). */
async function servedSoon(d: Proc, plugin: string, command: string, want: number): Promise<number> {
  for (let i = 0; i < 100 && served(d, plugin, command) < want; i++) await new Promise((r) => setTimeout(r, 50));
  return served(d, plugin, command);
}

describe('CNI shims and flannel-cni-daemon', () => {
  it('give the same results and on-disk state through the daemon as through the Node fallback', async () => {
    const a = lab.host('a');
    const pod = await addPodNs(lab, a, 'same');
    const env = { FLANNEL_CNI_SOCKET: socket };

    const daemon = await spawnCniDaemon(a, socket);
    let viaDaemon: Step[];
    try {
      viaDaemon = await cycle(pod, env);
      // Both of our plugins went through the daemon: flannel from the runtime, host-local from the bridge.
      for (const cmd of ['ADD', 'CHECK', 'DEL']) expect(await servedSoon(daemon, 'flannel', cmd, 1), cmd).toBe(1);
      expect(await servedSoon(daemon, 'host-local', 'ADD', 1)).toBe(1);
      expect(await servedSoon(daemon, 'host-local', 'DEL', 1)).toBe(1);
    } finally {
      daemon.kill('SIGKILL'); // its socket stays behind: the shims meet ECONNREFUSED
      expect(await daemon.wait(10_000)).toBeDefined();
    }
    const viaNode = await cycle(pod, env);

    expect(viaDaemon[0]?.result).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.5.1.2/24', gateway: '10.5.1.1' }] });
    expect(Object.keys(viaDaemon[0]?.ipam ?? {}).sort()).toEqual(['cbr0/10.5.1.2', 'cbr0/last_reserved_ip.0', 'cbr0/lock']);
    expect(Object.keys(viaDaemon[0]?.flannel ?? {})).toEqual(['same-container']);
    expect(viaDaemon[2]?.flannel).toEqual({});
    expect(viaNode).toEqual(viaDaemon);
  });

  it('declines a shim from another network namespace, which then runs the plugin where it is', async () => {
    const a = lab.host('a');
    const daemon = await spawnCniDaemon(a, socket, 'cni-daemon-2');
    try {
      // VERSION touches nothing, so running it from the test's own namespace is harmless.
      const r = await runCommand([FLANNEL], { env: { CNI_COMMAND: 'VERSION', FLANNEL_CNI_SOCKET: socket }, timeoutMs: 20_000 });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ cniVersion: '1.0.0', supportedVersions: expect.arrayContaining(['1.0.0']) });
      for (let i = 0; i < 100 && !daemon.stderr().includes('request declined'); i++) await new Promise((res) => setTimeout(res, 50));
      expect(daemon.stderr()).toMatch(/"why":"the shim runs in another network or mount namespace".*"msg":"request declined/);
      expect(served(daemon, 'flannel', 'VERSION')).toBe(0);
    } finally {
      await daemon.stop();
    }
  });

  it('gives concurrent ADDs through the daemon one address each, and DEL releases them all', async () => {
    const a = lab.host('a');
    const daemon = await spawnCniDaemon(a, socket, 'cni-daemon-3');
    try {
      await rm(ipamDir, { recursive: true, force: true });
      const pods = await Promise.all(Array.from({ length: 12 }, (_, i) => addPodNs(lab, a, `c${i}`)));
      const env = { FLANNEL_CNI_SOCKET: socket };
      const adds = await Promise.all(pods.map((p, i) => runCni(a, FLANNEL, { command: 'ADD', containerId: `c${i}`, netns: p.nsPath, conf, env, timeoutMs: 60_000 })));
      expect(adds.filter((r) => r.code !== 0).map((r) => r.stdout)).toEqual([]);
      const ips = adds.map((r) => String((r.json?.ips as { address: string }[])[0]?.address));
      expect(new Set(ips).size).toBe(pods.length);
      expect(await servedSoon(daemon, 'flannel', 'ADD', pods.length)).toBe(pods.length);
      const dels = await Promise.all(pods.map((p, i) => runCni(a, FLANNEL, { command: 'DEL', containerId: `c${i}`, netns: p.nsPath, conf, env, timeoutMs: 60_000 })));
      expect(dels.filter((r) => r.code !== 0).map((r) => r.stdout)).toEqual([]);
      expect(Object.keys(await snapshot(ipamDir)).filter((f) => /\d+\.\d+\.\d+\.\d+$/.test(f))).toEqual([]);
    } finally {
      await daemon.stop();
    }
  });
});
