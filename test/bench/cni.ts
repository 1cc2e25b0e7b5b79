// CNI ADD/DEL latency inside a lab host: our chain (flannel -> Debian's bridge -> our host-local)
// against Debian's bridge with Debian's host-local, given the same delegate config (the one our
// flannel plugin renders, on its own bridge and subnet), in the same run, rounds alternating. Our
// chain runs twice: through flannel-cni-daemon (the shims hand it each request) and with the daemon
// off (FLANNEL_CNI_SOCKET empty: each shim starts its plugin in Node, as before the daemon). Also
// bridge + our host-local through the daemon (the IPAM swapped alone), a bare `node -e 0` (the floor
// any Node plugin pays per exec), and 40 ADDs at once, then 40 DELs, as a node starting many pods
// does. Each figure is the time from exec to exit as the runtime sees it, nsenter included.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildDelegateConfig, parseFlannelEnv, parseFlannelNetConf, renderDelegateConfig } from '../../cni/index.js';
import { addPodNs, CNI_DIST, CNI_PATH, type CniOutcome, type CniPodNs, type Host, Lab, runCni, spawnCniDaemon, SYSTEM_CNI } from '../netns/index.js';
import { percentile, type BenchResult } from './stats.js';

interface Variant {
  readonly name: string;
  readonly file: string;
  readonly cniPath: string;
  readonly conf: unknown;
  readonly env: Readonly<Record<string, string>>;
  readonly pod: CniPodNs;
  readonly add: number[];
  readonly del: number[];
}

function mustSucceed(what: string, r: CniOutcome): number {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stdout.trim()} ${r.stderr.trim().slice(-300)}`);
  return r.ms;
}

async function variant(lab: Lab, h: Host, name: string, file: string, cniPath: string, conf: unknown, env: Record<string, string>): Promise<Variant> {
  return { name, file, cniPath, conf, env, pod: await addPodNs(lab, h, name), add: [], del: [] };
}

/** `n` ADDs at once into `pods`, then `n` DELs at once: the wall time of each wave. */
async function wave(h: Host, v: Variant, pods: readonly CniPodNs[], round: number): Promise<{ add: number; del: number }> {
  const calls = pods.map((p, i) => ({ containerId: `wave-${v.name}-${round}-${i}`, netns: p.nsPath, cniPath: v.cniPath, conf: v.conf, env: v.env, timeoutMs: 120_000 }));
  const t0 = performance.now();
  const adds = await Promise.all(calls.map((c) => runCni(h, v.file, { command: 'ADD', ...c })));
  const add = performance.now() - t0;
  adds.forEach((r, i) => mustSucceed(`${v.name} concurrent ADD ${i}`, r));
  const t1 = performance.now();
  const dels = await Promise.all(calls.map((c) => runCni(h, v.file, { command: 'DEL', ...c })));
  const del = performance.now() - t1;
  dels.forEach((r, i) => mustSucceed(`${v.name} concurrent DEL ${i}`, r));
  return { add, del };
}

export async function benchCni(runs = 30, concurrent = 40, waves = 5): Promise<BenchResult[]> {
  const lab = await Lab.create({ hosts: ['a'] });
  try {
    const a = lab.host('a');
    // flannel only reads subnet.env: a hand-written one stands in for flanneld's.
    const subnetFile = path.join(a.dir, 'subnet.env');
    const envText = 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
    await writeFile(subnetFile, envText);
    const flannelConf = {
      cniVersion: '1.0.0',
      name: 'cbr0',
      type: 'flannel',
      subnetFile,
      dataDir: path.join(a.dir, 'flannel-cni'),
      ipam: { dataDir: path.join(a.dir, 'ipam-ours') },
      delegate: { hairpinMode: true, isDefaultGateway: true },
    };
    // The delegate config our plugin renders, moved to bridge cni1 / 10.6.1.0/24 for the baselines.
    const delegate = JSON.parse(renderDelegateConfig(buildDelegateConfig(parseFlannelNetConf(flannelConf), parseFlannelEnv(envText, subnetFile)))) as {
      ipam: Record<string, unknown>;
    } & Record<string, unknown>;
    const baseline = (bridge: string, subnet: string, dataDir: string) => ({
      ...delegate,
      bridge,
      ipam: { ...delegate.ipam, dataDir: path.join(a.dir, dataDir), ranges: [[{ subnet }]] },
    });
    const socket = path.join(a.dir, 'cni.sock');
    await spawnCniDaemon(a, socket); // the lab ends it
    const daemon = { FLANNEL_CNI_SOCKET: socket };
    const noDaemon = { FLANNEL_CNI_SOCKET: '' };
    const variants = [
      await variant(lab, a, 'base', path.join(SYSTEM_CNI, 'bridge'), SYSTEM_CNI, baseline('cni1', '10.6.1.0/24', 'ipam-debian'), {}),
      await variant(lab, a, 'ours', path.join(CNI_DIST, 'flannel'), CNI_PATH, flannelConf, daemon),
      await variant(lab, a, 'node', path.join(CNI_DIST, 'flannel'), CNI_PATH, { ...flannelConf, dataDir: path.join(a.dir, 'flannel-cni-node'), ipam: { dataDir: path.join(a.dir, 'ipam-node') } }, noDaemon),
      await variant(lab, a, 'mixed', path.join(SYSTEM_CNI, 'bridge'), CNI_PATH, baseline('cni2', '10.7.1.0/24', 'ipam-mixed'), daemon),
    ];
    const floor: number[] = [];
    const warmup = 2;
    for (let i = 0; i < runs + warmup; i++) {
      // Rotate the order each round so drift on a shared machine hits every variant alike.
      const order = [...variants.slice(i % variants.length), ...variants.slice(0, i % variants.length)];
      for (const v of order) {
        const call = { containerId: `bench-${v.name}-${i}`, netns: v.pod.nsPath, cniPath: v.cniPath, conf: v.conf, env: v.env };
        const add = mustSucceed(`${v.name} ADD`, await runCni(a, v.file, { command: 'ADD', ...call }));
        const del = mustSucceed(`${v.name} DEL`, await runCni(a, v.file, { command: 'DEL', ...call }));
        if (i >= warmup) {
          v.add.push(add);
          v.del.push(del);
        }
      }
      const t0 = performance.now();
      await a.run([process.execPath, '-e', '0']);
      if (i >= warmup) floor.push(performance.now() - t0);
    }

    // Waves: the same pods for every variant (each wave DELs what it ADDed), variants alternating.
    const pods = await Promise.all(Array.from({ length: concurrent }, (_, i) => addPodNs(lab, a, `w${i}`)));
    const [base, ours, node, mixed] = variants as [Variant, Variant, Variant, Variant];
    const waveOf = new Map<Variant, { add: number[]; del: number[] }>([base, ours, node].map((v) => [v, { add: [], del: [] }]));
    for (let r = 0; r < waves + 1; r++) {
      for (const v of r % 2 === 0 ? [base, ours, node] : [node, ours, base]) {
        const w = await wave(a, v, pods, r);
        if (r === 0) continue; // warm-up
        waveOf.get(v)?.add.push(w.add);
        waveOf.get(v)?.del.push(w.del);
      }
    }

    const rows: BenchResult[] = [];
    for (const op of ['add', 'del'] as const) {
      for (const p of [50, 99]) {
        const b = percentile(base[op], p);
        const label = `${op.toUpperCase()} p${p}`;
        rows.push({ name: `${label} bridge + Debian host-local (baseline)`, value: b, unit: 'ms', ratio: 1 });
        rows.push({ name: `${label} flannel -> bridge -> our host-local, shims -> daemon`, value: percentile(ours[op], p), unit: 'ms', ratio: percentile(ours[op], p) / b, baseline: 'baseline' });
        rows.push({ name: `${label} flannel -> bridge -> our host-local, daemon off (Node)`, value: percentile(node[op], p), unit: 'ms', ratio: percentile(node[op], p) / b, baseline: 'baseline' });
        rows.push({ name: `${label} bridge + our host-local, shim -> daemon`, value: percentile(mixed[op], p), unit: 'ms', ratio: percentile(mixed[op], p) / b, baseline: 'baseline' });
      }
    }
    for (const op of ['add', 'del'] as const) {
      const label = `${concurrent} concurrent ${op.toUpperCase()}s, wall p50`;
      const b = percentile(waveOf.get(base)?.[op] ?? [], 50);
      const o = percentile(waveOf.get(ours)?.[op] ?? [], 50);
      const n = percentile(waveOf.get(node)?.[op] ?? [], 50);
      rows.push({ name: `${label} bridge + Debian host-local (baseline)`, value: b, unit: 'ms', ratio: 1 });
      rows.push({ name: `${label} flannel chain, shims -> daemon`, value: o, unit: 'ms', ratio: o / b, baseline: 'baseline' });
      rows.push({ name: `${label} flannel chain, daemon off (Node)`, value: n, unit: 'ms', ratio: n / b, baseline: 'baseline' });
    }
    const f = percentile(floor, 50);
    rows.push({ name: `node -e 0 in the namespace p50 (floor per Node exec)`, value: f, unit: 'ms', ratio: f / percentile(base.add, 50), baseline: 'baseline ADD p50' });
    rows.push({ name: `runs per figure (single), waves per figure (concurrent)`, value: runs, unit: `/ ${waves}` });
    return rows;
  } finally {
    await lab.destroy();
  }
}
