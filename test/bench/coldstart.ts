// One flanneld cold start, process spawn to subnet.env on disk, in a lab host against a lab etcd;
// the baseline is a bare `node -e 0` started the same way (the floor any Node daemon pays). Each
// round starts flanneld once per way of starting (the modules or the bundle, gRPC or the JSON
// gateway, with V8's code cache or without), in alternating order; the cache is filled before.
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Lab, startFlanneld, startLabEtcd, subnetFileOf } from '../netns/index.js';
import { percentile, type BenchResult } from './stats.js';

async function untilExists(file: string, ms: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < ms / 2; i++) {
    try {
      await stat(file);
      return performance.now() - t0;
    } catch {
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  throw new Error(`${file} did not appear within ${ms} ms`);
}

export async function benchColdStart(runs = 5): Promise<BenchResult[]> {
  const lab = await Lab.create({ hosts: ['a'] });
  try {
    const etcd = await startLabEtcd(lab);
    try {
      await etcd.ctl(['put', '/coreos.com/network/config', '{"Network":"10.5.0.0/16","Backend":{"Type":"alloc"}}']);
      const a = lab.host('a');
      const bare: number[] = [];
      const cache = path.join(lab.dir, 'compile-cache');
      // before: the modules tsc wrote, gRPC throughout (the default until the bundle and the gateway watch);
      // grpc: the bundle over gRPC; nocache: the default's first start on a node (no code cache yet).
      const modes = {
        before: { FLANNEL_TS_COMPILE_CACHE: cache, FLANNEL_TS_BUNDLE: 'off', FLANNEL_ETCD_GATEWAY: '0' },
        grpc: { FLANNEL_TS_COMPILE_CACHE: cache, FLANNEL_ETCD_GATEWAY: '0' },
        nocache: { FLANNEL_TS_COMPILE_CACHE: 'off' },
        default: { FLANNEL_TS_COMPILE_CACHE: cache },
      };
      type Mode = keyof typeof modes;
      const order = Object.keys(modes) as Mode[];
      const cold = Object.fromEntries(order.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
      const start = async (mode: Mode, tag: string): Promise<number> => {
        await etcd.ctl(['del', '--prefix', '/coreos.com/network/subnets/']);
        await rm(subnetFileOf(a), { force: true });
        const t1 = performance.now();
        const fl = startFlanneld(a, etcd, { tag, env: modes[mode] });
        await untilExists(subnetFileOf(a), 20_000);
        const ms = performance.now() - t1;
        fl.kill('SIGTERM');
        await fl.wait(10_000);
        return ms;
      };
      // Fill the cache (saved on exit) for each way that reads it.
      for (const mode of ['before', 'grpc', 'default'] as const) await start(mode, `bench-warm-${mode}`);
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await a.run([process.execPath, '-e', '0']);
        bare.push(performance.now() - t0);
        for (const mode of i % 2 === 0 ? order : [...order].reverse()) cold[mode].push(await start(mode, `bench${i}-${mode}`));
      }
      const base = percentile(bare, 50);
      const row = (mode: Mode, name: string): BenchResult => {
        const v = percentile(cold[mode], 50);
        return { name, value: v, unit: 'ms p50', ratio: v / base, baseline: 'node start' };
      };
      return [
        { name: 'node process start (baseline)', value: base, unit: 'ms p50', ratio: 1 },
        row('before', 'flanneld cold start to subnet.env, unbundled, gRPC, code cache (before)'),
        row('grpc', 'the same, bundled, gRPC (FLANNEL_ETCD_GATEWAY=0)'),
        row('nocache', 'the same, bundled, JSON gateway, first start (no code cache yet)'),
        row('default', 'flanneld cold start to subnet.env (default: bundled, JSON gateway, code cache)'),
      ];
    } finally {
      await etcd.destroy();
    }
  } finally {
    await lab.destroy();
  }
}
