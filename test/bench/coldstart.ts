// One flanneld cold start, process spawn to subnet.env on disk, in a lab host against a lab etcd;
// the baseline is a bare `node -e 0` started the same way (the floor any Node daemon pays). Each
// round starts flanneld twice, with V8's code cache for its CommonJS packages off and on (the cache
// filled by one start before the rounds), in alternating order.
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
      const cold = { off: [] as number[], on: [] as number[], gateway: [] as number[] };
      const cache = path.join(lab.dir, 'compile-cache');
      const cacheEnv = { off: { FLANNEL_TS_COMPILE_CACHE: 'off' }, on: { FLANNEL_TS_COMPILE_CACHE: cache }, gateway: { FLANNEL_TS_COMPILE_CACHE: cache, FLANNEL_ETCD_GATEWAY: '1' } };
      const start = async (mode: 'off' | 'on' | 'gateway', tag: string): Promise<number> => {
        await etcd.ctl(['del', '--prefix', '/coreos.com/network/subnets/']);
        await rm(subnetFileOf(a), { force: true });
        const t1 = performance.now();
        const fl = startFlanneld(a, etcd, { tag, env: cacheEnv[mode] });
        await untilExists(subnetFileOf(a), 20_000);
        const ms = performance.now() - t1;
        fl.kill('SIGTERM');
        await fl.wait(10_000);
        return ms;
      };
      await start('on', 'bench-warm'); // fills the cache (saved on exit)
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await a.run([process.execPath, '-e', '0']);
        bare.push(performance.now() - t0);
        for (const mode of i % 2 === 0 ? (['off', 'on', 'gateway'] as const) : (['gateway', 'on', 'off'] as const)) cold[mode].push(await start(mode, `bench${i}-${mode}`));
      }
      const base = percentile(bare, 50);
      const off = percentile(cold.off, 50);
      const on = percentile(cold.on, 50);
      const gw = percentile(cold.gateway, 50);
      return [
        { name: 'node process start (baseline)', value: base, unit: 'ms p50', ratio: 1 },
        { name: 'flanneld cold start to subnet.env, no code cache (before)', value: off, unit: 'ms p50', ratio: off / base, baseline: 'node start' },
        { name: 'flanneld cold start to subnet.env, V8 code cache', value: on, unit: 'ms p50', ratio: on / base, baseline: 'node start' },
        { name: 'the same, first lease over the JSON gateway (FLANNEL_ETCD_GATEWAY=1)', value: gw, unit: 'ms p50', ratio: gw / base, baseline: 'node start' },
      ];
    } finally {
      await etcd.destroy();
    }
  } finally {
    await lab.destroy();
  }
}
